/**
 * pnpm bench: the library against raw ioredis doing the same work, in one run, on a real Redis
 * (REDIS_URL, else a redis-server started for the run).
 *
 * - produce: Producer.addAll vs raw pipelined XADD, 200,000 entries of 100 bytes;
 * - consume: Consumer.batches + batch.ack at batch size 100, with 1 and 4 consumers, vs a raw loop of
 *   XREADGROUP COUNT 100 + one XACK per batch over the same data; the library with its default
 *   read-ahead (a batch's acknowledgement reads the next batch in the same round trip) and without.
 *   With 4 consumers each has a connection of its own on both sides (raw: 4 ioredis clients; the
 *   library: each Consumer's lane, its default); a second pair of sides runs the 4 on one
 *   connection (one client; `sharedConnection: true`).
 *
 * The library measured is the compiled one (`pnpm bench` builds it; measure.ts runs with the
 * `compiled` export condition), as a user's program runs it.
 *
 * Each work (produce, consume with 1 consumer, with 4) runs in a Node process of its own
 * (measure.ts), where its sides alternate: one process running everything measured the library
 * 10-15% slower than it runs next to raw ioredis alone (the Producer's, the Consumer's and raw
 * ioredis's code share one JIT's feedback and one heap), while separate processes per side were
 * placed by the scheduler on Redis's CPU or not, a bias of up to 40% that rounds do not average out.
 * BENCH_WARMUP rounds first (default 3, not counted, their ratios printed: V8 needs about three runs
 * of 200,000 messages to optimize the library's path, one for raw ioredis), then BENCH_ROUNDS rounds
 * (default 15); within a round the sides run back to back, in alternating order. The table shows
 * each side's best round; a ratio is the median over the rounds of library / raw in the same round,
 * which a machine whose speed drifts between rounds (this one does, by up to 2x) does not bias.
 *
 * Prints a table, then one JSON line with produceRatio and consumeRatio (library msgs/s / raw msgs/s;
 * consumeRatio is the lowest of the 1-consumer, 4-consumer and 4-on-one-connection ratios).
 */
import { execFile } from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { type RedisServerProcess, startRedisServerProcess } from "../src/RedisServer.js"

const N = Number(process.env["BENCH_MESSAGES"] ?? 200_000)
const BATCH = 100
const ROUNDS = Number(process.env["BENCH_ROUNDS"] ?? 15)
const WARMUP = Number(process.env["BENCH_WARMUP"] ?? 3)
const here = Path.dirname(fileURLToPath(import.meta.url))

type Work = "produce" | "consume1" | "consume4"
type Side = "raw" | "lib" | "libNoReadAhead" | "rawShared" | "libShared"

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

type Round = Record<Work, Partial<Record<Side, number>>>

/** one work's rounds, measured in a process of its own */
const measure = (work: Work, url: string): Promise<{ warmups: Array<Partial<Record<Side, number>>>; rounds: Array<Partial<Record<Side, number>>> }> =>
  new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      // the compiled library (build/, as published), not its sources through tsx: tsx's transform
      // names every closure it creates (esbuild keepNames): with 4 consumers, ~13% more CPU in a profile
      ["--conditions=compiled", "--import", "tsx", Path.join(here, "measure.ts"), work, url],
      { cwd: Path.join(here, ".."), env: { ...process.env, BENCH_WARMUP: String(WARMUP), BENCH_ROUNDS: String(ROUNDS) } },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`${work}: ${error.message}\n${stderr}`))
        try {
          resolve(JSON.parse(stdout.trim().split("\n").pop() ?? ""))
        } catch {
          reject(new Error(`${work}: unexpected output ${stdout}\n${stderr}`))
        }
      }
    )
  })

const main = async () => {
  let server: RedisServerProcess | undefined
  let url = process.env["REDIS_URL"]
  if (url === undefined || url === "") {
    server = await startRedisServerProcess()
    url = server.url
  }
  const rounds: Array<Round> = Array.from({ length: ROUNDS }, () => ({ produce: {}, consume1: {}, consume4: {} }))
  const warmups: Array<Round> = Array.from({ length: WARMUP }, () => ({ produce: {}, consume1: {}, consume4: {} }))
  try {
    for (const work of ["produce", "consume1", "consume4"] as const) {
      const m = await measure(work, url)
      m.rounds.forEach((r, i) => (rounds[i]![work] = r))
      m.warmups.forEach((r, i) => (warmups[i]![work] = r))
      process.stderr.write(`${work} done\n`)
    }
  } finally {
    if (server) await server.dispose()
  }
  const rate = (r: Round, work: Work, side: Side) => r[work][side]!
  const best = (work: Work, side: Side) => Math.max(...rounds.map((r) => rate(r, work, side)))
  const ratios = (work: Work, side: Side) => rounds.map((r) => rate(r, work, side) / rate(r, work, "raw"))
  const ratio = (work: Work, side: Side) => median(ratios(work, side))
  const fmt = (n: number) => Math.round(n).toLocaleString("en-US").padStart(10)
  const ratioTo = (work: Work, side: Side, base: Side) => median(rounds.map((r) => rate(r, work, side) / rate(r, work, base)))
  const row = (label: string, work: Work, side: Side, base: Side = "raw") =>
    `| ${label.padEnd(51)} | ${fmt(best(work, base))} | ${fmt(best(work, side))} | ${ratioTo(work, side, base).toFixed(2)} |`
  const lines = [
    `messages: ${N} x 100 bytes, batch ${BATCH}; ${ROUNDS} rounds after ${WARMUP} warm-up rounds; one process per work`,
    `msg/s: best round; ratio: median over the rounds of (library / raw in the same round)`,
    `| work                                                |  raw msg/s |  lib msg/s | ratio |`,
    `|-----------------------------------------------------|-----------:|-----------:|------:|`,
    row("produce (pipelined XADD)", "produce", "lib"),
    row("consume + ack, 1 consumer", "consume1", "lib"),
    row("consume + ack, 4 consumers, a connection each", "consume4", "lib"),
    row("consume + ack, 4 consumers on one connection", "consume4", "libShared", "rawShared"),
    row("consume + ack, 1 consumer, no read-ahead", "consume1", "libNoReadAhead"),
    row("consume + ack, 4 consumers, a connection each, no read-ahead", "consume4", "libNoReadAhead")
  ]
  for (const line of lines) process.stdout.write(line + "\n")
  const list = (work: Work, side: Side, base: Side = "raw") =>
    rounds.map((r) => (rate(r, work, side) / rate(r, work, base)).toFixed(2)).join(" ")
  process.stdout.write(
    `ratios per round: produce ${list("produce", "lib")}; consume1 ${list("consume1", "lib")}; consume4 ${
      list("consume4", "lib")
    }; consume4 on one connection ${list("consume4", "libShared", "rawShared")}; consume1 no read-ahead ${
      list("consume1", "libNoReadAhead")
    }; consume4 no read-ahead ${
      list("consume4", "libNoReadAhead")
    }\n`
  )
  // what the warm-up rounds measured, for the record (the first rounds are the slowest)
  const warm = (work: Work) => warmups.map((r) => (r[work].lib! / r[work].raw!).toFixed(2)).join(" ")
  process.stdout.write(
    `warm-up rounds (not counted): produce ${warm("produce")}; consume1 ${warm("consume1")}; consume4 ${warm("consume4")}\n`
  )
  const r3 = (n: number) => Number(n.toFixed(3))
  process.stdout.write(
    JSON.stringify({
      messages: N,
      rounds: ROUNDS,
      warmup: WARMUP,
      produceRatio: r3(ratio("produce", "lib")),
      consumeRatio: r3(
        Math.min(ratio("consume1", "lib"), ratio("consume4", "lib"), ratioTo("consume4", "libShared", "rawShared"))
      ),
      consumeRatio1: r3(ratio("consume1", "lib")),
      consumeRatio4: r3(ratio("consume4", "lib")),
      consumeRatio4OneConnection: r3(ratioTo("consume4", "libShared", "rawShared")),
      consumeRatioNoReadAhead: r3(Math.min(ratio("consume1", "libNoReadAhead"), ratio("consume4", "libNoReadAhead"))),
      consumeRatio1NoReadAhead: r3(ratio("consume1", "libNoReadAhead")),
      consumeRatio4NoReadAhead: r3(ratio("consume4", "libNoReadAhead")),
      rawProduce: Math.round(best("produce", "raw")),
      libProduce: Math.round(best("produce", "lib")),
      raw1: Math.round(best("consume1", "raw")),
      lib1: Math.round(best("consume1", "lib")),
      raw4: Math.round(best("consume4", "raw")),
      lib4: Math.round(best("consume4", "lib")),
      raw4OneConnection: Math.round(best("consume4", "rawShared")),
      lib4OneConnection: Math.round(best("consume4", "libShared"))
    }) + "\n"
  )
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${e}\n`)
  process.exit(1)
})

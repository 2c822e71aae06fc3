/**
 * pnpm bench: the library against raw ioredis doing the same work, and against its peers, in one
 * run, on a real Redis (REDIS_URL, else a redis-server started for the run).
 *
 * - produce: Producer.addAll (a Lua script per chunk of 250) vs raw pipelined XADD, 200,000
 *   entries of 100 bytes;
 * - consume: Consumer.batches + batch.ack at batch size 100, with 1 and 4 consumers, vs a raw loop of
 *   XREADGROUP COUNT 100 + one XACK per batch over the same data; the library with its default
 *   read-ahead (a batch's acknowledgement reads the next batch in the same round trip) and without.
 *   With 4 consumers each has a connection of its own on both sides (raw: 4 ioredis clients; the
 *   library: each Consumer's lane, its default); a second pair of sides runs the 4 on one
 *   connection (one client; `connection: { shared: true }`).
 * - peers (peers.ts): BullMQ `Queue.addBulk` and `Worker` (no-op handler, concurrency 1 and 50),
 *   and redis-benchmark XADD -P 16 (the server's ceiling) when it is on PATH;
 * - worker (worker.ts, issue 14): `Consumer.process` vs BullMQ `Worker` with a handler sleeping
 *   1 ms (90%) or 50 ms (10%) at concurrency 10 and 50, and one returning at once at 50;
 * - latency (latency.ts): add call to handler start at 10,000 msg/s, two consumers, vs raw ioredis
 *   and vs raw ioredis with each XADD in a fiber of its own (as the library's add is driven);
 * - blocking (latency.ts): another client's PING round trips while a bulk add runs.
 *
 * The library measured is the compiled one (`pnpm bench` builds it; measure.ts runs with the
 * `compiled` export condition), as a user's program runs it.
 *
 * Each work runs in a Node process of its own (measure.ts), where its sides alternate: one process
 * running everything measured the library 10-15% slower than it runs next to raw ioredis alone (the
 * Producer's, the Consumer's and raw ioredis's code share one JIT's feedback and one heap), while
 * separate processes per side were placed by the scheduler on Redis's CPU or not, a bias of up to
 * 40% that rounds do not average out. BENCH_WARMUP rounds first (default 3, not counted, their
 * ratios printed: V8 needs about three runs of 200,000 messages to optimize the library's path, one
 * for raw ioredis), then BENCH_ROUNDS rounds (default 15); within a round the sides run back to
 * back, in alternating order. The peers run in the warm-up rounds and the first BENCH_PEER_ROUNDS
 * (default 5); worker, latency and blocking in min(BENCH_WARMUP, 1) + BENCH_EXTRA_ROUNDS (default
 * min(BENCH_ROUNDS, 5), 3 for worker). Their sizes scale with BENCH_MESSAGES (BENCH_PEER_MESSAGES default /20,
 * BENCH_WORKER_MESSAGES and BENCH_LATENCY_MESSAGES /10). The tables show each side's best round; a
 * ratio is the median over the rounds of library / other side in the same round, which a machine
 * whose speed drifts between rounds (this one does, by up to 2x) does not bias.
 *
 * Prints the tables (report.ts), then one JSON line with produceRatio and consumeRatio (library
 * msgs/s / raw msgs/s; consumeRatio is the lowest of the 1-consumer, 4-consumer and
 * 4-on-one-connection ratios), the peers' ratios (produceVsServerCeiling, produceVsBullmq,
 * consumeVsBullmq: the 1-consumer library against BullMQ's better concurrency of the round), the
 * worker's (workerVsBullmq50, workerInFlight50, ...), the latencies and the other client's p99.
 */
import { execFile } from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { type RedisServerProcess, startRedisServerProcess } from "../src/RedisServer.js"
import { empty, report, type Work, works } from "./report.js"

const N = Number(process.env["BENCH_MESSAGES"] ?? 200_000)
const BATCH = 100
const ROUNDS = Number(process.env["BENCH_ROUNDS"] ?? 15)
const WARMUP = Number(process.env["BENCH_WARMUP"] ?? 3)
const here = Path.dirname(fileURLToPath(import.meta.url))

/** one work's rounds, measured in a process of its own */
const measure = (work: Work, url: string): Promise<{ warmups: Array<Record<string, number>>; rounds: Array<Record<string, number>> }> =>
  new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      // the compiled library (build/, as published), not its sources through tsx: tsx's transform
      // names every closure it creates (esbuild keepNames): with 4 consumers, ~13% more CPU in a profile
      ["--conditions=compiled", "--import", "tsx", Path.join(here, "measure.ts"), work, url],
      {
        cwd: Path.join(here, ".."),
        env: { ...process.env, BENCH_WARMUP: String(WARMUP), BENCH_ROUNDS: String(ROUNDS) },
        maxBuffer: 64 * 1024 * 1024
      },
      (error, stdout, stderr) => {
        // notes (a skipped peer) go on to the user
        for (const line of stderr.split("\n")) if (line.startsWith("note:")) process.stdout.write(line + "\n")
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
  const rounds = Array.from({ length: ROUNDS }, empty)
  const warmups = Array.from({ length: WARMUP }, empty)
  try {
    // BENCH_WORKS=worker,latency: only these works (for diagnosis; the JSON line then lacks the others)
    const only = process.env["BENCH_WORKS"]?.split(",")
    for (const work of works.filter((w) => only === undefined || only.includes(w))) {
      const t = Date.now()
      const m = await measure(work, url)
      m.rounds.forEach((r, i) => (rounds[i]![work] = r))
      m.warmups.forEach((r, i) => (warmups[i]![work] = r))
      process.stderr.write(`${work} done in ${((Date.now() - t) / 1000).toFixed(1)} s\n`)
    }
  } finally {
    if (server) await server.dispose()
  }
  report(rounds, warmups, { messages: N, batch: BATCH })
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${e}\n`)
  process.exit(1)
})

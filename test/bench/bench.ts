/**
 * pnpm bench: the library against raw ioredis doing the same work, in one run,
 * on a real Redis (REDIS_URL, else a redis-server started for the run).
 *
 * - produce: Producer.addAll vs raw pipelined XADD, 200,000 entries of 100 bytes;
 * - consume: Consumer.batches + batch.ack at batch size 100, with 1 and 4 consumers, vs a raw loop of
 *   XREADGROUP COUNT 100 + one XACK per batch over the same data; the library with its default
 *   read-ahead (a batch's acknowledgement reads the next batch in the same round trip) and without.
 *
 * One warm-up round (not counted), then BENCH_ROUNDS rounds (default 5); within a round the sides run
 * back to back, in alternating order. The table shows each side's best round; a ratio is the median
 * over the rounds of library / raw in the same round, which a machine whose speed drifts between
 * rounds (this one does, by up to 2x) does not bias.
 *
 * Prints a table, then one JSON line with produceRatio and consumeRatio (library msgs/s / raw msgs/s;
 * consumeRatio is the lower of the 1- and 4-consumer ratios).
 */
import { Effect, Redacted, Stream } from "effect"
import { Consumer, Producer, RedisBackend, StreamsBackend } from "effect-redis-streams"
import { Redis } from "ioredis"
import { type RedisServerProcess, startRedisServerProcess } from "../src/RedisServer.js"

const N = Number(process.env["BENCH_MESSAGES"] ?? 200_000)
const BATCH = 100
const CHUNK = 1000
const ROUNDS = Number(process.env["BENCH_ROUNDS"] ?? 5)
const payload = "x".repeat(100)
const messages = Array.from({ length: N }, () => ({ payload }))

const now = () => performance.now()

const rawProduce = async (redis: Redis, stream: string) => {
  const t = now()
  for (let i = 0; i < N; i += CHUNK) {
    const pipeline = redis.pipeline()
    for (let j = i; j < Math.min(N, i + CHUNK); j++) pipeline.xadd(stream, "*", "payload", payload)
    await pipeline.exec()
  }
  return N / ((now() - t) / 1000)
}

const rawConsume = async (url: string, stream: string, group: string, consumers: number) => {
  const clients = Array.from({ length: consumers }, () => new Redis(url))
  await Promise.all(clients.map((c) => c.ping()))
  let total = 0
  const t = now()
  await Promise.all(clients.map(async (c, i) => {
    for (;;) {
      const reply = (await c.xreadgroup("GROUP", group, `raw-${i}`, "COUNT", BATCH, "STREAMS", stream, ">")) as
        | Array<[string, Array<[string, Array<string>]>]>
        | null
      const entries = reply?.[0]?.[1] ?? []
      if (entries.length === 0) break
      await c.xack(stream, group, ...entries.map((e) => e[0]))
      total += entries.length
    }
  }))
  const rate = total / ((now() - t) / 1000)
  await Promise.all(clients.map((c) => c.quit()))
  if (total !== N) throw new Error(`raw consume read ${total} of ${N}`)
  return rate
}

const libProduce = (stream: string) =>
  Effect.gen(function*() {
    const producer = yield* Producer.make({ stream })
    const t = now()
    const ids = yield* producer.addAll(messages)
    if (ids.length !== N) throw new Error("short produce")
    return N / ((now() - t) / 1000)
  })

const libConsume = (stream: string, group: string, consumers: number, readAhead: boolean) =>
  Effect.scoped(Effect.gen(function*() {
    // consumers are built before the clock starts, as the raw side connects its clients before it
    const built = yield* Effect.forEach(
      Array.from({ length: consumers }, (_, i) => i),
      (i) =>
        Consumer.make({
          stream,
          group,
          consumer: `lib-${i}`,
          batchSize: BATCH,
          maxWait: 0,
          emitEmpty: true,
          claimIdle: false,
          readAhead
        })
    )
    let total = 0
    const t = now()
    yield* Effect.forEach(
      built,
      (consumer) =>
        consumer.batches.pipe(
          Stream.takeWhile((b) => b.messages.length > 0),
          Stream.runForEach((b) => Effect.zipRight(b.ack, Effect.sync(() => (total += b.messages.length))))
        ),
      { concurrency: "unbounded", discard: true }
    )
    const rate = N / ((now() - t) / 1000)
    if (total !== N) throw new Error(`library consume read ${total} of ${N}`)
    return rate
  }))

type Work = "produce" | "consume1" | "consume4"
type Side = "raw" | "lib" | "libNoReadAhead"

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

const main = Effect.gen(function*() {
  let server: RedisServerProcess | undefined
  let url = process.env["REDIS_URL"]
  if (url === undefined || url === "") {
    server = yield* Effect.promise(() => startRedisServerProcess())
    url = server.url
  }
  const redis = new Redis(url)
  const backendLayer = RedisBackend.layerRedis({ url: Redacted.make(url) })
  // per round and work, each side's throughput; ratios are taken within a round (the two sides ran
  // seconds apart, so a machine that slows down or speeds up affects both alike)
  const rounds: Array<Record<Work, Partial<Record<Side, number>>>> = []
  try {
    yield* Effect.gen(function*() {
      const backend = yield* StreamsBackend.StreamsBackend
      const runRound = (round: number, record: boolean) =>
        Effect.gen(function*() {
          const s = `bench-${Date.now()}-${round}`
          const result: Record<Work, Partial<Record<Side, number>>> = { produce: {}, consume1: {}, consume4: {} }
          // alternate which side goes first, so warm-up and drift do not favour one side
          const order = <A>(xs: ReadonlyArray<A>) => (round % 2 === 1 ? [...xs].reverse() : xs)
          const produce: Record<"raw" | "lib", Effect.Effect<number, never, StreamsBackend.StreamsBackend>> = {
            raw: Effect.promise(() => rawProduce(redis, `${s}-raw`)),
            lib: Effect.orDie(libProduce(`${s}-lib`))
          }
          for (const side of order(["raw", "lib"] as const)) result.produce[side] = yield* produce[side]
          for (const consumers of [1, 4] as const) {
            const work: Work = consumers === 1 ? "consume1" : "consume4"
            const sides: Record<Side, Effect.Effect<number, never, StreamsBackend.StreamsBackend>> = {
              raw: Effect.promise(() => rawConsume(url!, `${s}-raw`, `g${consumers}-raw`, consumers)),
              lib: Effect.orDie(libConsume(`${s}-raw`, `g${consumers}-lib`, consumers, true)),
              libNoReadAhead: Effect.orDie(libConsume(`${s}-raw`, `g${consumers}-lib-nra`, consumers, false))
            }
            for (const side of ["raw", "lib", "libNoReadAhead"] as const) {
              yield* backend.createGroup(`${s}-raw`, side === "raw" ? `g${consumers}-raw` : side === "lib" ? `g${consumers}-lib` : `g${consumers}-lib-nra`, { id: "0" })
            }
            for (const side of order(["raw", "lib", "libNoReadAhead"] as const)) result[work][side] = yield* sides[side]
          }
          yield* Effect.promise(() => redis.del(`${s}-raw`, `${s}-lib`))
          if (record) rounds.push(result)
        })
      // one round first to warm up the JIT on both sides; it is not counted
      yield* runRound(-1, false)
      for (let round = 0; round < ROUNDS; round++) yield* runRound(round, true)
    }).pipe(Effect.provide(backendLayer))
  } finally {
    yield* Effect.promise(() => redis.quit())
    if (server) yield* Effect.promise(() => server!.dispose())
  }
  const best = (work: Work, side: Side) => Math.max(...rounds.map((r) => r[work][side] ?? 0))
  const ratio = (work: Work, side: Side) => median(rounds.map((r) => r[work][side]! / r[work].raw!))
  const fmt = (n: number) => Math.round(n).toLocaleString("en-US").padStart(10)
  const row = (label: string, work: Work, side: Side) =>
    `| ${label.padEnd(41)} | ${fmt(best(work, "raw"))} | ${fmt(best(work, side))} | ${ratio(work, side).toFixed(2)} |`
  const lines = [
    `messages: ${N} x 100 bytes, batch ${BATCH}; ${ROUNDS} rounds after one warm-up round; msg/s: best round;`,
    `ratio: median over the rounds of (library / raw in the same round)`,
    `| work                                      |  raw msg/s |  lib msg/s | ratio |`,
    `|-------------------------------------------|-----------:|-----------:|------:|`,
    row("produce (pipelined XADD)", "produce", "lib"),
    row("consume + ack, 1 consumer", "consume1", "lib"),
    row("consume + ack, 4 consumers", "consume4", "lib"),
    row("consume + ack, 1 consumer, no read-ahead", "consume1", "libNoReadAhead"),
    row("consume + ack, 4 consumers, no read-ahead", "consume4", "libNoReadAhead")
  ]
  for (const line of lines) process.stdout.write(line + "\n")
  const perRound = (work: Work, side: Side) => rounds.map((r) => (r[work][side]! / r[work].raw!).toFixed(2)).join(" ")
  process.stdout.write(
    `per round: produce ${perRound("produce", "lib")}; consume1 ${perRound("consume1", "lib")}; consume4 ${
      perRound("consume4", "lib")
    }; consume1 no read-ahead ${perRound("consume1", "libNoReadAhead")}; consume4 no read-ahead ${
      perRound("consume4", "libNoReadAhead")
    }\n`
  )
  const r3 = (n: number) => Number(n.toFixed(3))
  process.stdout.write(
    JSON.stringify({
      messages: N,
      rounds: ROUNDS,
      produceRatio: r3(ratio("produce", "lib")),
      consumeRatio: r3(Math.min(ratio("consume1", "lib"), ratio("consume4", "lib"))),
      consumeRatio1: r3(ratio("consume1", "lib")),
      consumeRatio4: r3(ratio("consume4", "lib")),
      consumeRatioNoReadAhead: r3(Math.min(ratio("consume1", "libNoReadAhead"), ratio("consume4", "libNoReadAhead"))),
      consumeRatio1NoReadAhead: r3(ratio("consume1", "libNoReadAhead")),
      consumeRatio4NoReadAhead: r3(ratio("consume4", "libNoReadAhead")),
      rawProduce: Math.round(best("produce", "raw")),
      libProduce: Math.round(best("produce", "lib")),
      raw1: Math.round(best("consume1", "raw")),
      lib1: Math.round(best("consume1", "lib")),
      raw4: Math.round(best("consume4", "raw")),
      lib4: Math.round(best("consume4", "lib"))
    }) + "\n"
  )
})

Effect.runPromise(main).catch((e) => {
  process.stderr.write(`bench failed: ${e}\n`)
  process.exit(1)
})

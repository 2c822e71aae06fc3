/**
 * pnpm bench: the library against raw ioredis doing the same work, in one run,
 * on a real Redis (REDIS_URL, else a redis-server started for the run).
 *
 * - produce: Producer.addAll vs raw pipelined XADD, 200,000 entries of 100 bytes;
 * - consume: Consumer.batches + batch.ack at batch size 100, with 1 and 4 consumers, vs a raw loop of
 *   XREADGROUP COUNT 100 + one XACK per batch over the same data.
 *
 * Prints a table, then one JSON line with produceRatio and consumeRatio (library msgs/s / raw msgs/s).
 */
import { Effect, Redacted, Stream } from "effect"
import { Consumer, Producer, RedisBackend, StreamsBackend } from "effect-redis-streams"
import { Redis } from "ioredis"
import { type RedisServerProcess, startRedisServerProcess } from "../src/RedisServer.js"

const N = Number(process.env["BENCH_MESSAGES"] ?? 200_000)
const BATCH = 100
const CHUNK = 1000
const ROUNDS = Number(process.env["BENCH_ROUNDS"] ?? 4)
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

const libConsume = (stream: string, group: string, consumers: number) =>
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
          claimIdle: false
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

const main = Effect.gen(function*() {
  let server: RedisServerProcess | undefined
  let url = process.env["REDIS_URL"]
  if (url === undefined || url === "") {
    server = yield* Effect.promise(() => startRedisServerProcess())
    url = server.url
  }
  const redis = new Redis(url)
  const backendLayer = RedisBackend.layerRedis({ url: Redacted.make(url) })
  const results = { rawProduce: 0, libProduce: 0, raw1: 0, lib1: 0, raw4: 0, lib4: 0 }
  const best = (k: keyof typeof results, v: number) => (results[k] = Math.max(results[k], v))
  try {
    yield* Effect.gen(function*() {
      const backend = yield* StreamsBackend.StreamsBackend
      // rounds alternate which side goes first (ABBA), so warm-up and drift do not favour one side
      for (let round = 0; round < ROUNDS; round++) {
        const s = `bench-${Date.now()}-${round}`
        const libFirst = round % 2 === 1
        const produceRaw = Effect.promise(() => rawProduce(redis, `${s}-raw`)).pipe(Effect.map((v) => best("rawProduce", v)))
        const produceLib = libProduce(`${s}-lib`).pipe(Effect.map((v) => best("libProduce", v)))
        yield* libFirst ? Effect.zipRight(produceLib, produceRaw) : Effect.zipRight(produceRaw, produceLib)
        for (const consumers of [1, 4]) {
          const g = `g${consumers}`
          yield* backend.createGroup(`${s}-raw`, `${g}-raw`, { id: "0" })
          yield* backend.createGroup(`${s}-raw`, `${g}-lib`, { id: "0" })
          const raw = Effect.promise(() => rawConsume(url!, `${s}-raw`, `${g}-raw`, consumers)).pipe(
            Effect.map((v) => best(consumers === 1 ? "raw1" : "raw4", v))
          )
          const lib = libConsume(`${s}-raw`, `${g}-lib`, consumers).pipe(
            Effect.map((v) => best(consumers === 1 ? "lib1" : "lib4", v))
          )
          yield* libFirst ? Effect.zipRight(lib, raw) : Effect.zipRight(raw, lib)
        }
        yield* Effect.promise(() => redis.del(`${s}-raw`, `${s}-lib`))
      }
    }).pipe(Effect.provide(backendLayer))
  } finally {
    yield* Effect.promise(() => redis.quit())
    if (server) yield* Effect.promise(() => server!.dispose())
  }
  const fmt = (n: number) => Math.round(n).toLocaleString("en-US").padStart(10)
  const lines = [
    `messages: ${N} x 100 bytes, batch ${BATCH}, best of ${ROUNDS} rounds`,
    `| work                         |  raw msg/s |  lib msg/s | ratio |`,
    `|------------------------------|-----------:|-----------:|------:|`,
    `| produce (pipelined XADD)     | ${fmt(results.rawProduce)} | ${fmt(results.libProduce)} | ${(results.libProduce / results.rawProduce).toFixed(2)} |`,
    `| consume + ack, 1 consumer    | ${fmt(results.raw1)} | ${fmt(results.lib1)} | ${(results.lib1 / results.raw1).toFixed(2)} |`,
    `| consume + ack, 4 consumers   | ${fmt(results.raw4)} | ${fmt(results.lib4)} | ${(results.lib4 / results.raw4).toFixed(2)} |`
  ]
  for (const line of lines) process.stdout.write(line + "\n")
  const consume1 = results.lib1 / results.raw1
  const consume4 = results.lib4 / results.raw4
  process.stdout.write(
    JSON.stringify({
      messages: N,
      produceRatio: Number((results.libProduce / results.rawProduce).toFixed(3)),
      consumeRatio: Number(Math.min(consume1, consume4).toFixed(3)),
      consumeRatio1: Number(consume1.toFixed(3)),
      consumeRatio4: Number(consume4.toFixed(3)),
      rawProduce: Math.round(results.rawProduce),
      libProduce: Math.round(results.libProduce),
      raw1: Math.round(results.raw1),
      lib1: Math.round(results.lib1),
      raw4: Math.round(results.raw4),
      lib4: Math.round(results.lib4)
    }) + "\n"
  )
})

Effect.runPromise(main).catch((e) => {
  process.stderr.write(`bench failed: ${e}\n`)
  process.exit(1)
})

/**
 * One work of `pnpm bench` in its own Node process (see bench.ts):
 *
 *   tsx measure.ts <work> <redis-url>        work: produce | consume1 | consume4
 *
 * Runs BENCH_WARMUP + BENCH_ROUNDS rounds; a round runs every side once (raw ioredis, the library,
 * for consume also the library without read-ahead), back to back, alternating which goes first.
 * For consume, every run reads the same BENCH_MESSAGES entries through a new group; produce writes
 * to a new stream and deletes it. Prints `{ "warmups": [...], "rounds": [...] }`, each round a map
 * from side to msgs/s.
 */
import { Effect, Redacted, Stream } from "effect"
import { Consumer, Producer, RedisBackend, StreamsBackend } from "effect-redis-streams"
import { Redis } from "ioredis"
import * as Fs from "node:fs/promises"
import * as Inspector from "node:inspector"
import { PerformanceObserver } from "node:perf_hooks"

const N = Number(process.env["BENCH_MESSAGES"] ?? 200_000)
const BATCH = 100
const CHUNK = 1000
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

/** `consumers` loops, each on a client of its own, or all on one client (`shared`) */
const rawConsume = async (url: string, stream: string, group: string, consumers: number, shared: boolean) => {
  const clients = Array.from({ length: shared ? 1 : consumers }, () => new Redis(url))
  await Promise.all(clients.map((c) => c.ping()))
  let total = 0
  const t = now()
  await Promise.all(Array.from({ length: consumers }, async (_, i) => {
    const c = clients[shared ? 0 : i]!
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

const libConsume = (stream: string, group: string, consumers: number, readAhead: boolean, sharedConnection: boolean) =>
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
          readAhead,
          reclaim: false,
          connection: { shared: sharedConnection }
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

const [work, url] = process.argv.slice(2) as [string, string]
const ROUNDS = Number(process.env["BENCH_ROUNDS"] ?? 15)
const WARMUP = Number(process.env["BENCH_WARMUP"] ?? 3)
const redis = new Redis(url)
/**
 * Sides: raw ioredis, the library, the library without read-ahead. With 4 consumers, each has a
 * connection of its own on both sides (4 ioredis clients; the Consumers' lanes, the default), and
 * the "Shared" sides run the 4 on one connection (one client; `sharedConnection: true`).
 */
const allSides = work === "produce"
  ? ["raw", "lib"]
  : work === "consume4"
  ? ["raw", "lib", "libNoReadAhead", "rawShared", "libShared"]
  : ["raw", "lib", "libNoReadAhead"]
// BENCH_SIDES=lib,raw: only these sides (for profiling one side)
const sides = process.env["BENCH_SIDES"] ? allSides.filter((s) => process.env["BENCH_SIDES"]!.split(",").includes(s)) : allSides
const base = `bench-${work}-${Date.now()}`
let iteration = 0

const once = (side: string): Effect.Effect<number, unknown, StreamsBackend.StreamsBackend> =>
  Effect.gen(function*() {
    const backend = yield* StreamsBackend.StreamsBackend
    const n = iteration++
    if (work === "produce") {
      const target = `${base}-${n}`
      const rate = side === "raw"
        ? yield* Effect.promise(() => rawProduce(redis, target))
        : yield* libProduce(target)
      yield* Effect.promise(() => redis.del(target))
      return rate
    }
    const consumers = work === "consume1" ? 1 : 4
    const group = `g-${n}`
    yield* backend.createGroup(base, group, { id: "0" })
    const shared = side === "rawShared" || side === "libShared"
    const rate = side === "raw" || side === "rawShared"
      ? yield* Effect.promise(() => rawConsume(url, base, group, consumers, shared))
      : yield* libConsume(base, group, consumers, side !== "libNoReadAhead", shared)
    yield* backend.destroyGroup(base, group)
    return rate
  })

// garbage collection time so far, in ms (BENCH_CPU only)
let gcMs = 0
if (process.env["BENCH_CPU"]) {
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcMs += entry.duration
  }).observe({ entryTypes: ["gc"] })
}

/** BENCH_PROFILE=file.cpuprofile: a CPU profile of the rounds after the warm-up */
const profiler = (() => {
  const session = new Inspector.Session()
  const post = (method: string, params?: object) =>
    new Promise<any>((resolve, reject) => session.post(method, params, (e, r) => (e ? reject(e) : resolve(r))))
  return {
    start: async () => {
      session.connect()
      await post("Profiler.enable")
      await post("Profiler.setSamplingInterval", { interval: 200 })
      await post("Profiler.start")
    },
    stop: async (file: string) => {
      const { profile } = await post("Profiler.stop")
      await Fs.writeFile(file, JSON.stringify(profile))
      session.disconnect()
    }
  }
})()

/** CPU time used so far, in µs: this process, and the Redis server; GC time in ms */
const cpu = async () => {
  const usage = process.cpuUsage()
  const info = await redis.info("cpu")
  const field = (name: string) => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1] ?? 0) * 1e6
  return { node: usage.user + usage.system, redis: field("used_cpu_user") + field("used_cpu_sys"), gc: gcMs }
}

const main = Effect.gen(function*() {
  if (work !== "produce") yield* Effect.promise(() => rawProduce(redis, base))
  const warmups: Array<Record<string, number>> = []
  const rounds: Array<Record<string, number>> = []
  for (let round = 0; round < WARMUP + ROUNDS; round++) {
    if (round === WARMUP && process.env["BENCH_PROFILE"]) yield* Effect.promise(() => profiler.start())
    const result: Record<string, number> = {}
    for (const side of round % 2 === 1 ? [...sides].reverse() : sides) {
      const before = yield* Effect.promise(() => cpu())
      result[side] = Math.round(yield* once(side))
      const after = yield* Effect.promise(() => cpu())
      if (process.env["BENCH_CPU"]) {
        process.stderr.write(
          `${work} ${side}: ${result[side]} msg/s, node ${((after.node - before.node) / N).toFixed(2)} µs/msg, redis ${
            ((after.redis - before.redis) / N).toFixed(2)
          } µs/msg, gc ${(after.gc - before.gc).toFixed(0)} ms\n`
        )
      }
    }
    ;(round < WARMUP ? warmups : rounds).push(result)
  }
  if (process.env["BENCH_PROFILE"]) yield* Effect.promise(() => profiler.stop(process.env["BENCH_PROFILE"]!))
  yield* Effect.promise(() => redis.del(base))
  process.stdout.write(JSON.stringify({ warmups, rounds }) + "\n")
})

Effect.runPromise(main.pipe(Effect.provide(RedisBackend.layerRedis({ url: Redacted.make(url) })))).then(
  () => redis.quit(),
  (e) => {
    process.stderr.write(`measure ${work} failed: ${e}\n`)
    process.exit(1)
  }
)

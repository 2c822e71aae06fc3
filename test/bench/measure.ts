/**
 * One work of `pnpm bench` in its own Node process (see bench.ts):
 *
 *   tsx measure.ts <work> <redis-url>   work: produce | consume1 | consume4 | worker | latency | blocking
 *
 * Runs warm-up rounds, then measured rounds; a round runs every side once (raw ioredis, the
 * library, for consume also the library without read-ahead, the peers: peers.ts), back to back,
 * alternating which goes first. For consume, every run reads the same BENCH_MESSAGES entries
 * through a new group; produce writes to a new stream and deletes it. produce and the consume works
 * run BENCH_WARMUP + BENCH_ROUNDS rounds, the peers in the warm-up rounds and the first
 * BENCH_PEER_ROUNDS measured ones (default 5); worker, latency and blocking (worker.ts,
 * latency.ts) run min(BENCH_WARMUP, 1) + BENCH_EXTRA_ROUNDS rounds (default min(BENCH_ROUNDS, 5),
 * 3 for worker).
 * Prints `{ "warmups": [...], "rounds": [...] }`, each round a map from side (or side and figure,
 * as `lib10InFlight`, `libP99`) to a number (msgs/s, ms, a fraction).
 */
import { Effect, Redacted, Stream } from "effect"
import { Consumer, Producer, RedisBackend, StreamsBackend } from "effect-redis-streams"
import { Redis } from "ioredis"
import * as Fs from "node:fs/promises"
import * as Inspector from "node:inspector"
import { PerformanceObserver } from "node:perf_hooks"
import { libLatency, rawLatency, rawPipelined, whileProbed } from "./latency.js"
import { bullConsume, bullProduce, hasRedisBenchmark, serverCeiling } from "./peers.js"
import { bullWorker, latencies, libWorker, workerEntries } from "./worker.js"

const N = Number(process.env["BENCH_MESSAGES"] ?? 200_000)
/** BullMQ's job count (its rate does not depend on it; a job costs it several times an entry) */
const PEER_N = Number(process.env["BENCH_PEER_MESSAGES"] ?? Math.max(1000, Math.round(N / 20)))
/** the worker work's messages (20,000 in a full run) and the latency work's */
const WORKER_N = Number(process.env["BENCH_WORKER_MESSAGES"] ?? Math.max(1000, Math.round(N / 10)))
const LATENCY_N = Number(process.env["BENCH_LATENCY_MESSAGES"] ?? Math.max(2000, Math.round(N / 10)))
const LATENCY_RATE = 10_000
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
const PEER_ROUNDS = Number(process.env["BENCH_PEER_ROUNDS"] ?? 5)
const extra = work === "worker" || work === "latency" || work === "blocking"
// the worker work's rounds are long (20,000 messages through a handler of 5.9 ms on average, 3 pairs of sides)
const EXTRA_ROUNDS = Number(process.env["BENCH_EXTRA_ROUNDS"] ?? Math.min(ROUNDS, work === "worker" ? 3 : 5))
const warmupRounds = extra ? Math.min(WARMUP, 1) : WARMUP
const measuredRounds = extra ? EXTRA_ROUNDS : ROUNDS
const redis = new Redis(url)
const ceiling = work === "produce" && hasRedisBenchmark()
if (work === "produce" && !ceiling) process.stderr.write("note: redis-benchmark is not on PATH: the server ceiling is skipped\n")
/**
 * Sides: raw ioredis, the library, the library without read-ahead. With 4 consumers, each has a
 * connection of its own on both sides (4 ioredis clients; the Consumers' lanes, the default), and
 * the "Shared" sides run the 4 on one connection (one client; `connection: { shared: true }`). Peers
 * (produce, consume1): BullMQ, redis-benchmark.
 */
const allSides = work === "produce"
  ? ["raw", "lib"]
  : work === "consume4"
  ? ["raw", "lib", "libNoReadAhead", "rawShared", "libShared"]
  : work === "consume1"
  ? ["raw", "lib", "libNoReadAhead"]
  : work === "worker"
  ? ["lib10", "bullmq10", "lib50", "bullmq50", "libFast50", "bullmqFast50"]
  : work === "latency"
  ? ["lib", "raw", "rawFibers"]
  : ["idle", "script", "pipelined"]
const peerSides = work === "produce" ? ["bullmq", ...(ceiling ? ["ceiling"] : [])] : work === "consume1" ? ["bullmq1", "bullmq50"] : []
// BENCH_SIDES=lib,raw: only these sides (for profiling one side)
const only = (sides: ReadonlyArray<string>) =>
  process.env["BENCH_SIDES"] ? sides.filter((s) => process.env["BENCH_SIDES"]!.split(",").includes(s)) : sides
const sidesOf = (round: number) => only(round < warmupRounds + PEER_ROUNDS ? [...allSides, ...peerSides] : allSides)
const base = `bench-${work}-${Date.now()}`
let iteration = 0
const workerLatencies = latencies(WORKER_N)

/** the worker work's sides: `lib10` = the library at concurrency 10; `Fast`: a handler that returns at once */
const workerSide = (side: string, n: number): Effect.Effect<Record<string, number>, unknown, StreamsBackend.StreamsBackend> => {
  const concurrency = Number(/\d+$/.exec(side)![0])
  const latency = side.includes("Fast") ? undefined : workerLatencies
  const result = side.startsWith("lib")
    ? libWorker(base, `g-${n}`, WORKER_N, concurrency, latency)
    : Effect.promise(() => bullWorker(url, `${base}-${n}`, WORKER_N, concurrency, latency))
  return Effect.map(result, (r) => ({ [side]: r.rate, ...(latency === undefined ? {} : { [`${side}InFlight`]: r.inFlight }) }))
}

const once = (side: string): Effect.Effect<Record<string, number>, unknown, StreamsBackend.StreamsBackend> =>
  Effect.gen(function*() {
    const backend = yield* StreamsBackend.StreamsBackend
    const n = iteration++
    if (work === "worker") return yield* workerSide(side, n)
    if (work === "latency") {
      const stream = `${base}-${n}`
      const p = side === "lib"
        ? yield* libLatency(stream, LATENCY_N, LATENCY_RATE)
        : yield* Effect.promise(() => rawLatency(url, stream, LATENCY_N, LATENCY_RATE, side === "rawFibers"))
      yield* Effect.promise(() => redis.del(stream))
      return { [`${side}P50`]: p.p50, [`${side}P99`]: p.p99, [`${side}Max`]: p.max, [`${side}ToRedisP99`]: p.toRedisP99 }
    }
    if (work === "blocking") {
      const stream = `${base}-${n}`
      const evals = () => Effect.promise(() => commandStats(redis, "eval"))
      const before = yield* evals()
      const p = yield* Effect.promise(() =>
        whileProbed(url, () =>
          side === "idle"
            ? new Promise((resolve) => setTimeout(resolve, 300))
            : side === "pipelined"
            ? rawPipelined(redis, stream, N)
            : Effect.runPromise(Effect.provideService(libProduce(stream), StreamsBackend.StreamsBackend, backend))))
      yield* Effect.promise(() => redis.del(stream))
      // how long the server ran each script (one chunk): the time it runs nothing else
      const after = yield* evals()
      const chunk = side === "script" && after.calls > before.calls
        ? { scriptChunkMs: (after.usec - before.usec) / (after.calls - before.calls) / 1000 }
        : {}
      return { [`${side}P50`]: p.p50, [`${side}P99`]: p.p99, [`${side}Max`]: p.max, ...chunk }
    }
    if (work === "produce") {
      const target = `${base}-${n}`
      const rate = side === "raw"
        ? yield* Effect.promise(() => rawProduce(redis, target))
        : side === "bullmq"
        ? yield* Effect.promise(() => bullProduce(url, target, PEER_N))
        : side === "ceiling"
        ? yield* Effect.promise(() => serverCeiling(url, target, N))
        : yield* libProduce(target)
      yield* Effect.promise(() => redis.del(target))
      return { [side]: rate }
    }
    if (side === "bullmq1" || side === "bullmq50") {
      return { [side]: yield* Effect.promise(() => bullConsume(url, `${base}-${n}`, PEER_N, side === "bullmq1" ? 1 : 50)) }
    }
    const consumers = work === "consume1" ? 1 : 4
    const group = `g-${n}`
    yield* backend.createGroup(base, group, { id: "0" })
    const shared = side === "rawShared" || side === "libShared"
    const rate = side === "raw" || side === "rawShared"
      ? yield* Effect.promise(() => rawConsume(url, base, group, consumers, shared))
      : yield* libConsume(base, group, consumers, side !== "libNoReadAhead", shared)
    yield* backend.destroyGroup(base, group)
    return { [side]: rate }
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

/** a command's calls and total µs so far (INFO commandstats) */
const commandStats = async (redis: Redis, command: string) => {
  const info = await redis.info("commandstats")
  const m = new RegExp(`cmdstat_${command}:calls=(\\d+),usec=(\\d+)`).exec(info)
  return { calls: Number(m?.[1] ?? 0), usec: Number(m?.[2] ?? 0) }
}

/** CPU time used so far, in µs: this process, and the Redis server; GC time in ms */
const cpu = async () => {
  const usage = process.cpuUsage()
  const info = await redis.info("cpu")
  const field = (name: string) => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1] ?? 0) * 1e6
  return { node: usage.user + usage.system, redis: field("used_cpu_user") + field("used_cpu_sys"), gc: gcMs }
}

const main = Effect.gen(function*() {
  if (work === "consume1" || work === "consume4") yield* Effect.promise(() => rawProduce(redis, base))
  if (work === "worker") {
    const backend = yield* StreamsBackend.StreamsBackend
    yield* backend.addMany(base, workerEntries(WORKER_N))
  }
  const warmups: Array<Record<string, number>> = []
  const rounds: Array<Record<string, number>> = []
  for (let round = 0; round < warmupRounds + measuredRounds; round++) {
    if (round === warmupRounds && process.env["BENCH_PROFILE"]) yield* Effect.promise(() => profiler.start())
    const result: Record<string, number> = {}
    const sides = sidesOf(round)
    for (const side of round % 2 === 1 ? [...sides].reverse() : sides) {
      const before = yield* Effect.promise(() => cpu())
      const figures = yield* once(side)
      for (const [k, v] of Object.entries(figures)) result[k] = Number(v.toFixed(k === side ? 0 : 3))
      const after = yield* Effect.promise(() => cpu())
      if (process.env["BENCH_CPU"]) {
        process.stderr.write(
          `${work} ${side}: ${result[side]} msg/s, node ${((after.node - before.node) / N).toFixed(2)} µs/msg, redis ${
            ((after.redis - before.redis) / N).toFixed(2)
          } µs/msg, gc ${(after.gc - before.gc).toFixed(0)} ms\n`
        )
      }
    }
    ;(round < warmupRounds ? warmups : rounds).push(result)
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

/**
 * The "worker" work of `pnpm bench` (issue 14): `Consumer.process(handler, { concurrency })`
 * against BullMQ's `Worker` with the same handler and concurrency.
 *
 * BENCH_WORKER_MESSAGES messages of 100 bytes (default BENCH_MESSAGES / 10, so 20,000 in a full
 * run). The handler sleeps a latency drawn per message from a seeded generator: 90% 1 ms, 10%
 * 50 ms (mean 5.9 ms), the same latency for the same message on both sides; a second handler
 * returns at once. The library reads a stream filled once (a new group per run); BullMQ's jobs are
 * added with addBulk before its clock starts (`removeOnComplete: true`). The library's clock stops
 * at the last acknowledgement (every handler done, then XPENDING polled until nothing is pending),
 * BullMQ's at the N-th `completed` event. In-flight = (sum of measured handler time) / (wall time x
 * concurrency): timers run late under load, so handler time is measured, not assumed.
 */
import { Deferred, Duration, Effect, Fiber } from "effect"
import { Consumer, type Message, StreamsBackend } from "effect-redis-streams"
import { bullAddBulk, bullWork, withQueue } from "./peers.js"

const payload = "x".repeat(100)
const now = () => performance.now()
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** mulberry32: a small seeded generator, the same sequence on every run */
const seeded = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** the handler's latency per message index: 90% 1 ms, 10% 50 ms */
export const latencies = (n: number, seed = 14): ReadonlyArray<number> => {
  const random = seeded(seed)
  return Array.from({ length: n }, () => (random() < 0.9 ? 1 : 50))
}

/** the entries of the library's stream: the message index and 100 bytes */
export const workerEntries = (n: number): ReadonlyArray<ReadonlyArray<string>> =>
  Array.from({ length: n }, (_, i) => ["i", String(i), "payload", payload])

export interface WorkerResult {
  /** msgs/s */
  readonly rate: number
  /** sum of handler time / (wall time x concurrency); 0 for the handler that returns at once */
  readonly inFlight: number
}

/**
 * The library: `process` over the `n` entries of `stream` through a new group; `latency`
 * undefined: a handler that returns at once.
 */
export const libWorker = (
  stream: string,
  group: string,
  n: number,
  concurrency: number,
  latency: ReadonlyArray<number> | undefined
) =>
  Effect.gen(function*() {
    const backend = yield* StreamsBackend.StreamsBackend
    yield* backend.createGroup(stream, group, { id: "0" })
    const result = yield* Effect.scoped(libWorkerRun(backend, stream, group, n, concurrency, latency))
    yield* backend.destroyGroup(stream, group)
    return result
  })

const libWorkerRun = (
  backend: StreamsBackend.Service,
  stream: string,
  group: string,
  n: number,
  concurrency: number,
  latency: ReadonlyArray<number> | undefined
) =>
  Effect.gen(function*() {
    const consumer = yield* Consumer.make({
      stream,
      group,
      consumer: "worker",
      batchSize: 100,
      maxWait: 0,
      reclaim: false
    })
    const allHandled = yield* Deferred.make<void>()
    let handled = 0
    let busy = 0
    const handler = latency === undefined
      ? () =>
        Effect.suspend(() => ++handled === n ? Deferred.succeed(allHandled, undefined) : Effect.void)
      : (m: Message.Message<Record<string, string>>) =>
        Effect.suspend(() => {
          const t0 = now()
          return Effect.zipRight(
            Effect.sleep(Duration.millis(latency[Number(m.fields["i"])]!)),
            Effect.suspend(() => {
              busy += now() - t0
              return ++handled === n ? Deferred.succeed(allHandled, undefined) : Effect.void
            })
          )
        })
    const t = now()
    const fiber = yield* Effect.fork(consumer.process(handler, { concurrency }))
    yield* Deferred.await(allHandled)
    // the clock stops at the last acknowledgement
    while ((yield* backend.pendingSummary(stream, group)).count > 0) yield* Effect.sleep(Duration.millis(1))
    const ms = now() - t
    yield* Fiber.interrupt(fiber)
    return { rate: n / (ms / 1000), inFlight: latency === undefined ? 0 : busy / (ms * concurrency) }
  })

/** BullMQ: a Worker over `n` jobs added beforehand, the same handler */
export const bullWorker = (
  url: string,
  name: string,
  n: number,
  concurrency: number,
  latency: ReadonlyArray<number> | undefined
): Promise<WorkerResult> =>
  withQueue(url, name, async (queue) => {
    await bullAddBulk(queue, n, (i) => ({ i, payload }))
    let busy = 0
    const ms = await bullWork(url, queue, n, concurrency, latency === undefined ? async () => {} : async ({ i }) => {
      const t0 = now()
      await sleep(latency[i]!)
      busy += now() - t0
    })
    return { rate: n / (ms / 1000), inFlight: latency === undefined ? 0 : busy / (ms * concurrency) }
  })

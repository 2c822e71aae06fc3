/**
 * The Consumer-recovery scenario shared by the Cluster and Sentinel recovery
 * tests (issue 15): a Consumer on a Redis backend of its own (in a scope the
 * test closes) processing 3000 entries added by a Producer; the test ends
 * connections under it, then `finish` waits for the outcome. Also the polling
 * helpers those tests use.
 */
import { Context, Effect, Fiber, Layer, Scope } from "effect"
import { Consumer, Producer, RedisBackend, RedisConnection, StreamsBackend } from "effect-redis-streams"
import { testLogLevel } from "./Harness.js"

/** poll `condition` every 20 ms until it holds or `timeoutMs` passed; whether it holds */
export const waitUntil = (condition: () => boolean, timeoutMs: number) =>
  Effect.gen(function*() {
    const start = Date.now()
    while (!condition() && Date.now() - start < timeoutMs) yield* Effect.sleep("20 millis")
    return condition()
  })

/** wait until `count` settles at `expected` (connections close asynchronously) */
export const settlesAt = (count: Effect.Effect<number>, expected: number, timeoutMs = 5000) =>
  Effect.gen(function*() {
    const start = Date.now()
    let n = yield* count
    while (n !== expected && Date.now() - start < timeoutMs) {
      yield* Effect.sleep("50 millis")
      n = yield* count
    }
    return n
  })

/**
 * Start the scenario on a backend built with `options` in a new scope (the
 * test closes it): the Consumer `c1` of group `g` processes `stream`, counting
 * every delivery of each `n` in `processed`, while 3000 entries are added;
 * returns once at least 300 were processed (`consuming` tells whether that
 * happened within 20 s).
 */
export const startConsumerRecovery = (options: RedisConnection.Options, stream: string) =>
  Effect.gen(function*() {
    const total = 3000
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(Layer.merge(RedisBackend.layerRedis(options), testLogLevel), scope)
    const connection = Context.get(context, RedisConnection.RedisConnection)
    const backend = Context.get(context, StreamsBackend.StreamsBackend)
    const processed = new Map<number, number>()
    const consumer = yield* Consumer.make({
      stream,
      group: "g",
      consumer: "c1",
      batchSize: 20,
      maxWait: "10 millis",
      blockTime: "300 millis",
      reclaim: { idle: "2 seconds", interval: "500 millis" }
    }).pipe(Effect.provide(context), Scope.extend(scope))
    const fiber = yield* consumer.process((m) =>
      Effect.sync(() => {
        const n = Number(m.fields["n"])
        processed.set(n, (processed.get(n) ?? 0) + 1)
      }).pipe(Effect.zipRight(Effect.sleep("1 millis")))
    ).pipe(Effect.forkIn(scope))
    const producer = yield* Producer.make({ stream }).pipe(Effect.provide(context))
    yield* Effect.forEach(Array.from({ length: total / 100 }, (_, b) => b), (b) =>
      producer.addAll(Array.from({ length: 100 }, (_, k) => ({ n: String(b * 100 + k) }))), { discard: true })
    const consuming = yield* waitUntil(() => processed.size >= 300, 20_000)

    /**
     * Wait (30 s at most) until all `total` are processed, then (2 s at most) until nothing is
     * pending: whether all were processed, the pending summary, the connections and the state
     * of the consumer's fiber (`None` while it runs).
     */
    const finish = Effect.gen(function*() {
      const done = yield* waitUntil(() => processed.size === total, 30_000)
      // successes are acknowledged together, within the worker's ackDelay: wait for the last ones
      let pending = yield* backend.pendingSummary(stream, "g")
      for (let waited = 0; waited < 2000 && pending.count > 0; waited += 50) {
        yield* Effect.sleep("50 millis")
        pending = yield* backend.pendingSummary(stream, "g")
      }
      const after = yield* connection.connections
      const exit = yield* Fiber.poll(fiber)
      return { done, pending, after, exit }
    })

    return { total, scope, connection, processed, consuming, finish }
  })

/**
 * The worker (`process`): every slot busy across batch boundaries, messages
 * started in read order, successes acknowledged within `ackDelay`, a shutdown
 * that starts nothing new, and a fatal failure that ends it with the error.
 * Memory runs under TestClock, Redis in real time.
 */
import { assert } from "@effect/vitest"
import { Clock, Deferred, Effect, Exit, Fiber } from "effect"
import { Consumer, Producer, StreamsBackend, StreamsError } from "effect-redis-streams"
import { forEachBackend, TestKit } from "../src/Harness.js"

const fill = (stream: string, n: number, from = 0) =>
  Effect.flatMap(Producer.make({ stream }), (p) => p.addAll(Array.from({ length: n }, (_, i) => ({ n: String(from + i) }))))

/** interrupt `fiber` while letting time pass (memory runs under TestClock); returns how long it took */
const interruptLettingTimePass = <A, E>(fiber: Fiber.RuntimeFiber<A, E>, ms: number) =>
  Effect.gen(function*() {
    const kit = yield* TestKit
    const start = yield* Clock.currentTimeMillis
    const interrupting = yield* Fiber.interrupt(fiber).pipe(Effect.fork)
    for (let waited = 0; waited < ms && interrupting.unsafePoll() === null; waited += 10) yield* kit.sleep(10)
    yield* Fiber.join(interrupting)
    return (yield* Clock.currentTimeMillis) - start
  })

/** wait (letting time pass) until `done` holds, at most `ms` */
const eventually = (done: () => boolean, ms: number, what: string) =>
  Effect.gen(function*() {
    const kit = yield* TestKit
    for (let waited = 0; waited < ms && !done(); waited += 10) yield* kit.sleep(10)
    assert.isTrue(done(), `${what} within ${ms} ms`)
  })

forEachBackend("Consumer worker", (it) => {
  it.scoped("a slow message does not idle the other slots: they go on across batch boundaries", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const stream = kit.key("w")
      yield* fill(stream, 40)
      const consumer = yield* Consumer.make({ stream, group: "g", batchSize: 4, maxWait: "1 second" })
      const done = new Set<string>()
      const fiber = yield* consumer.process(
        (m) => Effect.zipRight(Effect.sleep(m.body.n === "0" ? "3 seconds" : "20 millis"), Effect.sync(() => done.add(m.body.n))),
        { concurrency: 4 }
      ).pipe(Effect.fork)
      // 39 fast messages over 3 slots of 20 ms: ~260 ms, while message 0 takes 3 s
      yield* eventually(() => done.size === 39, 2000, "every fast message was handled while the slow one ran")
      assert.isFalse(done.has("0"))
      yield* interruptLettingTimePass(fiber, 12_000)
    }))

  it.scoped("concurrency 1 handles messages one after another, in order, across batches", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const stream = kit.key("w")
      yield* fill(stream, 25)
      const consumer = yield* Consumer.make({ stream, group: "g", batchSize: 3, maxWait: 0 })
      const seen: Array<number> = []
      let running = 0
      let overlap = false
      const fiber = yield* consumer.process((m) =>
        Effect.gen(function*() {
          if (++running > 1) overlap = true
          yield* Effect.sleep("2 millis")
          seen.push(Number(m.body.n))
          running--
        })
      ).pipe(Effect.fork)
      yield* eventually(() => seen.length === 25, 3000, "all handled")
      assert.deepStrictEqual(seen, Array.from({ length: 25 }, (_, i) => i))
      assert.isFalse(overlap, "never two at once")
      yield* Fiber.interrupt(fiber)
    }))

  it.scoped("a success is acknowledged within ackDelay while the stream is quiet", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("w")
      const consumer = yield* Consumer.make({ stream, group: "g", batchSize: 10, maxWait: 0, blockTime: "5 seconds" })
      const handled = yield* Deferred.make<number>()
      const fiber = yield* consumer.process((_) => Effect.flatMap(Clock.currentTimeMillis, (t) => Deferred.succeed(handled, t)), {
        concurrency: 2,
        ackDelay: "50 millis"
      }).pipe(Effect.fork)
      yield* kit.sleep(100)
      yield* fill(stream, 1)
      yield* Deferred.await(handled)
      // the reader is blocked in a 5 s read: the flusher acknowledges after ackDelay
      let pending = 1
      for (let waited = 0; waited < 400 && pending > 0; waited += 10) {
        yield* kit.sleep(10)
        pending = (yield* backend.pendingSummary(stream, "g")).count
      }
      assert.strictEqual(pending, 0, "acknowledged within ackDelay plus a round trip")
      yield* Fiber.interrupt(fiber)
    }))

  it.scoped("shutdown: nothing starts after the interruption; the running handler finishes and is acknowledged", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("w")
      yield* fill(stream, 10)
      const consumer = yield* Consumer.make({ stream, group: "g", batchSize: 10, maxWait: 0, shutdownTimeout: "3 seconds" })
      const starts: Array<{ readonly n: string; readonly at: number }> = []
      const ends: Array<string> = []
      const t0 = yield* Clock.currentTimeMillis
      const fiber = yield* consumer.process((m) =>
        Effect.gen(function*() {
          starts.push({ n: m.body.n, at: (yield* Clock.currentTimeMillis) - t0 })
          yield* Effect.sleep("1 second")
          ends.push(m.body.n)
        })
      ).pipe(Effect.fork)
      yield* kit.sleep(200)
      const interruptedAt = (yield* Clock.currentTimeMillis) - t0
      const startedBefore = starts.length
      const stoppedAt = interruptedAt + (yield* interruptLettingTimePass(fiber, 5000))
      assert.strictEqual(startedBefore, 1, "one handler was running")
      assert.deepStrictEqual(starts.map((s) => s.n), ["0"], `nothing started after ${interruptedAt} ms: ${JSON.stringify(starts)}`)
      assert.deepStrictEqual(ends, ["0"], "the running handler finished")
      assert.isBelow(stoppedAt, 2000, "it stopped once the running handler was done, not at shutdownTimeout")
      const pending = yield* backend.pending({ stream, group: "g", count: 100 })
      assert.strictEqual(pending.length, 9, "the 9 not started stay pending (released); message 0 was acknowledged")
      assert.isFalse(pending.some((p) => p.deliveries !== 0), "released with their delivery count restored")
    }))

  it.scoped("shutdown: a handler still running at shutdownTimeout is interrupted and stays pending", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("w")
      yield* fill(stream, 2)
      const consumer = yield* Consumer.make({ stream, group: "g", batchSize: 10, maxWait: 0, shutdownTimeout: "300 millis" })
      const started = yield* Deferred.make<void>()
      let finished = 0
      const fiber = yield* consumer.process((m) =>
        Effect.gen(function*() {
          if (m.body.n === "1") yield* Deferred.succeed(started, undefined)
          yield* Effect.sleep(m.body.n === "1" ? "10 seconds" : "1 millis")
          finished++
        }), { concurrency: 2 }).pipe(Effect.fork)
      yield* Deferred.await(started)
      yield* kit.sleep(20)
      const interrupting = yield* Fiber.interrupt(fiber).pipe(Effect.fork)
      yield* kit.sleep(400)
      yield* Fiber.join(interrupting)
      assert.strictEqual(finished, 1)
      const pending = yield* backend.pending({ stream, group: "g", count: 10 })
      assert.deepStrictEqual(pending.map((p) => p.deliveries), [1], "the interrupted one stays pending as delivered once")
    }))

  it.scoped("a fatal failure (the group deleted) ends the worker with the error after a graceful stop", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("w")
      yield* fill(stream, 3)
      const consumer = yield* Consumer.make({ stream, group: "g", batchSize: 10, maxWait: 0, blockTime: "100 millis" })
      let handled = 0
      const fiber = yield* consumer.process((_) => Effect.sync(() => handled++)).pipe(Effect.fork)
      yield* eventually(() => handled === 3, 2000, "the first messages were handled")
      yield* kit.sleep(100)
      yield* backend.destroyGroup(stream, "g")
      yield* fill(stream, 1, 3)
      for (let waited = 0; waited < 3000 && fiber.unsafePoll() === null; waited += 20) yield* kit.sleep(20)
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isFailure(exit), "the worker ended")
      if (Exit.isFailure(exit)) {
        const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
        assert.instanceOf(error, StreamsError.GroupNotFound, String(exit.cause))
      }
    }))

  it.scoped("invalid process options are InvalidOptions naming the option", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const consumer = yield* Consumer.make({ stream: kit.key("w"), group: "g", batchSize: 10, maxWait: 0 })
      for (
        const [option, options] of [
          ["concurrency", { concurrency: 0 }],
          ["concurrency", { concurrency: 1.5 }],
          ["prefetch", { prefetch: -1 }],
          ["ackDelay", { ackDelay: "-5 millis" }]
        ] as const
      ) {
        const error = yield* Effect.flip(consumer.process(() => Effect.void, options as Consumer.ProcessOptions))
        assert.instanceOf(error, StreamsError.InvalidOptions)
        assert.strictEqual((error as StreamsError.InvalidOptions).option, option)
      }
    }))
})

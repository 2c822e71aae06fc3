import { assert } from "@effect/vitest"
import { Chunk, Deferred, Effect, Fiber, Option, Schedule, Schema, Stream } from "effect"
import { Consumer, DeadLetter, InMemoryBackend, Message, Producer, StreamsBackend, StreamsError } from "effect-redis-streams"
import { forEachBackend, TestKit } from "../src/Harness.js"

const fill = (stream: string, n: number, from = 0) =>
  Effect.flatMap(Producer.make({ stream }), (p) =>
    p.addAll(Array.from({ length: n }, (_, i) => ({ n: String(from + i) }))))

/** acknowledged + pending + dead-lettered + never delivered, counted from the backend */
const accounting = (stream: string, group: string, dlq: string, acked: number) =>
  Effect.gen(function*() {
    const backend = yield* StreamsBackend.StreamsBackend
    const pending = (yield* backend.pendingSummary(stream, group)).count
    const dead = yield* backend.length(dlq)
    const info = (yield* backend.groupsInfo(stream)).find((g) => g.name === group)
    const backlog = info?.lag ?? 0
    return { acked, pending, dead, backlog, total: acked + pending + dead + backlog }
  })

forEachBackend("Consumer failure handling", (it) => {
  it.scoped("crash: a survivor receives exactly the crashed consumer's entries after claimIdle, delivery count 2", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("f")
      const ids = yield* fill(stream, 5)
      const base = { stream, group: "g", batchSize: 5, maxWait: "50 millis", blockTime: "100 millis", reclaim: { idle: "1 second" } } as const
      // A takes a batch and "dies": nothing is acknowledged and it never reads again
      const a = yield* Consumer.make({ ...base, consumer: "A", removeOnShutdown: false })
      const taken = Chunk.unsafeGet(yield* a.batches.pipe(Stream.take(1), Stream.runCollect), 0)
      assert.deepStrictEqual(taken.messages.map((m) => m.id), ids)
      const b = yield* Consumer.make({ ...base, consumer: "B" })
      const got: Array<Message.Message<Record<string, string>>> = []
      const fiber = yield* b.batches.pipe(
        Stream.runForEach((batch) => Effect.sync(() => got.push(...batch.messages)).pipe(Effect.zipRight(batch.ack))),
        Effect.fork
      )
      yield* kit.sleep(500)
      assert.strictEqual(got.length, 0, "fresh entries of a live consumer are not stolen")
      yield* kit.sleep(1200)
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(got.map((m) => m.id), ids)
      assert.deepStrictEqual(got.map((m) => m.deliveryCount), [2, 2, 2, 2, 2])
      assert.deepStrictEqual(got.map((m) => m.consumer), ["B", "B", "B", "B", "B"])
      assert.strictEqual((yield* backend.pendingSummary(stream, "g")).count, 0)
    }))

  it.scoped("two survivors never both take the same entry", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const stream = kit.key("f")
      const ids = yield* fill(stream, 40)
      const base = { stream, group: "g", batchSize: 40, maxWait: "50 millis", blockTime: "100 millis", reclaim: { idle: "500 millis" } } as const
      const dead = yield* Consumer.make({ ...base, consumer: "dead", removeOnShutdown: false })
      yield* dead.batches.pipe(Stream.take(1), Stream.runDrain)
      const seen = new Map<string, number>()
      const run = (name: string) =>
        Effect.flatMap(Consumer.make({ ...base, consumer: name, batchSize: 7 }), (c) =>
          c.process((m) => Effect.sync(() => seen.set(m.id, (seen.get(m.id) ?? 0) + 1))).pipe(Effect.fork))
      const f1 = yield* run("s1")
      const f2 = yield* run("s2")
      yield* kit.sleep(2000)
      yield* Fiber.interrupt(f1)
      yield* Fiber.interrupt(f2)
      assert.sameMembers([...seen.keys()], [...ids])
      assert.isTrue([...seen.values()].every((n) => n === 1))
    }))

  it.scoped("poison: ids that always fail land in the dead-letter stream after maxDeliveries, with the error", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("f")
      const ids = yield* fill(stream, 20)
      const poisoned = new Set([ids[3], ids[11]])
      const consumer = yield* Consumer.make({
        stream,
        group: "g",
        batchSize: 5,
        maxWait: "20 millis",
        blockTime: "50 millis",
        reclaim: { idle: "100 millis", interval: "50 millis" },
        deadLetter: { maxDeliveries: 3 }
      })
      const attempts = new Map<string, number>()
      const fiber = yield* consumer.process((m) =>
        Effect.suspend(() => {
          attempts.set(m.id, (attempts.get(m.id) ?? 0) + 1)
          return poisoned.has(m.id) ? Effect.fail(new Error(`cannot handle ${m.body.n}`)) : Effect.void
        })
      ).pipe(Effect.fork)
      yield* kit.sleep(1500)
      yield* Fiber.interrupt(fiber)
      const dead = (yield* backend.range(consumer.deadLetterStream)).map(DeadLetter.parse)
      assert.sameMembers(dead.map((d) => d.meta.id), [...poisoned])
      for (const d of dead) {
        assert.strictEqual(d.meta.deliveries, 4)
        assert.include(d.meta.error, "cannot handle")
        assert.strictEqual(d.meta.stream, stream)
      }
      for (const id of poisoned) assert.strictEqual(attempts.get(id), 3)
      assert.strictEqual((yield* backend.pendingSummary(stream, "g")).count, 0)
      assert.strictEqual(attempts.size, 20)
    }))

  it.scoped("a handler can reject a message as Poison: dead-lettered at once", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("f")
      const ids = yield* fill(stream, 4)
      const consumer = yield* Consumer.make({ stream, group: "g", batchSize: 4, maxWait: "20 millis" })
      const fiber = yield* consumer.process((m) =>
        m.body.n === "2" ? Effect.fail(new Message.Poison({ reason: "n must not be 2" })) : Effect.void
      ).pipe(Effect.fork)
      yield* kit.sleep(200)
      yield* Fiber.interrupt(fiber)
      const dead = (yield* backend.range(consumer.deadLetterStream)).map(DeadLetter.parse)
      assert.deepStrictEqual(dead.map((d) => [d.meta.id, d.meta.error, d.meta.deliveries]), [[ids[2], "n must not be 2", 1]])
      assert.strictEqual((yield* backend.pendingSummary(stream, "g")).count, 0)
    }))

  it.scoped("shutdown mid-batch with slow handlers: running work finishes, nothing new starts, acknowledged + pending + dead-lettered = produced", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("f")
      yield* fill(stream, 50)
      const consumer = yield* Consumer.make({
        stream,
        group: "g",
        batchSize: 10,
        maxWait: "20 millis",
        shutdownTimeout: "2 seconds"
      })
      let acked = 0
      const starts: Array<string> = []
      let interruptedAt = -1
      const started = yield* Deferred.make<void>()
      const fiber = yield* consumer.process((m) =>
        Effect.sync(() => starts.push(m.body.n)).pipe(
          Effect.zipRight(Deferred.succeed(started, undefined)),
          Effect.zipRight(Effect.sleep(m.body.n === "7" ? "5 seconds" : "300 millis")),
          Effect.zipRight(Effect.sync(() => acked++))
        ), { concurrency: 10 }).pipe(Effect.fork)
      yield* Deferred.await(started)
      yield* kit.sleep(50)
      interruptedAt = starts.length
      const interrupting = yield* Fiber.interrupt(fiber).pipe(Effect.fork)
      yield* kit.sleep(2500)
      yield* Fiber.join(interrupting)
      const figures = yield* accounting(stream, "g", consumer.deadLetterStream, acked)
      assert.strictEqual(figures.total, 50)
      assert.strictEqual(interruptedAt, 10, "ten handlers were running when interrupted")
      assert.strictEqual(starts.length, 10, "no handler started after the interruption")
      assert.strictEqual(acked, 9, "the 9 fast handlers finished and were acknowledged")
      // 20 were read (10 running + a prefetch of batchSize); the 10 never started were released
      assert.strictEqual(figures.backlog, 30, "nothing more was read after the interruption")
      assert.strictEqual(figures.pending, 11, "the slow handler's message and the 10 released stay pending")
      const pending = yield* backend.pending({ stream, group: "g", count: 100 })
      const released = pending.filter((p) => p.deliveries === 0)
      assert.strictEqual(released.length, 10, "released entries have their delivery count restored")
      for (const p of released) assert.isAtLeast(p.idleMs, 30_000, "released entries are reclaimable at once")
    }))

  it.scoped("closing the consumer's scope removes it from the group only when nothing is pending", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("f")
      yield* fill(stream, 2)
      yield* Effect.scoped(Effect.gen(function*() {
        const c = yield* Consumer.make({ stream, group: "g", consumer: "clean", batchSize: 2, maxWait: 0 })
        const [b] = Chunk.toReadonlyArray(yield* c.batches.pipe(Stream.take(1), Stream.runCollect))
        yield* b!.ack
      }))
      yield* fill(stream, 1, 2)
      yield* Effect.scoped(Effect.gen(function*() {
        const c = yield* Consumer.make({ stream, group: "g", consumer: "dirty", batchSize: 1, maxWait: 0 })
        yield* c.batches.pipe(Stream.take(1), Stream.runDrain)
      }))
      const names = (yield* backend.consumersInfo(stream, "g")).map((c) => [c.name, c.pending])
      assert.deepStrictEqual(names, [["dirty", 1]])
    }))
})

forEachBackend("Consumer dead letters under faults", (it) => {
  it.scoped("a crash between the dead-letter add and the ack loses nothing (the entry is moved again)", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const store = Option.getOrThrow(yield* Effect.serviceOption(InMemoryBackend.InMemoryStore))
      const stream = kit.key("f")
      const Order = Schema.Struct({ orderId: Schema.String, amount: Schema.NumberFromString })
      const badId = yield* backend.add(stream, ["orderId", "x", "amount", "NaN?"])
      const goodId = yield* backend.add(stream, ["orderId", "y", "amount", "2"])
      const options = { stream, group: "g", consumer: "only", batchSize: 10, maxWait: 0, schema: Order } as const
      // the ack that follows the dead-letter add fails as a crash would: the consumer's stream dies
      yield* store.failNext(
        (op) => op.command === "XACK" && op.stream === stream,
        new StreamsError.RedisCommandError({ command: "XACK", reply: "ERR injected crash", message: "XACK: injected crash" })
      )
      const crashed = yield* Effect.scoped(
        Effect.flatMap(Consumer.make({ ...options, removeOnShutdown: false }), (c) =>
          c.batches.pipe(Stream.take(1), Stream.runCollect, Effect.flip))
      )
      assert.strictEqual(crashed._tag, "RedisCommandError")
      const dlq = DeadLetter.defaultStream(stream)
      assert.strictEqual(yield* backend.length(dlq), 1, "the dead letter was added")
      const stillPending = yield* backend.pending({ stream, group: "g", count: 10 })
      assert.include(stillPending.map((p) => p.id), badId, "and the entry is still pending: nothing lost")
      // the restarted consumer moves it again, then acknowledges it
      const batch = yield* Effect.scoped(
        Effect.flatMap(Consumer.make(options), (c) =>
          c.batches.pipe(Stream.take(1), Stream.runCollect, Effect.map((b) => Chunk.unsafeGet(b, 0))))
      )
      assert.deepStrictEqual(batch.messages.map((m) => m.id), [goodId])
      yield* batch.ack
      const dead = (yield* backend.range(dlq)).map(DeadLetter.parse)
      assert.deepStrictEqual(dead.map((d) => d.meta.id), [badId, badId], "a duplicate dead letter, never a loss")
      assert.strictEqual((yield* backend.pendingSummary(stream, "g")).count, 0)
    }))

  it.scoped("lost connections are retried with the reconnect policy; the typed error arrives only when it gives up", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const store = Option.getOrThrow(yield* Effect.serviceOption(InMemoryBackend.InMemoryStore))
      const stream = kit.key("f")
      yield* fill(stream, 3)
      const lost = new StreamsError.RedisConnectionError({ endpoint: "memory", message: "connection lost" })
      // two failures: the default policy rides them out
      const patient = yield* Consumer.make({ stream, group: "g", batchSize: 3, maxWait: 0 })
      yield* store.failNext((op) => op.command === "XREADGROUP" && op.stream === stream, lost, { times: 2 })
      const fiber = yield* patient.batches.pipe(Stream.take(1), Stream.runCollect, Effect.fork)
      yield* kit.sleep(2000)
      const batches = yield* Fiber.join(fiber)
      assert.strictEqual(Chunk.unsafeGet(batches, 0).messages.length, 3)
      // a policy of 2 retries gives up on the third failure
      const strict = yield* Consumer.make({ stream, group: "h", batchSize: 3, maxWait: 0, connection: { reconnect: Schedule.recurs(2) } })
      yield* store.failNext((op) => op.command === "XREADGROUP" && op.stream === stream, lost, { times: 3 })
      const failed = yield* strict.batches.pipe(Stream.runDrain, Effect.flip)
      assert.strictEqual(failed._tag, "RedisConnectionError")
      assert.strictEqual(failed.message, "connection lost")
    }))
}, { only: "memory" })

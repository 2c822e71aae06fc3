import { assert, it as plainIt } from "@effect/vitest"
import { Chunk, Clock, Config, ConfigProvider, Duration, Effect, Either, Fiber, Layer, Option, Schedule, Schema, Stream } from "effect"
import { Consumer, DeadLetter, InMemoryBackend, Producer, StreamsBackend } from "effect-redis-streams"
import { forEachBackend, TestKit } from "../src/Harness.js"

const fill = (stream: string, n: number, from = 0) =>
  Effect.flatMap(Producer.make({ stream }), (p) =>
    p.addAll(Array.from({ length: n }, (_, i) => ({ n: String(from + i) }))))

/** take `n` batches from a consumer stream, letting time pass for the memory backend */
const takeBatches = <A>(consumer: Consumer.Service<A>, n: number, passMs: number) =>
  Effect.gen(function*() {
    const kit = yield* TestKit
    const fiber = yield* consumer.batches.pipe(Stream.take(n), Stream.runCollect, Effect.fork)
    yield* kit.sleep(passMs)
    return Chunk.toReadonlyArray(yield* Fiber.join(fiber))
  })

forEachBackend("Consumer", (it, backendName) => {
  it.scoped("a full batch is emitted at once, before maxWait", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const stream = kit.key("c")
      const ids = yield* fill(stream, 25)
      const consumer = yield* Consumer.make({ stream, group: "g", batchSize: 10, maxWait: "30 seconds" })
      const start = yield* Clock.currentTimeMillis
      const batches = yield* consumer.batches.pipe(Stream.take(2), Stream.runCollect)
      const elapsed = (yield* Clock.currentTimeMillis) - start
      const got = Chunk.toReadonlyArray(batches).flatMap((b) => b.messages.map((m) => m.id))
      assert.deepStrictEqual(got, ids.slice(0, 20))
      assert.isBelow(elapsed, 1000)
      const first = Chunk.unsafeGet(batches, 0).messages[0]!
      assert.strictEqual(first.deliveryCount, 1)
      assert.deepStrictEqual(first.body, { n: "0" })
      assert.deepStrictEqual(first.rawFields, ["n", "0"])
      assert.strictEqual(first.consumer, consumer.name)
    }))

  it.scoped("a partial batch is emitted when maxWait has passed", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const stream = kit.key("c")
      const ids = yield* fill(stream, 3)
      const consumer = yield* Consumer.make({ stream, group: "g", batchSize: 10, maxWait: "300 millis" })
      const start = yield* Clock.currentTimeMillis
      const fiber = yield* consumer.batches.pipe(Stream.take(1), Stream.runCollect, Effect.fork)
      yield* kit.sleep(250)
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)), "not emitted before maxWait")
      yield* kit.sleep(150)
      const batch = Chunk.unsafeGet(yield* Fiber.join(fiber), 0)
      const elapsed = (yield* Clock.currentTimeMillis) - start
      assert.deepStrictEqual(batch.messages.map((m) => m.id), ids)
      assert.isAtLeast(elapsed, 300)
      assert.isBelow(elapsed, backendName === "memory" ? 401 : 700)
    }))

  it.scoped("entries arriving during maxWait join the batch; maxWait is not overrun", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const stream = kit.key("c")
      yield* fill(stream, 1)
      const consumer = yield* Consumer.make({ stream, group: "g", batchSize: 10, maxWait: "400 millis", blockTime: "5 seconds" })
      const start = yield* Clock.currentTimeMillis
      const fiber = yield* consumer.batches.pipe(Stream.take(1), Stream.runCollect, Effect.fork)
      yield* kit.sleep(100)
      yield* fill(stream, 2, 1)
      yield* kit.sleep(400)
      const batch = Chunk.unsafeGet(yield* Fiber.join(fiber), 0)
      const elapsed = (yield* Clock.currentTimeMillis) - start
      assert.deepStrictEqual(batch.messages.map((m) => m.body.n), ["0", "1", "2"])
      assert.isBelow(elapsed, backendName === "memory" ? 501 : 900)
    }))

  it.scoped("maxWait 0 returns what is immediately available", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const stream = kit.key("c")
      yield* fill(stream, 3)
      const consumer = yield* Consumer.make({ stream, group: "g", batchSize: 10, maxWait: 0 })
      const start = yield* Clock.currentTimeMillis
      const batch = Chunk.unsafeGet(yield* consumer.batches.pipe(Stream.take(1), Stream.runCollect), 0)
      assert.strictEqual(batch.messages.length, 3)
      assert.isBelow((yield* Clock.currentTimeMillis) - start, 500)
    }))

  it.scoped("an empty wait emits nothing, unless emitEmpty is set", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const stream = kit.key("c")
      const quiet = yield* Consumer.make({ stream, group: "g", batchSize: 10, maxWait: "100 millis", blockTime: "200 millis" })
      const fiber = yield* quiet.batches.pipe(Stream.take(1), Stream.runCollect, Effect.fork)
      yield* kit.sleep(700)
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* fill(stream, 1)
      yield* kit.sleep(400)
      const batch = Chunk.unsafeGet(yield* Fiber.join(fiber), 0)
      assert.strictEqual(batch.messages.length, 1)

      const polling = yield* Consumer.make({
        stream,
        group: "g2",
        batchSize: 10,
        maxWait: "100 millis",
        emitEmpty: true,
        startFrom: "new"
      })
      const empties = yield* takeBatches(polling, 2, 250)
      assert.deepStrictEqual(empties.map((b) => b.messages.length), [0, 0])
    }))

  it.scoped("own pending entries come first after a restart under the same name, then new ones", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const stream = kit.key("c")
      const ids = yield* fill(stream, 6)
      const options = { stream, group: "g", consumer: "worker-1", batchSize: 4, maxWait: "50 millis" } as const
      const firstRun = yield* Effect.scoped(
        Effect.flatMap(Consumer.make(options), (c) => c.batches.pipe(Stream.take(1), Stream.runCollect))
      )
      const unacked = Chunk.unsafeGet(firstRun, 0).messages.map((m) => m.id)
      assert.deepStrictEqual(unacked, ids.slice(0, 4))
      const again = yield* Consumer.make(options)
      const [b1, b2] = yield* takeBatches(again, 2, 200)
      assert.deepStrictEqual(b1!.messages.map((m) => m.id), ids.slice(0, 4))
      assert.deepStrictEqual(b1!.messages.map((m) => m.deliveryCount), [2, 2, 2, 2])
      assert.deepStrictEqual(b2!.messages.map((m) => m.id), ids.slice(4))
      assert.deepStrictEqual(b2!.messages.map((m) => m.deliveryCount), [1, 1])
    }))

  it.scoped("a restart under a new name does not see the old pending entries, and nothing is duplicated", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("c")
      const ids = yield* fill(stream, 6)
      const base = { stream, group: "g", batchSize: 4, maxWait: "50 millis", reclaim: { idle: "1 hour" } } as const
      yield* Effect.scoped(
        Effect.flatMap(Consumer.make({ ...base, consumer: "old" }), (c) => c.batches.pipe(Stream.take(1), Stream.runCollect))
      )
      const fresh = yield* Consumer.make({ ...base, consumer: "new" })
      const [batch] = yield* takeBatches(fresh, 1, 200)
      assert.deepStrictEqual(batch!.messages.map((m) => m.id), ids.slice(4))
      yield* batch!.ack
      const summary = yield* backend.pendingSummary(stream, "g")
      assert.strictEqual(summary.count, 4)
      assert.deepStrictEqual(summary.consumers, [{ name: "old", count: 4 }])
    }))

  it.scoped("a consumer waiting on a quiet stream does not look idle (heartbeat)", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("c")
      const consumer = yield* Consumer.make({ stream, group: "g", batchSize: 10, maxWait: "50 millis", blockTime: "200 millis" })
      const fiber = yield* consumer.batches.pipe(Stream.runDrain, Effect.fork)
      yield* kit.sleep(1500)
      const [info] = yield* backend.consumersInfo(stream, "g")
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(info!.name, consumer.name)
      assert.isBelow(info!.idleMs, 600, "idle stays within about one blockTime")
    }))

  it.scoped("default consumer names are unique per instance", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const stream = kit.key("c")
      const a = yield* Consumer.make({ stream, group: "g", batchSize: 1, maxWait: 0 })
      const b = yield* Consumer.make({ stream, group: "g", batchSize: 1, maxWait: 0 })
      assert.notStrictEqual(a.name, b.name)
      assert.include(a.name, String(process.pid))
    }))

  it.scoped("batch ack acknowledges all its messages in one call; ackIds acknowledges some", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("c")
      yield* fill(stream, 6)
      const consumer = yield* Consumer.make({ stream, group: "g", batchSize: 3, maxWait: 0 })
      const [b1, b2] = yield* takeBatches(consumer, 2, 0)
      yield* b1!.ack
      assert.strictEqual((yield* backend.pendingSummary(stream, "g")).count, 3)
      yield* b2!.ackIds([b2!.messages[0]!.id])
      yield* b2!.messages[2]!.ack
      const left = yield* backend.pending({ stream, group: "g", count: 10 })
      assert.deepStrictEqual(left.map((p) => p.id), [b2!.messages[1]!.id])
    }))

  it.scoped("deleteOnAck acknowledges and deletes the entries from the stream", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("c")
      yield* fill(stream, 4)
      const consumer = yield* Consumer.make({ stream, group: "g", batchSize: 4, maxWait: 0, deleteOnAck: true })
      const [batch] = yield* takeBatches(consumer, 1, 0)
      yield* batch!.ack
      assert.strictEqual(yield* backend.length(stream), 0)
      assert.strictEqual((yield* backend.pendingSummary(stream, "g")).count, 0)
    }))

  it.scoped("startFrom 'new' skips entries added before the group was created; the default reads them", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const stream = kit.key("c")
      yield* fill(stream, 2)
      const fromStart = yield* Consumer.make({ stream, group: "all", batchSize: 10, maxWait: 0 })
      const onlyNew = yield* Consumer.make({ stream, group: "new", batchSize: 10, maxWait: 0, startFrom: "new" })
      yield* fill(stream, 1, 2)
      const [a] = yield* takeBatches(fromStart, 1, 0)
      const [b] = yield* takeBatches(onlyNew, 1, 0)
      assert.deepStrictEqual(a!.messages.map((m) => m.body.n), ["0", "1", "2"])
      assert.deepStrictEqual(b!.messages.map((m) => m.body.n), ["2"])
    }))

  it.scoped("process acknowledges successes and leaves failures pending", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("c")
      const ids = yield* fill(stream, 10)
      const consumer = yield* Consumer.make({ stream, group: "g", batchSize: 5, maxWait: "20 millis", reclaim: { idle: "1 hour" } })
      const seen: Array<string> = []
      const fiber = yield* consumer.process((m) =>
        Effect.sync(() => seen.push(m.id)).pipe(
          Effect.zipRight(Number(m.body.n) % 3 === 0 ? Effect.fail("boom") : Effect.void)
        ), { concurrency: 3 }).pipe(Effect.fork)
      yield* kit.sleep(300)
      yield* Fiber.interrupt(fiber)
      assert.sameMembers(seen, [...ids])
      const pending = yield* backend.pending({ stream, group: "g", count: 100 })
      assert.deepStrictEqual(pending.map((p) => p.id), [ids[0], ids[3], ids[6], ids[9]])
    }))

  it.scoped("a schema decodes bodies; what does not decode goes to the dead-letter stream with the reason", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("c")
      const Order = Schema.Struct({ orderId: Schema.String, amount: Schema.NumberFromString })
      const producer = yield* Producer.make({ stream, schema: Order })
      yield* producer.add({ orderId: "a", amount: 1 })
      const badId = yield* backend.add(stream, ["orderId", "b", "amount", "not a number"])
      yield* producer.add({ orderId: "c", amount: 3 })
      const consumer = yield* Consumer.make({ stream, group: "g", batchSize: 10, maxWait: 0, schema: Order })
      const [batch] = yield* takeBatches(consumer, 1, 0)
      assert.deepStrictEqual(batch!.messages.map((m) => m.body), [{ orderId: "a", amount: 1 }, { orderId: "c", amount: 3 }])
      const dead = (yield* backend.range(consumer.deadLetterStream)).map(DeadLetter.parse)
      assert.strictEqual(dead.length, 1)
      assert.strictEqual(dead[0]!.meta.id, badId)
      assert.deepStrictEqual(dead[0]!.original, ["orderId", "b", "amount", "not a number"])
      assert.include(dead[0]!.meta.error, "cannot decode")
      assert.strictEqual(dead[0]!.meta.group, "g")
      const pending = yield* backend.pending({ stream, group: "g", count: 10 })
      assert.notInclude(pending.map((p) => p.id), badId)
    }))

  it.scoped("a stream key of another type fails with WrongKeyType", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const stream = kit.key("c")
      yield* kit.setString(stream, "x")
      const error = yield* Effect.flip(Consumer.make({ stream, group: "g", batchSize: 1, maxWait: 0 }))
      assert.strictEqual(error._tag, "WrongKeyType")
      assert.include(error.message, stream)
    }))

  it.scoped("a group deleted while consuming fails with GroupNotFound, or is recreated when asked", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("c")
      yield* fill(stream, 1)
      const strict = yield* Consumer.make({ stream, group: "g", batchSize: 10, maxWait: "50 millis", blockTime: "50 millis" })
      const fiber = yield* strict.batches.pipe(Stream.runDrain, Effect.flip, Effect.fork)
      yield* kit.sleep(200)
      yield* backend.destroyGroup(stream, "g")
      yield* kit.sleep(300)
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "GroupNotFound")
      assert.include(error.message, "g")

      const lenient = yield* Consumer.make({ stream, group: "h", batchSize: 10, maxWait: "50 millis", blockTime: "50 millis", recreateGroup: true })
      const got: Array<string> = []
      const f2 = yield* lenient.batches.pipe(
        Stream.runForEach((b) => Effect.sync(() => got.push(...b.messages.map((m) => m.body.n)))),
        Effect.fork
      )
      yield* kit.sleep(200)
      yield* backend.destroyGroup(stream, "h")
      yield* kit.sleep(200)
      yield* fill(stream, 1, 1)
      yield* kit.sleep(300)
      yield* Fiber.interrupt(f2)
      assert.includeMembers(got, ["0", "1"])
    }))

  it.scoped("ack composes with Effect.retry and a batch with Effect.timeout", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("c")
      yield* fill(stream, 2)
      const consumer = yield* Consumer.make({ stream, group: "g", batchSize: 2, maxWait: 0 })
      const [batch] = yield* takeBatches(consumer, 1, 0)
      let attempts = 0
      const flakyAck = Effect.suspend((): Effect.Effect<void, unknown> => ++attempts < 3 ? Effect.fail("transient" as const) : batch!.ack)
      yield* flakyAck.pipe(Effect.retry(Schedule.recurs(5)))
      assert.strictEqual(attempts, 3)
      assert.strictEqual((yield* backend.pendingSummary(stream, "g")).count, 0)
      // nothing more to read: a timeout around the next batch gives up cleanly
      const fiber = yield* consumer.batches.pipe(Stream.take(1), Stream.runCollect, Effect.timeout("200 millis"), Effect.either, Effect.fork)
      yield* kit.sleep(300)
      const result = yield* Fiber.join(fiber)
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result)) assert.strictEqual(result.left._tag, "TimeoutException")
    }))
})

plainIt.effect("Consumer rejects invalid options with InvalidOptions naming the option", () =>
  Effect.gen(function*() {
    const base = { stream: "s", group: "g", batchSize: 10, maxWait: "1 second" } as const
    const cases: Array<[Consumer.Options, string]> = [
      [{ ...base, batchSize: 0 }, "batchSize"],
      [{ ...base, batchSize: 2.5 }, "batchSize"],
      [{ ...base, maxWait: -1 }, "maxWait"],
      [{ ...base, maxWait: "soon" as Duration.DurationInput }, "maxWait"],
      [{ ...base, stream: "" }, "stream"],
      [{ ...base, group: "" }, "group"],
      [{ ...base, consumer: "" }, "consumer"],
      [{ ...base, blockTime: 0 }, "blockTime"],
      [{ ...base, deadLetter: { maxDeliveries: 0 } }, "deadLetter.maxDeliveries"],
      [{ ...base, startFrom: { id: "latest" } }, "startFrom"],
      [{ ...base, deadLetter: { stream: "s" } }, "deadLetter.stream"]
    ]
    for (const [options, option] of cases) {
      const result = yield* Effect.either(
        Effect.scoped(Consumer.make(options)).pipe(
          Effect.provideService(StreamsBackend.StreamsBackend, {} as StreamsBackend.Service)
        )
      )
      assert.isTrue(Either.isLeft(result), option)
      if (Either.isLeft(result)) {
        assert.strictEqual(result.left._tag, "InvalidOptions")
        if (result.left._tag === "InvalidOptions") assert.strictEqual(result.left.option, option)
      }
    }
  }))

forEachBackend("Consumer entry size bound", (it) => {
  it.scoped("an entry larger than maxEntryBytes goes to the dead-letter stream (metadata only); the rest is handed out", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("c")
      const small = yield* backend.add(stream, ["v", "x".repeat(100)])
      const big = yield* backend.add(stream, ["v", "é".repeat(600)]) // 1200 bytes in UTF-8
      const consumer = yield* Consumer.make({ stream, group: "g", batchSize: 10, maxWait: 0, deadLetter: { maxEntryBytes: 1000 } })
      const [batch] = yield* takeBatches(consumer, 1, 0)
      assert.deepStrictEqual(batch!.messages.map((m) => m.id), [small])
      const dead = (yield* backend.range(consumer.deadLetterStream)).map(DeadLetter.parse)
      assert.deepStrictEqual(dead.map((d) => d.meta.id), [big])
      assert.deepStrictEqual(dead[0]!.original, [])
      assert.include(dead[0]!.meta.error, "1201 bytes") // "v" + 600 two-byte characters
      assert.strictEqual(yield* backend.length(stream), 2, "the oversize entry stays in the source stream")
    }))
})

plainIt.scoped("Consumer.layerConfig and Producer.layerConfig read their options through Config", () =>
  Effect.gen(function*() {
    const provider = ConfigProvider.fromMap(new Map([["STREAM", "cfg-stream"], ["GROUP", "cfg-group"], ["BATCH_SIZE", "7"], ["START", "new"]]))
    const layer = Layer.merge(
      Consumer.layerConfig({
        stream: Config.string("STREAM"),
        group: Config.string("GROUP"),
        batchSize: Config.integer("BATCH_SIZE"),
        maxWait: Config.succeed(0),
        startFrom: Config.string("START")
      }),
      Producer.layerConfig({ stream: Config.string("STREAM") })
    ).pipe(Layer.provideMerge(InMemoryBackend.layer), Layer.provide(Layer.setConfigProvider(provider)))
    const { consumer, producer, backend } = yield* Effect.all({
      consumer: Consumer.Consumer,
      producer: Producer.Producer,
      backend: StreamsBackend.StreamsBackend
    }).pipe(Effect.provide(layer))
    assert.strictEqual(consumer.stream, "cfg-stream")
    assert.strictEqual(consumer.group, "cfg-group")
    yield* producer.addAll(Array.from({ length: 9 }, (_, i) => ({ n: String(i) })))
    const [batch] = Chunk.toReadonlyArray(yield* consumer.batches.pipe(Stream.take(1), Stream.runCollect))
    assert.strictEqual(batch!.messages.length, 7)
    assert.strictEqual((yield* backend.groupsInfo("cfg-stream"))[0]!.name, "cfg-group")
  }))

forEachBackend("Consumer runs of batches", (it) => {
  it.scoped("a second run waits for the first, and interrupting it while it waits returns at once", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const stream = kit.key("runs")
      const consumer = yield* Consumer.make({ stream, group: "g", batchSize: 1, maxWait: "10 seconds", blockTime: "10 seconds" })
      // the first run waits for entries on an empty stream (holding the run's lock)
      const first = yield* consumer.batches.pipe(Stream.take(1), Stream.runCollect, Effect.fork)
      yield* kit.sleep(50)
      const second = yield* consumer.batches.pipe(Stream.take(1), Stream.runCollect, Effect.fork)
      yield* kit.sleep(50)
      assert.isTrue(Option.isNone(yield* Fiber.poll(second)), "the second run waits")
      const start = performance.now()
      yield* Fiber.interrupt(second)
      assert.isBelow(performance.now() - start, 1000, "interrupting the waiting run does not wait for the first")
      // the first run is unaffected: it gets the next entry (a full batch: emitted at once)
      yield* fill(stream, 1)
      const [batch] = Chunk.toReadonlyArray(yield* Fiber.join(first))
      assert.strictEqual(batch!.messages.length, 1)
    }))
})

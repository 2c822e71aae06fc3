/**
 * Read-ahead: acknowledging a batch reads the next one in the same round trip. These tests show
 * that it changes when entries are delivered, never what is delivered: nothing is lost, nothing
 * handed out twice, delivery counts stay true, shutdown leaves nothing behind, and reclaim still
 * runs on a busy stream.
 */
import { assert } from "@effect/vitest"
import { Chunk, Deferred, Effect, Fiber, Stream } from "effect"
import { Consumer, Producer, StreamsBackend } from "effect-redis-streams"
import { forEachBackend, TestKit } from "../src/Harness.js"

const fill = (stream: string, n: number, from = 0) =>
  Effect.flatMap(Producer.make({ stream }), (p) => p.addAll(Array.from({ length: n }, (_, i) => ({ n: String(from + i) }))))

/** pull batches one at a time */
const puller = <A>(consumer: Consumer.Service<A>) =>
  Effect.map(Stream.toPull(consumer.batches), (pull) =>
    Effect.map(pull, (chunk) => {
      assert.strictEqual(Chunk.size(chunk), 1)
      return Chunk.unsafeGet(chunk, 0)
    }))

forEachBackend("Consumer read-ahead", (it) => {
  it.scoped("acknowledging a batch delivers the next one at once; it is handed out once, delivery count 1", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("ra")
      const ids = yield* fill(stream, 25)
      const consumer = yield* Consumer.make({ stream, group: "g", consumer: "c", batchSize: 10, maxWait: 0 })
      const next = yield* puller(consumer)
      const first = yield* next
      assert.deepStrictEqual(first.messages.map((m) => m.id), ids.slice(0, 10))
      assert.strictEqual((yield* backend.pendingSummary(stream, "g")).count, 10)
      yield* first.ack
      // the acknowledgement read the next batch: it is pending under this consumer, delivered once
      const pending = yield* backend.pending({ stream, group: "g", count: 100 })
      assert.deepStrictEqual(pending.map((p) => [p.id, p.consumer, p.deliveries]), ids.slice(10, 20).map((id) => [id, "c", 1]))
      const second = yield* next
      assert.deepStrictEqual(second.messages.map((m) => m.id), ids.slice(10, 20))
      assert.deepStrictEqual(second.messages.map((m) => m.deliveryCount), Array(10).fill(1))
      yield* second.ack
      const third = yield* next
      assert.deepStrictEqual(third.messages.map((m) => m.id), ids.slice(20))
      yield* third.ack
      assert.strictEqual((yield* backend.pendingSummary(stream, "g")).count, 0)
    }))

  it.scoped("with readAhead: false an acknowledgement reads nothing", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("ra")
      yield* fill(stream, 20)
      const consumer = yield* Consumer.make({ stream, group: "g", batchSize: 10, maxWait: 0, readAhead: false })
      const next = yield* puller(consumer)
      yield* (yield* next).ack
      assert.strictEqual((yield* backend.pendingSummary(stream, "g")).count, 0)
      const [group] = yield* backend.groupsInfo(stream)
      assert.strictEqual(group!.lag, 10)
    }))

  it.scoped("an acknowledgement of an older batch, or of part of a batch, does not read ahead", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("ra")
      yield* fill(stream, 40)
      const consumer = yield* Consumer.make({ stream, group: "g", batchSize: 10, maxWait: 0 })
      const next = yield* puller(consumer)
      const first = yield* next
      const second = yield* next
      yield* first.ack // not the batch emitted last
      assert.strictEqual((yield* backend.pendingSummary(stream, "g")).count, 10)
      yield* second.ackMessages(second.messages.slice(0, 5))
      assert.strictEqual((yield* backend.pendingSummary(stream, "g")).count, 5)
    }))

  it.scoped("entries read ahead and never handed out are released: another consumer reclaims them at once, delivery count 1", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("ra")
      const ids = yield* fill(stream, 20)
      const options = { stream, group: "g", batchSize: 10, maxWait: 0, reclaim: { idle: "5 seconds" } } as const
      const a = yield* Consumer.make({ ...options, consumer: "a" })
      // one batch, acknowledged: the acknowledgement reads the next batch, which this run never hands out
      yield* a.batches.pipe(Stream.take(1), Stream.runForEach((b) => b.ack))
      const released = yield* backend.pending({ stream, group: "g", count: 100 })
      assert.deepStrictEqual(released.map((p) => [p.id, p.consumer, p.deliveries]), ids.slice(10).map((id) => [id, "a", 0]))
      for (const p of released) assert.isAtLeast(p.idleMs, 5000)
      // another consumer reclaims them in its first batch, without waiting for claimIdle
      const b = yield* Consumer.make({ ...options, consumer: "b" })
      const [batch] = Chunk.toReadonlyArray(yield* b.batches.pipe(Stream.take(1), Stream.runCollect))
      assert.deepStrictEqual(batch!.messages.map((m) => m.id), ids.slice(10))
      assert.deepStrictEqual(batch!.messages.map((m) => m.deliveryCount), Array(10).fill(1))
      yield* batch!.ackIds(batch!.messages.map((m) => m.id))
      assert.strictEqual((yield* backend.pendingSummary(stream, "g")).count, 0)
    }))

  it.scoped("a consumer that runs again hands out the entries it released first", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const stream = kit.key("ra")
      const ids = yield* fill(stream, 30)
      const consumer = yield* Consumer.make({ stream, group: "g", consumer: "c", batchSize: 10, maxWait: 0 })
      yield* consumer.batches.pipe(Stream.take(1), Stream.runForEach((b) => b.ack))
      const [again] = Chunk.toReadonlyArray(yield* consumer.batches.pipe(Stream.take(1), Stream.runCollect))
      assert.deepStrictEqual(again!.messages.map((m) => m.id), ids.slice(10, 20))
      assert.deepStrictEqual(again!.messages.map((m) => m.deliveryCount), Array(10).fill(1))
    }))

  it.scoped("process stops when interrupted: the running handler finishes, nothing more starts, the rest is released for others", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("ra")
      const ids = yield* fill(stream, 30)
      const handled: Array<string> = []
      const inSecond = yield* Deferred.make<void>()
      const proceed = yield* Deferred.make<void>()
      yield* Effect.scoped(Effect.gen(function*() {
        const consumer = yield* Consumer.make({ stream, group: "g", consumer: "p", batchSize: 10, maxWait: 0 })
        const fiber = yield* consumer.process((m) =>
          Effect.gen(function*() {
            if (m.id === ids[10]) {
              yield* Deferred.succeed(inSecond, undefined)
              yield* Deferred.await(proceed)
            }
            handled.push(m.id)
          })
        ).pipe(Effect.fork)
        yield* Deferred.await(inSecond)
        const interrupting = yield* Fiber.interrupt(fiber).pipe(Effect.fork)
        yield* kit.sleep(20)
        yield* Deferred.succeed(proceed, undefined)
        yield* Fiber.join(interrupting)
      }))
      assert.deepStrictEqual(handled, ids.slice(0, 11), "the running handler finished; none started after the interruption")
      const [group] = yield* backend.groupsInfo(stream)
      // in hand at most concurrency + prefetch (1 + 10), read again once at most prefetch / 2 wait
      const last = ids.indexOf(group!.lastDeliveredId)
      assert.isTrue(last >= 16 && last <= 20, `the read stopped with 6 to 10 waiting: ${last}`)
      const pending = yield* backend.pending({ stream, group: "g", count: 100 })
      assert.deepStrictEqual(pending.map((p) => p.id), ids.slice(11, last + 1), "what was not started stays pending")
      for (const p of pending) {
        assert.strictEqual(p.deliveries, 0, "delivery count restored")
        assert.isAtLeast(p.idleMs, 30_000, "idle for claimIdle: reclaimable at once")
      }
      // another consumer takes them over at once, as first deliveries
      const claimed = yield* backend.autoClaim({ stream, group: "g", consumer: "q", minIdleMs: 30_000, start: "0-0", count: 100 })
      assert.deepStrictEqual(claimed.entries.map((e) => e.id), ids.slice(11, last + 1))
      const after = yield* backend.pending({ stream, group: "g", count: 100 })
      assert.deepStrictEqual([...new Set(after.map((p) => p.deliveries))], [1])
    }))

  it.scoped("reclaim still runs on a busy stream", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("ra")
      const ids = yield* fill(stream, 5)
      yield* backend.createGroup(stream, "g", { id: "0" })
      // a consumer that died holding five entries
      yield* backend.readGroup({ stream, group: "g", consumer: "ghost", id: ">", count: 5 })
      yield* fill(stream, 500, 5)
      const consumer = yield* Consumer.make({
        stream,
        group: "g",
        consumer: "live",
        batchSize: 10,
        maxWait: 0,
        reclaim: { idle: "1 second", interval: "200 millis" }
      })
      const next = yield* puller(consumer)
      for (let i = 0; i < 3; i++) yield* (yield* next).ack
      yield* kit.sleep(1300)
      let reclaimed: ReadonlyArray<string> = []
      for (let i = 0; i < 3 && reclaimed.length === 0; i++) {
        const batch = yield* next
        reclaimed = batch.messages.filter((m) => ids.includes(m.id)).map((m) => `${m.id}:${m.deliveryCount}`)
        yield* batch.ack
      }
      assert.deepStrictEqual(reclaimed, ids.map((id) => `${id}:2`))
      const ghost = (yield* backend.consumersInfo(stream, "g")).find((c) => c.name === "ghost")
      assert.strictEqual(ghost?.pending, 0)
    }))
})

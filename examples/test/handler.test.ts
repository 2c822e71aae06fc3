/**
 * Testing your own handler with the in-memory backend: no Redis server, and
 * time driven by `TestClock`, so `maxWait`, `claimIdle` and redeliveries
 * happen instantly and deterministically.
 *
 * `InMemoryBackend.layer` behaves like Redis 7.0 (same replies, pending lists,
 * delivery counts, idle times) and takes its time from Effect's `Clock`; under
 * `it.effect` that is the `TestClock`, which moves only when the test adjusts it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Data, Effect, Fiber, Option, Ref, type Scope, Stream, TestClock } from "effect"
import { Consumer, DeadLetter, InMemoryBackend, Message, Producer, StreamsBackend } from "effect-redis-streams"

// ---------------------------------------------------------------------------
// the code under test: your handler and the service it depends on
// ---------------------------------------------------------------------------

class OutOfStock extends Data.TaggedError("OutOfStock")<{ readonly sku: string }> {}

class Inventory extends Context.Tag("app/Inventory")<Inventory, {
  readonly reserve: (sku: string, quantity: number) => Effect.Effect<void, OutOfStock>
}>() {}

/** reserve the ordered quantity; an order that can never succeed is rejected as `Poison` */
const handleOrder = (message: Message.Message<Record<string, string>>) =>
  Effect.gen(function*() {
    const sku = message.body["sku"] ?? ""
    const quantity = Number(message.body["quantity"])
    if (!Number.isInteger(quantity) || quantity <= 0) {
      return yield* new Message.Poison({ reason: `invalid quantity "${message.body["quantity"]}"` })
    }
    const inventory = yield* Inventory
    yield* inventory.reserve(sku, quantity)
  })

// ---------------------------------------------------------------------------
// test doubles
// ---------------------------------------------------------------------------

/** an Inventory whose `reserve` fails the first `failures(sku)` calls for a sku; records every call */
const makeInventory = (failures: (sku: string) => number) =>
  Effect.gen(function*() {
    const calls = yield* Ref.make<ReadonlyArray<string>>([])
    const inventory = Inventory.of({
      reserve: (sku) =>
        Ref.updateAndGet(calls, (cs) => [...cs, sku]).pipe(
          Effect.flatMap((cs) =>
            cs.filter((s) => s === sku).length <= failures(sku) ? Effect.fail(new OutOfStock({ sku })) : Effect.void
          )
        )
    })
    return { inventory, calls: Ref.get(calls) }
  })

const STREAM = "orders"
const GROUP = "stock"

const addOrders = (orders: ReadonlyArray<Record<string, string>>) =>
  Effect.flatMap(Producer.make({ stream: STREAM }), (producer) => producer.addAll(orders))

const pendingCount = Effect.flatMap(
  StreamsBackend.StreamsBackend,
  (backend) => Effect.map(backend.pendingSummary(STREAM, GROUP), (s) => s.count)
)

const deadLetters = Effect.flatMap(
  StreamsBackend.StreamsBackend,
  (backend) => Effect.map(backend.range(DeadLetter.defaultStream(STREAM)), (entries) => entries.map(DeadLetter.parse))
)

// every test gets a fresh, empty in-memory keyspace
const run = <A, E>(effect: Effect.Effect<A, E, StreamsBackend.StreamsBackend | Scope.Scope>) =>
  effect.pipe(Effect.scoped, Effect.provide(InMemoryBackend.layer))

describe("handleOrder on the in-memory backend", () => {
  it.effect("a partial batch is handed out when maxWait has passed", () =>
    run(Effect.gen(function*() {
      const { inventory } = yield* makeInventory(() => 0)
      yield* addOrders([{ sku: "apple", quantity: "1" }, { sku: "pear", quantity: "2" }, { sku: "plum", quantity: "3" }])
      const consumer = yield* Consumer.make({ stream: STREAM, group: GROUP, batchSize: 10, maxWait: "5 seconds" })

      const first = yield* consumer.batches.pipe(Stream.take(1), Stream.runHead, Effect.fork)
      yield* TestClock.adjust("4 seconds")
      assert.isTrue(Option.isNone(yield* Fiber.poll(first)), "no batch before maxWait: it is not full")
      yield* TestClock.adjust("1 second")
      const batch = Option.getOrThrow(yield* Fiber.join(first))
      assert.deepStrictEqual(batch.messages.map((m) => m.body["sku"]), ["apple", "pear", "plum"])

      yield* Effect.forEach(batch.messages, handleOrder).pipe(Effect.provideService(Inventory, inventory))
      yield* batch.ack
      assert.strictEqual(yield* pendingCount, 0)
    })))

  it.effect("a message whose handler fails is delivered again after claimIdle, then acknowledged", () =>
    run(Effect.gen(function*() {
      const { calls, inventory } = yield* makeInventory((sku) => sku === "flaky" ? 1 : 0)
      yield* addOrders([{ sku: "apple", quantity: "1" }, { sku: "flaky", quantity: "1" }])
      const consumer = yield* Consumer.make({
        stream: STREAM,
        group: GROUP,
        batchSize: 10,
        maxWait: "1 second",
        reclaim: { idle: "10 seconds" }
      })
      const deliveries = yield* Ref.make<ReadonlyArray<string>>([])
      yield* consumer.process((m) =>
        Ref.update(deliveries, (ds) => [...ds, `${m.body["sku"]}#${m.deliveryCount}`]).pipe(
          Effect.zipRight(handleOrder(m)),
          Effect.provideService(Inventory, inventory)
        )
      ).pipe(Effect.forkScoped)

      yield* TestClock.adjust("2 seconds")
      assert.deepStrictEqual(yield* Ref.get(deliveries), ["apple#1", "flaky#1"])
      assert.strictEqual(yield* pendingCount, 1, "the failed one stays pending")

      yield* TestClock.adjust("15 seconds") // past claimIdle: reclaimed and delivered again
      assert.deepStrictEqual(yield* Ref.get(deliveries), ["apple#1", "flaky#1", "flaky#2"])
      assert.deepStrictEqual(yield* calls, ["apple", "flaky", "flaky"])
      assert.strictEqual(yield* pendingCount, 0)
    })))

  it.effect("a poison message goes to the dead-letter stream at once", () =>
    run(Effect.gen(function*() {
      const { calls, inventory } = yield* makeInventory(() => 0)
      const [, poisonId] = yield* addOrders([{ sku: "apple", quantity: "1" }, { sku: "pear", quantity: "-1" }])
      const consumer = yield* Consumer.make({ stream: STREAM, group: GROUP, batchSize: 10, maxWait: "1 second" })
      yield* consumer.process((m) => handleOrder(m).pipe(Effect.provideService(Inventory, inventory))).pipe(
        Effect.forkScoped
      )
      yield* TestClock.adjust("2 seconds")

      assert.deepStrictEqual(yield* calls, ["apple"])
      assert.strictEqual(yield* pendingCount, 0)
      const [dead, ...more] = yield* deadLetters
      assert.strictEqual(more.length, 0)
      assert.deepStrictEqual(dead?.original, ["sku", "pear", "quantity", "-1"])
      assert.strictEqual(dead?.meta.id, poisonId)
      assert.strictEqual(dead?.meta.group, GROUP)
      assert.strictEqual(dead?.meta.error, "invalid quantity \"-1\"")
    })))

  it.effect("a message that keeps failing goes to the dead-letter stream after maxDeliveries", () =>
    run(Effect.gen(function*() {
      const { calls, inventory } = yield* makeInventory((sku) => sku === "gone" ? Infinity : 0)
      yield* addOrders([{ sku: "gone", quantity: "1" }])
      const consumer = yield* Consumer.make({
        stream: STREAM,
        group: GROUP,
        batchSize: 10,
        maxWait: "1 second",
        reclaim: { idle: "5 seconds" },
        deadLetter: { maxDeliveries: 3 }
      })
      yield* consumer.process((m) => handleOrder(m).pipe(Effect.provideService(Inventory, inventory))).pipe(
        Effect.forkScoped
      )
      yield* TestClock.adjust("30 seconds")

      assert.deepStrictEqual(yield* calls, ["gone", "gone", "gone"], "handled maxDeliveries times, then no more")
      assert.strictEqual(yield* pendingCount, 0)
      const [dead] = yield* deadLetters
      assert.strictEqual(dead?.meta.deliveries, 4)
      assert.include(dead?.meta.error ?? "", "OutOfStock")
    })))
})

/**
 * Schemas that require services (`Schema<A, I, R>`): the Producer and the
 * Consumer then require `R`, and encode and decode with the services of the
 * context they were built in; typed consumers and producers from `Config`
 * with `layerConfigAs`. Both backends.
 */
import { assert } from "@effect/vitest"
import { Config, ConfigProvider, Context, Effect, Layer, Schema, Stream } from "effect"
import { Consumer, Producer, StreamsBackend } from "effect-redis-streams"
import { forEachBackend, TestKit } from "../src/Harness.js"

/** a currency rate, from a service: amounts are stored in cents of the base currency */
class Rates extends Context.Tag("test/Rates")<Rates, { readonly rate: number }>() {}
const Amount = Schema.transformOrFail(Schema.NumberFromString, Schema.Number, {
  decode: (stored) => Effect.map(Rates, (r) => stored * r.rate),
  encode: (amount) => Effect.map(Rates, (r) => amount / r.rate)
})
const Order = Schema.Struct({ orderId: Schema.String, amount: Amount })

class Orders extends Context.Tag("test/Orders")<Orders, Producer.Service<typeof Order.Type>>() {}
class Billing extends Context.Tag("test/Billing")<Billing, Consumer.Service<typeof Order.Type>>() {}

forEachBackend("schemas with requirements", (it) => {
  it.scoped("Producer and Consumer encode and decode with the services in context", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("r")
      const producer = yield* Producer.make({ stream, schema: Order })
      yield* producer.add({ orderId: "o-1", amount: 50 })
      const [entry] = yield* backend.range(stream)
      assert.deepStrictEqual(entry!.fields.slice(0, 4), ["orderId", "o-1", "amount", "5"], "stored through the service")
      const consumer = yield* Consumer.make({ stream, group: "g", schema: Order, batchSize: 10, maxWait: 0 })
      const [batch] = yield* consumer.batches.pipe(Stream.take(1), Stream.runCollect, Effect.map((c) => [...c]))
      assert.deepStrictEqual(batch!.messages.map((m) => m.body), [{ orderId: "o-1", amount: 50 }])
      assert.strictEqual(yield* backend.length(consumer.deadLetterStream), 0)
    }).pipe(Effect.provideService(Rates, { rate: 10 })))

  it.scoped("layerConfigAs: typed services with their options from Config", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const stream = kit.key("r")
      const provider = ConfigProvider.fromMap(new Map([["STREAM", stream], ["GROUP", "g"], ["BATCH_SIZE", "5"], ["MAX_WAIT", "0 millis"]]))
      const layer = Layer.mergeAll(
        Producer.layerConfigAs(Orders, Order, { stream: Config.string("STREAM") }),
        Consumer.layerConfigAs(Billing, Order, {
          stream: Config.string("STREAM"),
          group: Config.string("GROUP"),
          batchSize: Config.integer("BATCH_SIZE"),
          maxWait: Config.duration("MAX_WAIT")
        })
      )
      const bodies = yield* Effect.gen(function*() {
        yield* (yield* Orders).addAll([{ orderId: "a", amount: 10 }, { orderId: "b", amount: 20 }])
        const billing = yield* Billing
        assert.strictEqual(billing.stream, stream)
        const [batch] = yield* billing.batches.pipe(Stream.take(1), Stream.runCollect, Effect.map((c) => [...c]))
        return batch!.messages.map((m) => m.body)
      }).pipe(Effect.provide(layer), Effect.withConfigProvider(provider))
      assert.deepStrictEqual(bodies, [{ orderId: "a", amount: 10 }, { orderId: "b", amount: 20 }])
    }).pipe(Effect.provideService(Rates, { rate: 2 })))
})

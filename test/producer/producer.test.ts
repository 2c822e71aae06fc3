import { assert, it as plainIt } from "@effect/vitest"
import { Effect, Either, Schema } from "effect"
import { Producer, StreamsBackend } from "effect-redis-streams"
import { forEachBackend, TestKit } from "../src/Harness.js"

const Order = Schema.Struct({ orderId: Schema.String, amount: Schema.NumberFromString })
const Event = Schema.Struct({ kind: Schema.Literal("created", "paid"), items: Schema.Array(Schema.Number) })

forEachBackend("Producer", (it) => {
  it.effect("add returns the new entry's id and stores plain fields readable as they are", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("prod")
      const producer = yield* Producer.make({ stream })
      const id = yield* producer.add({ message: "stuff goes here" })
      assert.match(id, /^\d+-\d+$/)
      const entries = yield* backend.range(stream)
      assert.deepStrictEqual(entries, [{ id, fields: ["message", "stuff goes here"] }])
    }))

  it.effect("addAll sends many in order and returns their ids in order", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("prod")
      const producer = yield* Producer.make({ stream })
      const messages = Array.from({ length: 2500 }, (_, i) => ({ n: String(i) }))
      const ids = yield* producer.addAll(messages)
      assert.strictEqual(ids.length, 2500)
      const entries = yield* backend.range(stream)
      assert.deepStrictEqual(entries.map((e) => e.id), ids)
      assert.deepStrictEqual(entries.map((e) => e.fields[1]), messages.map((m) => m.n))
      assert.deepStrictEqual(yield* producer.addAll([]), [])
    }))

  it.effect("exact maxlen keeps exactly maxlen entries, the newest", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("prod")
      const producer = yield* Producer.make({ stream, trim: { maxlen: 5, approximate: false } })
      const ids = yield* producer.addAll(Array.from({ length: 12 }, (_, i) => ({ n: String(i) })))
      yield* producer.add({ n: "last" })
      const entries = yield* backend.range(stream)
      assert.strictEqual(entries.length, 5)
      assert.deepStrictEqual(entries.slice(0, 4).map((e) => e.id), ids.slice(8))
    }))

  it.effect("approximate maxlen (the default) never keeps fewer than maxlen", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("prod")
      const producer = yield* Producer.make({ stream, trim: { maxlen: 150 } })
      for (let i = 0; i < 5; i++) yield* producer.addAll(Array.from({ length: 100 }, (_, j) => ({ n: `${i}-${j}` })))
      const length = yield* backend.length(stream)
      assert.isAtLeast(length, 150)
      assert.isBelow(length, 500)
    }))

  it.effect("minid drops entries with smaller ids", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("prod")
      yield* backend.add(stream, ["a", "1"], { id: "10-0" })
      yield* backend.add(stream, ["a", "2"], { id: "20-0" })
      const producer = yield* Producer.make({ stream, trim: { minid: "15", approximate: false } })
      yield* producer.add({ a: "3" })
      const entries = yield* backend.range(stream)
      assert.deepStrictEqual(entries.map((e) => e.fields[1]), ["2", "3"])
    }))

  it.effect("noMkStream fails with StreamNotFound on a missing stream and creates nothing", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("prod")
      const producer = yield* Producer.make({ stream, noMkStream: true })
      const error = yield* Effect.flip(producer.add({ a: "1" }))
      assert.strictEqual(error._tag, "StreamNotFound")
      assert.include(error.message, stream)
      assert.strictEqual(yield* backend.length(stream), 0)
    }))

  it.effect("a Struct of strings is stored field by field and decodes back", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("prod")
      const producer = yield* Producer.make({ stream, schema: Order })
      const id = yield* producer.add({ orderId: "o-1", amount: 12.5 })
      const [entry] = yield* backend.range(stream)
      assert.deepStrictEqual(entry, { id, fields: ["orderId", "o-1", "amount", "12.5"] })
    }))

  it.effect("any other schema is stored as JSON in the data field", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("prod")
      const producer = yield* Producer.make({ stream, schema: Event })
      yield* producer.add({ kind: "paid", items: [1, 2] })
      const [entry] = yield* backend.range(stream)
      assert.deepStrictEqual(entry?.fields, ["data", JSON.stringify({ kind: "paid", items: [1, 2] })])
    }))

  it.effect("a value that does not encode fails with MessageEncodeError and sends nothing", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("prod")
      const producer = yield* Producer.make({ stream, schema: Event })
      const bad = { kind: "refunded", items: [] } as unknown as typeof Event.Type
      const single = yield* Effect.flip(producer.add(bad))
      assert.strictEqual(single._tag, "MessageEncodeError")
      const bulk = yield* Effect.flip(producer.addAll([{ kind: "paid", items: [] }, bad]))
      assert.strictEqual(bulk._tag, "MessageEncodeError")
      assert.include(bulk.message, "nothing was sent")
      assert.strictEqual(yield* backend.length(stream), 0)
      const plain = yield* Producer.make({ stream })
      const notString = yield* Effect.flip(plain.add({ n: 1 } as unknown as Record<string, string>))
      assert.include(notString.message, `field "n" must be a string`)
      assert.strictEqual(yield* backend.length(stream), 0)
      // a getter that answers differently each time it is read
      let reads = 0
      const fickle = Object.defineProperty({ a: "1" }, "b", {
        enumerable: true,
        get: () => (++reads === 1 ? "2" : undefined)
      }) as Record<string, string>
      const changed = yield* Effect.flip(plain.addAll([{ a: "0" }, fickle]))
      assert.include(changed.message, "changed while it was encoded")
      assert.strictEqual(yield* backend.length(stream), 0)
    }))

  it.effect("writing to a key of another type fails with WrongKeyType naming the key", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const stream = kit.key("prod")
      yield* kit.setString(stream, "not a stream")
      const producer = yield* Producer.make({ stream })
      const error = yield* Effect.flip(producer.add({ a: "1" }))
      assert.strictEqual(error._tag, "WrongKeyType")
      assert.include(error.message, stream)
    }))
})

plainIt.effect("Producer rejects invalid options with InvalidOptions naming the option", () =>
  Effect.gen(function*() {
    const cases: Array<[Producer.Options, string]> = [
      [{ stream: "" }, "stream"],
      [{ stream: "s", trim: { maxlen: -1 } }, "trim.maxlen"],
      [{ stream: "s", trim: { maxlen: 1.5 } }, "trim.maxlen"],
      [{ stream: "s", trim: { minid: "abc" } }, "trim.minid"],
      [{ stream: "s", trim: { maxlen: 10, limit: 5, approximate: false } }, "trim.limit"]
    ]
    for (const [options, option] of cases) {
      const result = yield* Effect.either(
        Producer.make(options).pipe(Effect.provideService(StreamsBackend.StreamsBackend, {} as StreamsBackend.Service))
      )
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result)) {
        assert.strictEqual(result.left._tag, "InvalidOptions")
        assert.strictEqual(result.left.option, option)
      }
    }
  }))

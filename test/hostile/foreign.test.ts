/**
 * Entries written by other clients: missing, extra, repeated and empty
 * fields, names like `__proto__`, unicode and control characters, a 10 MB
 * value, 10,000 fields, bytes that are not UTF-8. Without a Schema the raw
 * fields reach the handler unchanged; with one, what does not decode goes to
 * the dead-letter stream with the reason. Nothing crashes the consumer,
 * nothing is lost, and entries above `maxEntryBytes` are dead-lettered with
 * metadata only.
 */
import { assert, it as plainIt } from "@effect/vitest"
import { Effect, Layer, Option, Schema, Stream } from "effect"
import {
  Consumer,
  DeadLetter,
  InMemoryBackend,
  Message,
  Producer,
  RedisBackend,
  StreamsBackend,
  StreamsError
} from "effect-redis-streams"
import { Redis } from "ioredis"
import { Redacted } from "effect"
import { forEachBackend, redisUrl, startRedisServer, TestKit, testLogLevel } from "../src/Harness.js"

type Fields = ReadonlyArray<string>

const manyFields = (n: number, prefix = "f"): Array<string> => {
  const out: Array<string> = []
  for (let i = 0; i < n; i++) out.push(`${prefix}${i}`, `v${i}`)
  return out
}

/**
 * Read everything with a fresh Consumer (maxWait 0, empty batches allowed, so
 * no read ever waits), running `handle` on each message and acknowledging the
 * successes, until `expected` entries were handled or dead-lettered.
 */
const drain = <A>(
  options: Consumer.Options<A, any>,
  expected: number,
  handle: (m: Message.Message<A>) => Effect.Effect<void, Message.Poison> = () => Effect.void
) =>
  Effect.scoped(Effect.gen(function*() {
    const backend = yield* StreamsBackend.StreamsBackend
    const consumer = yield* Consumer.make({
      emitEmpty: true,
      blockTime: "100 millis",
      reclaim: false,
      ...options
    } as Consumer.Options<A, any> & { readonly schema: Schema.Schema<A, any, never> })
    const handled: Array<Message.Message<A>> = []
    for (let round = 0; round < 50; round++) {
      const batch = yield* consumer.batches.pipe(Stream.take(1), Stream.runHead, Effect.map(Option.getOrThrow))
      for (const m of batch.messages) {
        const r = yield* Effect.either(handle(m))
        if (r._tag === "Right") {
          handled.push(m)
          yield* m.ack
        } else {
          yield* m.deadLetter(r.left.reason)
        }
      }
      const dead = yield* backend.length(consumer.deadLetterStream)
      if (handled.length + dead >= expected) break
    }
    const dlq = (yield* backend.range(consumer.deadLetterStream)).map(DeadLetter.parse)
    const pending = (yield* backend.pendingSummary(options.stream, options.group)).count
    return { handled, dlq, pending, deadLetterStream: consumer.deadLetterStream }
  }))

forEachBackend("hostile entries", (it) => {
  it.scoped("without a Schema, foreign entries reach the handler with their raw fields unchanged", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("foreign")
      const entries: ReadonlyArray<Fields> = [
        ["a", "1"],
        ["a", "1", "b", "2", "c", "3", "d", ""],
        ["", ""],
        ["a", "1", "a", "2", "a", "3"],
        ["constructor", "y", "toString", "z", "hasOwnProperty", "w", "valueOf", "v"],
        ["ключ", "значение", "🔑", "🚀", "日本", "語"],
        ["ctl", "\u0000\u0001\u001b[31m\r\n\t", "nul\u0000key", "x"],
        ["json", "{\"a\":", "data", "[[[["],
        manyFields(10_000),
        ["big", "x".repeat(1024 * 1024)]
      ]
      const ids: Array<string> = []
      for (const fields of entries) ids.push(yield* backend.add(stream, fields))
      const r = yield* drain({ stream, group: "g", batchSize: 100, maxWait: 0 }, entries.length)
      assert.deepStrictEqual(r.handled.map((m) => m.id), ids)
      r.handled.forEach((m, i) => assert.deepStrictEqual(m.rawFields, entries[i], `entry ${i}`))
      // the map view: the last value of a repeated name, every other name as it came
      assert.deepStrictEqual(r.handled[3]!.fields, { a: "3" })
      assert.deepStrictEqual(r.handled[4]!.body, { constructor: "y", toString: "z", hasOwnProperty: "w", valueOf: "v" })
      assert.strictEqual(r.handled[6]!.fields["nul\u0000key"], "x")
      assert.strictEqual(Object.keys(r.handled[8]!.fields).length, 10_000)
      assert.strictEqual(r.handled[9]!.fields["big"]!.length, 1024 * 1024)
      assert.deepStrictEqual(r.dlq, [])
      assert.strictEqual(r.pending, 0)
    }))

  it.scoped("with a Schema, what does not decode is dead-lettered with the reason and its fields; the rest is handled", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("foreign")
      const Order = Schema.Struct({ orderId: Schema.String, amount: Schema.NumberFromString })
      const entries: ReadonlyArray<readonly [Fields, "ok" | RegExp]> = [
        [["orderId", "o1", "amount", "12.5"], "ok"],
        [["orderId", "o2"], /cannot decode: [\s\S]*amount[\s\S]*is missing/],
        [["amount", "3"], /orderId[\s\S]*is missing/],
        [["orderId", "o4", "amount", "twelve"], /cannot decode: [\s\S]*amount/],
        [["orderId", "o5", "amount", "5", "extra", "x", "more", ""], "ok"],
        [["orderId", "o6", "amount", "x", "amount", "6"], "ok"],
        [["", ""], /is missing/],
        [["ORDERID", "o8", "AMOUNT", "8"], /is missing/],
        [["orderId", "o9", "amount", ""], /cannot decode/],
        [["orderId", "o10", "amount", "1e400"], "ok"],
        [[...manyFields(10_000), "orderId", "o11", "amount", "11"], "ok"],
        [["orderId", "\u0000", "amount", "-0"], "ok"]
      ]
      const ids: Array<string> = []
      for (const [fields] of entries) ids.push(yield* backend.add(stream, fields))
      const r = yield* drain({ stream, group: "g", batchSize: 100, maxWait: 0, schema: Order }, entries.length)
      const okIds = ids.filter((_, i) => entries[i]![1] === "ok")
      assert.deepStrictEqual(r.handled.map((m) => m.id), okIds)
      assert.deepStrictEqual(r.handled.map((m) => m.body.orderId), ["o1", "o5", "o6", "o10", "o11", "\u0000"])
      assert.strictEqual(r.handled[2]!.body.amount, 6)
      assert.strictEqual(r.handled[3]!.body.amount, Number.POSITIVE_INFINITY)
      const deadIds = ids.filter((_, i) => entries[i]![1] !== "ok")
      assert.deepStrictEqual(r.dlq.map((d) => d.meta.id), deadIds)
      for (const d of r.dlq) {
        const i = ids.indexOf(d.meta.id)
        assert.deepStrictEqual(d.original, entries[i]![0], `the dead letter of ${d.meta.id} keeps its fields`)
        assert.match(d.meta.error, entries[i]![1] as RegExp)
        assert.strictEqual(d.meta.stream, stream)
        assert.strictEqual(d.meta.group, "g")
        assert.strictEqual(d.meta.deliveries, 1)
      }
      assert.strictEqual(r.pending, 0, "everything acknowledged: handled or dead-lettered")
    }))

  it.scoped("with a JSON Schema: a missing or broken `data` field is dead-lettered with the reason", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("foreign")
      const Event = Schema.Struct({ kind: Schema.Literal("created", "deleted"), tags: Schema.Array(Schema.String) })
      const entries: ReadonlyArray<readonly [Fields, "ok" | RegExp]> = [
        [["data", JSON.stringify({ kind: "created", tags: ["a"] })], "ok"],
        [["other", "x"], /has no "data" field/],
        [["data", "{\"kind\":"], /not valid JSON/],
        [["data", "null"], /cannot decode/],
        [["data", JSON.stringify({ kind: "exploded", tags: [] })], /cannot decode/],
        [["data", JSON.stringify({ kind: "deleted", tags: [], __proto__: { polluted: true } })], "ok"],
        [["data", "[".repeat(100_000)], /not valid JSON|cannot decode/]
      ]
      const ids: Array<string> = []
      for (const [fields] of entries) ids.push(yield* backend.add(stream, fields))
      const r = yield* drain({ stream, group: "g", batchSize: 100, maxWait: 0, schema: Event }, entries.length)
      assert.deepStrictEqual(r.handled.map((m) => m.body.kind), ["created", "deleted"])
      assert.strictEqual(({} as Record<string, unknown>)["polluted"], undefined, "no prototype pollution")
      assert.strictEqual(r.dlq.length, 5)
      for (const d of r.dlq) assert.match(d.meta.error, entries[ids.indexOf(d.meta.id)]![1] as RegExp)
      assert.strictEqual(r.pending, 0)
    }))

  it.scoped("a 10 MB value is delivered under the default maxEntryBytes, dead-lettered (metadata only) above a smaller one", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("big")
      const big = "x".repeat(10 * 1024 * 1024)
      // 5.5 M characters but 11 MB in UTF-8: the limit is in bytes
      const wide = "é".repeat(5.5 * 1024 * 1024)
      const bigId = yield* backend.add(stream, ["big", big])
      const wideId = yield* backend.add(stream, ["wide", wide])
      const smallId = yield* backend.add(stream, ["n", "1"])

      const all = yield* drain({ stream, group: "default", batchSize: 10, maxWait: 0 }, 3)
      assert.deepStrictEqual(all.handled.map((m) => m.id), [bigId, wideId, smallId])
      assert.strictEqual(all.handled[0]!.fields["big"]!.length, big.length)
      assert.strictEqual(all.handled[1]!.fields["wide"], wide)

      const limited = yield* drain(
        { stream, group: "limited", batchSize: 10, maxWait: 0, deadLetter: { maxEntryBytes: 10 * 1024 * 1024 } },
        3
      )
      assert.deepStrictEqual(limited.handled.map((m) => m.id), [smallId])
      assert.deepStrictEqual(limited.dlq.map((d) => d.meta.id), [bigId, wideId])
      for (const d of limited.dlq) {
        assert.deepStrictEqual(d.original, [], "metadata only: the fields stay in the source stream")
        assert.match(d.meta.error, /more than maxEntryBytes \(10485760\)/)
      }
      assert.strictEqual(limited.pending, 0)
      // the source still holds them, readable by id
      const kept = yield* backend.range(stream, { start: bigId, end: bigId })
      assert.strictEqual(kept[0]!.fields[1]!.length, big.length)
    }), { timeout: 120_000 })

  it.scoped("an entry with 10,000 fields rejected as poison: its dead letter keeps all 10,000 fields plus metadata", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("wide")
      const fields = manyFields(10_000)
      const id = yield* backend.add(stream, fields)
      const r = yield* drain(
        { stream, group: "g", batchSize: 10, maxWait: 0 },
        1,
        () => Effect.fail(new Message.Poison({ reason: "too wide" }))
      )
      assert.strictEqual(r.dlq.length, 1)
      assert.strictEqual(r.dlq[0]!.meta.id, id)
      assert.deepStrictEqual(r.dlq[0]!.original, fields)
      assert.strictEqual(r.dlq[0]!.meta.error, "too wide")
      assert.strictEqual(r.pending, 0)
    }))

  it.scoped("an empty field map cannot be written: XADD without fields is a RedisCommandError, the Producer refuses it", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("empty")
      const error = yield* Effect.flip(backend.add(stream, []))
      assert.instanceOf(error, StreamsError.RedisCommandError)
      assert.match((error as StreamsError.RedisCommandError).reply, /wrong number of arguments/)
      const odd = yield* Effect.flip(backend.add(stream, ["lonely"]))
      assert.instanceOf(odd, StreamsError.RedisCommandError)
      const producer = yield* Producer.make({ stream })
      const refused = yield* Effect.flip(producer.add({}))
      assert.instanceOf(refused, StreamsError.MessageEncodeError)
      assert.strictEqual(yield* backend.length(stream), 0)
    }))
})

// ---------------------------------------------------------------------------
// Redis only: bytes that are not UTF-8 (the in-memory backend stores strings)
// ---------------------------------------------------------------------------

const redisBackend = Layer.merge(
  Layer.suspend(() => RedisBackend.layerRedis({ url: Redacted.make(redisUrl()) })),
  testLogLevel
)

plainIt.scoped("(Redis) with a Schema, bytes that are not UTF-8 are dead-lettered before any handler; the copy holds U+FFFD, the source the bytes", () =>
  Effect.gen(function*() {
    const raw = yield* Effect.acquireRelease(
      Effect.sync(() => new Redis(redisUrl())),
      (r) => Effect.promise(() => r.quit())
    )
    const stream = `bin-${Math.random().toString(36).slice(2)}`
    const bytes = Buffer.from([0xff, 0xfe, 0x41, 0xc3, 0x28, 0xe2, 0x82])
    const id = (yield* Effect.promise(() => raw.xadd(stream, "*", "bin", bytes, Buffer.from([0x80]), "k")))!
    const r = yield* drain(
      { stream, group: "g", batchSize: 10, maxWait: 0, schema: Schema.Struct({ bin: Schema.String }) },
      1,
      () => Effect.fail(new Message.Poison({ reason: "inspect the copy" }))
    )
    // dead-lettered for the bytes, not by the handler (see binary.test.ts for the bytes reaching a handler)
    assert.include(r.dlq[0]!.meta.error, "not valid UTF-8")
    // the copy's text: each invalid sequence became U+FFFD (EF BF BD)
    assert.deepStrictEqual(r.dlq[0]!.original, ["bin", "\ufffd\ufffdA\ufffd(\ufffd", "\ufffd", "k"])
    // the dead-letter copy holds the replacement characters, not the original bytes
    const copy = yield* Effect.promise(() => raw.xrangeBuffer(r.deadLetterStream, "-", "+"))
    assert.strictEqual(copy[0]![1][1]!.toString("hex"), "efbfbdefbfbd41efbfbd28efbfbd")
    // the source entry still holds the original bytes (lost for good with deleteOnAck or trimming)
    const source = yield* Effect.promise(() => raw.xrangeBuffer(stream, id, id))
    assert.strictEqual(source[0]![1][1]!.toString("hex"), bytes.toString("hex"))
    assert.strictEqual(r.pending, 0)
  }).pipe(Effect.provide(redisBackend)))

plainIt.scopedLive("memory stays bounded: 30 entries of 10 MB, batches of 2, maxEntryBytes 1 MiB: all dead-lettered, metadata only", () =>
  Effect.gen(function*() {
    const server = yield* startRedisServer()
    const raw = yield* Effect.acquireRelease(
      Effect.sync(() => new Redis(server.url)),
      (r) => Effect.promise(() => r.quit())
    )
    const stream = "bounded"
    const value = "x".repeat(10 * 1024 * 1024)
    for (let i = 0; i < 30; i++) yield* Effect.promise(() => raw.xadd(stream, "*", "big", value, "i", String(i)))
    const before = process.memoryUsage().rss
    let peak = before
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5)
    const started = Date.now()
    const r = yield* drain({ stream, group: "g", batchSize: 2, maxWait: 0, deadLetter: { maxEntryBytes: 1024 * 1024 } }, 30).pipe(
      Effect.provide(Layer.merge(RedisBackend.layerRedis({ url: Redacted.make(server.url) }), testLogLevel)),
      Effect.ensuring(Effect.sync(() => clearInterval(sampler)))
    )
    const growthMb = Math.round((peak - before) / 1e6)
    const dlqBytes = Number(yield* Effect.promise(() => raw.call("MEMORY", "USAGE", r.deadLetterStream)))
    console.log(`30 x 10 MB, batchSize 2: ${Date.now() - started} ms, peak RSS growth ${growthMb} MB, dead-letter stream ${dlqBytes} bytes`)
    assert.strictEqual(r.handled.length, 0)
    assert.strictEqual(r.dlq.length, 30)
    assert.isTrue(r.dlq.every((d) => d.original.length === 0))
    assert.strictEqual(r.pending, 0)
    assert.isBelow(dlqBytes, 64 * 1024, "the dead-letter stream holds metadata only")
    // one read holds at most batchSize entries: far below the 300 MB the stream holds
    assert.isBelow(growthMb, 400)
  }), { timeout: 180_000 })

// ---------------------------------------------------------------------------
// gaps found by this suite, now fixed
// ---------------------------------------------------------------------------

plainIt.effect("a field named __proto__ is kept in `fields` and `body`", () =>
  Effect.gen(function*() {
    const backend = yield* StreamsBackend.StreamsBackend
    yield* backend.add("proto", ["__proto__", "polluted", "a", "1"])
    const r = yield* drain({ stream: "proto", group: "g", batchSize: 10, maxWait: 0 }, 1)
    assert.deepStrictEqual(r.handled[0]!.rawFields, ["__proto__", "polluted", "a", "1"])
    assert.isTrue(Object.prototype.hasOwnProperty.call(r.handled[0]!.fields, "__proto__"))
    assert.strictEqual(r.handled[0]!.fields["__proto__"], "polluted")
  }).pipe(Effect.provide(Layer.merge(InMemoryBackend.layer, testLogLevel))))

interface Tree {
  readonly children: ReadonlyArray<Tree>
}
const Tree: Schema.Schema<Tree> = Schema.Struct({ children: Schema.Array(Schema.suspend(() => Tree)) })

plainIt.effect("a schema that throws (stack overflow on deep JSON) dead-letters the entry instead of killing the consumer", () =>
  Effect.gen(function*() {
    const backend = yield* StreamsBackend.StreamsBackend
    const deep = "{\"children\":[".repeat(20_000) + "]}".repeat(20_000)
    yield* backend.add("deep", ["data", deep])
    yield* backend.add("deep", ["data", "{\"children\":[]}"])
    const r = yield* drain({ stream: "deep", group: "g", batchSize: 10, maxWait: 0, schema: Tree }, 2)
    assert.strictEqual(r.handled.length, 1)
    assert.strictEqual(r.dlq.length, 1)
    assert.strictEqual(r.pending, 0)
  }).pipe(Effect.provide(Layer.merge(InMemoryBackend.layer, testLogLevel))))

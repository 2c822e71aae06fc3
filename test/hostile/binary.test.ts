/**
 * Values that are not valid UTF-8, written by another client: without a Schema the handler gets the
 * bytes unchanged (`rawBytes`); with a Schema the entry goes to the dead-letter stream with the reason.
 * Redis only: the in-memory backend stores text.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Redacted, Schema, Stream } from "effect"
import { Consumer, DeadLetter, RedisBackend, StreamsBackend } from "effect-redis-streams"
import { rawClient, redisUrl, testLogLevel, uniqueKey } from "../src/Harness.js"

const backend = Layer.suspend(() => Layer.merge(RedisBackend.layerRedis({ url: Redacted.make(redisUrl()) }), testLogLevel))
const notUtf8 = Buffer.from([0xff, 0xfe, 0x41, 0xc3, 0x28, 0xe2, 0x82])

describe("entries that are not valid UTF-8", () => {
  it.scopedLive("reach a handler without a Schema byte for byte, next to ordinary entries", () =>
    Effect.gen(function*() {
      const raw = yield* rawClient()
      const stream = uniqueKey("bin")
      const plainId = yield* Effect.promise(() => raw.xadd(stream, "*", "v", "plain"))
      const binId = yield* Effect.promise(() => raw.xadd(stream, "*", "v", notUtf8, "note", "ok"))
      // a real U+FFFD in valid UTF-8 text is text, not bytes
      const textId = yield* Effect.promise(() => raw.xadd(stream, "*", "v", "\uFFFD is a character"))
      const consumer = yield* Consumer.make({ stream, group: "g", batchSize: 10, maxWait: 0 })
      const batch = Chunk.unsafeGet(yield* consumer.batches.pipe(Stream.take(1), Stream.runCollect), 0)
      assert.deepStrictEqual(batch.messages.map((m) => m.id), [plainId, binId, textId])
      const [plain, bin, text] = batch.messages
      assert.isUndefined(plain!.rawBytes)
      assert.isUndefined(text!.rawBytes)
      assert.deepStrictEqual(text!.fields, { v: "\uFFFD is a character" })
      assert.isDefined(bin!.rawBytes)
      assert.deepStrictEqual(bin!.rawBytes!.map((b) => Buffer.from(b).toString("hex")), [
        Buffer.from("v").toString("hex"),
        notUtf8.toString("hex"),
        Buffer.from("note").toString("hex"),
        Buffer.from("ok").toString("hex")
      ])
      assert.include(bin!.fields["v"]!, "\uFFFD")
      yield* batch.ack
    }).pipe(Effect.provide(backend)))

  it.scopedLive("with a Schema, go to the dead-letter stream with the reason; nothing is lost", () =>
    Effect.gen(function*() {
      const raw = yield* rawClient()
      const b = yield* StreamsBackend.StreamsBackend
      const stream = uniqueKey("bin")
      const goodId = yield* Effect.promise(() => raw.xadd(stream, "*", "v", "fine"))
      const binId = yield* Effect.promise(() => raw.xadd(stream, "*", "v", notUtf8))
      const consumer = yield* Consumer.make({
        stream,
        group: "g",
        batchSize: 10,
        maxWait: 0,
        schema: Schema.Struct({ v: Schema.String })
      })
      const batch = Chunk.unsafeGet(yield* consumer.batches.pipe(Stream.take(1), Stream.runCollect), 0)
      assert.deepStrictEqual(batch.messages.map((m) => m.id), [goodId])
      yield* batch.ack
      const dead = (yield* b.range(consumer.deadLetterStream)).map(DeadLetter.parse)
      assert.deepStrictEqual(dead.map((d) => d.meta.id), [binId])
      assert.include(dead[0]!.meta.error, "not valid UTF-8")
      assert.strictEqual((yield* b.pendingSummary(stream, "g")).count, 0)
      // the source stream keeps the bytes
      const kept = yield* Effect.promise(() => raw.xrangeBuffer(stream, binId!, binId!))
      assert.strictEqual(kept[0]![1][1]!.toString("hex"), notUtf8.toString("hex"))
    }).pipe(Effect.provide(backend)))
})

/**
 * `redis-streams produce`: field names and order as given (no plain object in between: `__proto__`
 * and integer-like names are kept where they were written), and `--encoding json`, whose entries a
 * Consumer with a JSON-encoded Schema reads.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Redacted, Schema, Stream } from "effect"
import { Consumer, RedisBackend } from "effect-redis-streams"
import { rawClient, redisUrl, uniqueKey } from "../src/Harness.js"
import { runCli } from "./CliProcess.js"

const cli = (args: ReadonlyArray<string>, options: { readonly input?: string } = {}) =>
  runCli([...args, "--url", redisUrl()], options)

const entries = (stream: string) =>
  Effect.flatMap(rawClient(), (raw) => Effect.promise(() => raw.xrange(stream, "-", "+")))

describe("redis-streams produce: field names and order", () => {
  it.scopedLive("--field: __proto__ and integer-like names kept, in order; a repeated key keeps its last value", () =>
    Effect.gen(function*() {
      const stream = uniqueKey("cli-produce-names")
      const r = yield* cli(["produce", stream, "-f", "__proto__=x", "-f", "b=1", "-f", "2=two", "-f", "b=3", "-f", "a=1"])
      assert.strictEqual(r.code, 0, r.stderr)
      const got = yield* entries(stream)
      assert.deepStrictEqual(got.map(([, f]) => f), [["__proto__", "x", "b", "3", "2", "two", "a", "1"]])
    }))

  it.scopedLive("stdin: a \"__proto__\" member is a field like any other; members keep their written order", () =>
    Effect.gen(function*() {
      const stream = uniqueKey("cli-produce-proto")
      const input = [
        `{"__proto__":{"polluted":true},"n":5}`,
        `{"z":"last","1":"one","s":"a\\"},{b","arr":[1,{"k":"]"}],"o":{"__proto__":1} , "nul":null}`,
        `{"a":"1","a":"2"}`
      ].join("\n")
      const r = yield* cli(["produce", stream], { input })
      assert.strictEqual(r.code, 0, r.stderr)
      const got = yield* entries(stream)
      assert.deepStrictEqual(got.map(([, f]) => f), [
        ["__proto__", "{\"polluted\":true}", "n", "5"],
        ["z", "last", "1", "one", "s", "a\"},{b", "arr", "[1,{\"k\":\"]\"}]", "o", "{\"__proto__\":1}", "nul", "null"],
        ["a", "1", "a", "2"]
      ])
      assert.isUndefined(({} as Record<string, unknown>)["polluted"])
    }))
})

describe("redis-streams produce --encoding json", () => {
  const Order = Schema.Struct({ orderId: Schema.String, amount: Schema.Number })

  it.scopedLive("entries hold the JSON in \"data\", and a Consumer with a JSON-encoded Schema decodes them", () =>
    Effect.gen(function*() {
      const stream = uniqueKey("cli-produce-json")
      const fromStdin = yield* cli(["produce", stream, "--encoding", "json"], {
        input: `{"orderId":"o-1","amount":12.5}\n{"orderId":"o-2","amount":3}\n`
      })
      assert.strictEqual(fromStdin.code, 0, fromStdin.stderr)
      const got = yield* entries(stream)
      assert.deepStrictEqual(got.map(([, f]) => f), [
        ["data", "{\"orderId\":\"o-1\",\"amount\":12.5}"],
        ["data", "{\"orderId\":\"o-2\",\"amount\":3}"]
      ])
      const consumer = yield* Consumer.make({
        stream,
        group: "g",
        consumer: "c",
        schema: Order,
        encoding: "json",
        batchSize: 10,
        maxWait: 0
      })
      const batch = Chunk.unsafeGet(yield* consumer.batches.pipe(Stream.take(1), Stream.runCollect), 0)
      assert.deepStrictEqual(batch.messages.map((m) => m.body), [
        { orderId: "o-1", amount: 12.5 },
        { orderId: "o-2", amount: 3 }
      ])
      yield* batch.ack
    }).pipe(Effect.scoped, Effect.provide(RedisBackend.layerRedis({ url: Redacted.make(redisUrl()) })), Effect.orDie))

  it.scopedLive("--field values become a JSON object of strings; any JSON value per stdin line", () =>
    Effect.gen(function*() {
      const stream = uniqueKey("cli-produce-json-fields")
      const r = yield* cli(["produce", stream, "--encoding", "json", "-f", "__proto__=p", "-f", "q=\"x"])
      assert.strictEqual(r.code, 0, r.stderr)
      const r2 = yield* cli(["produce", stream, "--encoding", "json"], { input: "[1,2]\n\"text\"\n" })
      assert.strictEqual(r2.code, 0, r2.stderr)
      const bad = yield* cli(["produce", stream, "--encoding", "json"], { input: "{not json\n" })
      assert.strictEqual(bad.code, 1)
      assert.match(bad.stderr, /stdin line 1: not valid JSON/)
      const got = yield* entries(stream)
      assert.deepStrictEqual(got.map(([, f]) => f), [
        ["data", "{\"__proto__\":\"p\",\"q\":\"\\\"x\"}"],
        ["data", "[1,2]"],
        ["data", "\"text\""]
      ])
    }))
})

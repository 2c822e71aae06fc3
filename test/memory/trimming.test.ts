/**
 * Approximate trimming removes whole nodes only, so the in-memory backend
 * models Redis's node boundaries (100 entries or 4096 bytes per node, as
 * listpacks are laid out). Every expected value below was recorded from
 * redis-server 7.0.15 running the same commands (XTRIM / XADD ... MAXLEN ~,
 * then XINFO STREAM).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { InMemoryBackend, type StreamsBackend } from "effect-redis-streams"

/** entries with ids 1-0 .. n-0 */
const fill = (backend: StreamsBackend.Service, stream: string, n: number, fields: (i: number) => Array<string>) =>
  Effect.forEach(
    Array.from({ length: n }, (_, i) => i + 1),
    (i) => backend.add(stream, fields(i), { id: `${i}-0` }),
    { discard: true }
  )

const summary = (backend: StreamsBackend.Service, stream: string) =>
  Effect.map(backend.streamInfo(stream), (i) => ({ length: i.length, first: i.recordedFirstEntryId }))

describe("InMemoryBackend approximate trimming (values from Redis 7.0.15)", () => {
  it.effect("MAXLEN ~ over nodes of 100 small entries", () =>
    Effect.gen(function*() {
      const backend = yield* InMemoryBackend.make
      yield* fill(backend, "a", 1000, (i) => ["f", String(i)])
      assert.strictEqual(yield* backend.trim("a", { strategy: "maxlen", threshold: 250, approximate: true }), 700)
      assert.deepStrictEqual(yield* summary(backend, "a"), { length: 300, first: "701-0" })
      // exact trimming then removes the rest precisely
      assert.strictEqual(yield* backend.trim("a", { strategy: "maxlen", threshold: 250 }), 50)
      assert.deepStrictEqual(yield* summary(backend, "a"), { length: 250, first: "751-0" })
    }))

  it.effect("nodes limited by 4096 bytes (200-byte values)", () =>
    Effect.gen(function*() {
      const backend = yield* InMemoryBackend.make
      yield* fill(backend, "b", 1000, () => ["data", "x".repeat(200)])
      assert.strictEqual(yield* backend.trim("b", { strategy: "maxlen", threshold: 250, approximate: true }), 741)
      assert.deepStrictEqual(yield* summary(backend, "b"), { length: 259, first: "742-0" })
    }))

  it.effect("multi-byte values count their UTF-8 bytes", () =>
    Effect.gen(function*() {
      const backend = yield* InMemoryBackend.make
      yield* fill(backend, "h", 400, () => ["k", "€".repeat(30)])
      assert.strictEqual(yield* backend.trim("h", { strategy: "maxlen", threshold: 100, approximate: true }), 280)
      assert.deepStrictEqual(yield* summary(backend, "h"), { length: 120, first: "281-0" })
    }))

  it.effect("LIMIT bounds the entries removed; without LIMIT at most 10000 are", () =>
    Effect.gen(function*() {
      const backend = yield* InMemoryBackend.make
      yield* fill(backend, "c", 1000, (i) => ["f", String(i)])
      assert.strictEqual(
        yield* backend.trim("c", { strategy: "maxlen", threshold: 250, approximate: true, limit: 150 }),
        100
      )
      assert.deepStrictEqual(yield* summary(backend, "c"), { length: 900, first: "101-0" })
      yield* backend.addMany("f", Array.from({ length: 20000 }, (_, i) => ["f", String(i)]))
      assert.strictEqual(yield* backend.trim("f", { strategy: "maxlen", threshold: 10, approximate: true }), 10000)
      assert.strictEqual(yield* backend.length("f"), 10000)
    }))

  it.effect("MINID ~ removes the nodes whose last entry is below the id", () =>
    Effect.gen(function*() {
      const backend = yield* InMemoryBackend.make
      yield* fill(backend, "d", 1000, (i) => ["f", String(i)])
      assert.strictEqual(yield* backend.trim("d", { strategy: "minid", threshold: "555", approximate: true }), 500)
      assert.deepStrictEqual(yield* summary(backend, "d"), { length: 500, first: "501-0" })
    }))

  it.effect("tombstones count towards a node's 100 entries", () =>
    Effect.gen(function*() {
      const backend = yield* InMemoryBackend.make
      yield* fill(backend, "e", 300, (i) => ["f", String(i)])
      assert.strictEqual(
        yield* backend.delete("e", Array.from({ length: 50 }, (_, i) => `${251 + i}-0`)),
        50
      )
      yield* Effect.forEach(
        Array.from({ length: 10 }, (_, i) => 301 + i),
        (i) => backend.add("e", ["f", "v"], { id: `${i}-0` }),
        { discard: true }
      )
      assert.deepStrictEqual(yield* summary(backend, "e"), { length: 260, first: "1-0" })
      assert.strictEqual(yield* backend.trim("e", { strategy: "maxlen", threshold: 100, approximate: true }), 100)
      assert.deepStrictEqual(yield* summary(backend, "e"), { length: 160, first: "101-0" })
    }))

  it.effect("XADD MAXLEN ~ 100 lets the stream grow to a node boundary, then drops whole nodes", () =>
    Effect.gen(function*() {
      const backend = yield* InMemoryBackend.make
      const lengths: Array<number> = []
      for (let i = 1; i <= 350; i++) {
        yield* backend.add("g", ["n", String(i), "payload", "p".repeat(i % 50)], {
          id: `${i}-0`,
          trim: { strategy: "maxlen", threshold: 100, approximate: true }
        })
        if (i % 25 === 0) lengths.push(yield* backend.length("g"))
      }
      assert.deepStrictEqual(lengths, [25, 50, 75, 100, 125, 150, 175, 100, 125, 150, 175, 100, 125, 150])
      assert.deepStrictEqual(yield* summary(backend, "g"), { length: 150, first: "201-0" })
    }))
})

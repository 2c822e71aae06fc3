import { assert } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { Consumer, Producer, StreamsBackend } from "effect-redis-streams"
import { forEachBackend, TestKit } from "../src/Harness.js"

forEachBackend("Consumer at volume", (it) => {
  it.scoped("20,000 messages through 4 concurrent consumers: every id once, pending 0", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("vol")
      const producer = yield* Producer.make({ stream })
      const total = 20_000
      const ids = yield* producer.addAll(Array.from({ length: total }, (_, i) => ({ n: String(i), pad: "x".repeat(80) })))
      const seen = new Map<string, string>()
      let duplicates = 0
      const consumers = yield* Effect.forEach(
        ["c1", "c2", "c3", "c4"],
        (name) => Consumer.make({ stream, group: "g", consumer: name, batchSize: 100, maxWait: "50 millis" })
      )
      const fibers = yield* Effect.forEach(consumers, (c) =>
        c.process((m) =>
          Effect.sync(() => {
            if (seen.has(m.id)) duplicates++
            seen.set(m.id, c.name)
          }), { concurrency: 8 }).pipe(Effect.fork))
      for (let i = 0; i < 2000 && seen.size < total; i++) yield* kit.sleep(20)
      yield* kit.sleep(100)
      yield* Effect.forEach(fibers, Fiber.interrupt)
      assert.strictEqual(seen.size, total)
      assert.strictEqual(duplicates, 0)
      assert.sameMembers([...seen.keys()], [...ids])
      assert.strictEqual((yield* backend.pendingSummary(stream, "g")).count, 0)
      const perConsumer = new Map<string, number>()
      for (const name of seen.values()) perConsumer.set(name, (perConsumer.get(name) ?? 0) + 1)
      assert.isAtLeast(perConsumer.size, 2, "the work was shared")
    }), { timeout: 120_000 })
})

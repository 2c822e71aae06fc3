/**
 * `StreamsBackend.scanStreams`: stream keys matching a glob, found with SCAN
 * MATCH TYPE stream, bounded; the same replies on both backends (Redis's glob
 * syntax: `*`, `?`, classes, escapes; other key types left out).
 */
import { assert } from "@effect/vitest"
import { Effect } from "effect"
import { StreamsBackend } from "effect-redis-streams"
import { forEachBackend, TestKit } from "../src/Harness.js"

forEachBackend("StreamsBackend.scanStreams", (it) => {
  it.effect("matches the glob, streams only, sorted; a limit truncates", () =>
    Effect.gen(function*() {
      const backend = yield* StreamsBackend.StreamsBackend
      const kit = yield* TestKit
      const p = kit.key("scan")
      const names = [`${p}:a`, `${p}:b`, `${p}:c1`, `${p}:{x}`, `${p}:"<script>"`, `${p}:ü`, `${p}:a\nb`]
      for (const n of names) yield* backend.add(n, ["f", "v"])
      yield* kit.setString(`${p}:string`, "x")
      const all = yield* backend.scanStreams(`${p}:*`, { limit: 100 })
      assert.deepStrictEqual(all, { streams: [...names].sort(), truncated: false })
      assert.deepStrictEqual((yield* backend.scanStreams(`${p}:?`, { limit: 100 })).streams, [`${p}:a`, `${p}:b`, `${p}:ü`].filter((n) => Buffer.byteLength(n) === Buffer.byteLength(p) + 2))
      assert.deepStrictEqual((yield* backend.scanStreams(`${p}:[a-b]`, { limit: 100 })).streams, [`${p}:a`, `${p}:b`])
      assert.deepStrictEqual((yield* backend.scanStreams(`${p}:[^a]`, { limit: 100 })).streams, [`${p}:b`])
      assert.deepStrictEqual((yield* backend.scanStreams(`${p}:\\{x\\}`, { limit: 100 })).streams, [`${p}:{x}`])
      assert.deepStrictEqual((yield* backend.scanStreams(`${p}:c*`, { limit: 100 })).streams, [`${p}:c1`])
      assert.deepStrictEqual(yield* backend.scanStreams(`${p}:nothing*`, { limit: 100 }), { streams: [], truncated: false })
      const limited = yield* backend.scanStreams(`${p}:*`, { limit: 3 })
      assert.strictEqual(limited.streams.length, 3)
      assert.isTrue(limited.truncated)
      for (const n of limited.streams) assert.include(names, n)
    }))
})

/**
 * `redis-streams dlq`: `--id` takes the dead letter's id or the original entry's id, an `--id` that
 * matches nothing exits 1 with nothing done, and `replay --to` / `--keep`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { DeadLetter } from "effect-redis-streams"
import type { Redis } from "ioredis"
import { rawClient, redisUrl, uniqueKey } from "../src/Harness.js"
import { runCli } from "./CliProcess.js"

const cli = (args: ReadonlyArray<string>) => runCli([...args, "--url", redisUrl()])
const call = <A>(f: () => Promise<A>) => Effect.promise(f)

const deadLetter = (raw: Redis, stream: string, original: ReadonlyArray<string>, id: string) =>
  call(() =>
    raw.xadd(
      DeadLetter.defaultStream(stream),
      "*",
      ...DeadLetter.toFields(original, { id, stream, group: "g", consumer: "c1", deliveries: 6, error: "e", at: 1 })
    ) as Promise<string>
  )

describe("redis-streams dlq --id", () => {
  it.scopedLive("replay --id <original id> replays that entry's dead letter; an unknown id exits 1 and changes nothing", () =>
    Effect.gen(function*() {
      const raw = yield* rawClient()
      const stream = uniqueKey("cli-dlq-id")
      const dlq = DeadLetter.defaultStream(stream)
      yield* call(() => raw.xadd(stream, "*", "seed", "1"))
      const d1 = yield* deadLetter(raw, stream, ["order", "1"], "1-1")
      const d2 = yield* deadLetter(raw, stream, ["order", "2"], "1-2")

      const listed = yield* cli(["dlq", "list", stream, "--id", "1-2", "--json"])
      assert.strictEqual(listed.code, 0, listed.stderr)
      assert.deepStrictEqual(JSON.parse(listed.stdout).deadLetters.map((d: { id: string }) => d.id), [d2])

      const unknown = yield* cli(["dlq", "replay", stream, "--id", "1-2", "--id", "7-7", "--yes"])
      assert.strictEqual(unknown.code, 1)
      assert.strictEqual(unknown.stdout, "")
      assert.match(unknown.stderr, /^redis-streams: no dead letter with id 7-7 in .*nothing was done\n$/)
      assert.strictEqual(yield* call(() => raw.xlen(dlq)), 2)

      const byOriginal = yield* cli(["dlq", "replay", stream, "--id", "1-2", "--yes", "--json"])
      assert.strictEqual(byOriginal.code, 0, byOriginal.stderr)
      const out = JSON.parse(byOriginal.stdout)
      assert.deepStrictEqual(out.replayed.map((r: { id: string; originalId: string }) => [r.id, r.originalId]), [[d2, "1-2"]])
      assert.deepStrictEqual((yield* call(() => raw.xrange(dlq, "-", "+"))).map(([id]) => id), [d1])
      const source = yield* call(() => raw.xrange(stream, "-", "+"))
      assert.deepStrictEqual(source.map(([, f]) => f), [["seed", "1"], ["order", "2"]])

      // replayed already: that id matches nothing any more
      const gone = yield* cli(["dlq", "replay", stream, "--id", "1-2", "--yes"])
      assert.strictEqual(gone.code, 1)
      const purgeUnknown = yield* cli(["dlq", "purge", stream, "--id", d2, "--yes"])
      assert.strictEqual(purgeUnknown.code, 1)
      assert.strictEqual(yield* call(() => raw.xlen(dlq)), 1)
    }))

  it.scopedLive("replay --to another stream, --keep keeps the dead letters", () =>
    Effect.gen(function*() {
      const raw = yield* rawClient()
      const stream = uniqueKey("cli-dlq-to")
      const other = uniqueKey("cli-dlq-other")
      const dlq = DeadLetter.defaultStream(stream)
      const d1 = yield* deadLetter(raw, stream, ["order", "1"], "1-1")
      const kept = yield* cli(["dlq", "replay", stream, "--to", other, "--keep", "--yes"])
      assert.strictEqual(kept.code, 0, kept.stderr)
      assert.match(kept.stdout, new RegExp(`^replayed ${d1} -> ${other} \\d+-\\d+ \\(was 1-1\\)$`, "m"))
      assert.strictEqual(yield* call(() => raw.xlen(dlq)), 1)
      const moved = yield* cli(["dlq", "replay", stream, "--to", other, "--yes"])
      assert.strictEqual(moved.code, 0, moved.stderr)
      assert.strictEqual(yield* call(() => raw.xlen(dlq)), 0)
      assert.deepStrictEqual((yield* call(() => raw.xrange(other, "-", "+"))).map(([, f]) => f), [["order", "1"], ["order", "1"]])
    }))
})

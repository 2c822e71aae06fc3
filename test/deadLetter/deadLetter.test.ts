/**
 * `DeadLetter`: list (paged), stream, find (by the dead letter's id or the original entry's id),
 * replay (to the source stream or another, deleting or keeping, atomic per dead letter) and purge,
 * on both backends. Includes a replay whose original stream was trimmed (and deleted), and a replay
 * interrupted half-way: every dead letter ends either replayed or still in the dead-letter stream,
 * never both and never neither.
 */
import { assert } from "@effect/vitest"
import { Chunk, Effect, Exit, Stream } from "effect"
import { DeadLetter, StreamsBackend } from "effect-redis-streams"
import { forEachBackend, TestKit } from "../src/Harness.js"

const compareIds = (a: string, b: string): number => {
  const [am, as] = a.split("-").map(BigInt) as [bigint, bigint]
  const [bm, bs] = b.split("-").map(BigInt) as [bigint, bigint]
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1
}

const services = Effect.all({ backend: StreamsBackend.StreamsBackend, kit: TestKit })

/** dead letters of `stream` with original ids 1-1, 1-2, ... and fields n=<i> */
const deadLetters = (stream: string, n: number, meta: Partial<DeadLetter.Metadata> = {}) =>
  Effect.gen(function*() {
    const backend = yield* StreamsBackend.StreamsBackend
    const dlq = DeadLetter.defaultStream(stream)
    const ids: Array<string> = []
    for (let i = 1; i <= n; i++) {
      ids.push(
        yield* backend.add(
          dlq,
          DeadLetter.toFields(["n", String(i)], {
            id: `1-${i}`,
            stream,
            group: "g",
            consumer: "c1",
            deliveries: 5 + i,
            error: `failure ${i}`,
            at: 1_700_000_000_000 + i,
            ...meta
          })
        )
      )
    }
    return { dlq, ids }
  })

const fieldsOf = (stream: string) =>
  Effect.flatMap(StreamsBackend.StreamsBackend, (b) => b.range(stream)).pipe(
    Effect.map((entries) => entries.map((e) => e.fields))
  )

forEachBackend("DeadLetter", (it) => {
  it.effect("list pages oldest first with a cursor; stream reads them all; each one typed", () =>
    Effect.gen(function*() {
      const { kit } = yield* services
      const stream = kit.key("dl-list")
      const { dlq, ids } = yield* deadLetters(stream, 5)
      const first = yield* DeadLetter.list(dlq, { count: 2 })
      assert.deepStrictEqual(first.deadLetters.map((d) => d.id), ids.slice(0, 2))
      assert.strictEqual(first.next, ids[1])
      const second = yield* DeadLetter.list(dlq, { count: 2, after: first.next })
      assert.deepStrictEqual(second.deadLetters.map((d) => d.id), ids.slice(2, 4))
      const last = yield* DeadLetter.list(dlq, { count: 2, after: second.next })
      assert.deepStrictEqual(last.deadLetters.map((d) => d.id), ids.slice(4))
      assert.isUndefined(last.next)
      assert.deepStrictEqual(first.deadLetters[0], {
        id: ids[0]!,
        original: ["n", "1"],
        meta: { id: "1-1", stream, group: "g", consumer: "c1", deliveries: 6, error: "failure 1", at: 1_700_000_000_001 }
      })
      const all = yield* Stream.runCollect(DeadLetter.stream(dlq, { pageSize: 2 }))
      assert.deepStrictEqual(Chunk.toReadonlyArray(all).map((d) => d.meta.id), ["1-1", "1-2", "1-3", "1-4", "1-5"])
      // a missing dead-letter stream is empty
      assert.deepStrictEqual(yield* DeadLetter.list(kit.key("dl-none")), { deadLetters: [], next: undefined })
      const bad = yield* Effect.flip(DeadLetter.list(dlq, { count: 0 }))
      assert.strictEqual(bad._tag, "InvalidOptions")
      assert.strictEqual(bad._tag === "InvalidOptions" && bad.option, "count")
    }))

  it.effect("find: by the dead letter's id, or by the original entry's id (every duplicate); nothing for an unknown id", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const stream = kit.key("dl-find")
      const { dlq, ids } = yield* deadLetters(stream, 3)
      // a crash between the move and the acknowledgement moved 1-2 twice
      const dup = yield* backend.add(dlq, DeadLetter.toFields(["n", "2"], {
        id: "1-2", stream, group: "g", consumer: "c2", deliveries: 9, error: "again", at: 1
      }))
      assert.deepStrictEqual((yield* DeadLetter.find(dlq, ids[2]!)).map((d) => d.id), [ids[2]])
      assert.deepStrictEqual((yield* DeadLetter.find(dlq, "1-2")).map((d) => d.id), [ids[1], dup])
      assert.deepStrictEqual(yield* DeadLetter.find(dlq, "7-7"), [])
      assert.deepStrictEqual(yield* DeadLetter.find(dlq, "not an id"), [])
    }))

  it.effect("replay: back to the source stream, each dead letter deleted with its add; a second replay adds nothing", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const stream = kit.key("dl-replay")
      yield* backend.createGroup(stream, "g", { id: "$", mkStream: true })
      const { dlq, ids } = yield* deadLetters(stream, 3)
      const letters = (yield* DeadLetter.list(dlq)).deadLetters
      const results = yield* DeadLetter.replay(dlq, letters)
      assert.deepStrictEqual(results.map((r) => [r.status, r.id, r.originalId, r.stream]), [
        ["replayed", ids[0], "1-1", stream],
        ["replayed", ids[1], "1-2", stream],
        ["replayed", ids[2], "1-3", stream]
      ])
      assert.deepStrictEqual(yield* fieldsOf(stream), [["n", "1"], ["n", "2"], ["n", "3"]])
      assert.strictEqual(yield* backend.length(dlq), 0)
      // the group receives them as new entries
      const read = yield* backend.readGroup({ stream, group: "g", consumer: "c", id: ">", count: 10 })
      assert.deepStrictEqual(read.map((e) => e.id), results.map((r) => r.status === "replayed" ? r.newId : ""))
      // the same (stale) selection again: they are gone, nothing is added twice
      const again = yield* DeadLetter.replay(dlq, letters)
      assert.deepStrictEqual(again.map((r) => r.status), ["missing", "missing", "missing"])
      assert.strictEqual(yield* backend.length(stream), 3)
    }))

  it.effect("replay: the original stream trimmed empty, then deleted: the entry comes back as a new one", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const stream = kit.key("dl-trimmed")
      const original = yield* backend.add(stream, ["n", "1"])
      yield* backend.add(stream, ["n", "other"])
      const { dlq } = yield* deadLetters(stream, 2, { id: original })
      assert.strictEqual(yield* backend.trim(stream, { strategy: "maxlen", threshold: 0 }), 2)
      const [first, second] = (yield* DeadLetter.list(dlq)).deadLetters
      const r1 = yield* DeadLetter.replay(dlq, [first!])
      assert.strictEqual(r1[0]!.status, "replayed")
      assert.deepStrictEqual(yield* fieldsOf(stream), [["n", "1"]])
      // a new id, after everything the stream ever had
      const newId = r1[0]!.status === "replayed" ? r1[0]!.newId : ""
      const top = (yield* backend.streamInfo(stream)).maxDeletedEntryId
      assert.isTrue(compareIds(newId, top) > 0, `${newId} after ${top}`)
      yield* kit.deleteKey(stream)
      const r2 = yield* DeadLetter.replay(dlq, [second!])
      assert.strictEqual(r2[0]!.status, "replayed")
      assert.deepStrictEqual(yield* fieldsOf(stream), [["n", "2"]])
      assert.strictEqual(yield* backend.length(dlq), 0)
    }))

  it.effect("replay: to another stream, or keeping the dead letters; skipped when there is nothing to replay", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const stream = kit.key("dl-to")
      const other = kit.key("dl-other")
      const { dlq, ids } = yield* deadLetters(stream, 2)
      const kept = yield* DeadLetter.replay(dlq, (yield* DeadLetter.list(dlq)).deadLetters, { to: other, delete: false })
      assert.deepStrictEqual(kept.map((r) => [r.status, r.stream]), [["replayed", other], ["replayed", other]])
      assert.deepStrictEqual(yield* fieldsOf(other), [["n", "1"], ["n", "2"]])
      assert.deepStrictEqual((yield* DeadLetter.list(dlq)).deadLetters.map((d) => d.id), ids)
      // metadata only (an entry too large to copy), and one without a source stream
      const bare = yield* backend.add(dlq, ["dlq:id", "1-9", "dlq:stream", stream, "dlq:error", "too large"])
      const orphan = yield* backend.add(dlq, ["n", "x", "dlq:id", "1-10"])
      const skipped = yield* DeadLetter.replay(dlq, [
        ...(yield* DeadLetter.find(dlq, bare)),
        ...(yield* DeadLetter.find(dlq, orphan))
      ])
      assert.deepStrictEqual(skipped.map((r) => r.status), ["skipped", "skipped"])
      assert.match(skipped[0]!.status === "skipped" ? skipped[0]!.reason : "", /no original fields/)
      assert.match(skipped[1]!.status === "skipped" ? skipped[1]!.reason : "", /no source stream/)
      assert.strictEqual(yield* backend.length(dlq), 4)
      const bad = yield* Effect.flip(DeadLetter.replay(dlq, [], { to: "" }))
      assert.strictEqual(bad._tag === "InvalidOptions" && bad.option, "to")
    }))

  it.effect("replay interrupted half-way: each dead letter is either replayed or still there; replaying the rest completes it", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const stream = kit.key("dl-interrupt")
      const { dlq } = yield* deadLetters(stream, 5)
      const letters = (yield* DeadLetter.list(dlq)).deadLetters
      // the third move is applied, and then the replay is interrupted before it hears back
      let calls = 0
      const interrupting: StreamsBackend.Service = {
        ...backend,
        moveEntry: (o) => Effect.flatMap(backend.moveEntry(o), (id) => (++calls === 3 ? Effect.interrupt : Effect.succeed(id)))
      }
      const exit = yield* Effect.exit(
        DeadLetter.replay(dlq, letters).pipe(Effect.provideService(StreamsBackend.StreamsBackend, interrupting))
      )
      assert.isTrue(Exit.isInterrupted(exit))
      const replayed = (yield* fieldsOf(stream)).map((f) => f[1])
      const left = (yield* DeadLetter.list(dlq)).deadLetters.map((d) => d.original[1])
      assert.deepStrictEqual(replayed, ["1", "2", "3"])
      assert.deepStrictEqual(left, ["4", "5"])
      // nothing lost, nothing twice
      assert.deepStrictEqual([...replayed, ...left].sort(), ["1", "2", "3", "4", "5"])
      // the same selection again: the three moved already are missing, the rest is replayed
      const rest = yield* DeadLetter.replay(dlq, letters)
      assert.deepStrictEqual(rest.map((r) => r.status), ["missing", "missing", "missing", "replayed", "replayed"])
      assert.deepStrictEqual((yield* fieldsOf(stream)).map((f) => f[1]), ["1", "2", "3", "4", "5"])
      assert.strictEqual(yield* backend.length(dlq), 0)
    }))

  it.effect("purge: by id or by dead letter; counts those that existed", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const stream = kit.key("dl-purge")
      const { dlq, ids } = yield* deadLetters(stream, 4)
      assert.strictEqual(yield* DeadLetter.purge(dlq, [ids[0]!, "9-9"]), 1)
      const [second] = yield* DeadLetter.find(dlq, "1-2")
      assert.strictEqual(yield* DeadLetter.purge(dlq, [second!]), 1)
      assert.strictEqual(yield* DeadLetter.purge(dlq, [second!]), 0)
      assert.deepStrictEqual((yield* DeadLetter.list(dlq)).deadLetters.map((d) => d.id), ids.slice(2))
      assert.strictEqual(yield* DeadLetter.purge(dlq, (yield* DeadLetter.list(dlq)).deadLetters), 2)
      assert.strictEqual(yield* backend.length(dlq), 0)
    }))
})

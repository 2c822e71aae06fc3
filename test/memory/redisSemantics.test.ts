/**
 * Redis 7.0 semantics the in-memory backend reproduces, with expected values
 * recorded from redis-server 7.0.15 running the same commands (so these run
 * without a server; test/backend/differential.test.ts compares the two
 * backends live).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { InMemoryBackend, type StreamsBackend, type StreamsError } from "effect-redis-streams"

const addIds = (backend: StreamsBackend.Service, stream: string, from: number, to: number) =>
  Effect.forEach(
    Array.from({ length: to - from + 1 }, (_, i) => from + i),
    (i) => backend.add(stream, ["f", "v"], { id: `${i}` }),
    { discard: true }
  )

const lagTable = (backend: StreamsBackend.Service, stream: string) =>
  Effect.map(backend.groupsInfo(stream), (gs) =>
    gs.map((g) => [g.name, g.lastDeliveredId, g.entriesRead, g.lag] as const))

const commandError = (e: StreamsError.BackendError) => {
  assert.strictEqual(e._tag, "RedisCommandError")
  return (e as StreamsError.RedisCommandError).reply
}

describe("InMemoryBackend Redis 7.0 semantics (values from Redis 7.0.15)", () => {
  it.effect("entries-read and lag: groups at 0, $, a middle id, ENTRIESREAD, a future id; reads; XDEL in the middle", () =>
    Effect.gen(function*() {
      const b = yield* InMemoryBackend.make
      yield* addIds(b, "s", 1, 5)
      yield* b.createGroup("s", "g0", { id: "0" })
      yield* b.createGroup("s", "gd", { id: "$" })
      yield* b.createGroup("s", "gm", { id: "3" })
      assert.isFalse(yield* b.createGroup("s", "gm", { id: "3" }), "BUSYGROUP")
      yield* b.createGroup("s", "ger", { id: "2", entriesRead: 2 })
      yield* b.createGroup("s", "gbig", { id: "2", entriesRead: 100 })
      yield* b.createGroup("s", "gfut", { id: "10" })
      assert.deepStrictEqual(yield* lagTable(b, "s"), [
        ["g0", "0-0", null, 5],
        ["gbig", "2-0", 100, -95],
        ["gd", "5-0", null, 0],
        ["ger", "2-0", 2, 3],
        ["gfut", "10-0", null, null],
        ["gm", "3-0", null, null]
      ])
      yield* b.readGroup({ stream: "s", group: "g0", consumer: "c1", id: ">", count: 2 })
      yield* b.readGroup({ stream: "s", group: "gm", consumer: "c1", id: ">", count: 1 })
      const afterReads = yield* lagTable(b, "s")
      assert.deepStrictEqual(afterReads.find((g) => g[0] === "g0"), ["g0", "2-0", 2, 3])
      assert.deepStrictEqual(afterReads.find((g) => g[0] === "gm"), ["gm", "4-0", null, null])
      assert.strictEqual(yield* b.delete("s", ["4"]), 1)
      assert.deepStrictEqual(yield* lagTable(b, "s"), [
        ["g0", "2-0", 2, null],
        ["gbig", "2-0", 100, null],
        ["gd", "5-0", null, 0],
        ["ger", "2-0", 2, null],
        ["gfut", "10-0", null, null],
        ["gm", "4-0", null, null]
      ])
      yield* b.readGroup({ stream: "s", group: "g0", consumer: "c1", id: ">", count: 1 })
      assert.deepStrictEqual((yield* lagTable(b, "s"))[0], ["g0", "3-0", null, null])
      yield* b.readGroup({ stream: "s", group: "g0", consumer: "c1", id: ">", count: 10 })
      assert.deepStrictEqual((yield* lagTable(b, "s"))[0], ["g0", "5-0", 5, 0])
      const info = yield* b.streamInfo("s")
      assert.deepStrictEqual(
        [info.length, info.lastGeneratedId, info.maxDeletedEntryId, info.entriesAdded, info.recordedFirstEntryId],
        [4, "5-0", "4-0", 5, "1-0"]
      )
    }))

  it.effect("entries-read and lag around trimming", () =>
    Effect.gen(function*() {
      const b = yield* InMemoryBackend.make
      yield* addIds(b, "s", 1, 10)
      yield* b.createGroup("s", "g", { id: "0" })
      yield* b.readGroup({ stream: "s", group: "g", consumer: "c", id: ">", count: 3 })
      assert.strictEqual(yield* b.trim("s", { strategy: "maxlen", threshold: 5 }), 5)
      yield* b.createGroup("s", "g2", { id: "0" })
      yield* b.createGroup("s", "g3", { id: "7" })
      assert.deepStrictEqual(yield* lagTable(b, "s"), [
        ["g", "3-0", 3, 7],
        ["g2", "0-0", null, 5],
        ["g3", "7-0", null, null]
      ])
      yield* b.readGroup({ stream: "s", group: "g", consumer: "c", id: ">", count: 1 })
      yield* b.readGroup({ stream: "s", group: "g2", consumer: "c", id: ">", count: 1 })
      assert.deepStrictEqual(yield* lagTable(b, "s"), [
        ["g", "6-0", 4, 6],
        ["g2", "6-0", 6, 4],
        ["g3", "7-0", null, null]
      ])
      assert.strictEqual(yield* b.trim("s", { strategy: "maxlen", threshold: 0 }), 5)
      assert.deepStrictEqual((yield* lagTable(b, "s"))[2], ["g3", "7-0", null, 0])
      const info = yield* b.streamInfo("s")
      assert.deepStrictEqual([info.length, info.recordedFirstEntryId, info.firstEntry, info.lastEntry], [0, "0-0", null, null])
      assert.deepStrictEqual(yield* b.range("s"), [], "the empty stream is kept")
      yield* b.add("s", ["f", "v"], { id: "11" })
      assert.deepStrictEqual(yield* lagTable(b, "s"), [
        ["g", "6-0", 4, 7],
        ["g2", "6-0", 6, 5],
        ["g3", "7-0", null, 1]
      ])
    }))

  it.effect("XAUTOCLAIM scans at most COUNT * 10 pending entries; deleted entries count towards COUNT", () =>
    Effect.gen(function*() {
      const b = yield* InMemoryBackend.make
      yield* addIds(b, "s", 1, 22)
      yield* b.createGroup("s", "g", { id: "0" })
      yield* b.readGroup({ stream: "s", group: "g", consumer: "c1", id: ">" })
      const auto = (start: string, count: number, minIdleMs = 100_000) =>
        b.autoClaim({ stream: "s", group: "g", consumer: "c2", minIdleMs, start, count })
      assert.deepStrictEqual(yield* auto("0-0", 1), { next: "11-0", entries: [], deleted: [] })
      assert.deepStrictEqual(yield* auto("0-0", 2), { next: "21-0", entries: [], deleted: [] })
      assert.deepStrictEqual(yield* auto("0-0", 3), { next: "0-0", entries: [], deleted: [] })
      assert.deepStrictEqual(yield* auto("(20", 3), { next: "0-0", entries: [], deleted: [] })
      // nothing was claimed: the claiming consumer was not created
      assert.deepStrictEqual((yield* b.consumersInfo("s", "g")).map((c) => c.name), ["c1"])
      yield* b.delete("s", ["1", "2", "3"])
      assert.deepStrictEqual(yield* auto("0-0", 2, 0), { next: "3-0", entries: [], deleted: ["1-0", "2-0"] })
      assert.deepStrictEqual(yield* auto("0-0", 2, 0), {
        next: "5-0",
        entries: [{ id: "4-0", fields: ["f", "v"] }],
        deleted: ["3-0"]
      })
      assert.deepStrictEqual(
        (yield* b.pending({ stream: "s", group: "g", count: 3 })).map((p) => [p.id, p.consumer, p.deliveries]),
        [["4-0", "c2", 2], ["5-0", "c1", 1], ["6-0", "c1", 1]]
      )
    }))

  it.effect("re-reading pending entries: deleted ones come back with null fields; XCLAIM drops them", () =>
    Effect.gen(function*() {
      const b = yield* InMemoryBackend.make
      yield* addIds(b, "s", 1, 6)
      yield* b.createGroup("s", "g", { id: "0" })
      yield* b.readGroup({ stream: "s", group: "g", consumer: "c1", id: ">", count: 3 })
      yield* b.readGroup({ stream: "s", group: "g", consumer: "c2", id: ">", count: 3 })
      assert.strictEqual(yield* b.delete("s", ["2", "5"]), 2)
      assert.deepStrictEqual(yield* b.pendingSummary("s", "g"), {
        count: 6,
        first: "1-0",
        last: "6-0",
        consumers: [{ name: "c1", count: 3 }, { name: "c2", count: 3 }]
      })
      assert.deepStrictEqual(yield* b.readGroup({ stream: "s", group: "g", consumer: "c1", id: "0" }), [
        { id: "1-0", fields: ["f", "v"] },
        { id: "2-0", fields: null },
        { id: "3-0", fields: ["f", "v"] }
      ])
      assert.deepStrictEqual(yield* b.readGroup({ stream: "s", group: "g", consumer: "c1", id: "1" }), [
        { id: "2-0", fields: null },
        { id: "3-0", fields: ["f", "v"] }
      ])
      assert.deepStrictEqual(
        (yield* b.pending({ stream: "s", group: "g", count: 10 })).map((p) => [p.id, p.deliveries]),
        [["1-0", 2], ["2-0", 1], ["3-0", 3], ["4-0", 1], ["5-0", 1], ["6-0", 1]]
      )
      // "(6" as an end excludes only 6-18446744073709551615 (the incomplete id's highest sequence)
      assert.deepStrictEqual(
        (yield* b.pending({ stream: "s", group: "g", start: "(1", end: "(6", count: 10 })).map((p) => p.id),
        ["2-0", "3-0", "4-0", "5-0", "6-0"]
      )
      assert.deepStrictEqual(
        (yield* b.pending({ stream: "s", group: "g", start: "(1-0", end: "(6-0", count: 10 })).map((p) => p.id),
        ["2-0", "3-0", "4-0", "5-0"]
      )
      const claimed = yield* b.claim({ stream: "s", group: "g", consumer: "c3", minIdleMs: 0, ids: ["2", "1", "99", "5", "4"] })
      assert.deepStrictEqual(claimed.map((e) => e.id), ["1-0", "4-0"])
      assert.deepStrictEqual(
        (yield* b.pending({ stream: "s", group: "g", count: 10 })).map((p) => [p.id, p.consumer, p.deliveries]),
        [["1-0", "c3", 3], ["3-0", "c1", 3], ["4-0", "c3", 2], ["6-0", "c2", 1]]
      )
      assert.deepStrictEqual(
        yield* b.claimJustId({ stream: "s", group: "g", consumer: "c3", minIdleMs: 0, ids: ["4"] }),
        ["4-0"]
      )
      assert.strictEqual((yield* b.pending({ stream: "s", group: "g", start: "4", end: "4", count: 1 }))[0]!.deliveries, 2)
      assert.strictEqual(yield* b.deleteConsumer("s", "g", "c3"), 2)
      assert.deepStrictEqual(yield* b.pendingSummary("s", "g"), {
        count: 2,
        first: "3-0",
        last: "6-0",
        consumers: [{ name: "c1", count: 1 }, { name: "c2", count: 1 }]
      })
    }))

  it.effect("ids and their exact error replies", () =>
    Effect.gen(function*() {
      const b = yield* InMemoryBackend.make
      assert.strictEqual(yield* b.add("s", ["f", "v"], { id: "5-1" }), "5-1")
      assert.strictEqual(
        commandError(yield* b.add("s", ["f", "v"], { id: "5-1" }).pipe(Effect.flip)),
        "ERR The ID specified in XADD is equal or smaller than the target stream top item"
      )
      assert.strictEqual(
        commandError(yield* b.add("s", ["f", "v"], { id: "5" }).pipe(Effect.flip)),
        "ERR The ID specified in XADD is equal or smaller than the target stream top item"
      )
      assert.strictEqual(yield* b.add("s", ["f", "v"], { id: "5-*" }), "5-2")
      assert.strictEqual(
        commandError(yield* b.add("t", ["f", "v"], { id: "0-0" }).pipe(Effect.flip)),
        "ERR The ID specified in XADD must be greater than 0-0"
      )
      assert.strictEqual(yield* b.add("t", ["f", "v"], { id: "0-*" }), "0-1")
      for (const bad of ["abc", "-", "+", "5-", "1-2-3", "18446744073709551616"]) {
        assert.strictEqual(
          commandError(yield* b.add("s", ["f", "v"], { id: bad }).pipe(Effect.flip)),
          "ERR Invalid stream ID specified as stream command argument",
          bad
        )
      }
      // what the server's strtoull accepts
      assert.strictEqual(yield* b.add("s", ["f", "v"], { id: "6-01" }), "6-1")
      assert.strictEqual(yield* b.add("s", ["f", "v"], { id: "8--05" }), "8-18446744073709551611")
      assert.strictEqual(yield* b.add("u", ["f", "v"], { id: "18446744073709551615-18446744073709551615" }), "18446744073709551615-18446744073709551615")
      assert.strictEqual(
        commandError(yield* b.add("u", ["f", "v"]).pipe(Effect.flip)),
        "ERR The stream has exhausted the last possible ID, unable to add more items"
      )
      assert.strictEqual((yield* b.add("nokey", ["f", "v"], { noMkStream: true }).pipe(Effect.flip))._tag, "StreamNotFound")
      assert.strictEqual(
        commandError(yield* b.add("s", ["f"]).pipe(Effect.flip)),
        "ERR wrong number of arguments for 'xadd' command"
      )
      assert.strictEqual(
        commandError(yield* b.trim("s", { strategy: "maxlen", threshold: 1, limit: 5 }).pipe(Effect.flip)),
        "ERR syntax error, LIMIT cannot be used without the special ~ option"
      )
      assert.strictEqual(
        commandError(yield* b.range("s", { start: "(18446744073709551615-18446744073709551615" }).pipe(Effect.flip)),
        "ERR invalid start ID for the interval"
      )
      assert.deepStrictEqual((yield* b.range("s", { start: "5", end: "5" })).map((e) => e.id), ["5-1", "5-2"])
      assert.deepStrictEqual((yield* b.range("s", { start: "(5-1", end: "(6", reverse: true })).map((e) => e.id), [
        "6-1",
        "5-2"
      ])
      assert.deepStrictEqual((yield* b.range("s", { start: "(5-1", end: "(6-1" })).map((e) => e.id), ["5-2"])
      assert.deepStrictEqual(yield* b.range("s", { count: 0 }), [])
    }))

  it.effect("missing keys and groups map to the port's errors", () =>
    Effect.gen(function*() {
      const b = yield* InMemoryBackend.make
      yield* b.add("s", ["f", "v"])
      assert.strictEqual(yield* b.length("nokey"), 0)
      assert.strictEqual(yield* b.ack("nokey", "g", ["1-0"]), 0)
      assert.strictEqual(yield* b.trim("nokey", { strategy: "maxlen", threshold: 0 }), 0)
      assert.strictEqual((yield* b.createGroup("nokey", "g", { id: "0" }).pipe(Effect.flip))._tag, "StreamNotFound")
      assert.strictEqual((yield* b.destroyGroup("nokey", "g").pipe(Effect.flip))._tag, "StreamNotFound")
      assert.isFalse(yield* b.destroyGroup("s", "nog"))
      const nogroup = yield* b.readGroup({ stream: "s", group: "nog", consumer: "c", id: ">" }).pipe(Effect.flip)
      assert.strictEqual(nogroup._tag, "GroupNotFound")
      assert.strictEqual((yield* b.pendingSummary("nokey", "g").pipe(Effect.flip))._tag, "GroupNotFound")
      assert.strictEqual((yield* b.consumersInfo("nokey", "g").pipe(Effect.flip))._tag, "StreamNotFound")
      assert.strictEqual((yield* b.consumersInfo("s", "g").pipe(Effect.flip))._tag, "GroupNotFound")
      assert.strictEqual((yield* b.setGroupId("s", "nog", "0").pipe(Effect.flip))._tag, "GroupNotFound")
      yield* b.createGroup("s", "g", { id: "$" })
      assert.strictEqual(
        commandError(yield* b.readGroup({ stream: "s", group: "g", consumer: "c", id: "$" }).pipe(Effect.flip)).slice(0, 35),
        "ERR The $ ID is meaningless in the "
      )
      // a ">" read with nothing new does not create the consumer; a history read does
      assert.deepStrictEqual(yield* b.readGroup({ stream: "s", group: "g", consumer: "c", id: ">" }), [])
      assert.deepStrictEqual(yield* b.consumersInfo("s", "g"), [])
      assert.deepStrictEqual(yield* b.readGroup({ stream: "s", group: "g", consumer: "c", id: "0" }), [])
      assert.deepStrictEqual((yield* b.consumersInfo("s", "g")).map((c) => c.name), ["c"])
    }))
})

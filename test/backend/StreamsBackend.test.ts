/**
 * The StreamsBackend port, one suite over both backends: the in-memory backend
 * under TestClock and a real Redis in real time (see test/src/Harness.ts).
 *
 * Expected values are Redis 7.0 replies (checked against redis-server 7.0.15).
 * Ids are explicit wherever a case compares whole values, so both backends
 * must give exactly the same reply. Idle times are exact on memory (time only
 * moves through `TestKit.sleep`) and within a tolerance on Redis.
 */
import { assert } from "@effect/vitest"
import { Clock, Effect, Either, Exit, Fiber, Option, Scope } from "effect"
import type { StreamsError } from "effect-redis-streams"
import { StreamsBackend } from "effect-redis-streams"
import { forEachBackend, TestKit } from "../src/Harness.js"

type BackendError = StreamsError.BackendError
type Tag = BackendError["_tag"]

// -----------------------------------------------------------------------------
// helpers
// -----------------------------------------------------------------------------

const ID_PATTERN = /^\d+-\d+$/

const parseId = (id: string): readonly [bigint, bigint] => {
  const [ms, seq] = id.split("-")
  return [BigInt(ms!), BigInt(seq ?? "0")]
}

const compareIds = (a: string, b: string): number => {
  const [am, as] = parseId(a)
  const [bm, bs] = parseId(b)
  if (am !== bm) return am < bm ? -1 : 1
  if (as !== bs) return as < bs ? -1 : 1
  return 0
}

/** run `self`, expect it to fail with `tag`, return the narrowed error */
const failsWith = <T extends Tag, A>(
  self: Effect.Effect<A, BackendError>,
  tag: T,
  label = ""
): Effect.Effect<Extract<BackendError, { readonly _tag: T }>> =>
  Effect.either(self).pipe(
    Effect.map((result) => {
      if (Either.isRight(result)) {
        assert.fail(`${label} expected a ${tag} failure, got a success: ${JSON.stringify(result.right)}`)
      }
      const error = result.left
      assert.strictEqual(error._tag, tag, `${label} expected ${tag}, got ${error._tag}: ${error.message}`)
      return error as Extract<BackendError, { readonly _tag: T }>
    })
  )

/** how far a real-Redis idle time may exceed the time we let pass (a loaded 2-core machine) */
const IDLE_TOLERANCE_MS = 2_000

/** exact on memory, within [expected - 5, expected + tolerance] on Redis */
const assertIdle = (backend: "memory" | "redis", actual: number, expected: number, what = "idle"): void => {
  if (backend === "memory") {
    assert.strictEqual(actual, expected, `${what}: expected exactly ${expected} ms, got ${actual}`)
  } else {
    assert.isTrue(
      actual >= expected - 5 && actual <= expected + IDLE_TOLERANCE_MS,
      `${what}: expected ${expected} ms (+${IDLE_TOLERANCE_MS}), got ${actual}`
    )
  }
}

const entry = (id: string, ...fields: Array<string>) => ({ id, fields })

/** add entries with explicit ids `ids`, fields ["n", id] */
const seed = (stream: string, ids: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const backend = yield* StreamsBackend.StreamsBackend
    for (const id of ids) {
      yield* backend.add(stream, ["n", id], { id })
    }
  })

const services = Effect.all({ backend: StreamsBackend.StreamsBackend, kit: TestKit })

/** the server answers like Redis 7.0 (the in-memory backend models 7.0) */
const is70 = (version: string): boolean => version.startsWith("7.0.")

const XADD_TOP = "ERR The ID specified in XADD is equal or smaller than the target stream top item"
const XADD_ZERO = "ERR The ID specified in XADD must be greater than 0-0"
const INVALID_ID = "ERR Invalid stream ID specified as stream command argument"
const LIMIT_WITHOUT_TILDE = "ERR syntax error, LIMIT cannot be used without the special ~ option"

// -----------------------------------------------------------------------------
// the suite
// -----------------------------------------------------------------------------

forEachBackend("StreamsBackend", (it, backendName) => {
  // ---------------------------------------------------------------- add

  it.effect("add: generated ids increase and carry the clock's milliseconds", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("add-gen")
      const before = yield* Clock.currentTimeMillis
      const ids: Array<string> = []
      for (let i = 0; i < 5; i++) ids.push(yield* backend.add(key, ["n", String(i)]))
      yield* kit.sleep(3)
      ids.push(yield* backend.add(key, ["n", "5"]))
      const after = yield* Clock.currentTimeMillis
      // the server's clock: exact on memory (TestClock); on Redis allow for a server on another host
      const skew = backendName === "memory" ? 0 : 2_000
      for (const id of ids) {
        assert.match(id, ID_PATTERN)
        const ms = Number(parseId(id)[0])
        assert.isTrue(ms >= before - skew && ms <= after + skew, `id ${id} outside [${before}, ${after}] ± ${skew}`)
      }
      for (let i = 1; i < ids.length; i++) {
        assert.isTrue(compareIds(ids[i - 1]!, ids[i]!) < 0, `${ids[i - 1]} < ${ids[i]}`)
      }
      // the last one was added after time moved on: a later millisecond
      assert.isTrue(parseId(ids[5]!)[0] > parseId(ids[0]!)[0])
      assert.deepStrictEqual(
        (yield* backend.range(key)).map((e) => e.id),
        ids
      )
    }))

  it.effect("add: generated ids in the top id's millisecond get the next sequence numbers", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("add-seq")
      // a top id far in the future: the clock is behind, so Redis reuses the top's ms
      const top = yield* backend.add(key, ["a", "1"], { id: "9999999999999-5" })
      const g1 = yield* backend.add(key, ["a", "2"])
      const g2 = yield* backend.add(key, ["a", "3"])
      const star = yield* backend.add(key, ["a", "4"], { id: "9999999999999-*" })
      const g3 = yield* backend.add(key, ["a", "5"])
      assert.deepStrictEqual(
        [top, g1, g2, star, g3],
        ["9999999999999-5", "9999999999999-6", "9999999999999-7", "9999999999999-8", "9999999999999-9"]
      )
    }))

  it.effect("add: explicit ids ms-seq, ms-* and bare ms", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("add-explicit")
      const ids = [
        yield* backend.add(key, ["a", "1"], { id: "0-*" }),
        yield* backend.add(key, ["a", "2"], { id: "5-1" }),
        yield* backend.add(key, ["a", "3"], { id: "5-*" }),
        yield* backend.add(key, ["a", "4"], { id: "6-*" }),
        yield* backend.add(key, ["a", "5"], { id: "7" }),
        yield* backend.add(key, ["a", "6"], { id: "7-18" })
      ]
      assert.deepStrictEqual(ids, ["0-1", "5-1", "5-2", "6-0", "7-0", "7-18"])
      assert.deepStrictEqual(yield* backend.range(key), [
        entry("0-1", "a", "1"),
        entry("5-1", "a", "2"),
        entry("5-2", "a", "3"),
        entry("6-0", "a", "4"),
        entry("7-0", "a", "5"),
        entry("7-18", "a", "6")
      ])
    }))

  it.effect("add: an id not greater than the top fails with Redis's reply and changes nothing", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("add-top")
      yield* backend.add(key, ["a", "1"], { id: "5-1" })
      for (const id of ["5-1", "4-9", "5", "5-0", "0-1"]) {
        const err = yield* failsWith(backend.add(key, ["a", "2"], { id }), "RedisCommandError")
        assert.strictEqual(err.reply, XADD_TOP, `id ${id}`)
        assert.strictEqual(err.command.toUpperCase(), "XADD")
      }
      // an explicit ms-* below the top's ms fails the same way
      const star = yield* failsWith(backend.add(key, ["a", "2"], { id: "4-*" }), "RedisCommandError")
      assert.strictEqual(star.reply, XADD_TOP)
      assert.strictEqual(yield* backend.length(key), 1)
      assert.strictEqual((yield* backend.streamInfo(key)).entriesAdded, 1)
    }))

  it.effect("add: 0-0 and malformed ids are rejected like Redis, without creating the key", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("add-zero")
      for (const id of ["0-0", "0"]) {
        const err = yield* failsWith(backend.add(key, ["a", "1"], { id }), "RedisCommandError")
        assert.strictEqual(err.reply, XADD_ZERO)
      }
      for (const id of ["abc", "1-x", "-1"]) {
        const err = yield* failsWith(backend.add(key, ["a", "1"], { id }), "RedisCommandError")
        assert.strictEqual(err.reply, INVALID_ID, `id ${id}`)
      }
      assert.strictEqual(yield* backend.length(key), 0)
      yield* failsWith(backend.streamInfo(key), "StreamNotFound")
    }))

  it.effect("add: MAXLEN exact keeps exactly the newest entries", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("add-maxlen")
      for (let i = 1; i <= 10; i++) {
        yield* backend.add(key, ["n", String(i)], { id: `${i}-0`, trim: { strategy: "maxlen", threshold: 3 } })
      }
      assert.strictEqual(yield* backend.length(key), 3)
      assert.deepStrictEqual(yield* backend.range(key), [
        entry("8-0", "n", "8"),
        entry("9-0", "n", "9"),
        entry("10-0", "n", "10")
      ])
      const info = yield* backend.streamInfo(key)
      assert.strictEqual(info.entriesAdded, 10)
      assert.strictEqual(info.recordedFirstEntryId, "8-0")
      // trimming is not deletion: max-deleted-entry-id stays 0-0
      assert.strictEqual(info.maxDeletedEntryId, "0-0")
      // MAXLEN 0 drops the entry just added but keeps the (empty) stream
      const id = yield* backend.add(key, ["n", "11"], { id: "11-0", trim: { strategy: "maxlen", threshold: 0 } })
      assert.strictEqual(id, "11-0")
      assert.strictEqual(yield* backend.length(key), 0)
      const empty = yield* backend.streamInfo(key)
      assert.deepStrictEqual(
        [empty.length, empty.lastGeneratedId, empty.recordedFirstEntryId, empty.firstEntry, empty.lastEntry],
        [0, "11-0", "0-0", null, null]
      )
    }))

  it.effect("add: MAXLEN ~ keeps at least the threshold and never removes more than exact trimming", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("add-approx")
      const ids = yield* backend.addMany(key, Array.from({ length: 250 }, (_, i) => ["n", String(i)]))
      const last = yield* backend.add(key, ["n", "250"], {
        trim: { strategy: "maxlen", threshold: 10, approximate: true }
      })
      const all = [...ids, last]
      const length = yield* backend.length(key)
      assert.isTrue(length >= 10 && length <= 251, `length ${length}`)
      // whatever was removed, it was the oldest entries
      assert.deepStrictEqual((yield* backend.range(key)).map((e) => e.id), all.slice(251 - length))
      // XTRIM ~ too: the count it reports matches what went away
      const removed = yield* backend.trim(key, { strategy: "maxlen", threshold: 5, approximate: true })
      const after = yield* backend.length(key)
      assert.isTrue(after >= 5, `length ${after}`)
      assert.strictEqual(removed, length - after)
      assert.deepStrictEqual((yield* backend.range(key)).map((e) => e.id), all.slice(251 - after))
    }))

  it.effect("add: MINID removes the entries below the id", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("add-minid")
      yield* seed(key, ["1-0", "2-0", "3-0", "4-0", "4-1", "5-0"])
      yield* backend.add(key, ["n", "6-0"], { id: "6-0", trim: { strategy: "minid", threshold: "4" } })
      assert.deepStrictEqual((yield* backend.range(key)).map((e) => e.id), ["4-0", "4-1", "5-0", "6-0"])
      yield* backend.add(key, ["n", "7-0"], { id: "7-0", trim: { strategy: "minid", threshold: "4-1" } })
      assert.deepStrictEqual((yield* backend.range(key)).map((e) => e.id), ["4-1", "5-0", "6-0", "7-0"])
      // an id above everything removes everything, including the entry just added
      yield* backend.add(key, ["n", "8-0"], { id: "8-0", trim: { strategy: "minid", threshold: "100" } })
      assert.strictEqual(yield* backend.length(key), 0)
    }))

  it.effect("add/trim: LIMIT caps approximate trimming and is refused without ~", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("add-limit")
      yield* backend.addMany(key, Array.from({ length: 250 }, (_, i) => ["n", String(i)]))
      yield* backend.add(key, ["n", "x"], {
        trim: { strategy: "maxlen", threshold: 0, approximate: true, limit: 50 }
      })
      const length = yield* backend.length(key)
      assert.isTrue(length >= 251 - 50 && length <= 251, `length ${length}`)
      const removed = yield* backend.trim(key, { strategy: "maxlen", threshold: 0, approximate: true, limit: 120 })
      assert.isTrue(removed >= 0 && removed <= 120, `removed ${removed}`)
      assert.strictEqual(yield* backend.length(key), length - removed)
      // LIMIT without ~ is a syntax error in Redis, for XADD and XTRIM
      const onAdd = yield* failsWith(
        backend.add(key, ["n", "y"], { trim: { strategy: "maxlen", threshold: 0, limit: 10 } }),
        "RedisCommandError"
      )
      assert.strictEqual(onAdd.reply, LIMIT_WITHOUT_TILDE)
      const onTrim = yield* failsWith(
        backend.trim(key, { strategy: "minid", threshold: "0-1", limit: 10 }),
        "RedisCommandError"
      )
      assert.strictEqual(onTrim.reply, LIMIT_WITHOUT_TILDE)
      assert.strictEqual(yield* backend.length(key), length - removed)
    }))

  it.effect("add: NOMKSTREAM on a missing stream fails with StreamNotFound and creates nothing", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("add-nomk")
      const err = yield* failsWith(backend.add(key, ["a", "1"], { noMkStream: true }), "StreamNotFound")
      assert.strictEqual(err.stream, key)
      assert.strictEqual(yield* backend.length(key), 0)
      yield* failsWith(backend.streamInfo(key), "StreamNotFound")
      // the batch form too
      const many = yield* failsWith(backend.addMany(key, [["a", "1"]], { noMkStream: true }), "StreamNotFound")
      assert.strictEqual(many.stream, key)
      // on an existing stream NOMKSTREAM adds normally
      yield* backend.add(key, ["a", "1"], { id: "1-0" })
      assert.strictEqual(yield* backend.add(key, ["a", "2"], { id: "2-0", noMkStream: true }), "2-0")
      assert.strictEqual(yield* backend.length(key), 2)
    }))

  it.effect("addMany: ids in order, fields in order, repeated field names kept", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("addmany")
      const batch = [["a", "1"], ["a", "1", "a", "2"], ["b", ""], ["x", "y", "z", "w"]]
      const ids = yield* backend.addMany(key, batch)
      assert.strictEqual(ids.length, 4)
      for (const id of ids) assert.match(id, ID_PATTERN)
      for (let i = 1; i < ids.length; i++) assert.isTrue(compareIds(ids[i - 1]!, ids[i]!) < 0)
      assert.deepStrictEqual(yield* backend.range(key), ids.map((id, i) => ({ id, fields: batch[i]! })))
      assert.deepStrictEqual(yield* backend.addMany(key, []), [])
      assert.strictEqual(yield* backend.length(key), 4)
    }))

  it.effect("addMany: one failing XADD among several chunks fails the call with the first error; the others apply", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("addmany-partial")
      // 2,500 entries: ten chunks on Redis (scripts; the two holding an odd field list, XADD's arity error, pipelines)
      const batch = Array.from({ length: 2500 }, (_, i) => i === 1500 || i === 2200 ? ["lonely"] : ["n", String(i)])
      const err = yield* failsWith(backend.addMany(key, batch), "RedisCommandError")
      assert.strictEqual(err.command, "XADD")
      assert.match(err.reply, /wrong number of arguments/i)
      // Redis ran every other XADD, in order
      assert.strictEqual(yield* backend.length(key), 2498)
      const all = yield* backend.range(key, { count: 3000 })
      assert.deepStrictEqual(
        all.map((e) => e.fields[1]),
        batch.flatMap((f, i) => f.length === 2 ? [String(i)] : [])
      )
    }))

  it.effect("addMany: 2,500 entries (ten script chunks on Redis) with NOMKSTREAM and MAXLEN on an existing stream", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("addmany-chunks")
      yield* backend.add(key, ["n", "first"])
      const batch = Array.from({ length: 2500 }, (_, i) => ["n", String(i), "pad", "x".repeat(i % 7)])
      const ids = yield* backend.addMany(key, batch, { noMkStream: true, trim: { strategy: "maxlen", threshold: 1200 } })
      assert.strictEqual(ids.length, 2500)
      for (let i = 1; i < ids.length; i++) assert.isTrue(compareIds(ids[i - 1]!, ids[i]!) < 0)
      // trimmed after every add, as XADD MAXLEN does: the last 1,200 remain
      assert.deepStrictEqual(yield* backend.range(key, { count: 3000 }), ids.slice(1300).map((id, i) => ({ id, fields: batch[1300 + i]! })))
      assert.strictEqual((yield* backend.streamInfo(key)).entriesAdded, 2501)
    }))

  it.effect("addMany: a trim option applies to every add", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("addmany-trim")
      yield* backend.add(key, ["n", "top"], { id: "9999999999999-0" })
      const ids = yield* backend.addMany(key, [["n", "1"], ["n", "2"], ["n", "3"], ["n", "4"]], {
        trim: { strategy: "maxlen", threshold: 2 }
      })
      assert.deepStrictEqual(ids, ["9999999999999-1", "9999999999999-2", "9999999999999-3", "9999999999999-4"])
      assert.deepStrictEqual(yield* backend.range(key), [
        entry("9999999999999-3", "n", "3"),
        entry("9999999999999-4", "n", "4")
      ])
      assert.strictEqual((yield* backend.streamInfo(key)).entriesAdded, 5)
    }))

  // ---------------------------------------------------------------- readGroup

  it.effect("readGroup >: new entries in order, COUNT limits, then nothing", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("read")
      yield* seed(key, ["1-0", "2-0", "3-0", "4-0", "5-0"])
      assert.isTrue(yield* backend.createGroup(key, "g", { id: "0" }))
      const opts = { stream: key, group: "g", consumer: "c1", id: ">" }
      assert.deepStrictEqual(yield* backend.readGroup({ ...opts, count: 2 }), [
        entry("1-0", "n", "1-0"),
        entry("2-0", "n", "2-0")
      ])
      assert.deepStrictEqual(yield* backend.readGroup(opts), [
        entry("3-0", "n", "3-0"),
        entry("4-0", "n", "4-0"),
        entry("5-0", "n", "5-0")
      ])
      assert.deepStrictEqual(yield* backend.readGroup(opts), [])
      // another consumer of the same group sees nothing either: the group moved on
      assert.deepStrictEqual(yield* backend.readGroup({ ...opts, consumer: "c2" }), [])
      yield* backend.add(key, ["n", "6-0"], { id: "6-0" })
      assert.deepStrictEqual(yield* backend.readGroup({ ...opts, consumer: "c2" }), [entry("6-0", "n", "6-0")])
      const summary = yield* backend.pendingSummary(key, "g")
      assert.deepStrictEqual(summary, {
        count: 6,
        first: "1-0",
        last: "6-0",
        consumers: [{ name: "c1", count: 5 }, { name: "c2", count: 1 }]
      })
    }))

  it.effect("readGroup own pending from 0: re-delivered with deliveries +1; deleted entries have null fields", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("read-own")
      yield* seed(key, ["1-0", "2-0", "3-0", "4-0"])
      yield* backend.createGroup(key, "g", { id: "0" })
      yield* backend.readGroup({ stream: key, group: "g", consumer: "c", id: ">" })
      assert.strictEqual(yield* backend.delete(key, ["2-0"]), 1)
      const again = yield* backend.readGroup({ stream: key, group: "g", consumer: "c", id: "0", count: 3 })
      assert.deepStrictEqual(again, [
        entry("1-0", "n", "1-0"),
        { id: "2-0", fields: null },
        entry("3-0", "n", "3-0")
      ])
      const pending = yield* backend.pending({ stream: key, group: "g", count: 10 })
      assert.deepStrictEqual(pending.map((p) => [p.id, p.consumer, p.deliveries]), [
        // Redis 7.0 does not count a re-delivery of a deleted entry
        ["1-0", "c", 2],
        ["2-0", "c", is70(backend.serverVersion) ? 1 : pending[1]!.deliveries],
        ["3-0", "c", 2],
        ["4-0", "c", 1]
      ])
      // the deleted entry stays pending until acknowledged
      assert.strictEqual((yield* backend.pendingSummary(key, "g")).count, 4)
      assert.strictEqual(yield* backend.ack(key, "g", ["2-0"]), 1)
      assert.deepStrictEqual(
        (yield* backend.readGroup({ stream: key, group: "g", consumer: "c", id: "0" })).map((e) => e.id),
        ["1-0", "3-0", "4-0"]
      )
    }))

  it.effect("readGroup own pending after an id: exclusive, and only this consumer's entries", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("read-own-after")
      yield* seed(key, ["1-0", "2-0", "3-0", "4-0"])
      yield* backend.createGroup(key, "g", { id: "0" })
      yield* backend.readGroup({ stream: key, group: "g", consumer: "c1", id: ">", count: 2 })
      yield* backend.readGroup({ stream: key, group: "g", consumer: "c2", id: ">", count: 2 })
      assert.deepStrictEqual(
        yield* backend.readGroup({ stream: key, group: "g", consumer: "c1", id: "1-0" }),
        [entry("2-0", "n", "2-0")]
      )
      assert.deepStrictEqual(
        yield* backend.readGroup({ stream: key, group: "g", consumer: "c2", id: "0" }),
        [entry("3-0", "n", "3-0"), entry("4-0", "n", "4-0")]
      )
      assert.deepStrictEqual(
        yield* backend.readGroup({ stream: key, group: "g", consumer: "c2", id: "0", count: 1 }),
        [entry("3-0", "n", "3-0")]
      )
      assert.deepStrictEqual(yield* backend.readGroup({ stream: key, group: "g", consumer: "c2", id: "4-0" }), [])
      // a consumer with nothing pending gets nothing (and is created by the read)
      assert.deepStrictEqual(yield* backend.readGroup({ stream: key, group: "g", consumer: "c3", id: "0" }), [])
      assert.deepStrictEqual(
        (yield* backend.consumersInfo(key, "g")).map((c) => [c.name, c.pending]),
        [["c1", 2], ["c2", 2], ["c3", 0]]
      )
    }))

  it.effect("readGroup NOACK: delivered, group advanced, nothing pending", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("read-noack")
      yield* seed(key, ["1-0", "2-0", "3-0"])
      yield* backend.createGroup(key, "g", { id: "0" })
      const got = yield* backend.readGroup({ stream: key, group: "g", consumer: "c", id: ">", noAck: true })
      assert.deepStrictEqual(got.map((e) => e.id), ["1-0", "2-0", "3-0"])
      assert.deepStrictEqual(yield* backend.pendingSummary(key, "g"), {
        count: 0,
        first: null,
        last: null,
        consumers: []
      })
      assert.deepStrictEqual(yield* backend.groupsInfo(key), [{
        name: "g",
        consumers: 1,
        pending: 0,
        lastDeliveredId: "3-0",
        entriesRead: 3,
        lag: 0
      }])
      assert.deepStrictEqual(yield* backend.readGroup({ stream: key, group: "g", consumer: "c", id: "0" }), [])
      assert.deepStrictEqual(yield* backend.readGroup({ stream: key, group: "g", consumer: "c", id: ">" }), [])
    }))

  it.effect("readGroup creates consumers that receive entries", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("read-consumers")
      yield* backend.createGroup(key, "g", { id: "0", mkStream: true })
      assert.deepStrictEqual(yield* backend.consumersInfo(key, "g"), [])
      // Redis 7.0: a non-blocking `>` read that finds nothing does not create the consumer
      assert.deepStrictEqual(yield* backend.readGroup({ stream: key, group: "g", consumer: "idle", id: ">" }), [])
      if (is70(backend.serverVersion)) assert.deepStrictEqual(yield* backend.consumersInfo(key, "g"), [])
      yield* seed(key, ["1-0", "2-0", "3-0"])
      yield* backend.readGroup({ stream: key, group: "g", consumer: "b", id: ">", count: 1 })
      yield* backend.readGroup({ stream: key, group: "g", consumer: "a", id: ">", count: 2 })
      const consumers = (yield* backend.consumersInfo(key, "g")).filter((c) => c.name !== "idle")
      assert.deepStrictEqual(consumers.map((c) => [c.name, c.pending]), [["a", 2], ["b", 1]])
      assert.strictEqual((yield* backend.groupsInfo(key))[0]!.consumers, (yield* backend.consumersInfo(key, "g")).length)
    }))

  it.effect("readGroup: NOGROUP becomes GroupNotFound naming the stream and the group", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("nogroup")
      const missing = kit.key("nogroup-missing")
      yield* seed(key, ["1-0"])
      for (const stream of [key, missing]) {
        for (const id of [">", "0"]) {
          const err = yield* failsWith(
            backend.readGroup({ stream, group: "nope", consumer: "c", id }),
            "GroupNotFound"
          )
          assert.strictEqual(err.stream, stream)
          assert.strictEqual(err.group, "nope")
        }
      }
      // nothing was created by the failed reads
      assert.strictEqual(yield* backend.length(missing), 0)
      assert.deepStrictEqual(yield* backend.groupsInfo(key), [])
    }))

  it.effect("group commands on a missing group fail with GroupNotFound naming stream and group", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("nogroup-cmds")
      yield* seed(key, ["1-0"])
      const g = "nope"
      const claimOpts = { stream: key, group: g, consumer: "c", minIdleMs: 0, ids: ["1-0"] }
      const cases: ReadonlyArray<readonly [string, Effect.Effect<unknown, BackendError>]> = [
        ["pendingSummary", backend.pendingSummary(key, g)],
        ["pending", backend.pending({ stream: key, group: g, count: 10 })],
        ["claim", backend.claim(claimOpts)],
        ["claimJustId", backend.claimJustId(claimOpts)],
        ["autoClaim", backend.autoClaim({ stream: key, group: g, consumer: "c", minIdleMs: 0, start: "0-0" })],
        ["consumersInfo", backend.consumersInfo(key, g)],
        ["createConsumer", backend.createConsumer(key, g, "c")],
        ["deleteConsumer", backend.deleteConsumer(key, g, "c")],
        ["setGroupId", backend.setGroupId(key, g, "0")]
      ]
      for (const [name, op] of cases) {
        const err = yield* failsWith(op, "GroupNotFound", name)
        assert.strictEqual(err.stream, key, name)
        assert.strictEqual(err.group, g, name)
      }
      // XACK on a missing group is not an error in Redis: nothing was pending
      assert.strictEqual(yield* backend.ack(key, g, ["1-0"]), 0)
    }))

  it.effect("commands on a missing stream: GroupNotFound, StreamNotFound or empty, like Redis", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("missing")
      const claimOpts = { stream: key, group: "g", consumer: "c", minIdleMs: 0, ids: ["1-0"] }
      // NOGROUP "No such key ... or consumer group"
      for (
        const op of [
          backend.pendingSummary(key, "g"),
          backend.pending({ stream: key, group: "g", count: 10 }),
          backend.claim(claimOpts),
          backend.autoClaim({ stream: key, group: "g", consumer: "c", minIdleMs: 0, start: "0-0" })
        ] as ReadonlyArray<Effect.Effect<unknown, BackendError>>
      ) {
        const err = yield* failsWith(op, "GroupNotFound")
        assert.strictEqual(err.stream, key)
      }
      // "ERR no such key" and XGROUP's "requires the key to exist"
      for (
        const op of [
          backend.streamInfo(key),
          backend.groupsInfo(key),
          backend.consumersInfo(key, "g"),
          backend.createGroup(key, "g", { id: "0" }),
          backend.destroyGroup(key, "g"),
          backend.createConsumer(key, "g", "c"),
          backend.deleteConsumer(key, "g", "c"),
          backend.setGroupId(key, "g", "0")
        ] as ReadonlyArray<Effect.Effect<unknown, BackendError>>
      ) {
        const err = yield* failsWith(op, "StreamNotFound")
        assert.strictEqual(err.stream, key)
      }
      // plain zero / empty replies
      assert.strictEqual(yield* backend.length(key), 0)
      assert.deepStrictEqual(yield* backend.range(key), [])
      assert.deepStrictEqual(yield* backend.range(key, { reverse: true }), [])
      assert.strictEqual(yield* backend.delete(key, ["1-0"]), 0)
      assert.strictEqual(yield* backend.trim(key, { strategy: "maxlen", threshold: 0 }), 0)
      assert.strictEqual(yield* backend.ack(key, "g", ["1-0"]), 0)
      // and none of them created the key
      yield* failsWith(backend.streamInfo(key), "StreamNotFound")
    }))

  it.effect("WRONGTYPE becomes WrongKeyType naming the key, for every kind of command", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("wrongtype")
      yield* kit.setString(key, "not a stream")
      const claimOpts = { stream: key, group: "g", consumer: "c", minIdleMs: 0, ids: ["1-0"] }
      const cases: ReadonlyArray<readonly [string, Effect.Effect<unknown, BackendError>]> = [
        ["add", backend.add(key, ["a", "1"])],
        ["add NOMKSTREAM", backend.add(key, ["a", "1"], { noMkStream: true })],
        ["addMany", backend.addMany(key, [["a", "1"], ["a", "2"]])],
        ["readGroup", backend.readGroup({ stream: key, group: "g", consumer: "c", id: ">" })],
        ["ack", backend.ack(key, "g", ["1-0"])],
        ["ackAndDelete", backend.ackAndDelete(key, "g", ["1-0"])],
        ["pendingSummary", backend.pendingSummary(key, "g")],
        ["pending", backend.pending({ stream: key, group: "g", count: 1 })],
        ["claim", backend.claim(claimOpts)],
        ["claimJustId", backend.claimJustId(claimOpts)],
        ["autoClaim", backend.autoClaim({ stream: key, group: "g", consumer: "c", minIdleMs: 0, start: "0-0" })],
        ["streamInfo", backend.streamInfo(key)],
        ["groupsInfo", backend.groupsInfo(key)],
        ["consumersInfo", backend.consumersInfo(key, "g")],
        ["createGroup", backend.createGroup(key, "g", { id: "0", mkStream: true })],
        ["destroyGroup", backend.destroyGroup(key, "g")],
        ["createConsumer", backend.createConsumer(key, "g", "c")],
        ["deleteConsumer", backend.deleteConsumer(key, "g", "c")],
        ["setGroupId", backend.setGroupId(key, "g", "0")],
        ["delete", backend.delete(key, ["1-0"])],
        ["trim", backend.trim(key, { strategy: "maxlen", threshold: 0 })],
        ["length", backend.length(key)],
        ["range", backend.range(key)],
        ["range reverse", backend.range(key, { reverse: true })]
      ]
      const wrong: Array<string> = []
      for (const [name, op] of cases) {
        const result = yield* Effect.either(op)
        if (Either.isRight(result) || result.left._tag !== "WrongKeyType" || result.left.key !== key) {
          wrong.push(`${name}: ${Either.isRight(result) ? "succeeded" : `${result.left._tag} ${result.left.message}`}`)
        }
      }
      assert.deepStrictEqual(wrong, [])
    }))

  // ---------------------------------------------------------------- lanes

  it.effect("lane: operations given a lane, open or closed, do what they do without one", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("lane")
      yield* backend.createGroup(key, "g", { id: "0", mkStream: true })
      const ids = yield* backend.addMany(key, [["n", "1"], ["n", "2"], ["n", "3"], ["n", "4"]])
      const scope = yield* Scope.make()
      const lane = yield* Scope.extend(backend.lane, scope)
      assert.isTrue(lane.open)
      const first = yield* backend.readGroup({ stream: key, group: "g", consumer: "c", id: ">", count: 2, lane })
      assert.deepStrictEqual(first.map((e) => e.id), ids.slice(0, 2))
      const pending = yield* backend.pending({ stream: key, group: "g", count: 10, consumer: "c", lane })
      assert.deepStrictEqual(pending.map((p) => [p.id, p.deliveries]), [[ids[0], 1], [ids[1], 1]])
      const next = yield* backend.ackThenRead(key, "g", [ids[0]!], { stream: key, group: "g", consumer: "c", id: ">", count: 1 }, {
        lane
      })
      assert.strictEqual(next.acked, 1)
      assert.deepStrictEqual(Either.getOrThrow(next.read).map((e) => e.id), [ids[2]])
      yield* Scope.close(scope, Exit.void)
      assert.isFalse(lane.open)
      // closed: the same operations, on the backend's connection
      assert.strictEqual(yield* backend.ack(key, "g", [ids[1]!, ids[2]!], { lane }), 2)
      const last = yield* backend.readGroup({ stream: key, group: "g", consumer: "c", id: ">", lane })
      assert.deepStrictEqual(last.map((e) => e.id), [ids[3]])
      assert.strictEqual(yield* backend.ackAndDelete(key, "g", [ids[3]!], { lane }), 1)
      assert.strictEqual((yield* backend.pendingSummary(key, "g")).count, 0)
      assert.strictEqual(yield* backend.length(key), 3)
    }))

  // ---------------------------------------------------------------- blocking reads

  it.scoped("blockingReader: a blocked read wakes up when an entry is added", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("block-wake")
      yield* backend.createGroup(key, "g", { id: "$", mkStream: true })
      const reader = yield* backend.blockingReader
      const start = yield* Clock.currentTimeMillis
      const fiber = yield* Effect.fork(
        reader.readGroup({ stream: key, group: "g", consumer: "c", id: ">", blockMs: 10_000 })
      )
      yield* kit.sleep(100)
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)), "the read returned before any entry was added")
      yield* backend.add(key, ["k", "v"], { id: "1-0" })
      const got = yield* Fiber.join(fiber)
      const elapsed = (yield* Clock.currentTimeMillis) - start
      assert.deepStrictEqual(got, [entry("1-0", "k", "v")])
      assert.isTrue(elapsed < 5_000, `woke after ${elapsed} ms`)
      assert.deepStrictEqual(
        (yield* backend.pending({ stream: key, group: "g", count: 10 })).map((p) => [p.id, p.consumer]),
        [["1-0", "c"]]
      )
    }))

  it.scoped("blockingReader: returns [] after blockMs when nothing arrives", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("block-timeout")
      yield* backend.createGroup(key, "g", { id: "$", mkStream: true })
      const reader = yield* backend.blockingReader
      const start = yield* Clock.currentTimeMillis
      const fiber = yield* Effect.fork(
        reader.readGroup({ stream: key, group: "g", consumer: "c", id: ">", blockMs: 300 })
      )
      yield* kit.sleep(150)
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)), "the read returned before blockMs")
      yield* kit.sleep(400)
      assert.deepStrictEqual(yield* Fiber.join(fiber), [])
      const elapsed = (yield* Clock.currentTimeMillis) - start
      assert.isTrue(elapsed >= 300, `returned after ${elapsed} ms`)
      // the reader still works: entries already there come back at once
      yield* backend.add(key, ["k", "v"], { id: "1-0" })
      assert.deepStrictEqual(
        yield* reader.readGroup({ stream: key, group: "g", consumer: "c", id: ">", blockMs: 300 }),
        [entry("1-0", "k", "v")]
      )
    }))

  it.scoped("blockingReader: interrupting a blocked read returns promptly and loses no entry", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("block-interrupt")
      yield* backend.createGroup(key, "g", { id: "$", mkStream: true })
      const reader = yield* backend.blockingReader
      const fiber = yield* Effect.fork(
        reader.readGroup({ stream: key, group: "g", consumer: "c", id: ">", blockMs: 20_000 })
      )
      yield* kit.sleep(100)
      const before = yield* Clock.currentTimeMillis
      yield* Fiber.interrupt(fiber)
      const took = (yield* Clock.currentTimeMillis) - before
      assert.isTrue(took < 2_000, `interrupt took ${took} ms`)
      // the interrupted read must not swallow the next entry
      yield* backend.add(key, ["k", "v"], { id: "1-0" })
      const got = yield* reader.readGroup({ stream: key, group: "g", consumer: "c", id: ">", blockMs: 2_000 })
      assert.deepStrictEqual(got, [entry("1-0", "k", "v")])
    }))

  it.scoped("blockingReader: errors are typed like the non-blocking read", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("block-errors")
      const reader = yield* backend.blockingReader
      const err = yield* failsWith(
        reader.readGroup({ stream: key, group: "g", consumer: "c", id: ">", blockMs: 100 }),
        "GroupNotFound"
      )
      assert.deepStrictEqual([err.stream, err.group], [key, "g"])
      const str = kit.key("block-errors-str")
      yield* kit.setString(str, "x")
      const wrong = yield* failsWith(
        reader.readGroup({ stream: str, group: "g", consumer: "c", id: ">", blockMs: 100 }),
        "WrongKeyType"
      )
      assert.strictEqual(wrong.key, str)
    }))

  it.scoped("blockingReader: re-reading own pending entries never blocks", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("block-own")
      yield* backend.createGroup(key, "g", { id: "$", mkStream: true })
      const reader = yield* backend.blockingReader
      const fiber = yield* Effect.fork(
        reader.readGroup({ stream: key, group: "g", consumer: "c", id: "0", blockMs: 10_000 })
      )
      // on memory time does not move by itself: the read must return without waiting for it
      yield* kit.sleep(200)
      const done = yield* Fiber.poll(fiber)
      assert.isTrue(Option.isSome(done), "a read of own pending entries waited for blockMs")
      assert.deepStrictEqual(yield* Fiber.join(fiber), [])
      yield* backend.add(key, ["k", "v"], { id: "1-0" })
      yield* backend.readGroup({ stream: key, group: "g", consumer: "c", id: ">" })
      assert.deepStrictEqual(
        yield* reader.readGroup({ stream: key, group: "g", consumer: "c", id: "0", blockMs: 10_000 }),
        [entry("1-0", "k", "v")]
      )
    }))

  it.scoped("blockingReader: a blocked read fails when its stream is deleted (Redis's UNBLOCKED reply)", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("block-del")
      yield* backend.createGroup(key, "g", { id: "$", mkStream: true })
      const reader = yield* backend.blockingReader
      const fiber = yield* Effect.fork(
        reader.readGroup({ stream: key, group: "g", consumer: "c", id: ">", blockMs: 10_000 })
      )
      yield* kit.sleep(200)
      yield* kit.deleteKey(key)
      const err = yield* failsWith(Fiber.join(fiber), "RedisCommandError")
      assert.strictEqual(err.reply, "UNBLOCKED the stream key no longer exists")
    }))

  it.scoped("blockingReader: a blocked read fails with GroupNotFound when its group is destroyed", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("block-destroy")
      yield* backend.createGroup(key, "g", { id: "$", mkStream: true })
      const reader = yield* backend.blockingReader
      const fiber = yield* Effect.fork(
        reader.readGroup({ stream: key, group: "g", consumer: "c", id: ">", blockMs: 10_000 })
      )
      yield* kit.sleep(200)
      assert.isTrue(yield* backend.destroyGroup(key, "g"))
      // Redis tells the blocked client when the key is next touched
      yield* backend.add(key, ["k", "v"], { id: "1-0" })
      const err = yield* failsWith(Fiber.join(fiber), "GroupNotFound")
      assert.deepStrictEqual([err.stream, err.group], [key, "g"])
    }))

  // ---------------------------------------------------------------- ack

  it.effect("ack: counts only ids that were really pending", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("ack")
      yield* seed(key, ["1-0", "2-0", "3-0", "4-0", "5-0"])
      yield* backend.createGroup(key, "g", { id: "0" })
      yield* backend.readGroup({ stream: key, group: "g", consumer: "c", id: ">", count: 4 })
      // a duplicate, an unknown id and an entry never delivered (5-0) do not count
      assert.strictEqual(yield* backend.ack(key, "g", ["1-0", "1-0", "2-0", "9-0", "5-0"]), 2)
      assert.strictEqual(yield* backend.ack(key, "g", ["1-0"]), 0)
      assert.strictEqual(yield* backend.ack(key, "g", []), 0)
      assert.deepStrictEqual(yield* backend.pendingSummary(key, "g"), {
        count: 2,
        first: "3-0",
        last: "4-0",
        consumers: [{ name: "c", count: 2 }]
      })
      // acknowledging does not delete
      assert.strictEqual(yield* backend.length(key), 5)
      // an acknowledged entry is not re-read as own pending
      assert.deepStrictEqual(
        (yield* backend.readGroup({ stream: key, group: "g", consumer: "c", id: "0" })).map((e) => e.id),
        ["3-0", "4-0"]
      )
      // a malformed id is Redis's error
      const err = yield* failsWith(backend.ack(key, "g", ["nope"]), "RedisCommandError")
      assert.strictEqual(err.reply, INVALID_ID)
    }))

  it.effect("ackAndDelete: acknowledges and deletes the same ids at once", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("ackdel")
      yield* seed(key, ["1-0", "2-0", "3-0", "4-0"])
      yield* backend.createGroup(key, "g", { id: "0" })
      yield* backend.readGroup({ stream: key, group: "g", consumer: "c", id: ">", count: 3 })
      // 4-0 was never delivered: not acknowledged, but deleted all the same; 9-0 does not exist
      assert.strictEqual(yield* backend.ackAndDelete(key, "g", ["1-0", "3-0", "4-0", "9-0"]), 2)
      assert.deepStrictEqual(yield* backend.range(key), [entry("2-0", "n", "2-0")])
      assert.deepStrictEqual(yield* backend.pendingSummary(key, "g"), {
        count: 1,
        first: "2-0",
        last: "2-0",
        consumers: [{ name: "c", count: 1 }]
      })
      const info = yield* backend.streamInfo(key)
      assert.deepStrictEqual([info.length, info.maxDeletedEntryId, info.entriesAdded], [1, "4-0", 4])
      assert.strictEqual(yield* backend.ackAndDelete(key, "g", ["1-0"]), 0)
      // on a missing group nothing is acknowledged, the ids are still deleted (XACK then XDEL)
      assert.strictEqual(yield* backend.ackAndDelete(key, "other", ["2-0"]), 0)
      assert.strictEqual(yield* backend.length(key), 0)
    }))

  // ---------------------------------------------------------------- pending

  it.effect("pendingSummary: empty group, then counts per consumer sorted by name", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("psum")
      yield* seed(key, ["1-0", "2-0", "3-0", "4-0"])
      yield* backend.createGroup(key, "g", { id: "0" })
      assert.deepStrictEqual(yield* backend.pendingSummary(key, "g"), {
        count: 0,
        first: null,
        last: null,
        consumers: []
      })
      yield* backend.readGroup({ stream: key, group: "g", consumer: "zed", id: ">", count: 2 })
      yield* backend.readGroup({ stream: key, group: "g", consumer: "amy", id: ">", count: 1 })
      yield* backend.createConsumer(key, "g", "bob")
      assert.deepStrictEqual(yield* backend.pendingSummary(key, "g"), {
        count: 3,
        first: "1-0",
        last: "3-0",
        // consumers with nothing pending are not listed
        consumers: [{ name: "amy", count: 1 }, { name: "zed", count: 2 }]
      })
    }))

  it.effect("pending: ranges (inclusive, exclusive, incomplete), COUNT and consumer filter", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("pext")
      yield* seed(key, ["1-0", "2-0", "3-0", "4-0", "5-0", "6-0"])
      yield* backend.createGroup(key, "g", { id: "0" })
      yield* backend.readGroup({ stream: key, group: "g", consumer: "c1", id: ">", count: 3 })
      yield* backend.readGroup({ stream: key, group: "g", consumer: "c2", id: ">", count: 3 })
      yield* backend.readGroup({ stream: key, group: "g", consumer: "c1", id: "0", count: 1 })
      const all = yield* backend.pending({ stream: key, group: "g", count: 100 })
      assert.deepStrictEqual(all.map((p) => ({ id: p.id, consumer: p.consumer, deliveries: p.deliveries })), [
        { id: "1-0", consumer: "c1", deliveries: 2 },
        { id: "2-0", consumer: "c1", deliveries: 1 },
        { id: "3-0", consumer: "c1", deliveries: 1 },
        { id: "4-0", consumer: "c2", deliveries: 1 },
        { id: "5-0", consumer: "c2", deliveries: 1 },
        { id: "6-0", consumer: "c2", deliveries: 1 }
      ])
      for (const p of all) assertIdle(backendName, p.idleMs, 0, `idle of ${p.id}`)
      const ids = (options: Partial<StreamsBackend.PendingOptions>) =>
        backend.pending({ stream: key, group: "g", count: 100, ...options }).pipe(
          Effect.map((ps) => ps.map((p) => p.id))
        )
      assert.deepStrictEqual(yield* ids({ start: "2-0", end: "5-0" }), ["2-0", "3-0", "4-0", "5-0"])
      assert.deepStrictEqual(yield* ids({ start: "(2-0", end: "(5-0" }), ["3-0", "4-0"])
      assert.deepStrictEqual(yield* ids({ start: "3", end: "4" }), ["3-0", "4-0"])
      assert.deepStrictEqual(yield* ids({ start: "5-0" }), ["5-0", "6-0"])
      assert.deepStrictEqual(yield* ids({ end: "1-0" }), ["1-0"])
      assert.deepStrictEqual(yield* ids({ count: 2 }), ["1-0", "2-0"])
      assert.deepStrictEqual(yield* ids({ consumer: "c2" }), ["4-0", "5-0", "6-0"])
      assert.deepStrictEqual(yield* ids({ consumer: "c2", count: 1, start: "(4-0" }), ["5-0"])
      assert.deepStrictEqual(yield* ids({ consumer: "nobody" }), [])
      assert.deepStrictEqual(yield* ids({ start: "6-1" }), [])
    }))

  it.effect("pending: IDLE filter after time passes; idle times", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("pidle")
      yield* seed(key, ["1-0", "2-0", "3-0"])
      yield* backend.createGroup(key, "g", { id: "0" })
      yield* backend.readGroup({ stream: key, group: "g", consumer: "c", id: ">", count: 2 })
      yield* kit.sleep(400)
      yield* backend.readGroup({ stream: key, group: "g", consumer: "c", id: ">" })
      const old = yield* backend.pending({ stream: key, group: "g", count: 10, minIdleMs: 300 })
      assert.deepStrictEqual(old.map((p) => p.id), ["1-0", "2-0"])
      for (const p of old) assertIdle(backendName, p.idleMs, 400, `idle of ${p.id}`)
      const all = yield* backend.pending({ stream: key, group: "g", count: 10, minIdleMs: 0 })
      assert.deepStrictEqual(all.map((p) => p.id), ["1-0", "2-0", "3-0"])
      assertIdle(backendName, all[2]!.idleMs, 0, "idle of 3-0")
      assert.deepStrictEqual(
        (yield* backend.pending({ stream: key, group: "g", count: 10, minIdleMs: 300, consumer: "c", start: "(1-0" }))
          .map((p) => p.id),
        ["2-0"]
      )
      assert.deepStrictEqual(yield* backend.pending({ stream: key, group: "g", count: 10, minIdleMs: 60_000 }), [])
    }))

  // ---------------------------------------------------------------- claim

  it.effect("claim: fresh entries are not claimed; idle ones move with deliveries +1", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("claim")
      yield* seed(key, ["1-0", "2-0", "3-0"])
      yield* backend.createGroup(key, "g", { id: "0" })
      yield* backend.readGroup({ stream: key, group: "g", consumer: "c1", id: ">", count: 2 })
      const opts = { stream: key, group: "g", consumer: "c2", ids: ["1-0", "2-0"] }
      assert.deepStrictEqual(yield* backend.claim({ ...opts, minIdleMs: 10_000 }), [])
      yield* kit.sleep(300)
      // 3-0 was never delivered (not pending), 9-0 does not exist: both ignored
      assert.deepStrictEqual(
        yield* backend.claim({ ...opts, ids: ["1-0", "3-0", "9-0"], minIdleMs: 200 }),
        [entry("1-0", "n", "1-0")]
      )
      const pending = yield* backend.pending({ stream: key, group: "g", count: 10 })
      assert.deepStrictEqual(pending.map((p) => [p.id, p.consumer, p.deliveries]), [["1-0", "c2", 2], ["2-0", "c1", 1]])
      assertIdle(backendName, pending[0]!.idleMs, 0, "claim resets idle")
      assertIdle(backendName, pending[1]!.idleMs, 300)
      // just claimed: not idle enough to be claimed back
      assert.deepStrictEqual(
        yield* backend.claim({ stream: key, group: "g", consumer: "c1", ids: ["1-0"], minIdleMs: 200 }),
        []
      )
      assert.deepStrictEqual(
        (yield* backend.consumersInfo(key, "g")).map((c) => [c.name, c.pending]),
        [["c1", 1], ["c2", 1]]
      )
    }))

  it.effect("claim: deleted entries are dropped from the pending list and not returned", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("claim-del")
      yield* seed(key, ["1-0", "2-0", "3-0"])
      yield* backend.createGroup(key, "g", { id: "0" })
      yield* backend.readGroup({ stream: key, group: "g", consumer: "c1", id: ">" })
      yield* backend.delete(key, ["2-0"])
      assert.deepStrictEqual(
        yield* backend.claim({ stream: key, group: "g", consumer: "c2", minIdleMs: 0, ids: ["1-0", "2-0", "3-0"] }),
        [entry("1-0", "n", "1-0"), entry("3-0", "n", "3-0")]
      )
      assert.deepStrictEqual(yield* backend.pendingSummary(key, "g"), {
        count: 2,
        first: "1-0",
        last: "3-0",
        consumers: [{ name: "c2", count: 2 }]
      })
      // the same with JUSTID
      yield* backend.delete(key, ["3-0"])
      assert.deepStrictEqual(
        yield* backend.claimJustId({ stream: key, group: "g", consumer: "c1", minIdleMs: 0, ids: ["1-0", "3-0"] }),
        ["1-0"]
      )
      assert.deepStrictEqual(
        (yield* backend.pending({ stream: key, group: "g", count: 10 })).map((p) => [p.id, p.consumer]),
        [["1-0", "c1"]]
      )
    }))

  it.effect("claimJustId: returns ids, moves ownership, leaves delivery counts alone", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("claim-justid")
      yield* seed(key, ["1-0", "2-0", "3-0"])
      yield* backend.createGroup(key, "g", { id: "0" })
      yield* backend.readGroup({ stream: key, group: "g", consumer: "c1", id: ">" })
      yield* kit.sleep(200)
      assert.deepStrictEqual(
        yield* backend.claimJustId({ stream: key, group: "g", consumer: "c2", minIdleMs: 100, ids: ["1-0", "3-0"] }),
        ["1-0", "3-0"]
      )
      const pending = yield* backend.pending({ stream: key, group: "g", count: 10 })
      assert.deepStrictEqual(
        pending.map((p) => [p.id, p.consumer, p.deliveries]),
        [["1-0", "c2", 1], ["2-0", "c1", 1], ["3-0", "c2", 1]]
      )
      assertIdle(backendName, pending[0]!.idleMs, 0)
      assertIdle(backendName, pending[1]!.idleMs, 200)
      assert.deepStrictEqual(
        yield* backend.claimJustId({ stream: key, group: "g", consumer: "c3", minIdleMs: 100, ids: ["1-0", "3-0"] }),
        []
      )
    }))

  it.effect("claim IDLE and RETRYCOUNT: set the idle time and the delivery count (JUSTID too)", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("claim-idle")
      yield* seed(key, ["1-0", "2-0", "3-0"])
      yield* backend.createGroup(key, "g", { id: "0" })
      yield* backend.readGroup({ stream: key, group: "g", consumer: "c1", id: ">" })
      yield* kit.sleep(300)
      assert.deepStrictEqual(
        yield* backend.claimJustId({ stream: key, group: "g", consumer: "c1", minIdleMs: 0, ids: ["1-0", "2-0"], idleMs: 5000, retryCount: 0 }),
        ["1-0", "2-0"]
      )
      const claimed = yield* backend.claim({ stream: key, group: "g", consumer: "c2", minIdleMs: 0, ids: ["3-0"], idleMs: 700, retryCount: 7 })
      assert.deepStrictEqual(claimed.map((e) => e.id), ["3-0"])
      const pending = yield* backend.pending({ stream: key, group: "g", count: 10 })
      assert.deepStrictEqual(pending.map((p) => [p.id, p.consumer, p.deliveries]), [["1-0", "c1", 0], ["2-0", "c1", 0], ["3-0", "c2", 7]])
      assertIdle(backendName, pending[0]!.idleMs, 5000)
      assertIdle(backendName, pending[2]!.idleMs, 700)
      // a negative IDLE means now
      yield* backend.claimJustId({ stream: key, group: "g", consumer: "c1", minIdleMs: 0, ids: ["1-0"], idleMs: -5 })
      assertIdle(backendName, (yield* backend.pending({ stream: key, group: "g", count: 1 }))[0]!.idleMs, 0)
      // reclaimable at once by a consumer that waits for 5 s of idleness
      const auto = yield* backend.autoClaim({ stream: key, group: "g", consumer: "c3", minIdleMs: 5000, start: "0-0" })
      assert.deepStrictEqual(auto.entries.map((e) => e.id), ["2-0"])
      const after = yield* backend.pending({ stream: key, group: "g", count: 10, consumer: "c3" })
      assert.deepStrictEqual(after.map((p) => [p.id, p.deliveries]), [["2-0", 1]])
    }))

  // ---------------------------------------------------------------- ackThenRead

  it.effect("ackThenRead: acknowledges, then reads new entries; each keeps its own outcome", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("ack-read")
      yield* seed(key, ["1-0", "2-0", "3-0", "4-0", "5-0"])
      yield* backend.createGroup(key, "g", { id: "0" })
      yield* backend.readGroup({ stream: key, group: "g", consumer: "c", id: ">", count: 2 })
      const read = { stream: key, group: "g", consumer: "c", id: ">", count: 2 }
      const r = yield* backend.ackThenRead(key, "g", ["1-0", "2-0", "9-0"], read)
      assert.strictEqual(r.acked, 2)
      assert.deepStrictEqual(Either.getOrThrow(r.read).map((e) => [e.id, e.fields]), [["3-0", ["n", "3-0"]], ["4-0", ["n", "4-0"]]])
      const pending = yield* backend.pending({ stream: key, group: "g", count: 10 })
      assert.deepStrictEqual(pending.map((p) => [p.id, p.deliveries]), [["3-0", 1], ["4-0", 1]])
      // with delete: acknowledged and removed from the stream
      const d = yield* backend.ackThenRead(key, "g", ["3-0", "4-0"], { ...read, count: 10 }, { delete: true })
      assert.strictEqual(d.acked, 2)
      assert.deepStrictEqual(Either.getOrThrow(d.read).map((e) => e.id), ["5-0"])
      assert.deepStrictEqual((yield* backend.range(key)).map((e) => e.id), ["1-0", "2-0", "5-0"])
      // a read that fails does not fail the acknowledgement
      const bad = yield* backend.ackThenRead(key, "g", ["5-0"], { ...read, group: "missing" })
      assert.strictEqual(bad.acked, 1)
      assert.strictEqual(Either.isLeft(bad.read) && bad.read.left._tag, "GroupNotFound")
      // an acknowledgement that fails fails the whole
      const text = kit.key("ack-read-string")
      yield* kit.setString(text, "not a stream")
      const failed = yield* Effect.flip(backend.ackThenRead(text, "g", ["5-0"], read))
      assert.strictEqual(failed._tag, "WrongKeyType")
    }))

  // ---------------------------------------------------------------- autoClaim

  it.effect("autoClaim: pages with a cursor, reports deleted ids and drops them from the PEL", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("autoclaim")
      yield* seed(key, ["1-0", "2-0", "3-0", "4-0", "5-0", "6-0"])
      yield* backend.createGroup(key, "g", { id: "0" })
      yield* backend.readGroup({ stream: key, group: "g", consumer: "a", id: ">" })
      yield* backend.delete(key, ["2-0", "4-0"])
      const opts = { stream: key, group: "g", consumer: "b", minIdleMs: 0, count: 2 }
      // deleted ids count against COUNT (Redis 7.0)
      assert.deepStrictEqual(yield* backend.autoClaim({ ...opts, start: "0-0" }), {
        next: "3-0",
        entries: [entry("1-0", "n", "1-0")],
        deleted: ["2-0"]
      })
      assert.deepStrictEqual(yield* backend.autoClaim({ ...opts, start: "3-0" }), {
        next: "5-0",
        entries: [entry("3-0", "n", "3-0")],
        deleted: ["4-0"]
      })
      assert.deepStrictEqual(yield* backend.autoClaim({ ...opts, start: "5-0" }), {
        next: "0-0",
        entries: [entry("5-0", "n", "5-0"), entry("6-0", "n", "6-0")],
        deleted: []
      })
      const pending = yield* backend.pending({ stream: key, group: "g", count: 10 })
      assert.deepStrictEqual(
        pending.map((p) => [p.id, p.consumer, p.deliveries]),
        [["1-0", "b", 2], ["3-0", "b", 2], ["5-0", "b", 2], ["6-0", "b", 2]]
      )
      assert.deepStrictEqual((yield* backend.consumersInfo(key, "g")).map((c) => [c.name, c.pending]), [
        ["a", 0],
        ["b", 4]
      ])
    }))

  it.effect("autoClaim: min idle guard, empty list, default count", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("autoclaim-idle")
      yield* seed(key, ["1-0", "2-0", "3-0"])
      yield* backend.createGroup(key, "g", { id: "0" })
      assert.deepStrictEqual(
        yield* backend.autoClaim({ stream: key, group: "g", consumer: "b", minIdleMs: 0, start: "0-0" }),
        { next: "0-0", entries: [], deleted: [] }
      )
      yield* backend.readGroup({ stream: key, group: "g", consumer: "a", id: ">", count: 2 })
      yield* kit.sleep(300)
      yield* backend.readGroup({ stream: key, group: "g", consumer: "a", id: ">" })
      // only the two idle ones; the cursor scan completes
      assert.deepStrictEqual(
        yield* backend.autoClaim({ stream: key, group: "g", consumer: "b", minIdleMs: 200, start: "0-0" }),
        { next: "0-0", entries: [entry("1-0", "n", "1-0"), entry("2-0", "n", "2-0")], deleted: [] }
      )
      assert.deepStrictEqual(
        yield* backend.autoClaim({ stream: key, group: "g", consumer: "c", minIdleMs: 200, start: "0-0" }),
        { next: "0-0", entries: [], deleted: [] }
      )
      // a consumer that claimed nothing is not created (Redis creates it lazily)
      if (is70(backend.serverVersion)) {
        assert.deepStrictEqual((yield* backend.consumersInfo(key, "g")).map((c) => c.name), ["a", "b"])
      }
    }))

  // ---------------------------------------------------------------- streamInfo

  it.effect("streamInfo: every field after adds and deletes", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("sinfo")
      yield* seed(key, ["1-0", "2-0", "3-0", "4-0"])
      yield* backend.createGroup(key, "g", { id: "0" })
      yield* backend.createGroup(key, "h", { id: "$" })
      assert.deepStrictEqual(yield* backend.streamInfo(key), {
        length: 4,
        groups: 2,
        lastGeneratedId: "4-0",
        maxDeletedEntryId: "0-0",
        entriesAdded: 4,
        recordedFirstEntryId: "1-0",
        firstEntry: entry("1-0", "n", "1-0"),
        lastEntry: entry("4-0", "n", "4-0")
      })
      yield* backend.delete(key, ["2-0"])
      yield* backend.delete(key, ["1-0"])
      yield* backend.delete(key, ["4-0"])
      assert.deepStrictEqual(yield* backend.streamInfo(key), {
        length: 1,
        groups: 2,
        lastGeneratedId: "4-0",
        maxDeletedEntryId: "4-0",
        entriesAdded: 4,
        recordedFirstEntryId: "3-0",
        firstEntry: entry("3-0", "n", "3-0"),
        lastEntry: entry("3-0", "n", "3-0")
      })
      // deleting the top entry keeps last-generated-id: the same id cannot come back
      const err = yield* failsWith(backend.add(key, ["n", "again"], { id: "4-0" }), "RedisCommandError")
      assert.strictEqual(err.reply, XADD_TOP)
      yield* backend.delete(key, ["3-0"])
      assert.deepStrictEqual(yield* backend.streamInfo(key), {
        length: 0,
        groups: 2,
        lastGeneratedId: "4-0",
        maxDeletedEntryId: "4-0",
        entriesAdded: 4,
        recordedFirstEntryId: "0-0",
        firstEntry: null,
        lastEntry: null
      })
    }))

  it.effect("streamInfo: empty stream from MKSTREAM, trimming, missing stream", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("sinfo-empty")
      const err = yield* failsWith(backend.streamInfo(key), "StreamNotFound")
      assert.strictEqual(err.stream, key)
      yield* backend.createGroup(key, "g", { id: "$", mkStream: true })
      assert.deepStrictEqual(yield* backend.streamInfo(key), {
        length: 0,
        groups: 1,
        lastGeneratedId: "0-0",
        maxDeletedEntryId: "0-0",
        entriesAdded: 0,
        recordedFirstEntryId: "0-0",
        firstEntry: null,
        lastEntry: null
      })
      yield* seed(key, ["1-0", "2-0", "3-0"])
      assert.strictEqual(yield* backend.trim(key, { strategy: "minid", threshold: "2" }), 1)
      assert.deepStrictEqual(yield* backend.streamInfo(key), {
        length: 2,
        groups: 1,
        lastGeneratedId: "3-0",
        maxDeletedEntryId: "0-0",
        entriesAdded: 3,
        recordedFirstEntryId: "2-0",
        firstEntry: entry("2-0", "n", "2-0"),
        lastEntry: entry("3-0", "n", "3-0")
      })
    }))

  // ---------------------------------------------------------------- groupsInfo

  it.effect("groupsInfo: entriesRead and lag follow the reads", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("ginfo")
      yield* seed(key, ["1-0", "2-0", "3-0", "4-0", "5-0"])
      yield* backend.createGroup(key, "b", { id: "0" })
      yield* backend.createGroup(key, "a", { id: "0" })
      yield* backend.readGroup({ stream: key, group: "b", consumer: "c", id: ">", count: 2 })
      yield* backend.readGroup({ stream: key, group: "b", consumer: "d", id: ">", count: 1 })
      yield* backend.ack(key, "b", ["1-0"])
      assert.deepStrictEqual(yield* backend.groupsInfo(key), [
        { name: "a", consumers: 0, pending: 0, lastDeliveredId: "0-0", entriesRead: null, lag: 5 },
        { name: "b", consumers: 2, pending: 2, lastDeliveredId: "3-0", entriesRead: 3, lag: 2 }
      ])
      yield* backend.readGroup({ stream: key, group: "a", consumer: "c", id: ">" })
      yield* backend.add(key, ["n", "6-0"], { id: "6-0" })
      assert.deepStrictEqual(yield* backend.groupsInfo(key), [
        { name: "a", consumers: 1, pending: 5, lastDeliveredId: "5-0", entriesRead: 5, lag: 1 },
        { name: "b", consumers: 2, pending: 2, lastDeliveredId: "3-0", entriesRead: 3, lag: 3 }
      ])
      // deleting behind every group does not disturb the lag
      yield* backend.delete(key, ["1-0"])
      assert.deepStrictEqual((yield* backend.groupsInfo(key)).map((g) => [g.entriesRead, g.lag]), [[5, 1], [3, 3]])
    }))

  it.effect("groupsInfo: lag is null after a deletion ahead of the group", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("ginfo-xdel")
      yield* seed(key, ["1-0", "2-0", "3-0", "4-0", "5-0", "6-0"])
      yield* backend.createGroup(key, "g", { id: "0" })
      yield* backend.createGroup(key, "done", { id: "0" })
      yield* backend.readGroup({ stream: key, group: "g", consumer: "c", id: ">", count: 2 })
      yield* backend.readGroup({ stream: key, group: "done", consumer: "c", id: ">" })
      yield* backend.delete(key, ["4-0"])
      assert.deepStrictEqual(yield* backend.groupsInfo(key), [
        // past the deletion: still known
        { name: "done", consumers: 1, pending: 6, lastDeliveredId: "6-0", entriesRead: 6, lag: 0 },
        // a tombstone ahead: the lag cannot be computed
        { name: "g", consumers: 1, pending: 2, lastDeliveredId: "2-0", entriesRead: 2, lag: null }
      ])
      // reading on from before the tombstone loses the counter too (Redis 7.0)
      yield* backend.readGroup({ stream: key, group: "g", consumer: "c", id: ">", count: 1 })
      assert.deepStrictEqual(
        (yield* backend.groupsInfo(key)).find((g) => g.name === "g"),
        { name: "g", consumers: 1, pending: 3, lastDeliveredId: "3-0", entriesRead: null, lag: null }
      )
      // reading to the end makes it known again: the last entry's counter is entries-added
      yield* backend.readGroup({ stream: key, group: "g", consumer: "c", id: ">" })
      assert.deepStrictEqual(
        (yield* backend.groupsInfo(key)).find((g) => g.name === "g"),
        { name: "g", consumers: 1, pending: 5, lastDeliveredId: "6-0", entriesRead: 6, lag: 0 }
      )
    }))

  it.effect("groupsInfo: groups on a fresh stream at 0 and at $, then as entries arrive", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("ginfo-fresh")
      yield* backend.createGroup(key, "at0", { id: "0", mkStream: true })
      yield* backend.createGroup(key, "atEnd", { id: "$" })
      yield* backend.createGroup(key, "counted", { id: "$", entriesRead: 0 })
      assert.deepStrictEqual(yield* backend.groupsInfo(key), [
        { name: "at0", consumers: 0, pending: 0, lastDeliveredId: "0-0", entriesRead: null, lag: 0 },
        { name: "atEnd", consumers: 0, pending: 0, lastDeliveredId: "0-0", entriesRead: null, lag: 0 },
        { name: "counted", consumers: 0, pending: 0, lastDeliveredId: "0-0", entriesRead: 0, lag: 0 }
      ])
      yield* seed(key, ["1-0", "2-0", "3-0"])
      assert.deepStrictEqual((yield* backend.groupsInfo(key)).map((g) => [g.name, g.entriesRead, g.lag]), [
        ["at0", null, 3],
        ["atEnd", null, 3],
        ["counted", 0, 3]
      ])
      yield* backend.readGroup({ stream: key, group: "atEnd", consumer: "c", id: ">", count: 1 })
      assert.deepStrictEqual((yield* backend.groupsInfo(key)).map((g) => [g.name, g.entriesRead, g.lag]), [
        ["at0", null, 3],
        ["atEnd", 1, 2],
        ["counted", 0, 3]
      ])
    }))

  it.effect("groupsInfo: a group created at $ on a non-empty stream", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("ginfo-dollar")
      yield* seed(key, ["1-0", "2-0", "3-0"])
      yield* backend.createGroup(key, "g", { id: "$" })
      assert.deepStrictEqual(yield* backend.groupsInfo(key), [
        { name: "g", consumers: 0, pending: 0, lastDeliveredId: "3-0", entriesRead: null, lag: 0 }
      ])
      yield* backend.add(key, ["n", "4-0"], { id: "4-0" })
      // Redis 7.0 cannot tell how far behind such a group is until it reads
      if (is70(backend.serverVersion)) {
        assert.strictEqual((yield* backend.groupsInfo(key))[0]!.lag, null)
      }
      assert.deepStrictEqual(
        yield* backend.readGroup({ stream: key, group: "g", consumer: "c", id: ">" }),
        [entry("4-0", "n", "4-0")]
      )
      assert.deepStrictEqual(yield* backend.groupsInfo(key), [
        { name: "g", consumers: 1, pending: 1, lastDeliveredId: "4-0", entriesRead: 4, lag: 0 }
      ])
      const err = yield* failsWith(backend.groupsInfo(kit.key("ginfo-missing")), "StreamNotFound")
      assert.match(err.stream, /^ginfo-missing-/)
    }))

  // ---------------------------------------------------------------- consumersInfo

  it.effect("consumersInfo: pending per consumer and idle growing with time", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("cinfo")
      yield* seed(key, ["1-0", "2-0", "3-0"])
      yield* backend.createGroup(key, "g", { id: "0" })
      yield* backend.readGroup({ stream: key, group: "g", consumer: "reader", id: ">", count: 2 })
      assert.isTrue(yield* backend.createConsumer(key, "g", "fresh"))
      yield* kit.sleep(300)
      const first = yield* backend.consumersInfo(key, "g")
      assert.deepStrictEqual(first.map((c) => [c.name, c.pending]), [["fresh", 0], ["reader", 2]])
      for (const c of first) {
        assertIdle(backendName, c.idleMs, 300, `idle of ${c.name}`)
        if (is70(backend.serverVersion)) assert.isNull(c.inactiveMs)
      }
      // a read refreshes the reader only
      yield* backend.readGroup({ stream: key, group: "g", consumer: "reader", id: "0" })
      yield* kit.sleep(200)
      const second = yield* backend.consumersInfo(key, "g")
      assertIdle(backendName, second[0]!.idleMs, 500, "idle of fresh")
      assertIdle(backendName, second[1]!.idleMs, 200, "idle of reader")
      const missing = yield* failsWith(backend.consumersInfo(key, "nope"), "GroupNotFound")
      assert.deepStrictEqual([missing.stream, missing.group], [key, "nope"])
    }))

  it.effect("consumer idle: refreshed by reads that serve the consumer and by claims, not by ack, pending or admin", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("cidle")
      yield* seed(key, ["1-0", "2-0", "3-0"])
      yield* backend.createGroup(key, "g", { id: "0" })
      yield* backend.readGroup({ stream: key, group: "g", consumer: "a", id: ">" })
      yield* backend.createConsumer(key, "g", "b")
      yield* kit.sleep(300)
      const idles = backend.consumersInfo(key, "g").pipe(Effect.map((cs) => cs.map((c) => c.idleMs)))
      // none of these touch a consumer's idle time
      yield* backend.ack(key, "g", ["1-0"])
      yield* backend.pending({ stream: key, group: "g", count: 10, consumer: "a" })
      yield* backend.pendingSummary(key, "g")
      assert.isFalse(yield* backend.createConsumer(key, "g", "a"))
      assert.isFalse(yield* backend.createConsumer(key, "g", "b"))
      assert.deepStrictEqual(
        yield* backend.claim({ stream: key, group: "g", consumer: "b", minIdleMs: 100_000, ids: ["2-0"] }),
        []
      )
      assert.deepStrictEqual(
        yield* backend.autoClaim({ stream: key, group: "g", consumer: "b", minIdleMs: 100_000, start: "0-0" }),
        { next: "0-0", entries: [], deleted: [] }
      )
      if (is70(backend.serverVersion)) {
        // Redis 7.0: a `>` read that finds nothing does not touch the consumer
        assert.deepStrictEqual(yield* backend.readGroup({ stream: key, group: "g", consumer: "b", id: ">" }), [])
      }
      let [a, b] = yield* idles
      assertIdle(backendName, a!, 300, "a untouched")
      assertIdle(backendName, b!, 300, "b untouched")
      // re-reading own pending entries touches the consumer, even when it has none
      assert.deepStrictEqual(yield* backend.readGroup({ stream: key, group: "g", consumer: "b", id: "0" }), [])
      ;[a, b] = yield* idles
      assertIdle(backendName, a!, 300, "a after b's read")
      assertIdle(backendName, b!, 0, "b after its read")
      yield* kit.sleep(200)
      // a claim that moves an entry touches the claiming consumer
      assert.deepStrictEqual(
        yield* backend.claimJustId({ stream: key, group: "g", consumer: "b", minIdleMs: 0, ids: ["2-0"] }),
        ["2-0"]
      )
      ;[a, b] = yield* idles
      assertIdle(backendName, a!, 500, "a after b's claim")
      assertIdle(backendName, b!, 0, "b after its claim")
    }))

  // ---------------------------------------------------------------- group admin

  it.effect("createGroup: MKSTREAM, BUSYGROUP -> false, missing stream -> StreamNotFound", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("cgroup")
      const err = yield* failsWith(backend.createGroup(key, "g", { id: "0" }), "StreamNotFound")
      assert.strictEqual(err.stream, key)
      assert.strictEqual(yield* backend.length(key), 0)
      assert.isTrue(yield* backend.createGroup(key, "g", { id: "$", mkStream: true }))
      assert.isFalse(yield* backend.createGroup(key, "g", { id: "$", mkStream: true }))
      assert.isFalse(yield* backend.createGroup(key, "g", { id: "0" }))
      assert.deepStrictEqual((yield* backend.groupsInfo(key)).map((g) => g.name), ["g"])
      const bad = yield* failsWith(backend.createGroup(key, "h", { id: "abc" }), "RedisCommandError")
      assert.strictEqual(bad.reply, INVALID_ID)
    }))

  it.effect("createGroup: at an explicit id, with entriesRead", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("cgroup-id")
      yield* seed(key, ["1-0", "2-0", "3-0", "4-0", "5-0"])
      assert.isTrue(yield* backend.createGroup(key, "g", { id: "2-0", entriesRead: 2 }))
      assert.isTrue(yield* backend.createGroup(key, "h", { id: "3-0" }))
      assert.deepStrictEqual(yield* backend.groupsInfo(key), [
        { name: "g", consumers: 0, pending: 0, lastDeliveredId: "2-0", entriesRead: 2, lag: 3 },
        { name: "h", consumers: 0, pending: 0, lastDeliveredId: "3-0", entriesRead: null, lag: null }
      ])
      assert.deepStrictEqual(
        (yield* backend.readGroup({ stream: key, group: "g", consumer: "c", id: ">" })).map((e) => e.id),
        ["3-0", "4-0", "5-0"]
      )
      assert.deepStrictEqual(
        (yield* backend.readGroup({ stream: key, group: "h", consumer: "c", id: ">" })).map((e) => e.id),
        ["4-0", "5-0"]
      )
    }))

  it.effect("destroyGroup: true once, then false; its pending entries go with it", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("dgroup")
      yield* seed(key, ["1-0", "2-0"])
      yield* backend.createGroup(key, "g", { id: "0" })
      yield* backend.createGroup(key, "keep", { id: "0" })
      yield* backend.readGroup({ stream: key, group: "g", consumer: "c", id: ">" })
      assert.isTrue(yield* backend.destroyGroup(key, "g"))
      assert.isFalse(yield* backend.destroyGroup(key, "g"))
      yield* failsWith(backend.pendingSummary(key, "g"), "GroupNotFound")
      yield* failsWith(backend.readGroup({ stream: key, group: "g", consumer: "c", id: "0" }), "GroupNotFound")
      assert.deepStrictEqual((yield* backend.groupsInfo(key)).map((g) => g.name), ["keep"])
      assert.strictEqual((yield* backend.streamInfo(key)).groups, 1)
      // a new group of the same name starts from scratch
      yield* backend.createGroup(key, "g", { id: "0" })
      assert.deepStrictEqual((yield* backend.pendingSummary(key, "g")).count, 0)
      assert.deepStrictEqual(yield* backend.consumersInfo(key, "g"), [])
    }))

  it.effect("createConsumer: true when created, false when it exists", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("cconsumer")
      yield* backend.createGroup(key, "g", { id: "$", mkStream: true })
      assert.isTrue(yield* backend.createConsumer(key, "g", "c1"))
      assert.isFalse(yield* backend.createConsumer(key, "g", "c1"))
      assert.isTrue(yield* backend.createConsumer(key, "g", "c0"))
      const consumers = yield* backend.consumersInfo(key, "g")
      assert.deepStrictEqual(consumers.map((c) => [c.name, c.pending]), [["c0", 0], ["c1", 0]])
      for (const c of consumers) assertIdle(backendName, c.idleMs, 0)
      assert.strictEqual((yield* backend.groupsInfo(key))[0]!.consumers, 2)
    }))

  it.effect("deleteConsumer: returns the pending count it dropped; entries leave the PEL, not the stream", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("dconsumer")
      yield* seed(key, ["1-0", "2-0", "3-0", "4-0"])
      yield* backend.createGroup(key, "g", { id: "0" })
      yield* backend.readGroup({ stream: key, group: "g", consumer: "gone", id: ">", count: 3 })
      yield* backend.readGroup({ stream: key, group: "g", consumer: "stays", id: ">" })
      assert.strictEqual(yield* backend.deleteConsumer(key, "g", "gone"), 3)
      assert.deepStrictEqual(yield* backend.pendingSummary(key, "g"), {
        count: 1,
        first: "4-0",
        last: "4-0",
        consumers: [{ name: "stays", count: 1 }]
      })
      assert.deepStrictEqual((yield* backend.consumersInfo(key, "g")).map((c) => c.name), ["stays"])
      assert.strictEqual(yield* backend.length(key), 4)
      // the dropped entries are not re-delivered by `>`: the group moved past them
      assert.deepStrictEqual(yield* backend.readGroup({ stream: key, group: "g", consumer: "x", id: ">" }), [])
      assert.strictEqual(yield* backend.deleteConsumer(key, "g", "gone"), 0)
      assert.strictEqual(yield* backend.deleteConsumer(key, "g", "never"), 0)
    }))

  it.effect("deleteConsumerIfIdle: only a consumer with nothing pending and idle long enough", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("dconsumer-idle")
      yield* seed(key, ["1-0", "2-0"])
      yield* backend.createGroup(key, "g", { id: "0" })
      yield* backend.readGroup({ stream: key, group: "g", consumer: "busy", id: ">" })
      yield* backend.createConsumer(key, "g", "free")
      const busy = yield* backend.deleteConsumerIfIdle(key, "g", "busy")
      assert.deepStrictEqual([busy.deleted, busy.pending], [false, 2])
      assertIdle(backendName, busy.idleMs!, 0)
      const tooFresh = yield* backend.deleteConsumerIfIdle(key, "g", "free", { minIdleMs: 10_000 })
      assert.deepStrictEqual([tooFresh.deleted, tooFresh.pending], [false, 0])
      yield* kit.sleep(300)
      const free = yield* backend.deleteConsumerIfIdle(key, "g", "free", { minIdleMs: 200 })
      assert.deepStrictEqual([free.deleted, free.pending], [true, 0])
      assertIdle(backendName, free.idleMs!, 300)
      assert.deepStrictEqual(
        yield* backend.deleteConsumerIfIdle(key, "g", "free"),
        { deleted: false, pending: 0, idleMs: null }
      )
      assert.deepStrictEqual((yield* backend.consumersInfo(key, "g")).map((c) => c.name), ["busy"])
      assert.strictEqual((yield* backend.pendingSummary(key, "g")).count, 2)
      yield* failsWith(backend.deleteConsumerIfIdle(key, "nope", "c"), "GroupNotFound")
    }))

  it.effect("setGroupId: rewinds or skips delivery; entriesRead sets the counter", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("setid")
      yield* seed(key, ["1-0", "2-0", "3-0"])
      yield* backend.createGroup(key, "g", { id: "0" })
      const read = (consumer: string) =>
        backend.readGroup({ stream: key, group: "g", consumer, id: ">" }).pipe(
          Effect.map((es) => es.map((e) => e.id))
        )
      assert.deepStrictEqual(yield* read("c"), ["1-0", "2-0", "3-0"])
      yield* backend.setGroupId(key, "g", "0")
      assert.deepStrictEqual(yield* read("c"), ["1-0", "2-0", "3-0"])
      // still one pending entry per id; a `>` re-delivery restarts the delivery count at 1
      assert.deepStrictEqual(
        (yield* backend.pending({ stream: key, group: "g", count: 10 })).map((p) => [p.id, p.deliveries]),
        [["1-0", 1], ["2-0", 1], ["3-0", 1]]
      )
      yield* backend.setGroupId(key, "g", "1-0", { entriesRead: 1 })
      assert.deepStrictEqual((yield* backend.groupsInfo(key))[0], {
        name: "g",
        consumers: 1,
        pending: 3,
        lastDeliveredId: "1-0",
        entriesRead: 1,
        lag: 2
      })
      assert.deepStrictEqual(yield* read("d"), ["2-0", "3-0"])
      yield* backend.setGroupId(key, "g", "$")
      yield* backend.add(key, ["n", "4-0"], { id: "4-0" })
      assert.deepStrictEqual(yield* read("d"), ["4-0"])
      const bad = yield* failsWith(backend.setGroupId(key, "g", "x-y"), "RedisCommandError")
      assert.strictEqual(bad.reply, INVALID_ID)
    }))

  // ---------------------------------------------------------------- delete / trim / length

  it.effect("delete: counts the ids that existed", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("xdel")
      yield* seed(key, ["1-0", "2-0", "3-0"])
      assert.strictEqual(yield* backend.delete(key, ["2-0", "2-0", "9-0"]), 1)
      assert.strictEqual(yield* backend.delete(key, ["2-0"]), 0)
      assert.strictEqual(yield* backend.delete(key, ["1-0", "3-0"]), 2)
      assert.strictEqual(yield* backend.length(key), 0)
      // an empty stream is still a stream
      assert.strictEqual((yield* backend.streamInfo(key)).entriesAdded, 3)
      const err = yield* failsWith(backend.delete(key, ["bad"]), "RedisCommandError")
      assert.strictEqual(err.reply, INVALID_ID)
    }))

  it.effect("trim: exact MAXLEN and MINID return how many went away", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("xtrim")
      yield* seed(key, ["1-0", "2-0", "3-0", "4-0", "5-0", "6-0"])
      assert.strictEqual(yield* backend.trim(key, { strategy: "maxlen", threshold: 10 }), 0)
      assert.strictEqual(yield* backend.trim(key, { strategy: "maxlen", threshold: 5 }), 1)
      assert.strictEqual(yield* backend.trim(key, { strategy: "minid", threshold: "4-0" }), 2)
      assert.deepStrictEqual((yield* backend.range(key)).map((e) => e.id), ["4-0", "5-0", "6-0"])
      assert.strictEqual(yield* backend.trim(key, { strategy: "minid", threshold: "4-0" }), 0)
      assert.strictEqual(yield* backend.trim(key, { strategy: "minid", threshold: "(5-0" }).pipe(
        Effect.catchTag("RedisCommandError", (e) => Effect.succeed(e.reply))
      ), INVALID_ID)
      assert.strictEqual(yield* backend.trim(key, { strategy: "maxlen", threshold: 0 }), 3)
      assert.strictEqual(yield* backend.length(key), 0)
      const info = yield* backend.streamInfo(key)
      assert.deepStrictEqual([info.lastGeneratedId, info.maxDeletedEntryId, info.recordedFirstEntryId], [
        "6-0",
        "0-0",
        "0-0"
      ])
    }))

  it.effect("length: 0 for a missing key, then the number of entries", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("xlen")
      assert.strictEqual(yield* backend.length(key), 0)
      yield* backend.addMany(key, [["a", "1"], ["a", "2"], ["a", "3"]])
      assert.strictEqual(yield* backend.length(key), 3)
      const [first] = yield* backend.range(key, { count: 1 })
      yield* backend.delete(key, [first!.id])
      assert.strictEqual(yield* backend.length(key), 2)
    }))

  // ---------------------------------------------------------------- range

  it.effect("range: default bounds, inclusive and exclusive bounds, incomplete ids", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("range")
      yield* seed(key, ["1-0", "1-1", "2-0", "3-5", "4-0"])
      const ids = (options?: Parameters<StreamsBackend.Service["range"]>[1]) =>
        backend.range(key, options).pipe(Effect.map((es) => es.map((e) => e.id)))
      assert.deepStrictEqual(yield* backend.range(key), [
        entry("1-0", "n", "1-0"),
        entry("1-1", "n", "1-1"),
        entry("2-0", "n", "2-0"),
        entry("3-5", "n", "3-5"),
        entry("4-0", "n", "4-0")
      ])
      assert.deepStrictEqual(yield* ids({ start: "-", end: "+" }), ["1-0", "1-1", "2-0", "3-5", "4-0"])
      assert.deepStrictEqual(yield* ids({ start: "1-1", end: "3-5" }), ["1-1", "2-0", "3-5"])
      assert.deepStrictEqual(yield* ids({ start: "(1-1", end: "(3-5" }), ["2-0"])
      assert.deepStrictEqual(yield* ids({ start: "(1-0" }), ["1-1", "2-0", "3-5", "4-0"])
      // incomplete ids: start "1" is 1-0, end "1" is the whole millisecond
      assert.deepStrictEqual(yield* ids({ start: "1", end: "1" }), ["1-0", "1-1"])
      assert.deepStrictEqual(yield* ids({ start: "3", end: "3" }), ["3-5"])
      assert.deepStrictEqual(yield* ids({ start: "(1", end: "(3" }), ["1-1", "2-0", "3-5"])
      assert.deepStrictEqual(yield* ids({ start: "2-1", end: "3-4" }), [])
      assert.deepStrictEqual(yield* ids({ start: "4-0", end: "1-0" }), [])
      assert.deepStrictEqual(yield* ids({ start: "5" }), [])
      const bad = yield* failsWith(backend.range(key, { start: "nope" }), "RedisCommandError")
      assert.strictEqual(bad.reply, INVALID_ID)
    }))

  it.effect("range: COUNT and reverse order", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const key = kit.key("range-rev")
      yield* seed(key, ["1-0", "1-1", "2-0", "3-5", "4-0"])
      const ids = (options?: Parameters<StreamsBackend.Service["range"]>[1]) =>
        backend.range(key, options).pipe(Effect.map((es) => es.map((e) => e.id)))
      assert.deepStrictEqual(yield* ids({ count: 2 }), ["1-0", "1-1"])
      assert.deepStrictEqual(yield* ids({ count: 100 }), ["1-0", "1-1", "2-0", "3-5", "4-0"])
      assert.deepStrictEqual(yield* ids({ count: 0 }), [])
      assert.deepStrictEqual(yield* ids({ reverse: true }), ["4-0", "3-5", "2-0", "1-1", "1-0"])
      // reverse with COUNT gives the newest entries
      assert.deepStrictEqual(yield* ids({ reverse: true, count: 2 }), ["4-0", "3-5"])
      // start stays the low bound, end the high one
      assert.deepStrictEqual(yield* ids({ reverse: true, start: "1-1", end: "3" }), ["3-5", "2-0", "1-1"])
      assert.deepStrictEqual(yield* ids({ reverse: true, start: "(1-1", end: "(4-0", count: 1 }), ["3-5"])
      assert.deepStrictEqual(
        yield* backend.range(key, { reverse: true, start: "4", count: 1 }),
        [entry("4-0", "n", "4-0")]
      )
      assert.deepStrictEqual(yield* ids({ start: "2", count: 2 }), ["2-0", "3-5"])
    }))

  // ---------------------------------------------------------------- moveEntry

  it.effect("moveEntry: adds the fields to the target and deletes the entry, in one step; null when the entry is gone", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const from = kit.key("move-from")
      const to = kit.key("move-to")
      yield* seed(from, ["1-0", "2-0", "3-0"])
      yield* backend.add(to, ["x", "1"], { id: "9999999999999-0" })
      const moved = yield* backend.moveEntry({ from, id: "2-0", to, fields: ["__proto__", "a", "2", "b", "a", "c"] })
      // a generated id after the target's top
      assert.strictEqual(moved, "9999999999999-1")
      assert.deepStrictEqual((yield* backend.range(from)).map((e) => e.id), ["1-0", "3-0"])
      assert.deepStrictEqual(yield* backend.range(to), [
        entry("9999999999999-0", "x", "1"),
        entry("9999999999999-1", "__proto__", "a", "2", "b", "a", "c")
      ])
      // gone already (or never there): nothing added
      assert.strictEqual(yield* backend.moveEntry({ from, id: "2-0", to, fields: ["y", "1"] }), null)
      assert.strictEqual(yield* backend.moveEntry({ from: kit.key("move-missing"), id: "1-0", to, fields: ["y", "1"] }), null)
      assert.strictEqual(yield* backend.length(to), 2)
      // into a stream that does not exist yet, and within one stream (the entry comes back at the end)
      const fresh = kit.key("move-fresh")
      assert.match((yield* backend.moveEntry({ from, id: "1-0", to: fresh, fields: ["n", "1-0"] }))!, ID_PATTERN)
      assert.deepStrictEqual(yield* backend.range(fresh).pipe(Effect.map((es) => es.map((e) => e.fields))), [["n", "1-0"]])
      const again = yield* backend.moveEntry({ from, id: "3-0", to: from, fields: ["n", "3-0 again"] })
      assert.deepStrictEqual(yield* backend.range(from), [entry(again!, "n", "3-0 again")])
    }))

  it.effect("moveEntry: a target of another type fails with WrongKeyType and the entry stays; a bad id fails", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const from = kit.key("move-wt")
      const str = kit.key("move-str")
      yield* seed(from, ["1-0"])
      yield* kit.setString(str, "not a stream")
      const wrong = yield* failsWith(backend.moveEntry({ from, id: "1-0", to: str, fields: ["n", "1"] }), "WrongKeyType")
      assert.strictEqual(wrong.message, `XADD + XDEL (script): key '${from}' or '${str}' holds another type than a stream`)
      assert.deepStrictEqual((yield* backend.range(from)).map((e) => e.id), ["1-0"])
      // the source of another type
      yield* failsWith(backend.moveEntry({ from: str, id: "1-0", to: from, fields: ["n", "1"] }), "WrongKeyType")
      const bad = yield* failsWith(backend.moveEntry({ from, id: "nope", to: from, fields: ["n", "1"] }), "RedisCommandError")
      assert.strictEqual(bad.reply, INVALID_ID)
      assert.deepStrictEqual((yield* backend.range(from)).map((e) => e.id), ["1-0"])
    }))
})

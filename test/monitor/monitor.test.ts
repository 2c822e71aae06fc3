/**
 * The Monitor on both backends (in memory under TestClock, and a real Redis):
 * reports of multi-group streams, statuses, typed errors for missing keys,
 * and cleanups that never lose an entry.
 *
 * The invariant checked after every cleanup: every entry that was pending in
 * a group before is still pending in that group after (possibly with another
 * owner), and nothing was acknowledged or dead-lettered by the Monitor, so
 * acknowledged + pending + dead-lettered never drops.
 */
import { assert } from "@effect/vitest"
import { Chunk, Effect, Either, Metric, Schedule, Stream } from "effect"
import { Monitor, StreamsBackend } from "effect-redis-streams"
import { forEachBackend, TestKit } from "../src/Harness.js"

type Backend = StreamsBackend.Service

const services = Effect.all({ backend: StreamsBackend.StreamsBackend, kit: TestKit })

/** add `n` entries and let `consumer` read them all */
const deliver = (backend: Backend, stream: string, group: string, consumer: string, n: number) =>
  Effect.gen(function*() {
    const ids = yield* backend.addMany(stream, Array.from({ length: n }, (_, i) => ["n", String(i)]))
    const read = yield* backend.readGroup({ stream, group, consumer, id: ">", count: n })
    assert.strictEqual(read.length, n, `${consumer} read ${n}`)
    return ids
  })

/**
 * a live consumer shows it is alive. On Redis 7.0 an XREADGROUP ">" that finds
 * nothing does not refresh the consumer's idle time; re-reading its own
 * pending list does, and after an id above all of them it returns nothing and
 * counts no delivery
 */
const poll = (backend: Backend, stream: string, group: string, consumer: string) =>
  backend.readGroup({ stream, group, consumer, id: "9999999999999-0", count: 1 }).pipe(
    Effect.tap((entries) => assert.strictEqual(entries.length, 0, `${consumer} poll should find nothing new`))
  )

/** id -> owner of every pending entry of the group */
const owners = (backend: Backend, stream: string, group: string) =>
  Effect.map(
    backend.pending({ stream, group, count: 1_000_000 }),
    (entries) => new Map(entries.map((e) => [e.id, e.consumer] as const))
  )

/** the invariant: the same ids pending before and after, nothing acked or dead-lettered */
const assertNothingLost = (before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>, what: string) => {
  assert.deepStrictEqual([...after.keys()].sort(), [...before.keys()].sort(), `${what}: pending ids changed`)
}

const monitorWith = (options: Monitor.Options, backend?: Backend) =>
  backend === undefined
    ? Monitor.make(options)
    : Monitor.make(options).pipe(Effect.provideService(StreamsBackend.StreamsBackend, backend))

forEachBackend("Monitor", (it, backendName) => {
  // -------------------------------------------------------------------------- report

  it.scoped("report: a multi-group stream, every group under its own name", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const stream = kit.key("mon-multi")
      yield* backend.createGroup(stream, "g1", { id: "0", mkStream: true })
      yield* backend.createGroup(stream, "g2", { id: "$" })
      const ids = yield* backend.addMany(stream, Array.from({ length: 10 }, (_, i) => ["n", String(i)]))
      yield* backend.createGroup(stream, "g3", { id: "0" })
      // g1: a reads 3, b reads 2 then re-reads its own pending (2 deliveries), c reads nothing
      yield* backend.readGroup({ stream, group: "g1", consumer: "a", id: ">", count: 3 })
      yield* backend.readGroup({ stream, group: "g1", consumer: "b", id: ">", count: 2 })
      yield* backend.readGroup({ stream, group: "g1", consumer: "b", id: "0", count: 10 })
      yield* backend.createConsumer(stream, "g1", "c")
      // g2: a consumer with the same name as in g1 reads 1; one entry acknowledged
      yield* backend.readGroup({ stream, group: "g2", consumer: "a", id: ">", count: 2 })
      yield* backend.ack(stream, "g2", [ids[1]!])
      yield* backend.addMany(`{${stream}}:dlq`, [["x", "1"], ["x", "2"]])
      yield* kit.sleep(20)

      const monitor = yield* Monitor.make({ stream, pendingThreshold: 2, idleThreshold: "1 hour" })
      const report = yield* monitor.report
      assert.strictEqual(report.stream, stream)
      assert.deepStrictEqual(report.groups.map((g) => g.name), ["g1", "g2", "g3"])
      const [g1, g2, g3] = report.groups as [Monitor.GroupReport, Monitor.GroupReport, Monitor.GroupReport]

      assert.strictEqual(g1.lag, 5)
      assert.isTrue(g1.lagExact)
      assert.strictEqual(g1.pending, 5)
      assert.strictEqual(g1.lastDeliveredId, ids[4])
      assert.strictEqual(g1.oldestPendingId, ids[0])
      assert.strictEqual(g1.maxDeliveries, 2)
      assert.isTrue(g1.maxDeliveriesExact)
      assert.strictEqual(g1.deadLetterStream, `{${stream}}:dlq`)
      assert.strictEqual(g1.deadLetters, 2)
      assert.isTrue(g1.oldestPendingAgeMs !== null && g1.oldestPendingAgeMs >= 20)
      assert.deepStrictEqual(
        g1.consumers.map((c) => [c.name, c.pending, c.status]),
        [["a", 3, "TOO_MANY_PENDING"], ["b", 2, "OK"], ["c", 0, "OK"]]
      )

      assert.strictEqual(g2.lag, 8)
      assert.strictEqual(g2.pending, 1)
      assert.strictEqual(g2.lastDeliveredId, ids[1])
      assert.strictEqual(g2.maxDeliveries, 1)
      assert.deepStrictEqual(g2.consumers.map((c) => [c.name, c.pending, c.status]), [["a", 1, "OK"]])

      assert.strictEqual(g3.lag, 10)
      assert.strictEqual(g3.pending, 0)
      assert.strictEqual(g3.lastDeliveredId, "0-0")
      assert.strictEqual(g3.oldestPendingId, null)
      assert.strictEqual(g3.oldestPendingAgeMs, null)
      assert.strictEqual(g3.maxDeliveries, null)
      assert.deepStrictEqual(g3.consumers, [])

      // one group only
      const only = yield* Monitor.make({ stream, group: "g2" })
      const r2 = yield* only.report
      assert.deepStrictEqual(r2.groups.map((g) => g.name), ["g2"])

      // the table has one row per consumer, each under its group
      const table = Monitor.render(report).split("\n")
      assert.strictEqual(table.length, 3 + 4 * 2)
      assert.match(table[3]!, /^\| g1 +\| a +\| +\d+ \| +3 \| WARNING - too many pending items \|$/)
      assert.match(table[9]!, /^\| g2 +\| a +\| +\d+ \| +1 \| OK +\|$/)
      assert.notInclude(table.join("\n"), "b'")

      // the gauges follow the report
      const gauge = (g: Metric.Metric.Gauge<number>, group: string, tags?: Record<string, string>) =>
        Effect.map(Metric.value(Monitor.taggedGauge(g, stream, group, tags)), (s) => s.value)
      assert.strictEqual(yield* gauge(Monitor.metrics.lag, "g1"), 5)
      assert.strictEqual(yield* gauge(Monitor.metrics.lagExact, "g1"), 1)
      assert.strictEqual(yield* gauge(Monitor.metrics.pending, "g1"), 5)
      assert.strictEqual(yield* gauge(Monitor.metrics.maxDeliveries, "g1"), 2)
      assert.strictEqual(yield* gauge(Monitor.metrics.consumers, "g1", { status: "OK" }), 2)
      assert.strictEqual(yield* gauge(Monitor.metrics.consumers, "g1", { status: "TOO_MANY_PENDING" }), 1)
      assert.strictEqual(yield* gauge(Monitor.metrics.consumers, "g1", { status: "IDLE" }), 0)
      assert.strictEqual(
        yield* gauge(Monitor.metrics.deadLetters, "g1", { dead_letter_stream: `{${stream}}:dlq` }),
        2
      )
      assert.strictEqual(yield* gauge(Monitor.metrics.lag, "g3"), 10)
      assert.isTrue((yield* gauge(Monitor.metrics.oldestPendingAgeSeconds, "g1")) >= 0.02)
    }))

  it.scoped("report: a missing dead-letter stream counts 0; the option names another one", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const stream = kit.key("mon-dlq")
      yield* backend.createGroup(stream, "g", { id: "0", mkStream: true })
      const r1 = yield* (yield* Monitor.make({ stream })).report
      assert.strictEqual(r1.groups[0]!.deadLetters, 0)
      const dlq = kit.key("mon-dlq-custom")
      yield* backend.add(dlq, ["x", "1"])
      const r2 = yield* (yield* Monitor.make({ stream, deadLetterStream: dlq })).report
      assert.strictEqual(r2.groups[0]!.deadLetters, 1)
      assert.strictEqual(r2.groups[0]!.deadLetterStream, dlq)
    }))

  it.scoped("status: pending at the threshold is OK, one more is TOO_MANY_PENDING", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const stream = kit.key("mon-pending")
      yield* backend.createGroup(stream, "g", { id: "0", mkStream: true })
      yield* deliver(backend, stream, "g", "at", 4)
      yield* deliver(backend, stream, "g", "over", 5)
      const report = yield* (yield* Monitor.make({ stream, pendingThreshold: 4 })).report
      assert.deepStrictEqual(
        report.groups[0]!.consumers.map((c) => [c.name, c.pending, c.status]),
        [["at", 4, "OK"], ["over", 5, "TOO_MANY_PENDING"]]
      )
    }))

  it.scoped("status: idle beyond the threshold is IDLE (exactly at it is OK on the in-memory clock)", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const stream = kit.key("mon-idle")
      yield* backend.createGroup(stream, "g", { id: "0", mkStream: true })
      yield* deliver(backend, stream, "g", "sleepy", 1)
      const monitor = yield* Monitor.make({ stream, idleThreshold: 300 })
      if (backendName === "memory") {
        yield* kit.sleep(300)
        const atThreshold = yield* monitor.report
        assert.strictEqual(atThreshold.groups[0]!.consumers[0]!.idleMs, 300)
        assert.strictEqual(atThreshold.groups[0]!.consumers[0]!.status, "OK")
        yield* kit.sleep(1)
      } else {
        yield* kit.sleep(400)
      }
      const report = yield* monitor.report
      const c = report.groups[0]!.consumers[0]!
      assert.isTrue(c.idleMs > 300)
      assert.strictEqual(c.status, "IDLE")
      assert.strictEqual(c.inactiveMs, null) // Redis 7.0 and the in-memory model: no `inactive`
      yield* poll(backend, stream, "g", "sleepy")
      const back = yield* monitor.report
      assert.strictEqual(back.groups[0]!.consumers[0]!.status, "OK")
    }))

  it.scoped("a missing stream is StreamNotFound, a missing group GroupNotFound, and neither is created", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const stream = kit.key("mon-missing")
      const m1 = yield* Monitor.make({ stream, group: "g" })
      const e1 = yield* Effect.flip(m1.report)
      assert.strictEqual(e1._tag, "StreamNotFound")
      const e2 = yield* Effect.flip(m1.cleanup())
      assert.strictEqual(e2._tag, "StreamNotFound")
      assert.strictEqual(yield* backend.length(stream), 0)
      assert.isTrue(Either.isLeft(yield* Effect.either(backend.streamInfo(stream))))

      yield* backend.add(stream, ["a", "1"])
      const e3 = yield* Effect.flip(m1.report)
      assert.strictEqual(e3._tag, "GroupNotFound")
      const e4 = yield* Effect.flip(m1.cleanup({ dryRun: true }))
      assert.strictEqual(e4._tag, "GroupNotFound")
      assert.deepStrictEqual(yield* backend.groupsInfo(stream), [])
      // without a group: a stream with no group is an empty report
      const all = yield* (yield* Monitor.make({ stream })).report
      assert.deepStrictEqual(all.groups, [])
    }))

  // -------------------------------------------------------------------------- cleanup

  it.scoped("cleanup: a crashed consumer with old and fresh entries loses nothing", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const stream = kit.key("mon-crash")
      const g = "g"
      yield* backend.createGroup(stream, g, { id: "0", mkStream: true })
      yield* backend.createConsumer(stream, g, "h1")
      yield* backend.createConsumer(stream, g, "h2")
      const old = yield* deliver(backend, stream, g, "dead", 4)
      yield* kit.sleep(1_200)
      const fresh = yield* deliver(backend, stream, g, "dead", 2)
      yield* kit.sleep(400)
      yield* poll(backend, stream, g, "h1")
      yield* poll(backend, stream, g, "h2")

      const monitor = yield* Monitor.make({ stream, group: g, idleThreshold: 300, claimIdle: 1_000 })
      const before = yield* owners(backend, stream, g)
      const first = yield* monitor.cleanup()
      const afterFirst = yield* owners(backend, stream, g)
      assertNothingLost(before, afterFirst, "first round")

      assert.strictEqual(first.consumers.length, 1)
      const r = first.consumers[0]!
      assert.strictEqual(r.consumer, "dead")
      assert.strictEqual(r.outcome, "KEPT_PENDING")
      assert.strictEqual(r.claimed, 4)
      assert.strictEqual(r.skipped, 0)
      assert.strictEqual(r.left, 2)
      assert.strictEqual(first.deleted, 0)
      // spread over both healthy consumers, not all onto one
      assert.deepStrictEqual(r.claims.map((c) => [c.to, c.ids.length]).sort(), [["h1", 2], ["h2", 2]])
      for (const id of old) assert.notStrictEqual(afterFirst.get(id), "dead")
      for (const id of fresh) assert.strictEqual(afterFirst.get(id), "dead")
      // the dead consumer is still there, with its fresh entries
      const consumers1 = yield* backend.consumersInfo(stream, g)
      assert.deepStrictEqual(consumers1.map((c) => [c.name, c.pending]), [["dead", 2], ["h1", 2], ["h2", 2]])

      // later: the fresh entries are old enough, they move, and the consumer goes
      yield* kit.sleep(700)
      yield* poll(backend, stream, g, "h1")
      yield* poll(backend, stream, g, "h2")
      const second = yield* monitor.cleanup()
      const afterSecond = yield* owners(backend, stream, g)
      assertNothingLost(before, afterSecond, "second round")
      const r2 = second.consumers[0]!
      assert.strictEqual(r2.outcome, "DELETED")
      assert.strictEqual(r2.claimed, 2)
      assert.deepStrictEqual(r2.claims.map((c) => [c.to, c.ids.length]).sort(), [["h1", 1], ["h2", 1]])
      const consumers2 = yield* backend.consumersInfo(stream, g)
      assert.deepStrictEqual(consumers2.map((c) => [c.name, c.pending]), [["h1", 3], ["h2", 3]])
      // claims do not count as deliveries (JUSTID): every entry was delivered once
      const pending = yield* backend.pending({ stream, group: g, count: 100 })
      assert.deepStrictEqual(pending.map((e) => e.deliveries), [1, 1, 1, 1, 1, 1])
    }))

  it.scoped("cleanup: a dry run returns the plan and changes nothing", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const stream = kit.key("mon-dry")
      const g = "g"
      yield* backend.createGroup(stream, g, { id: "0", mkStream: true })
      yield* deliver(backend, stream, g, "dead", 5)
      yield* backend.createConsumer(stream, g, "empty-dead")
      yield* kit.sleep(500)
      yield* backend.createConsumer(stream, g, "h1")
      yield* deliver(backend, stream, g, "h2", 1)
      const monitor = yield* Monitor.make({ stream, group: g, idleThreshold: 300, claimIdle: 200 })
      const before = yield* owners(backend, stream, g)
      const consumersBefore = (yield* backend.consumersInfo(stream, g)).map((c) => [c.name, c.pending])
      const plan = yield* monitor.cleanup({ dryRun: true })
      assert.isTrue(plan.dryRun)
      assert.deepStrictEqual(
        plan.consumers.map((c) => [c.consumer, c.outcome, c.left]),
        [["dead", "WOULD_DELETE", 0], ["empty-dead", "WOULD_DELETE", 0]]
      )
      // h1 has 0 pending and h2 has 1: h1 takes 3, h2 takes 2
      assert.deepStrictEqual(
        plan.consumers[0]!.claims.map((c) => [c.to, c.ids.length]).sort(),
        [["h1", 3], ["h2", 2]]
      )
      assert.strictEqual(plan.claimed, 0)
      assert.strictEqual(plan.deleted, 0)
      // nothing changed
      const after = yield* owners(backend, stream, g)
      assert.deepStrictEqual([...after.entries()].sort(), [...before.entries()].sort())
      assert.deepStrictEqual((yield* backend.consumersInfo(stream, g)).map((c) => [c.name, c.pending]), consumersBefore)
    }))

  it.scoped("cleanup: a busy live consumer with many pending entries is never deleted nor a target", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const stream = kit.key("mon-busy")
      const g = "g"
      yield* backend.createGroup(stream, g, { id: "0", mkStream: true })
      yield* deliver(backend, stream, g, "dead", 2)
      yield* kit.sleep(500)
      yield* deliver(backend, stream, g, "busy", 8)
      yield* deliver(backend, stream, g, "ok", 1)
      const monitor = yield* Monitor.make({ stream, group: g, idleThreshold: 300, claimIdle: 100, pendingThreshold: 4 })
      const report = yield* monitor.report
      assert.deepStrictEqual(
        report.groups[0]!.consumers.map((c) => [c.name, c.status]),
        [["busy", "TOO_MANY_PENDING"], ["dead", "IDLE"], ["ok", "OK"]]
      )
      const before = yield* owners(backend, stream, g)
      const result = yield* monitor.cleanup()
      assertNothingLost(before, yield* owners(backend, stream, g), "busy")
      assert.deepStrictEqual(result.consumers.map((c) => [c.consumer, c.outcome]), [["dead", "DELETED"]])
      assert.deepStrictEqual(result.consumers[0]!.claims.map((c) => c.to), ["ok"])
      assert.deepStrictEqual(
        (yield* backend.consumersInfo(stream, g)).map((c) => [c.name, c.pending]),
        [["busy", 8], ["ok", 3]]
      )
    }))

  it.scoped("cleanup: with no healthy consumer the entries stay where they are, and it says so", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const stream = kit.key("mon-nohealthy")
      const g = "g"
      yield* backend.createGroup(stream, g, { id: "0", mkStream: true })
      yield* deliver(backend, stream, g, "d1", 3)
      yield* deliver(backend, stream, g, "d2", 2)
      yield* kit.sleep(500)
      const monitor = yield* Monitor.make({ stream, group: g, idleThreshold: 300, claimIdle: 100 })
      const before = yield* owners(backend, stream, g)
      const result = yield* monitor.cleanup()
      const after = yield* owners(backend, stream, g)
      assert.deepStrictEqual([...after.entries()].sort(), [...before.entries()].sort())
      assert.deepStrictEqual(
        result.consumers.map((c) => [c.consumer, c.outcome, c.left]),
        [["d1", "NO_HEALTHY_CONSUMER", 3], ["d2", "NO_HEALTHY_CONSUMER", 2]]
      )
      assert.include(result.consumers[0]!.note, "no live consumer")
      assert.deepStrictEqual((yield* backend.consumersInfo(stream, g)).map((c) => c.name), ["d1", "d2"])
    }))

  for (const moment of ["claimJustId", "deleteConsumerIfIdle"] as const) {
    it.scoped(`cleanup: a consumer that comes back mid-cleanup (just before ${moment}) is kept with its entries`, () =>
      Effect.gen(function*() {
        const { backend, kit } = yield* services
        const stream = kit.key("mon-back")
        const g = "g"
        yield* backend.createGroup(stream, g, { id: "0", mkStream: true })
        yield* deliver(backend, stream, g, "flaky", 3)
        yield* kit.sleep(500)
        yield* backend.createConsumer(stream, g, "h")
        // the consumer returns at that moment of the cleanup: it reads a new entry
        let returned = false
        const comeBack = Effect.suspend(() => {
          if (returned) return Effect.void
          returned = true
          return Effect.asVoid(deliver(backend, stream, g, "flaky", 1))
        })
        const comesBack: Backend = moment === "claimJustId"
          ? { ...backend, claimJustId: (options) => Effect.zipRight(comeBack, backend.claimJustId(options)) }
          : {
            ...backend,
            deleteConsumerIfIdle: (st, gr, c, o) => Effect.zipRight(comeBack, backend.deleteConsumerIfIdle(st, gr, c, o))
          }
        const monitor = yield* monitorWith({ stream, group: g, idleThreshold: 300, claimIdle: 100 }, comesBack)
        const before = yield* owners(backend, stream, g)
        const result = yield* monitor.cleanup()
        const after = yield* owners(backend, stream, g)
        assert.isTrue(returned)
        // all that was pending is still pending, plus the entry it read on its return
        for (const id of before.keys()) assert.isTrue(after.has(id), `${id} still pending`)
        assert.strictEqual(after.size, before.size + 1)
        const r = result.consumers[0]!
        assert.strictEqual(r.outcome, "CAME_BACK")
        assert.strictEqual(r.claimed, 3)
        assert.strictEqual(r.left, 1)
        assert.strictEqual(result.deleted, 0)
        assert.deepStrictEqual((yield* backend.consumersInfo(stream, g)).map((c) => [c.name, c.pending]), [
          ["flaky", 1],
          ["h", 3]
        ])
      }))
  }

  it.scoped("cleanup: every group is cleaned within itself (same consumer name in two groups)", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const stream = kit.key("mon-groups")
      yield* backend.createGroup(stream, "A", { id: "0", mkStream: true })
      yield* backend.createGroup(stream, "B", { id: "0" })
      yield* backend.addMany(stream, Array.from({ length: 6 }, (_, i) => ["n", String(i)]))
      // B.shared reads 5 and dies; A.shared reads 1 and stays alive; B.w is alive
      yield* backend.readGroup({ stream, group: "B", consumer: "shared", id: ">", count: 5 })
      yield* kit.sleep(500)
      yield* backend.readGroup({ stream, group: "A", consumer: "shared", id: ">", count: 1 })
      yield* backend.createConsumer(stream, "B", "w")
      const monitor = yield* Monitor.make({ stream, idleThreshold: 300, claimIdle: 100, pendingThreshold: 10 })
      const beforeA = yield* owners(backend, stream, "A")
      const beforeB = yield* owners(backend, stream, "B")
      const result = yield* monitor.cleanup()
      assertNothingLost(beforeA, yield* owners(backend, stream, "A"), "A")
      assertNothingLost(beforeB, yield* owners(backend, stream, "B"), "B")
      assert.deepStrictEqual(result.consumers.map((c) => [c.group, c.consumer, c.outcome, c.claimed]), [
        ["B", "shared", "DELETED", 5]
      ])
      assert.deepStrictEqual((yield* backend.consumersInfo(stream, "A")).map((c) => [c.name, c.pending]), [[
        "shared",
        1
      ]])
      assert.deepStrictEqual((yield* backend.consumersInfo(stream, "B")).map((c) => [c.name, c.pending]), [["w", 5]])
    }))

  it.scoped("cleanup: an idle consumer with nothing pending is deleted; a live one is not", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const stream = kit.key("mon-empty")
      const g = "g"
      yield* backend.createGroup(stream, g, { id: "0", mkStream: true })
      yield* backend.createConsumer(stream, g, "gone")
      yield* kit.sleep(500)
      yield* backend.createConsumer(stream, g, "alive")
      const monitor = yield* Monitor.make({ stream, group: g, idleThreshold: 300 })
      const result = yield* monitor.cleanup()
      assert.deepStrictEqual(result.consumers.map((c) => [c.consumer, c.outcome]), [["gone", "DELETED"]])
      assert.deepStrictEqual((yield* backend.consumersInfo(stream, g)).map((c) => c.name), ["alive"])
    }))

  it.scoped("the Monitor only reads, claims and deletes idle consumers: it never acks, adds or creates", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const stream = kit.key("mon-calls")
      const g = "g"
      yield* backend.createGroup(stream, g, { id: "0", mkStream: true })
      const ids = yield* deliver(backend, stream, g, "dead", 4)
      yield* kit.sleep(500)
      yield* backend.createConsumer(stream, g, "h")
      yield* backend.delete(stream, [ids[3]!]) // a gap, so the server's lag may be unknown
      yield* backend.add(stream, ["n", "new"])
      const calls = new Set<string>()
      const recording = Object.fromEntries(
        Object.entries(backend).map(([name, value]) => [
          name,
          typeof value === "function"
            ? (...args: Array<unknown>) => {
              calls.add(name)
              return (value as (...a: Array<unknown>) => unknown)(...args)
            }
            : value
        ])
      ) as unknown as Backend
      const monitor = yield* monitorWith({ stream, idleThreshold: 300, claimIdle: 100 }, recording)
      yield* monitor.report
      yield* monitor.cleanup({ dryRun: true })
      const readOnly = ["consumersInfo", "groupsInfo", "length", "pending", "range", "streamInfo"]
      for (const c of calls) assert.include(readOnly, c, `report and dry run call only reads, not ${c}`)
      const result = yield* monitor.cleanup()
      // the entry deleted while pending cannot move (Redis drops it from the pending list): reported as skipped
      assert.deepStrictEqual(
        result.consumers.map((c) => [c.consumer, c.outcome, c.claimed, c.skipped]),
        [["dead", "DELETED", 3, 1]]
      )
      for (const c of calls) {
        assert.include([...readOnly, "claimJustId", "deleteConsumerIfIdle"], c, `cleanup called ${c}`)
      }
      assert.isTrue(calls.has("claimJustId") && calls.has("deleteConsumerIfIdle"))
    }))

  // -------------------------------------------------------------------------- watch and background

  it.scoped("watch: a Stream of reports on a Schedule, with cleanup when asked", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const stream = kit.key("mon-watch")
      const g = "g"
      yield* backend.createGroup(stream, g, { id: "0", mkStream: true })
      yield* deliver(backend, stream, g, "dead", 2)
      yield* kit.sleep(500)
      yield* backend.createConsumer(stream, g, "h")
      const monitor = yield* Monitor.make({ stream, group: g, idleThreshold: 300, claimIdle: 100 })
      const plain = Chunk.toReadonlyArray(yield* Stream.runCollect(monitor.watch({ schedule: Schedule.recurs(2) })))
      assert.strictEqual(plain.length, 3)
      assert.strictEqual(plain[0]!.cleanup, undefined)
      assert.deepStrictEqual(plain[2]!.groups[0]!.consumers.map((c) => c.name), ["dead", "h"])
      const cleaned = Chunk.toReadonlyArray(
        yield* Stream.runCollect(monitor.watch({ schedule: Schedule.recurs(1), cleanup: true }))
      )
      assert.strictEqual(cleaned[0]!.cleanup?.deleted, 1)
      assert.deepStrictEqual(cleaned[0]!.groups[0]!.consumers.map((c) => [c.name, c.pending]), [["h", 2]])
      assert.strictEqual(cleaned[1]!.cleanup?.consumers.length, 0)
    }))

  it.scoped("background: reports and cleans up on its schedule while the scope is open", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const stream = kit.key("mon-bg")
      const g = "g"
      yield* backend.createGroup(stream, g, { id: "0", mkStream: true })
      yield* deliver(backend, stream, g, "dead", 3)
      yield* kit.sleep(500)
      yield* backend.createConsumer(stream, g, "h")
      yield* Monitor.make({
        stream,
        group: g,
        idleThreshold: 300,
        claimIdle: 100,
        background: { schedule: Schedule.spaced("50 millis"), cleanup: true }
      })
      yield* kit.sleep(200)
      assert.deepStrictEqual((yield* backend.consumersInfo(stream, g)).map((c) => [c.name, c.pending]), [["h", 3]])
      const pendingGauge = yield* Metric.value(Monitor.taggedGauge(Monitor.metrics.pending, stream, g))
      assert.strictEqual(pendingGauge.value, 3)
      const consumersGauge = yield* Metric.value(Monitor.taggedGauge(Monitor.metrics.consumers, stream, g, { status: "OK" }))
      assert.strictEqual(consumersGauge.value, 1)
    }))
})

/**
 * The Monitor's pure functions, no Redis: the status rule at its boundaries
 * (strict inequalities), which idle figure counts, the rendering against
 * exact tables, the JSON form and the spreading of claimed entries.
 *
 * The expected tables were printed by python-tabulate 0.10.0 with
 * `tablefmt="grid"` and the same rows (the seed's printer).
 */
import { assert, describe, it } from "@effect/vitest"
import { Config, ConfigProvider, Effect, Layer } from "effect"
import { InMemoryBackend, Monitor } from "effect-redis-streams"

const thresholds = { pendingThreshold: 10, idleThresholdMs: 30_000 }

describe("Monitor.status", () => {
  const rows: ReadonlyArray<readonly [pending: number, idleMs: number, expected: Monitor.ConsumerStatus]> = [
    [10, 30_000, "OK"], // both exactly at the thresholds: strict >, so OK
    [11, 0, "TOO_MANY_PENDING"],
    [10, 30_001, "IDLE"],
    [11, 30_001, "TOO_MANY_PENDING"], // pending takes precedence, as in the seed
    [0, 0, "OK"],
    [0, 1_000_000, "IDLE"]
  ]
  for (const [pending, idleMs, expected] of rows) {
    it(`pending ${pending}, idle ${idleMs} -> ${expected}`, () => {
      assert.strictEqual(Monitor.status({ pending, idleMs }, thresholds), expected)
    })
  }
  it("pending threshold 0: one pending entry is too many", () => {
    assert.strictEqual(Monitor.status({ pending: 1, idleMs: 0 }, { ...thresholds, pendingThreshold: 0 }), "TOO_MANY_PENDING")
    assert.strictEqual(Monitor.status({ pending: 0, idleMs: 0 }, { ...thresholds, pendingThreshold: 0 }), "OK")
  })
  it("uses `inactive` where the server reports it (7.2+), `idle` otherwise", () => {
    const base = { name: "c", pending: 0, idleMs: 100 }
    assert.strictEqual(Monitor.effectiveIdleMs({ ...base, inactiveMs: null }), 100)
    assert.strictEqual(Monitor.effectiveIdleMs({ ...base, inactiveMs: 50_000 }), 50_000)
    assert.strictEqual(Monitor.effectiveIdleMs({ ...base, inactiveMs: -1 }), 100) // never active: fall back
    const r = Monitor.consumerReport({ ...base, inactiveMs: 50_000 }, thresholds)
    assert.deepStrictEqual(r, { name: "c", idleMs: 50_000, seenMs: 100, inactiveMs: 50_000, pending: 0, status: "IDLE" })
  })
  it("status texts are the seed's", () => {
    assert.deepStrictEqual(Monitor.statusText, {
      OK: "OK",
      IDLE: "WARNING - idle for long time",
      TOO_MANY_PENDING: "WARNING - too many pending items"
    })
  })
})

const consumer = (name: string, idleMs: number, pending: number, status: Monitor.ConsumerStatus) => ({
  name,
  idleMs,
  seenMs: idleMs,
  inactiveMs: null,
  pending,
  status
})

const group = (name: string, consumers: ReadonlyArray<Monitor.ConsumerReport>): Monitor.GroupReport => ({
  name,
  lag: 3,
  lagExact: true,
  pending: consumers.reduce((n, c) => n + c.pending, 0),
  lastDeliveredId: "5-0",
  consumers,
  oldestPendingId: "1-0",
  oldestPendingAgeMs: 1000,
  oldestPendingIdleMs: 900,
  maxDeliveries: 2,
  maxDeliveriesExact: true,
  deadLetterStream: "{s}:dlq",
  deadLetters: 4
})

describe("Monitor.render", () => {
  it("prints the seed's grid table with a Group column", () => {
    const report = {
      groups: [
        group("billing", [
          consumer("worker-a", 923, 7, "OK"),
          consumer("worker-b", 294191, 5, "IDLE")
        ]),
        group("orders", [
          consumer("w-1", 8658, 11, "TOO_MANY_PENDING"),
          consumer("w-2", 0, 0, "OK")
        ])
      ]
    }
    const expected = [
      "+---------+---------------+-------------+-----------------+----------------------------------+",
      "| Group   | Consumer id   |   Idle time |   Pending items | Status                           |",
      "+=========+===============+=============+=================+==================================+",
      "| billing | worker-a      |         923 |               7 | OK                               |",
      "+---------+---------------+-------------+-----------------+----------------------------------+",
      "| billing | worker-b      |      294191 |               5 | WARNING - idle for long time     |",
      "+---------+---------------+-------------+-----------------+----------------------------------+",
      "| orders  | w-1           |        8658 |              11 | WARNING - too many pending items |",
      "+---------+---------------+-------------+-----------------+----------------------------------+",
      "| orders  | w-2           |           0 |               0 | OK                               |",
      "+---------+---------------+-------------+-----------------+----------------------------------+"
    ].join("\n")
    assert.strictEqual(Monitor.render(report), expected)
  })

  it("an empty report is the header alone (as tabulate prints it)", () => {
    const expected = [
      "+---------+---------------+-------------+-----------------+----------+",
      "| Group   | Consumer id   | Idle time   | Pending items   | Status   |",
      "+=========+===============+=============+=================+==========+",
      "+---------+---------------+-------------+-----------------+----------+"
    ].join("\n")
    assert.strictEqual(Monitor.render({ groups: [] }), expected)
    assert.strictEqual(Monitor.render({ groups: [group("g", [])] }), expected)
  })

  it("prints names as text: never b'...', numeric-looking names left-aligned, control characters escaped", () => {
    const out = Monitor.render({
      groups: [group("g", [consumer("29102140026848155456", 1, 2, "OK"), consumer("bad\nname", 3, 4, "OK")])]
    })
    assert.notInclude(out, "b'")
    const lines = out.split("\n")
    assert.strictEqual(lines[3], "| g       | 29102140026848155456 |           1 |               2 | OK       |")
    assert.strictEqual(lines[5], "| g       | bad\\x0aname          |           3 |               4 | OK       |")
    assert.strictEqual(lines.length, 7)
  })
})

describe("Monitor.toJson", () => {
  it("is the stable machine-readable form", () => {
    const report: Monitor.Report = {
      stream: "s",
      at: 123,
      idleThresholdMs: 30_000,
      pendingThreshold: 10,
      groups: [group("g", [consumer("c1", 5, 1, "OK"), consumer("c2", 40_000, 0, "IDLE")])]
    }
    assert.deepStrictEqual(JSON.parse(JSON.stringify(Monitor.toJson(report))), {
      stream: "s",
      at: 123,
      groups: [{
        name: "g",
        lag: 3,
        lagExact: true,
        pending: 1,
        lastDeliveredId: "5-0",
        oldestPendingAgeMs: 1000,
        maxDeliveries: 2,
        deadLetters: 4,
        consumers: [
          { name: "c1", idleMs: 5, pending: 1, status: "OK" },
          { name: "c2", idleMs: 40_000, pending: 0, status: "IDLE" }
        ]
      }]
    })
  })
})

describe("Monitor.spread", () => {
  it("gives each entry to the target with the fewest pending, so loads even out", () => {
    const targets = [{ name: "a", pending: 3 }, { name: "b", pending: 0 }, { name: "c", pending: 1 }]
    const claims = Monitor.spread(["1", "2", "3", "4", "5", "6"], targets)
    // b: 0->1 (1), 1->2 (c ties b at 1: name order b first)...
    const byName = Object.fromEntries(claims.map((c) => [c.to, c.ids]))
    assert.deepStrictEqual(byName, { b: ["1", "2", "4"], c: ["3", "5"], a: ["6"] })
    assert.deepStrictEqual(targets.map((t) => t.pending), [4, 3, 3])
  })
  it("never puts everything on one when several can take it", () => {
    const targets = [{ name: "x", pending: 0 }, { name: "y", pending: 0 }]
    const claims = Monitor.spread(Array.from({ length: 9 }, (_, i) => String(i)), targets)
    assert.deepStrictEqual(claims.map((c) => c.ids.length).sort(), [4, 5])
  })
  it("with no target, plans nothing", () => {
    assert.deepStrictEqual(Monitor.spread(["1"], []), [])
  })
})

describe("Monitor options", () => {
  it.effect("defaults: idle 30 s, pending threshold = batch size, claim idle 1 s", () =>
    Effect.gen(function*() {
      const o = yield* Monitor.resolveOptions({ stream: "orders" })
      assert.strictEqual(o.idleThresholdMs, 30_000)
      assert.strictEqual(o.pendingThreshold, 10)
      assert.strictEqual(o.claimIdleMs, 1_000)
      assert.strictEqual(o.group, undefined)
      assert.strictEqual(o.deadLetterStream("any"), "{orders}:dlq")
      const b = yield* Monitor.resolveOptions({ stream: "orders", batchSize: 25, idleThreshold: "2 minutes" })
      assert.strictEqual(b.pendingThreshold, 25)
      assert.strictEqual(b.idleThresholdMs, 120_000)
      const d = yield* Monitor.resolveOptions({ stream: "orders", deadLetterStream: (g) => `dead:${g}` })
      assert.strictEqual(d.deadLetterStream("g1"), "dead:g1")
    }))
  it.effect("invalid options are InvalidOptions naming the option and the accepted range", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [Monitor.Options, string]> = [
        [{ stream: "" }, "stream"],
        [{ stream: "s", group: "" }, "group"],
        [{ stream: "s", idleThreshold: -1 }, "idleThreshold"],
        [{ stream: "s", idleThreshold: "soon" as never }, "idleThreshold"],
        [{ stream: "s", pendingThreshold: 1.5 }, "pendingThreshold"],
        [{ stream: "s", pendingThreshold: -1 }, "pendingThreshold"],
        [{ stream: "s", batchSize: 0 }, "batchSize"],
        [{ stream: "s", claimIdle: Number.NaN }, "claimIdle"],
        [{ stream: "s", pendingScanLimit: 0 }, "pendingScanLimit"],
        [{ stream: "s", deadLetterStream: "" }, "deadLetterStream"]
      ]
      for (const [options, option] of cases) {
        const error = yield* Effect.flip(Monitor.resolveOptions(options))
        assert.strictEqual(error._tag, "InvalidOptions")
        assert.strictEqual(error.option, option, JSON.stringify(options))
        assert.include(error.message, "accepted")
      }
    }))
})

describe("Monitor.layerConfig", () => {
  it.effect("reads its options from Config and fails with InvalidOptions on a bad value", () =>
    Effect.gen(function*() {
      const config = {
        stream: Config.string("STREAM"),
        idleThreshold: Config.duration("IDLE"),
        pendingThreshold: Config.integer("PENDING")
      }
      const good = ConfigProvider.fromMap(new Map([["STREAM", "orders"], ["IDLE", "45 seconds"], ["PENDING", "7"]]))
      const monitor = yield* Monitor.Monitor.pipe(
        Effect.provide(Monitor.layerConfig(config).pipe(Layer.provide(InMemoryBackend.layer))),
        Effect.withConfigProvider(good)
      )
      assert.strictEqual(monitor.options.stream, "orders")
      assert.strictEqual(monitor.options.idleThresholdMs, 45_000)
      assert.strictEqual(monitor.options.pendingThreshold, 7)
      const bad = ConfigProvider.fromMap(new Map([["STREAM", "orders"], ["IDLE", "45 seconds"], ["PENDING", "-1"]]))
      const error = yield* Monitor.Monitor.pipe(
        Effect.provide(Monitor.layerConfig(config).pipe(Layer.provide(InMemoryBackend.layer))),
        Effect.withConfigProvider(bad),
        Effect.flip
      )
      assert.strictEqual(error._tag, "InvalidOptions")
    }))
})

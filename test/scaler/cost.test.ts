/**
 * The cost of collecting the Scaler's metrics on a 1,000,000-entry backlog
 * (real Redis only): a constant number of commands, in milliseconds, where the
 * seed's XRANGE over the backlog took 400 ms at 20,000 entries.
 *
 * The entries are added through `addMany` in pipelined chunks of 10,000. The
 * figures are printed for the report.
 */
import { assert } from "@effect/vitest"
import { Effect } from "effect"
import { Monitor, Scaler, StreamsBackend } from "effect-redis-streams"
import { forEachBackend, TestKit } from "../src/Harness.js"

const N = 1_000_000
const CHUNK = 10_000

const timed = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const start = performance.now()
    const value = yield* self
    return [value, performance.now() - start] as const
  })

forEachBackend("Scaler cost", (it) => {
  it.scoped("metrics on a 1,000,000-entry backlog: 3 commands, a few milliseconds", () =>
    Effect.gen(function*() {
      const backend = yield* StreamsBackend.StreamsBackend
      const kit = yield* TestKit
      const stream = kit.key("sc-million")
      yield* backend.createGroup(stream, "g", { id: "$", mkStream: true })
      const fields = ["payload", "x".repeat(16)]
      const chunk = Array.from({ length: CHUNK }, () => fields)
      const [, fillMs] = yield* timed(
        Effect.forEach(Array.from({ length: N / CHUNK }), () => backend.addMany(stream, chunk), { discard: true })
      )
      yield* backend.readGroup({ stream, group: "g", consumer: "c", id: ">", count: 10 })
      assert.strictEqual(yield* backend.length(stream), N)

      const scaler = yield* Scaler.make({ stream, group: "g" })
      yield* scaler.metrics // warm-up
      const runs: Array<number> = []
      let last: Scaler.Decision | undefined
      for (let i = 0; i < 5; i++) {
        const [d, ms] = yield* timed(scaler.decide)
        runs.push(ms)
        last = d
      }
      assert.strictEqual(last!.backlog, N - 10)
      assert.strictEqual(last!.pending, 10)
      assert.strictEqual(last!.commands, 3)
      assert.strictEqual(last!.decision, "OUT")

      // the fallback when the server's lag is null: one bounded XRANGE more
      const ids = yield* backend.range(stream, { start: "-", end: "+", count: 20 })
      yield* backend.delete(stream, [ids[15]!.id])
      const fallbackRuns: Array<number> = []
      let fb: Scaler.Metrics | undefined
      for (let i = 0; i < 5; i++) {
        const [m, ms] = yield* timed(scaler.metrics)
        fallbackRuns.push(ms)
        fb = m
      }
      assert.deepStrictEqual([fb!.backlog, fb!.backlogExact, fb!.backlogSource, fb!.commands], [1_000, false, "scan", 4])

      // and a Monitor report of the same stream
      const monitor = yield* Monitor.make({ stream })
      const [report, reportMs] = yield* timed(monitor.report)
      assert.strictEqual(report.groups[0]!.pending, 10)

      const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
      // eslint-disable-next-line no-console
      console.log(
        `[Scaler cost] ${N} entries added in ${(fillMs / 1000).toFixed(1)} s (${CHUNK} per addMany); ` +
          `decide (lag from XINFO GROUPS, 3 commands): median ${median(runs).toFixed(2)} ms, runs ${
            runs.map((r) => r.toFixed(2)).join(", ")
          }; ` +
          `metrics with null lag (bounded XRANGE of 1000, 4 commands): median ${median(fallbackRuns).toFixed(2)} ms; ` +
          `Monitor.report: ${reportMs.toFixed(2)} ms`
      )
      assert.isTrue(median(runs) < 200, `decide took ${median(runs)} ms`)
      yield* kit.deleteKey(stream)
    }), { timeout: 300_000 })
}, { only: "redis", timeout: "300 seconds" })

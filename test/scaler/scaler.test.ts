/**
 * The Scaler on both backends (in memory under TestClock, and a real Redis):
 * fresh metrics, the seed's examples built live, the off-by-one fixed, the
 * bounded backlog fallback, rates, the recommendation with its scale-in
 * stabilization, typed errors for missing keys, and a constant number of
 * commands whatever the backlog.
 */
import { assert } from "@effect/vitest"
import { Chunk, Effect, Schedule, Stream } from "effect"
import { Scaler, StreamsBackend } from "effect-redis-streams"
import { forEachBackend, TestKit } from "../src/Harness.js"

type Backend = StreamsBackend.Service

const services = Effect.all({ backend: StreamsBackend.StreamsBackend, kit: TestKit })

const fill = (backend: Backend, stream: string, n: number) =>
  backend.addMany(stream, Array.from({ length: n }, (_, i) => ["n", String(i)]))

const read = (backend: Backend, stream: string, group: string, consumer: string, count: number) =>
  backend.readGroup({ stream, group, consumer, id: ">", count })

/** a backend that counts the operations called on it */
const counting = (backend: Backend) => {
  const calls: Array<string> = []
  const wrapped = Object.fromEntries(
    Object.entries(backend).map(([name, value]) => [
      name,
      typeof value === "function"
        ? (...args: Array<unknown>) => {
          calls.push(name)
          return (value as (...a: Array<unknown>) => unknown)(...args)
        }
        : value
    ])
  ) as unknown as Backend
  return { backend: wrapped, calls }
}

const scalerWith = (options: Scaler.Options, backend: Backend) =>
  Scaler.make(options).pipe(Effect.provideService(StreamsBackend.StreamsBackend, backend))

forEachBackend("Scaler", (it, backendName) => {
  it.scoped("one undelivered message on a fresh group is backlog 1 and suggests OUT (the seed said 0)", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const stream = kit.key("sc-one")
      yield* backend.add(stream, ["n", "1"])
      yield* backend.createGroup(stream, "g", { id: "0" })
      const scaler = yield* Scaler.make({ stream, group: "g" })
      const d = yield* scaler.decide
      assert.strictEqual(d.backlog, 1)
      assert.isTrue(d.backlogExact)
      assert.strictEqual(d.pending, 0)
      assert.strictEqual(d.rate, 0)
      assert.strictEqual(d.decision, "OUT")
      assert.strictEqual(d.recommended, 1)
      // a group created at "$" before the message: the same
      const s2 = kit.key("sc-one-dollar")
      yield* backend.createGroup(s2, "g", { id: "$", mkStream: true })
      yield* backend.add(s2, ["n", "1"])
      const d2 = yield* (yield* Scaler.make({ stream: s2, group: "g" })).decide
      assert.deepStrictEqual([d2.backlog, d2.decision], [1, "OUT"])
      // and an empty group on an empty stream: NO_SCALE
      const s3 = kit.key("sc-empty")
      yield* backend.createGroup(s3, "g", { id: "$", mkStream: true })
      const d3 = yield* (yield* Scaler.make({ stream: s3, group: "g" })).decide
      assert.deepStrictEqual([d3.backlog, d3.pending, d3.rate, d3.decision], [0, 0, 0, "NO_SCALE"])
    }))

  it.scoped("the seed's published examples, built live: 11/83 -> 13.253 IN, 18/79 -> 22.7848 NO_SCALE", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const s1 = kit.key("sc-seed1")
      yield* backend.createGroup(s1, "g", { id: "$", mkStream: true })
      yield* fill(backend, s1, 94)
      yield* read(backend, s1, "g", "c1", 42)
      yield* read(backend, s1, "g", "c2", 41)
      const scaler1 = yield* Scaler.make({ stream: s1, group: "g", scaleOutRate: 60, scaleInRate: 20 })
      const d1 = yield* scaler1.decide
      assert.deepStrictEqual([d1.backlog, d1.pending, d1.consumers, d1.rate, d1.decision], [11, 83, 2, 13.253, "IN"])
      assert.strictEqual(
        Scaler.describe(d1),
        "Consumers should be IN as stream length (11) / pending (83) rate is 13.253%"
      )

      const s2 = kit.key("sc-seed2")
      yield* backend.createGroup(s2, "g", { id: "$", mkStream: true })
      yield* fill(backend, s2, 97)
      yield* read(backend, s2, "g", "c1", 40)
      yield* read(backend, s2, "g", "c2", 39)
      const scaler2 = yield* Scaler.make({ stream: s2, group: "g" })
      const d2 = yield* scaler2.decideWith({ scaleOutRate: 60, scaleInRate: 20 })
      assert.deepStrictEqual([d2.backlog, d2.pending, d2.rate, d2.decision], [18, 79, 22.7848, "NO_SCALE"])
      // invalid thresholds per call are a typed error
      const error = yield* Effect.flip(scaler2.decideWith({ scaleOutRate: 20, scaleInRate: 60 }))
      assert.strictEqual(error._tag, "InvalidOptions")
    }))

  it.scoped("metrics are always fresh (the seed reused stale ones)", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const stream = kit.key("sc-fresh")
      yield* backend.createGroup(stream, "g", { id: "$", mkStream: true })
      yield* fill(backend, stream, 4)
      yield* read(backend, stream, "g", "c", 2)
      const scaler = yield* Scaler.make({ stream, group: "g" })
      const a = yield* scaler.decide
      assert.deepStrictEqual([a.backlog, a.pending], [2, 2])
      yield* fill(backend, stream, 100)
      const b = yield* scaler.decide
      assert.deepStrictEqual([b.backlog, b.pending, b.rate, b.decision], [102, 2, 100, "OUT"])
    }))

  it.scoped("a null lag falls back to a bounded count after the last-delivered id", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const stream = kit.key("sc-nulllag")
      yield* backend.createGroup(stream, "g", { id: "$", mkStream: true })
      const ids = yield* fill(backend, stream, 10)
      yield* read(backend, stream, "g", "c", 3)
      // deleting an undelivered entry makes the server's lag unknown (null)
      yield* backend.delete(stream, [ids[6]!])
      const group = (yield* backend.groupsInfo(stream))[0]!
      assert.strictEqual(group.lag, null)
      const m = yield* (yield* Scaler.make({ stream, group: "g" })).metrics
      assert.deepStrictEqual([m.backlog, m.backlogExact, m.backlogSource, m.commands], [6, true, "scan", 4])
      // the scan is bounded: with a limit of 4 it reads 4 entries and says "at least"
      const bounded = yield* (yield* Scaler.make({ stream, group: "g", backlogScanLimit: 4 })).metrics
      assert.deepStrictEqual([bounded.backlog, bounded.backlogExact], [4, false])
      // a group that has not read anything yet: the whole stream, without a scan
      yield* backend.createGroup(stream, "fresh", { id: "0" })
      const fresh = yield* (yield* Scaler.make({ stream, group: "fresh" })).metrics
      assert.strictEqual(fresh.backlog, 9)
      assert.isTrue(fresh.backlogExact)
      assert.notStrictEqual(fresh.backlogSource, "scan")
    }))

  it.scoped("arrival and acknowledgement rates from two readings", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const stream = kit.key("sc-rates")
      yield* backend.createGroup(stream, "g", { id: "$", mkStream: true })
      const scaler = yield* Scaler.make({ stream, group: "g", rateWindow: "1 minute" })
      const first = yield* scaler.metrics
      assert.deepStrictEqual([first.arrivalRate, first.ackRate], [null, null])
      yield* fill(backend, stream, 100)
      const got = yield* read(backend, stream, "g", "c", 50)
      yield* backend.ack(stream, "g", got.slice(0, 40).map((e) => e.id))
      yield* kit.sleep(1_000)
      const second = yield* scaler.metrics
      if (backendName === "memory") {
        assert.strictEqual(second.arrivalRate, 100)
        assert.strictEqual(second.ackRate, 40)
      } else {
        // a second and a bit of real time
        assert.isTrue(second.arrivalRate! > 60 && second.arrivalRate! <= 100, `arrival ${second.arrivalRate}`)
        assert.isTrue(second.ackRate! > 24 && second.ackRate! <= 40, `ack ${second.ackRate}`)
      }
      assert.strictEqual(second.pending, 10)
      assert.strictEqual(second.backlog, 50)
    }))

  it.scoped("recommendation: scale-in waits for the stabilization window and names consumers safe to stop", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const stream = kit.key("sc-rec")
      yield* backend.createGroup(stream, "g", { id: "$", mkStream: true })
      yield* fill(backend, stream, 2)
      yield* read(backend, stream, "g", "busy", 2)
      for (const c of ["w1", "w2", "w3"]) yield* backend.createConsumer(stream, "g", c)
      const scaler = yield* Scaler.make({
        stream,
        group: "g",
        targetPerConsumer: 10,
        minConsumers: 1,
        scaleInStabilization: 3,
        idleThreshold: "1 hour"
      })
      const d1 = yield* scaler.decide
      assert.deepStrictEqual([d1.consumers, d1.desired, d1.recommended, d1.lowReadings], [4, 1, 4, 1])
      assert.deepStrictEqual(d1.safeToStop, [])
      const d2 = yield* scaler.decide
      assert.deepStrictEqual([d2.recommended, d2.lowReadings], [4, 2])
      const d3 = yield* scaler.decide
      assert.deepStrictEqual([d3.recommended, d3.lowReadings], [1, 3])
      // three may stop; "busy" holds pending entries and is never named
      assert.deepStrictEqual([...d3.safeToStop].sort(), ["w1", "w2", "w3"])
      // load arrives: scale out at once, the window starts again
      yield* fill(backend, stream, 60)
      const d4 = yield* scaler.decide
      assert.deepStrictEqual([d4.backlog, d4.byWork, d4.recommended, d4.lowReadings, d4.decision], [60, 7, 7, 0, "OUT"])
      assert.deepStrictEqual(d4.safeToStop, [])
      assert.deepStrictEqual(Scaler.toJson(d4), {
        stream,
        group: "g",
        at: d4.at,
        backlog: 60,
        pending: 2,
        consumers: 4,
        rate: 100,
        decision: "OUT",
        recommended: 7,
        safeToStop: [],
        arrivalRate: d4.arrivalRate,
        ackRate: d4.ackRate
      })
    }))

  it.scoped("only active consumers count; dead ones are reported as registered", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const stream = kit.key("sc-active")
      yield* backend.createGroup(stream, "g", { id: "$", mkStream: true })
      yield* backend.createConsumer(stream, "g", "dead")
      yield* kit.sleep(500)
      yield* backend.createConsumer(stream, "g", "alive")
      const m = yield* (yield* Scaler.make({ stream, group: "g", idleThreshold: 300 })).metrics
      assert.deepStrictEqual([m.consumers, m.registeredConsumers], [1, 2])
      assert.deepStrictEqual(m.consumerList.map((c) => [c.name, c.active]), [["alive", true], ["dead", false]])
    }))

  it.scoped("a missing stream or group is a typed error, and nothing is created", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const stream = kit.key("sc-missing")
      const scaler = yield* Scaler.make({ stream, group: "g" })
      const e1 = yield* Effect.flip(scaler.decide)
      assert.strictEqual(e1._tag, "StreamNotFound")
      assert.strictEqual(yield* backend.length(stream), 0)
      yield* backend.add(stream, ["a", "1"])
      const e2 = yield* Effect.flip(scaler.metrics)
      assert.strictEqual(e2._tag, "GroupNotFound")
      assert.deepStrictEqual(yield* backend.groupsInfo(stream), [])
    }))

  it.scoped("a constant number of commands whatever the backlog", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      for (const n of [10, 5_000]) {
        const stream = kit.key(`sc-cost-${n}`)
        yield* backend.createGroup(stream, "g", { id: "$", mkStream: true })
        yield* fill(backend, stream, n)
        yield* read(backend, stream, "g", "c", 5)
        const { backend: wrapped, calls } = counting(backend)
        const scaler = yield* scalerWith({ stream, group: "g" }, wrapped)
        const d = yield* scaler.decide
        assert.strictEqual(d.backlog, n - 5)
        assert.deepStrictEqual([...calls].sort(), ["consumersInfo", "groupsInfo", "streamInfo"], `backlog ${n}`)
        assert.strictEqual(d.commands, 3)
        // with a null lag: one bounded range more
        const ids = yield* backend.range(stream, { start: "-", end: "+", count: 7 })
        yield* backend.delete(stream, [ids[6]!.id])
        calls.length = 0
        const m = yield* scaler.metrics
        assert.deepStrictEqual([...calls].sort(), ["consumersInfo", "groupsInfo", "range", "streamInfo"])
        assert.strictEqual(m.backlog, Math.min(n - 6, 1_000))
        yield* kit.deleteKey(stream)
      }
    }))

  it.scoped("decisions: a Stream on a Schedule", () =>
    Effect.gen(function*() {
      const { backend, kit } = yield* services
      const stream = kit.key("sc-stream")
      yield* backend.createGroup(stream, "g", { id: "$", mkStream: true })
      yield* fill(backend, stream, 3)
      const scaler = yield* Scaler.make({ stream, group: "g" })
      const out = Chunk.toReadonlyArray(yield* Stream.runCollect(scaler.decisions({ schedule: Schedule.recurs(2) })))
      assert.deepStrictEqual(out.map((d) => [d.backlog, d.decision]), [[3, "OUT"], [3, "OUT"], [3, "OUT"]])
    }))
})

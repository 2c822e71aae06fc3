/**
 * The Scaler's pure functions, no Redis: the seed's rate and decision rule by
 * rule, its two published examples, threshold validation, the recommendation
 * and the scale-in stabilization.
 *
 * Expected rates were computed with CPython 3.11 running the seed's expression
 * `round(max(min(backlog / pending * 100, 100), 1), 4)`; the cases with
 * pending 128 are exact binary ties, where Python rounds half to even (a
 * naive `Math.round(x * 1e4) / 1e4` gets them wrong). An offline comparison of
 * all 491,397 pairs with pending < 700 and backlog <= 2 × pending + 2 found
 * no difference.
 */
import { assert, describe, it } from "@effect/vitest"
import { Config, ConfigProvider, Effect, Either, Layer } from "effect"
import { InMemoryBackend, Scaler } from "effect-redis-streams"

describe("Scaler.rate", () => {
  const table: ReadonlyArray<readonly [backlog: number, pending: number, rate: number]> = [
    [11, 83, 13.253], // the seed's README
    [18, 79, 22.7848], // the seed's README
    [0, 5, 1], // clamped up to 1
    [1, 1, 100],
    [200, 3, 100], // clamped down to 100
    [5, 128, 3.9062], // 3.90625: tie, half to even
    [3, 128, 2.3438], // 2.34375: tie, half to even (up)
    [9, 128, 7.0312],
    [13, 128, 10.1562],
    [17, 128, 13.2812],
    [19, 128, 14.8438],
    [61, 128, 47.6562],
    [1, 3, 33.3333],
    [2, 3, 66.6667],
    [1, 7, 14.2857],
    [1, 1000, 1],
    [7, 700, 1],
    [123, 457, 26.9147],
    [999, 1000, 99.9],
    [1, 101, 1]
  ]
  for (const [backlog, pending, expected] of table) {
    it(`backlog ${backlog}, pending ${pending} -> ${expected}`, () => {
      assert.strictEqual(Scaler.rate(backlog, pending), expected)
    })
  }
  it("is 0 when nothing is pending, whatever the backlog", () => {
    assert.strictEqual(Scaler.rate(0, 0), 0)
    assert.strictEqual(Scaler.rate(20_000, 0), 0)
  })
})

describe("Scaler.roundHalfEven", () => {
  it("rounds exact ties to even and everything else to nearest", () => {
    assert.strictEqual(Scaler.roundHalfEven(0.125, 2), 0.12)
    assert.strictEqual(Scaler.roundHalfEven(0.375, 2), 0.38)
    assert.strictEqual(Scaler.roundHalfEven(2.675, 2), 2.67) // 2.675 is 2.67499999... in binary
    assert.strictEqual(Scaler.roundHalfEven(1.00005, 4), 1.0001) // 1.000050000000000105...
    assert.strictEqual(Scaler.roundHalfEven(99.99995, 4), 99.9999) // 99.99994999999999...
    assert.strictEqual(Scaler.roundHalfEven(99.999951, 4), 100)
    assert.strictEqual(Scaler.roundHalfEven(-0.125, 2), -0.12)
  })
})

describe("Scaler.decision", () => {
  const t = { scaleOutRate: 50, scaleInRate: 10 }
  const rows: ReadonlyArray<
    readonly [rule: string, rate: number, backlog: number, consumers: number, expected: Scaler.ScaleDecision]
  > = [
    ["1: rate 0, backlog 0", 0, 0, 5, "NO_SCALE"],
    ["1: rate 0, backlog 0, no consumer", 0, 0, 0, "NO_SCALE"],
    ["2: rate 0, backlog 1 (fresh group, one message)", 0, 1, 0, "OUT"],
    ["2: rate 0, backlog 1000, many consumers (before IN)", 0, 1000, 10, "OUT"],
    ["3: rate < in, 2 consumers", 9.9999, 3, 2, "IN"],
    ["3: rate < in, 1 consumer -> not IN (falls to 5)", 9.9999, 3, 1, "NO_SCALE"],
    ["3: rate == in is not < in", 10, 3, 2, "NO_SCALE"],
    ["3: rate 1 (pending, no backlog), 2 consumers", 1, 0, 2, "IN"],
    ["3 before 4: rate < in even if in == out", 20, 5, 3, "IN"],
    ["4: rate == out (inclusive)", 50, 5, 1, "OUT"],
    ["4: rate 100", 100, 50, 3, "OUT"],
    ["5: between", 49.9999, 5, 3, "NO_SCALE"],
    ["5: rate 10, 1 consumer", 10, 5, 1, "NO_SCALE"]
  ]
  for (const [rule, rate, backlog, consumers, expected] of rows) {
    it(`rule ${rule} -> ${expected}`, () => {
      const thresholds = rule.startsWith("3 before 4") ? { scaleOutRate: 30, scaleInRate: 30 } : t
      assert.strictEqual(Scaler.decision({ rate, backlog, consumers }, thresholds), expected)
    })
  }

  it("the seed's published examples with (out 60, in 20)", () => {
    const thresholds = { scaleOutRate: 60, scaleInRate: 20 }
    const a = Scaler.rate(11, 83)
    assert.strictEqual(a, 13.253)
    assert.strictEqual(Scaler.decision({ rate: a, backlog: 11, consumers: 2 }, thresholds), "IN")
    assert.strictEqual(Scaler.decision({ rate: a, backlog: 11, consumers: 7 }, thresholds), "IN")
    assert.strictEqual(
      Scaler.describe({ decision: "IN", backlog: 11, pending: 83, rate: a }),
      "Consumers should be IN as stream length (11) / pending (83) rate is 13.253%"
    )
    const b = Scaler.rate(18, 79)
    assert.strictEqual(b, 22.7848)
    assert.strictEqual(Scaler.decision({ rate: b, backlog: 18, consumers: 2 }, thresholds), "NO_SCALE")
    assert.strictEqual(
      Scaler.describe({ decision: "NO_SCALE", backlog: 18, pending: 79, rate: b }),
      "Consumers should be NO_SCALE as stream length (18) / pending (79) rate is 22.7848%"
    )
  })

  it("defaults are the seed's (out 50, in 10)", () => {
    assert.deepStrictEqual(Scaler.defaultThresholds, { scaleOutRate: 50, scaleInRate: 10 })
    assert.strictEqual(Scaler.decision({ rate: 50, backlog: 1, consumers: 1 }), "OUT")
  })
})

describe("Scaler.validateThresholds", () => {
  const bad: ReadonlyArray<readonly [scaleOutRate: number, scaleInRate: number, option: string]> = [
    [20, 60, "scaleInRate"], // in > out (checked first, as in the seed)
    [50, -1, "scaleInRate"],
    [101, 10, "scaleOutRate"],
    [200, 150, "scaleInRate"], // in outside 0..100 is found before out
    [Number.NaN, 10, "scaleOutRate"],
    [50, Number.POSITIVE_INFINITY, "scaleInRate"]
  ]
  for (const [scaleOutRate, scaleInRate, option] of bad) {
    it(`out ${scaleOutRate}, in ${scaleInRate} -> InvalidOptions(${option})`, () => {
      const result = Scaler.validateThresholds({ scaleOutRate, scaleInRate })
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result)) {
        assert.strictEqual(result.left._tag, "InvalidOptions")
        assert.strictEqual(result.left.option, option)
        assert.include(result.left.message, option)
        assert.include(result.left.message, "accepted")
      }
    })
  }
  it("accepts in == out and the bounds 0 and 100", () => {
    assert.isTrue(Either.isRight(Scaler.validateThresholds({ scaleOutRate: 40, scaleInRate: 40 })))
    assert.isTrue(Either.isRight(Scaler.validateThresholds({ scaleOutRate: 100, scaleInRate: 0 })))
  })
  it.effect("make rejects invalid thresholds with a typed error", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Scaler.resolveOptions({ stream: "s", group: "g", scaleOutRate: 20, scaleInRate: 60 })
      )
      assert.strictEqual(error._tag, "InvalidOptions")
      assert.strictEqual(error.option, "scaleInRate")
      const e2 = yield* Effect.flip(Scaler.resolveOptions({ stream: "s", group: "g", minConsumers: 5, maxConsumers: 2 }))
      assert.strictEqual(e2.option, "maxConsumers")
      const e3 = yield* Effect.flip(Scaler.resolveOptions({ stream: "", group: "g" }))
      assert.strictEqual(e3.option, "stream")
      const e4 = yield* Effect.flip(Scaler.resolveOptions({ stream: "s", group: "g", idleThreshold: -5 }))
      assert.strictEqual(e4.option, "idleThreshold")
    }))
})

describe("Scaler.recommend", () => {
  const opts = { targetPerConsumer: 10, minConsumers: 1, maxConsumers: 20 }
  const none = { arrivalRate: null, ackRate: null }
  it("counts in-flight work: ceil((backlog + pending) / target)", () => {
    assert.deepStrictEqual(Scaler.recommend({ backlog: 0, pending: 0, consumers: 3, ...none }, opts), {
      desired: 1,
      byWork: 0,
      byRate: null
    })
    assert.strictEqual(Scaler.recommend({ backlog: 1, pending: 0, consumers: 0, ...none }, opts).desired, 1)
    assert.strictEqual(Scaler.recommend({ backlog: 11, pending: 0, consumers: 1, ...none }, opts).desired, 2)
    // lag alone (KEDA) would say 1 here; the work in flight says 5
    assert.strictEqual(Scaler.recommend({ backlog: 0, pending: 45, consumers: 5, ...none }, opts).desired, 5)
  })
  it("is bounded by min and max", () => {
    assert.strictEqual(Scaler.recommend({ backlog: 10_000, pending: 0, consumers: 1, ...none }, opts).desired, 20)
    assert.strictEqual(
      Scaler.recommend({ backlog: 0, pending: 0, consumers: 1, ...none }, { ...opts, minConsumers: 0 }).desired,
      0
    )
  })
  it("with rates, enough consumers for arrival rate / per-consumer ack rate while saturated", () => {
    // 4 consumers ack 200/s together (50 each); 500/s arrive: 10 needed
    const r = Scaler.recommend({ backlog: 30, pending: 8, consumers: 4, arrivalRate: 500, ackRate: 200 }, opts)
    assert.deepStrictEqual(r, { desired: 10, byWork: 4, byRate: 10 })
    // no backlog: consumers keep up, the ack rate is not their capacity; rates are not used
    const idle = Scaler.recommend({ backlog: 0, pending: 8, consumers: 4, arrivalRate: 200, ackRate: 200 }, opts)
    assert.deepStrictEqual(idle, { desired: 1, byWork: 1, byRate: null })
    // nothing acknowledged yet: no per-consumer rate
    assert.strictEqual(
      Scaler.recommend({ backlog: 30, pending: 8, consumers: 4, arrivalRate: 500, ackRate: 0 }, opts).byRate,
      null
    )
  })
})

describe("Scaler.stabilize", () => {
  it("scales out at once, scales in after `window` consecutive low readings", () => {
    assert.deepStrictEqual(Scaler.stabilize(0, 6, 4, 3), { recommended: 6, lowReadings: 0 })
    assert.deepStrictEqual(Scaler.stabilize(0, 2, 4, 3), { recommended: 4, lowReadings: 1 })
    assert.deepStrictEqual(Scaler.stabilize(1, 2, 4, 3), { recommended: 4, lowReadings: 2 })
    assert.deepStrictEqual(Scaler.stabilize(2, 2, 4, 3), { recommended: 2, lowReadings: 3 })
    // one reading at the current count resets the window
    assert.deepStrictEqual(Scaler.stabilize(2, 4, 4, 3), { recommended: 4, lowReadings: 0 })
    // window 1: no stabilization
    assert.deepStrictEqual(Scaler.stabilize(0, 1, 4, 1), { recommended: 1, lowReadings: 1 })
  })
})

describe("Scaler.layerConfig", () => {
  it.effect("reads its options from Config", () =>
    Effect.gen(function*() {
      const provider = ConfigProvider.fromMap(new Map([["STREAM", "orders"], ["GROUP", "billing"], ["OUT", "60"], ["IN", "20"]]))
      const scaler = yield* Scaler.Scaler.pipe(
        Effect.provide(
          Scaler.layerConfig({
            stream: Config.string("STREAM"),
            group: Config.string("GROUP"),
            scaleOutRate: Config.number("OUT"),
            scaleInRate: Config.number("IN")
          }).pipe(Layer.provide(InMemoryBackend.layer))
        ),
        Effect.withConfigProvider(provider)
      )
      assert.deepStrictEqual(scaler.options.thresholds, { scaleOutRate: 60, scaleInRate: 20 })
      assert.strictEqual(scaler.options.group, "billing")
    }))
})

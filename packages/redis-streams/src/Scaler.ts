/**
 * The Scaler: fresh metrics of a consumer group, the seed's IN / OUT /
 * NO_SCALE decision reproduced exactly, and a recommended consumer count.
 *
 * Metrics (a constant number of round trips, whatever the backlog):
 * - `backlog`: entries not yet delivered to the group: XINFO GROUPS `lag`, or,
 *   where the server reports it as null, a bounded fallback (never a scan of
 *   the whole backlog);
 * - `pending`: delivered, not yet acknowledged;
 * - `consumers`: active consumers (XINFO CONSUMERS `idle` no longer than
 *   `idleThreshold`; before Redis 7.2 `idle` is refreshed only by reads that
 *   deliver entries or re-read the consumer's own pending list, so consumers
 *   waiting on an empty stream count as inactive there);
 * - `arrivalRate` / `ackRate` (entries per second) once two readings are
 *   `rateWindow` apart or closer: from XINFO STREAM `entries-added` and XINFO
 *   GROUPS `entries-read` minus `pending`.
 *
 * The seed's rule: `rate = round(clamp(100 × backlog / pending, 1, 100), 4)`,
 * 0 when nothing is pending; then, in order: rate 0 and backlog 0 → NO_SCALE;
 * rate 0 and backlog ≥ 1 → OUT; rate < scaleInRate and more than one
 * consumer → IN; rate ≥ scaleOutRate → OUT; else NO_SCALE. Unlike the seed,
 * a fresh group with one undelivered entry has backlog 1 (→ OUT).
 *
 * The recommendation: at least `ceil((backlog + pending) / targetPerConsumer)`
 * consumers, and, while a backlog shows the consumers are saturated, enough
 * of them for `arrivalRate / (ackRate per consumer)`, within
 * `[minConsumers, maxConsumers]`. Scaling in waits for
 * `scaleInStabilization` consecutive low readings and names the consumers
 * safe to stop (active ones with nothing pending).
 *
 * The Scaler never creates a stream or a group: a missing stream is
 * `StreamNotFound`, a missing group `GroupNotFound`.
 *
 * `decide` sets the Scaler's gauges (decision, recommended / desired /
 * active consumers, the seed's rate as a ratio, arrival and acknowledgement
 * rates; see the `Metrics` module); `observe` decides on a Monitor's reading
 * without a round trip; `metricPairs` gives a decision's figures as metric
 * pairs for `Metrics.render`.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import type * as MetricPair from "effect/MetricPair"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as internalDecide from "./internal/scaler/decide.js"
import * as internalBacklog from "./internal/scalerBacklog.js"
import * as LibraryMetrics from "./Metrics.js"
import * as internalOptions from "./internal/options.js"
import type { ConsumerInfo, GroupInfo, StreamInfo } from "./StreamsBackend.js"
import { StreamsBackend } from "./StreamsBackend.js"
import type { BackendError } from "./StreamsError.js"
import { GroupNotFound, InvalidOptions } from "./StreamsError.js"

// ---------------------------------------------------------------------------
// the seed's rule (pure)
// ---------------------------------------------------------------------------

/**
 * A scaling suggestion, as the seed's `Scale` enum values.
 *
 * @since 0.1.0
 * @category models
 */
export type ScaleDecision = "OUT" | "IN" | "NO_SCALE"

/**
 * Thresholds of the decision, in percent.
 *
 * @since 0.1.0
 * @category models
 */
export interface Thresholds {
  /** rate >= this suggests OUT; default 50 */
  readonly scaleOutRate: number
  /** rate < this (with more than one consumer) suggests IN; default 10 */
  readonly scaleInRate: number
}

/**
 * The seed's default thresholds: out 50, in 10.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultThresholds: Thresholds = { scaleOutRate: 50, scaleInRate: 10 }

/**
 * Round half to even at `digits` decimals on the exact binary value of `x`:
 * what Python's `round(x, digits)` returns.
 *
 * @since 0.1.0
 * @category utils
 */
export const roundHalfEven = (x: number, digits: number): number => {
  if (!Number.isFinite(x) || Math.abs(x) >= 1e21 || !Number.isInteger(digits) || digits < 0 || digits > 20) return x
  const negative = x < 0
  // toFixed(100) is exact for |x| >= 2^-48 or so; more than enough digits for any double in range
  const exact = Math.abs(x).toFixed(100)
  const dot = exact.indexOf(".")
  const intPart = exact.slice(0, dot)
  const frac = exact.slice(dot + 1)
  const kept = frac.slice(0, digits)
  const rest = frac.slice(digits)
  let n = BigInt(intPart + kept)
  const first = rest.charCodeAt(0) - 48
  const tailNonZero = /[1-9]/.test(rest.slice(1))
  if (first > 5 || (first === 5 && tailNonZero) || (first === 5 && !tailNonZero && n % 2n === 1n)) n += 1n
  const result = Number(n) / 10 ** digits
  return negative ? -result : result
}

/**
 * The seed's rate: `round(clamp(backlog / pending * 100, 1, 100), 4)`, or 0
 * when nothing is pending (computed in the seed's order of operations, so the
 * figures match to the last digit).
 *
 * @since 0.1.0
 * @category utils
 */
export const rate = (backlog: number, pending: number): number =>
  pending === 0 ? 0 : roundHalfEven(Math.max(Math.min(backlog / pending * 100, 100), 1), 4)

/**
 * Check thresholds as the seed does, in its order: `scaleInRate` not above
 * `scaleOutRate`, then each within 0..100.
 *
 * @since 0.1.0
 * @category utils
 */
export const validateThresholds = (thresholds: Thresholds): Either.Either<Thresholds, InvalidOptions> => {
  const { scaleInRate, scaleOutRate } = thresholds
  const isNum = (n: unknown) => typeof n === "number" && Number.isFinite(n)
  if (!isNum(scaleInRate)) {
    return Either.left(internalOptions.invalid("Scaler", "scaleInRate", scaleInRate, "a number from 0 to 100"))
  }
  if (!isNum(scaleOutRate)) {
    return Either.left(internalOptions.invalid("Scaler", "scaleOutRate", scaleOutRate, "a number from 0 to 100"))
  }
  if (scaleInRate > scaleOutRate) {
    return Either.left(
      new InvalidOptions({
        message:
          `Scaler: invalid option scaleInRate = ${scaleInRate}: it must not exceed scaleOutRate = ${scaleOutRate}; accepted: 0 <= scaleInRate <= scaleOutRate <= 100`,
        option: "scaleInRate"
      })
    )
  }
  if (scaleInRate < 0 || scaleInRate > 100) {
    return Either.left(internalOptions.invalid("Scaler", "scaleInRate", scaleInRate, "a number from 0 to 100"))
  }
  if (scaleOutRate < 0 || scaleOutRate > 100) {
    return Either.left(internalOptions.invalid("Scaler", "scaleOutRate", scaleOutRate, "a number from 0 to 100"))
  }
  return Either.right(thresholds)
}

/**
 * The seed's decision, in its order:
 * 1. rate 0 and backlog 0 → NO_SCALE;
 * 2. rate 0 and backlog ≥ 1 → OUT;
 * 3. rate < scaleInRate and consumers > 1 → IN;
 * 4. rate ≥ scaleOutRate → OUT;
 * 5. else NO_SCALE.
 *
 * @since 0.1.0
 * @category utils
 */
export const decision = (
  input: { readonly rate: number; readonly backlog: number; readonly consumers: number },
  thresholds: Thresholds = defaultThresholds
): ScaleDecision => {
  if (input.rate === 0 && input.backlog === 0) return "NO_SCALE"
  if (input.rate === 0 && input.backlog >= 1) return "OUT"
  if (input.rate < thresholds.scaleInRate && input.consumers > 1) return "IN"
  if (input.rate >= thresholds.scaleOutRate) return "OUT"
  return "NO_SCALE"
}

// ---------------------------------------------------------------------------
// the recommendation (pure)
// ---------------------------------------------------------------------------

/**
 * Bounds and target of the recommendation.
 *
 * @since 0.1.0
 * @category models
 */
export interface RecommendOptions {
  /** outstanding entries (backlog + pending) one consumer should have; default 10 */
  readonly targetPerConsumer: number
  /** default 1 */
  readonly minConsumers: number
  /** default 100 */
  readonly maxConsumers: number
}

/**
 * A recommended consumer count and how it was reached.
 *
 * @since 0.1.0
 * @category models
 */
export interface Recommendation {
  /** within bounds, before any scale-in stabilization */
  readonly desired: number
  /** `ceil((backlog + pending) / targetPerConsumer)` */
  readonly byWork: number
  /** `ceil(arrivalRate / (ackRate / consumers))` while a backlog shows saturation; `null` otherwise */
  readonly byRate: number | null
}

const ceil = (x: number): number => {
  const c = Math.ceil(x - 1e-9)
  return c > 0 ? c : 0
}

/**
 * The recommended consumer count:
 * `clamp(max(byWork, byRate), minConsumers, maxConsumers)` where
 * `byWork = ceil((backlog + pending) / targetPerConsumer)` (KEDA's rule,
 * counting in-flight work too) and `byRate = ceil(arrivalRate / perConsumerAckRate)`,
 * used only when rates are known, entries are acknowledged, and a backlog
 * shows that the consumers are saturated (otherwise the observed ack rate is
 * the arrival rate, not the consumers' capacity).
 *
 * @since 0.1.0
 * @category utils
 */
export const recommend = (
  input: {
    readonly backlog: number
    readonly pending: number
    readonly consumers: number
    readonly arrivalRate: number | null
    readonly ackRate: number | null
  },
  options: RecommendOptions
): Recommendation => {
  const byWork = ceil((input.backlog + input.pending) / options.targetPerConsumer)
  const byRate = input.arrivalRate !== null && input.ackRate !== null && input.ackRate > 0 && input.consumers > 0 &&
      input.backlog > 0
    ? ceil(input.arrivalRate / (input.ackRate / input.consumers))
    : null
  const desired = Math.min(options.maxConsumers, Math.max(options.minConsumers, byWork, byRate ?? 0))
  return { desired, byWork, byRate }
}

/**
 * Scale-in stabilization: a lower count is recommended only after `window`
 * consecutive readings below the current count; before that the current count
 * is kept. A reading at or above the current count resets the counter.
 *
 * @since 0.1.0
 * @category utils
 */
export const stabilize = (
  lowReadings: number,
  desired: number,
  current: number,
  window: number
): { readonly recommended: number; readonly lowReadings: number } => {
  if (desired >= current) return { recommended: desired, lowReadings: 0 }
  const low = lowReadings + 1
  return { recommended: low >= window ? desired : current, lowReadings: low }
}

// ---------------------------------------------------------------------------
// models
// ---------------------------------------------------------------------------

/**
 * One consumer as the Scaler sees it.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConsumerMetrics {
  readonly name: string
  /** XINFO CONSUMERS `idle` (last attempted interaction) */
  readonly idleMs: number
  readonly pending: number
  /** idle no longer than `idleThreshold` */
  readonly active: boolean
}

/**
 * Fresh metrics of a group.
 *
 * @since 0.1.0
 * @category models
 */
export interface Metrics {
  readonly stream: string
  readonly group: string
  /** when they were read (ms since epoch, from `Clock`) */
  readonly at: number
  /** entries not yet delivered to the group */
  readonly backlog: number
  /** `false` when `backlog` is a lower bound (the fallback stopped at `backlogScanLimit`) */
  readonly backlogExact: boolean
  /** `lag` (the server's figure) or the fallback used */
  readonly backlogSource: internalBacklog.Backlog["source"]
  /** delivered, not yet acknowledged */
  readonly pending: number
  /** active consumers */
  readonly consumers: number
  /** consumers registered in the group, dead ones included (the seed's figure) */
  readonly registeredConsumers: number
  readonly consumerList: ReadonlyArray<ConsumerMetrics>
  /** XINFO STREAM `entries-added` */
  readonly entriesAdded: number
  /** XINFO GROUPS `entries-read`, `null` where unknown */
  readonly entriesRead: number | null
  /** entries added per second over the rate window, `null` until two readings exist */
  readonly arrivalRate: number | null
  /** entries acknowledged per second over the rate window, `null` until two readings exist or where unknown */
  readonly ackRate: number | null
  /** commands sent to collect these metrics */
  readonly commands: number
}

/**
 * A decision: the metrics it was made from, the seed's rate and suggestion,
 * and the recommended consumer count.
 *
 * @since 0.1.0
 * @category models
 */
export interface Decision extends Metrics {
  readonly rate: number
  readonly decision: ScaleDecision
  readonly thresholds: Thresholds
  /** the consumer count to run: `desired`, except that scaling in waits for stabilization */
  readonly recommended: number
  readonly desired: number
  readonly byWork: number
  readonly byRate: number | null
  /** consecutive readings below the current count so far */
  readonly lowReadings: number
  readonly stabilizationWindow: number
  /** active consumers with nothing pending that can be stopped to reach `recommended`, most idle first */
  readonly safeToStop: ReadonlyArray<string>
}

/**
 * The stable machine-readable form of a decision (for a CLI's JSON output).
 *
 * @since 0.1.0
 * @category models
 */
export interface DecisionJson {
  readonly stream: string
  readonly group: string
  readonly at: number
  readonly backlog: number
  readonly pending: number
  readonly consumers: number
  readonly rate: number
  readonly decision: ScaleDecision
  readonly recommended: number
  readonly safeToStop: ReadonlyArray<string>
  readonly arrivalRate: number | null
  readonly ackRate: number | null
}

/**
 * The machine-readable form of a decision.
 *
 * @since 0.1.0
 * @category rendering
 */
export const toJson = (d: Decision): DecisionJson => ({
  stream: d.stream,
  group: d.group,
  at: d.at,
  backlog: d.backlog,
  pending: d.pending,
  consumers: d.consumers,
  rate: d.rate,
  decision: d.decision,
  recommended: d.recommended,
  safeToStop: d.safeToStop,
  arrivalRate: d.arrivalRate,
  ackRate: d.ackRate
})

/**
 * The seed's sentence, e.g.
 * `Consumers should be IN as stream length (11) / pending (83) rate is 13.253%`.
 *
 * @since 0.1.0
 * @category rendering
 */
export const describe = (d: Pick<Decision, "decision" | "backlog" | "pending" | "rate">): string =>
  `Consumers should be ${d.decision} as stream length (${d.backlog}) / pending (${d.pending}) rate is ${d.rate}%`

/**
 * One reading of a group: XINFO STREAM, the group's XINFO GROUPS row, its
 * XINFO CONSUMERS and its backlog, taken at `at` (a Monitor's `observe` has
 * all of them).
 *
 * @since 0.1.0
 * @category models
 */
export interface Reading {
  readonly at: number
  readonly stream: StreamInfo
  readonly group: GroupInfo
  readonly consumers: ReadonlyArray<ConsumerInfo>
  readonly backlog: internalBacklog.Backlog
}

/**
 * A decision's figures as metric pairs, names and units from the `Metrics` module: the
 * decision (1 for the current one, 0 for the others), recommended, desired
 * and active consumers, the seed's rate as a ratio (rate / 100), and the
 * arrival and acknowledgement rates once known. `decide` and `observe`
 * publish them to Effect's registry.
 *
 * @since 0.1.0
 * @category metrics
 */
export const metricPairs = (d: Decision): Array<MetricPair.MetricPair.Untyped> => {
  const defs = LibraryMetrics.definitions
  const sg = { stream: d.stream, group: d.group }
  const out = (["OUT", "IN", "NO_SCALE"] as const).map((decision) =>
    LibraryMetrics.pair(defs.decision, { ...sg, decision }, decision === d.decision ? 1 : 0)
  )
  out.push(
    LibraryMetrics.pair(defs.recommended, sg, d.recommended),
    LibraryMetrics.pair(defs.desired, sg, d.desired),
    LibraryMetrics.pair(defs.active, sg, d.consumers),
    LibraryMetrics.pair(defs.backlogRatio, sg, d.rate / 100)
  )
  if (d.arrivalRate !== null) out.push(LibraryMetrics.pair(defs.arrivalRate, sg, d.arrivalRate))
  if (d.ackRate !== null) out.push(LibraryMetrics.pair(defs.ackRate, sg, d.ackRate))
  return out
}

// ---------------------------------------------------------------------------
// options
// ---------------------------------------------------------------------------

/**
 * Options of a Scaler.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly stream: string
  readonly group: string
  /** default 50 */
  readonly scaleOutRate?: number | undefined
  /** default 10 */
  readonly scaleInRate?: number | undefined
  /** default 10 */
  readonly targetPerConsumer?: number | undefined
  /** default 1 */
  readonly minConsumers?: number | undefined
  /** default 100 */
  readonly maxConsumers?: number | undefined
  /** consecutive low readings before scaling in; default 3 (1 = no stabilization) */
  readonly scaleInStabilization?: number | undefined
  /** a consumer idle longer than this is not active; default 30 seconds */
  readonly idleThreshold?: Duration.DurationInput | undefined
  /** rates are measured against the oldest reading within this window; default 1 minute */
  readonly rateWindow?: Duration.DurationInput | undefined
  /** the most entries read to count a backlog the server does not report; default 1000 */
  readonly backlogScanLimit?: number | undefined
}

/**
 * Options after validation, with defaults applied.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResolvedOptions extends RecommendOptions {
  readonly stream: string
  readonly group: string
  readonly thresholds: Thresholds
  readonly scaleInStabilization: number
  readonly idleThresholdMs: number
  readonly rateWindowMs: number
  readonly backlogScanLimit: number
}

/**
 * Defaults.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults = {
  targetPerConsumer: 10,
  minConsumers: 1,
  maxConsumers: 100,
  scaleInStabilization: 3,
  idleThresholdMs: 30_000,
  rateWindowMs: 60_000,
  backlogScanLimit: 1_000,
  every: Duration.seconds(15)
} as const

const S = "Scaler"

/**
 * Validate options and apply defaults; fails with `InvalidOptions` naming the
 * option and the accepted range.
 *
 * @since 0.1.0
 * @category constructors
 */
export const resolveOptions = (options: Options): Effect.Effect<ResolvedOptions, InvalidOptions> =>
  Effect.gen(function*() {
    const stream = yield* internalOptions.nonEmptyString(S, "stream", options.stream)
    const group = yield* internalOptions.nonEmptyString(S, "group", options.group)
    const thresholds = yield* validateThresholds({
      scaleOutRate: options.scaleOutRate ?? defaultThresholds.scaleOutRate,
      scaleInRate: options.scaleInRate ?? defaultThresholds.scaleInRate
    })
    const targetPerConsumer = yield* internalOptions.number(
      S,
      "targetPerConsumer",
      options.targetPerConsumer,
      defaults.targetPerConsumer,
      Number.MIN_VALUE,
      Number.MAX_SAFE_INTEGER
    )
    const minConsumers = yield* internalOptions.integer(
      S,
      "minConsumers",
      options.minConsumers,
      defaults.minConsumers,
      0
    )
    const maxConsumers = yield* internalOptions.integer(
      S,
      "maxConsumers",
      options.maxConsumers,
      Math.max(defaults.maxConsumers, minConsumers),
      Math.max(1, minConsumers)
    )
    const scaleInStabilization = yield* internalOptions.integer(
      S,
      "scaleInStabilization",
      options.scaleInStabilization,
      defaults.scaleInStabilization,
      1
    )
    const idleThresholdMs = yield* internalOptions.durationMs(
      S,
      "idleThreshold",
      options.idleThreshold,
      defaults.idleThresholdMs
    )
    const rateWindowMs = yield* internalOptions.durationMs(
      S,
      "rateWindow",
      options.rateWindow,
      defaults.rateWindowMs,
      1
    )
    const backlogScanLimit = yield* internalOptions.integer(
      S,
      "backlogScanLimit",
      options.backlogScanLimit,
      defaults.backlogScanLimit,
      1
    )
    return {
      stream,
      group,
      thresholds,
      targetPerConsumer,
      minConsumers,
      maxConsumers,
      scaleInStabilization,
      idleThresholdMs,
      rateWindowMs,
      backlogScanLimit
    }
  })

// ---------------------------------------------------------------------------
// service
// ---------------------------------------------------------------------------

/**
 * The service shape.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly options: ResolvedOptions
  /** fresh metrics (every call reads the server; also a reading for the rates) */
  readonly metrics: Effect.Effect<Metrics, BackendError>
  /** a decision on fresh metrics with the configured thresholds */
  readonly decide: Effect.Effect<Decision, BackendError>
  /**
   * a decision on a reading made elsewhere (a Monitor's `observe`: no round
   * trip). The reading counts for the rates but not toward scale-in
   * stabilization, so a scrape looking on does not change what `decide`
   * answers; `GroupNotFound` when the reading is of another group
   */
  readonly observe: (reading: Reading) => Effect.Effect<Decision, GroupNotFound>
  /** a decision with other thresholds (validated: `InvalidOptions`) */
  readonly decideWith: (thresholds: Thresholds) => Effect.Effect<Decision, BackendError | InvalidOptions>
  /** a decision now, then one per schedule tick (default every 15 seconds) */
  readonly decisions: (
    options?: { readonly schedule?: Schedule.Schedule<unknown> | undefined }
  ) => Stream.Stream<Decision, BackendError>
}

/**
 * The Scaler service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class Scaler extends Context.Tag("effect-redis-streams/Scaler")<Scaler, Service>() {}

/**
 * Build a Scaler over the `StreamsBackend`. Nothing is read until an
 * operation runs.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Service, InvalidOptions, StreamsBackend> =>
  Effect.gen(function*() {
    const resolved = yield* resolveOptions(options)
    const backend = yield* StreamsBackend
    const { group, stream } = resolved
    const env: internalDecide.Env = { ...resolved, rate, decision, recommend, stabilize }
    const state = yield* internalDecide.makeState
    const spanAttributes = {
      "messaging.system": "redis",
      "messaging.destination.name": stream,
      "messaging.consumer.group.name": group
    }
    const groupNotFound = () =>
      new GroupNotFound({
        message: `Scaler: group ${group} of stream ${stream} does not exist`,
        stream,
        group,
        command: "XINFO GROUPS"
      })

    const metrics: Effect.Effect<Metrics, BackendError> = Effect.gen(function*() {
      const [groups, info, consumers] = yield* Effect.all([
        backend.groupsInfo(stream),
        backend.streamInfo(stream),
        backend.consumersInfo(stream, group)
      ], { concurrency: "unbounded" })
      const at = yield* Clock.currentTimeMillis
      const g = groups.find((x) => x.name === group)
      if (g === undefined) return yield* Effect.fail(groupNotFound())
      const backlog = yield* internalBacklog.backlogOf(
        backend,
        stream,
        g,
        resolved.backlogScanLimit,
        Effect.succeed<StreamInfo>(info)
      )
      const reading = { at, stream: info, group: g, consumers, backlog }
      return yield* internalDecide.toMetrics(env, state, reading, 3 + (backlog.source === "scan" ? 1 : 0))
    }).pipe(Effect.withSpan("Scaler.metrics", { kind: "client", attributes: spanAttributes }))

    const decideOn = (thresholds: Thresholds): Effect.Effect<Decision, BackendError> =>
      Effect.flatMap(metrics, (m) => internalDecide.decide(env, state, m, thresholds, true)).pipe(
        Effect.tap((d) => LibraryMetrics.publish(metricPairs(d))),
        Effect.withSpan("Scaler.decide", { kind: "client", attributes: spanAttributes })
      )

    const observe = (reading: Reading): Effect.Effect<Decision, GroupNotFound> =>
      reading.group.name !== group
        ? Effect.fail(groupNotFound())
        : Effect.flatMap(internalDecide.toMetrics(env, state, reading, 0), (m) =>
          internalDecide.decide(env, state, m, resolved.thresholds, false)).pipe(
            Effect.tap((d) => LibraryMetrics.publish(metricPairs(d)))
          )

    const decide = decideOn(resolved.thresholds)

    const decideWith = (thresholds: Thresholds): Effect.Effect<Decision, BackendError | InvalidOptions> =>
      Either.match(validateThresholds(thresholds), {
        onLeft: (e) => Effect.fail(e),
        onRight: decideOn
      })

    const decisions = (
      decisionsOptions?: { readonly schedule?: Schedule.Schedule<unknown> | undefined }
    ): Stream.Stream<Decision, BackendError> =>
      Stream.repeatEffectWithSchedule(decide, decisionsOptions?.schedule ?? Schedule.spaced(defaults.every))

    return Scaler.of({ options: resolved, metrics, decide, decideWith, observe, decisions })
  })

/**
 * A layer of the Scaler.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<Scaler, InvalidOptions, StreamsBackend> =>
  Layer.effect(Scaler, make(options))

/**
 * A layer of the Scaler from `Config`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options>
): Layer.Layer<Scaler, InvalidOptions | ConfigError.ConfigError, StreamsBackend> =>
  Layer.effect(Scaler, Effect.flatMap(Config.unwrap(config), make))

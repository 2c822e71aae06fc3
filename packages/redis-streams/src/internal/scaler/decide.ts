/**
 * The Scaler's arithmetic on one reading: the metrics (backlog, pending,
 * active consumers, rates against earlier readings within the window) and
 * the decision (the seed's rate and rule, the recommendation, scale-in
 * stabilization, the consumers safe to stop). No round trip here: the
 * reading comes from the Scaler's own three commands or from a Monitor's
 * observation.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import type {
  ConsumerMetrics,
  Decision,
  Metrics,
  Reading,
  RecommendOptions,
  ScaleDecision,
  Thresholds
} from "../../Scaler.js"

/** the figures kept from each reading, for the rates */
interface Sample {
  readonly at: number
  readonly entriesAdded: number
  readonly acked: number | null
}

/** what the arithmetic needs, fixed for a Scaler */
export interface Env extends RecommendOptions {
  readonly stream: string
  readonly group: string
  readonly idleThresholdMs: number
  readonly rateWindowMs: number
  readonly scaleInStabilization: number
  /** the seed's rate, rule and the recommendation (pure, from Scaler.ts) */
  readonly rate: (backlog: number, pending: number) => number
  readonly decision: (
    input: { readonly rate: number; readonly backlog: number; readonly consumers: number },
    thresholds: Thresholds
  ) => ScaleDecision
  readonly recommend: (
    input: Pick<Metrics, "backlog" | "pending" | "consumers" | "arrivalRate" | "ackRate">,
    options: RecommendOptions
  ) => { readonly desired: number; readonly byWork: number; readonly byRate: number | null }
  readonly stabilize: (
    lowReadings: number,
    desired: number,
    current: number,
    window: number
  ) => { readonly recommended: number; readonly lowReadings: number }
}

/** the Scaler's memory: earlier readings (for the rates) and consecutive low readings (for stabilization) */
export interface State {
  readonly samples: Ref.Ref<ReadonlyArray<Sample>>
  readonly lowReadings: Ref.Ref<number>
}

/** @internal */
export const makeState: Effect.Effect<State> = Effect.map(
  Effect.all([Ref.make<ReadonlyArray<Sample>>([]), Ref.make(0)]),
  ([samples, lowReadings]) => ({ samples, lowReadings })
)

const perSecond = (delta: number | null, ms: number): number | null =>
  delta === null || delta < 0 || ms <= 0 ? null : delta * 1000 / ms

/** the metrics of one reading; records it for later rates */
export const toMetrics = (
  env: Env,
  state: State,
  reading: Reading,
  commands: number
): Effect.Effect<Metrics> =>
  Effect.gen(function*() {
    const { at, backlog, consumers, group: g, stream: info } = reading
    const consumerList = consumers.map((c): ConsumerMetrics => ({
      name: c.name,
      idleMs: c.idleMs,
      pending: c.pending,
      active: c.idleMs <= env.idleThresholdMs
    }))
    // a group that has delivered nothing yet has read 0 entries (Redis reports null until its first read)
    const entriesRead = g.entriesRead ?? (g.lastDeliveredId === "0-0" ? 0 : null)
    const acked = entriesRead === null ? null : entriesRead - g.pending
    const sample: Sample = { at, entriesAdded: info.entriesAdded, acked }
    const previous = yield* Ref.modify(state.samples, (rs) => {
      const kept = rs.filter((r) => r.at >= at - env.rateWindowMs && r.at < at)
      return [kept[0], [...kept, sample]] as const
    })
    const elapsed = previous === undefined ? 0 : at - previous.at
    return {
      stream: env.stream,
      group: env.group,
      at,
      backlog: backlog.count,
      backlogExact: backlog.exact,
      backlogSource: backlog.source,
      pending: g.pending,
      consumers: consumerList.filter((c) => c.active).length,
      registeredConsumers: consumers.length,
      consumerList,
      entriesAdded: info.entriesAdded,
      entriesRead: g.entriesRead,
      arrivalRate: previous === undefined ? null : perSecond(info.entriesAdded - previous.entriesAdded, elapsed),
      ackRate: previous === undefined || previous.acked === null || acked === null
        ? null
        : perSecond(acked - previous.acked, elapsed),
      commands
    }
  })

/** active consumers with nothing pending, most idle first, enough to come down to `recommended` */
const safeToStop = (m: Metrics, recommended: number): ReadonlyArray<string> =>
  recommended < m.consumers
    ? m.consumerList
      .filter((c) => c.active && c.pending === 0)
      .sort((a, b) => b.idleMs - a.idleMs || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .slice(0, m.consumers - recommended)
      .map((c) => c.name)
    : []

/**
 * The decision on metrics. `advance`: count this reading toward scale-in
 * stabilization (a decision asked for); without it the stabilization is
 * applied as it stands but not moved (a scrape looking on).
 */
export const decide = (
  env: Env,
  state: State,
  m: Metrics,
  thresholds: Thresholds,
  advance: boolean
): Effect.Effect<Decision> =>
  Effect.gen(function*() {
    const r = env.rate(m.backlog, m.pending)
    const suggestion = env.decision({ rate: r, backlog: m.backlog, consumers: m.consumers }, thresholds)
    const rec = env.recommend(m, env)
    const next = (low: number) => env.stabilize(low, rec.desired, m.consumers, env.scaleInStabilization)
    const stable = advance
      ? yield* Ref.modify(state.lowReadings, (low) => {
        const s = next(low)
        return [s, s.lowReadings] as const
      })
      : next(yield* Ref.get(state.lowReadings))
    return {
      ...m,
      rate: r,
      decision: suggestion,
      thresholds,
      recommended: stable.recommended,
      desired: rec.desired,
      byWork: rec.byWork,
      byRate: rec.byRate,
      lowReadings: stable.lowReadings,
      stabilizationWindow: env.scaleInStabilization,
      safeToStop: safeToStop(m, stable.recommended)
    }
  })

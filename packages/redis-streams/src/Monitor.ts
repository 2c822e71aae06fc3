/**
 * The Monitor: a health report of a stream's consumer groups, the seed's
 * table, and a cleanup of dead consumers that never loses an entry.
 *
 * - `report` reads every group of the stream (or the one named), each under
 *   its own name: lag, pending, last-delivered id, oldest pending entry,
 *   highest delivery count, dead-letter stream length, and per consumer its
 *   idle time, pending count and status (`OK`, `IDLE`, `TOO_MANY_PENDING`).
 * - `render` prints the seed's grid table (plus a Group column).
 * - `cleanup` moves the pending entries of consumers idle beyond the
 *   threshold to the live consumers of the same group with the fewest
 *   pending, and deletes a consumer only once its pending list is empty and it
 *   has not come back. `cleanup({ dryRun: true })` returns the plan only.
 * - `watch` is a `Stream` of reports on a `Schedule`; the `background` option
 *   runs it for the lifetime of the layer. Every report also sets Effect
 *   `Metric` gauges per group (`metrics`; names, units and tags in the
 *   `Metrics` module's table).
 * - `observe` is a report with the replies it was built from, for a Scaler
 *   to decide on the same reading (`Scaler.Service.observe`): what
 *   `redis-streams serve` does on each scrape, 2 + D + 2G round trips for G
 *   groups and D dead-letter streams. `metricPairs` gives a report's figures
 *   as metric pairs for `Metrics.render`.
 *
 * The Monitor never creates a stream, a group or (except as a claim target,
 * which is always an existing live consumer) a consumer: a missing stream is
 * `StreamNotFound`, a missing group `GroupNotFound`.
 *
 * Liveness: cleanup treats a consumer as dead when XINFO CONSUMERS `idle`
 * exceeds `idleThreshold`. On Redis 7.2+ that is the time since its last
 * attempted read. Before 7.2 (checked on 7.0.15) `idle` is refreshed only by a
 * read that delivers entries or re-reads the consumer's own pending list, not
 * by a read (blocking or not) that finds nothing new, nor by an XAUTOCLAIM
 * that claims nothing: a live consumer waiting on an empty stream looks idle.
 * Such a consumer is then deleted only if it has nothing pending, which is
 * harmless (Redis re-creates it at its next delivery, even while it is
 * blocked in XREADGROUP), and it is not chosen as a claim target.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as DeadLetter from "./DeadLetter.js"
import * as internalCleanup from "./internal/monitor/cleanup.js"
import * as internalReport from "./internal/monitor/report.js"
import type * as internalBacklog from "./internal/scalerBacklog.js"
import * as Metrics from "./Metrics.js"
import type * as MetricPair from "effect/MetricPair"
import * as internalOptions from "./internal/options.js"
import * as internalTable from "./internal/monitorTable.js"
import type { ConsumerInfo, GroupInfo, StreamInfo } from "./StreamsBackend.js"
import { StreamsBackend } from "./StreamsBackend.js"
import type { BackendError, InvalidOptions } from "./StreamsError.js"

// ---------------------------------------------------------------------------
// models
// ---------------------------------------------------------------------------

/**
 * A consumer's status, machine-readable. `TOO_MANY_PENDING` takes precedence
 * over `IDLE`, as in the seed.
 *
 * @since 0.1.0
 * @category models
 */
export type ConsumerStatus = "OK" | "IDLE" | "TOO_MANY_PENDING"

/**
 * The seed's status texts, as printed in the table.
 *
 * @since 0.1.0
 * @category constants
 */
export const statusText: { readonly [S in ConsumerStatus]: string } = {
  OK: "OK",
  IDLE: "WARNING - idle for long time",
  TOO_MANY_PENDING: "WARNING - too many pending items"
}

/**
 * One consumer of a group.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConsumerReport {
  readonly name: string
  /**
   * The idle time the status is computed from: XINFO CONSUMERS `inactive`
   * where the server has it (Redis 7.2+, time since the last successful
   * interaction), `idle` otherwise.
   */
  readonly idleMs: number
  /** XINFO CONSUMERS `idle`: time since the last attempted interaction (liveness) */
  readonly seenMs: number
  /** XINFO CONSUMERS `inactive` (Redis 7.2+), `null` before */
  readonly inactiveMs: number | null
  readonly pending: number
  readonly status: ConsumerStatus
}

/**
 * One group of the stream.
 *
 * @since 0.1.0
 * @category models
 */
export interface GroupReport {
  readonly name: string
  /**
   * Entries not yet delivered to the group: XINFO GROUPS `lag`, or a bounded
   * fallback where the server reports null (see `lagExact`).
   */
  readonly lag: number
  /** `false` when `lag` is a lower bound (the fallback stopped at its scan limit) */
  readonly lagExact: boolean
  /** delivered, not yet acknowledged */
  readonly pending: number
  readonly lastDeliveredId: string
  readonly consumers: ReadonlyArray<ConsumerReport>
  /** the lowest pending id, `null` when nothing is pending */
  readonly oldestPendingId: string | null
  /** now minus the time part of `oldestPendingId` (how long ago it was added), `null` when nothing is pending */
  readonly oldestPendingAgeMs: number | null
  /** time since `oldestPendingId` was last delivered, `null` when nothing is pending */
  readonly oldestPendingIdleMs: number | null
  /** the highest delivery count among pending entries, `null` when nothing is pending */
  readonly maxDeliveries: number | null
  /** `false` when more entries were pending than `pendingScanLimit` and `maxDeliveries` covers the first ones only */
  readonly maxDeliveriesExact: boolean
  /** the dead-letter stream read for this group */
  readonly deadLetterStream: string
  /** its length (0 when it does not exist) */
  readonly deadLetters: number
}

/**
 * A report of a stream.
 *
 * @since 0.1.0
 * @category models
 */
export interface Report {
  readonly stream: string
  /** when it was taken (ms since epoch, from `Clock`) */
  readonly at: number
  readonly idleThresholdMs: number
  readonly pendingThreshold: number
  readonly groups: ReadonlyArray<GroupReport>
  /** the cleanup that ran just before this report (in `watch` with `cleanup: true`) */
  readonly cleanup?: CleanupResult | undefined
}

/**
 * What cleanup did (or, on a dry run, would do) with one consumer.
 *
 * - `DELETED`: its pending list was empty (after moving its entries) and it
 *   had not come back, so it was deleted; no pending entry is ever dropped;
 * - `WOULD_DELETE`: dry run, it would be deleted;
 * - `KEPT_PENDING`: entries younger than `claimIdle` (or that could not be
 *   moved) are still its own, so it is kept until a later round;
 * - `NO_HEALTHY_CONSUMER`: no live consumer in its group to take its entries;
 *   they stay where they are, for the consumers' own reclaim;
 * - `CAME_BACK`: it was active again at the delete, which is atomic
 *   (`StreamsBackend.deleteConsumerIfIdle`: deleted only if still idle and
 *   with nothing pending at that instant), so it was kept;
 * - `GONE`: it no longer existed at the delete.
 *
 * @since 0.1.0
 * @category models
 */
export type CleanupOutcome = "DELETED" | "WOULD_DELETE" | "KEPT_PENDING" | "NO_HEALTHY_CONSUMER" | "CAME_BACK" | "GONE"

/**
 * Entries moved (or planned) to one consumer.
 *
 * @since 0.1.0
 * @category models
 */
export interface Claim {
  readonly to: string
  readonly ids: ReadonlyArray<string>
}

/**
 * The cleanup of one dead consumer.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConsumerCleanup {
  readonly group: string
  readonly consumer: string
  readonly idleMs: number
  /** its pending count when the round started */
  readonly pending: number
  /** the moves: planned on a dry run, done (only the ids actually claimed) otherwise */
  readonly claims: ReadonlyArray<Claim>
  /** entries moved (0 on a dry run) */
  readonly claimed: number
  /**
   * entries listed as claimable but not moved: taken or touched by someone
   * else in the meantime (their idle time reset), or deleted from the stream
   * while pending (Redis drops those from the pending list when they are
   * claimed: their content is gone already)
   */
  readonly skipped: number
  /** entries still its own at the end (planned: those younger than `claimIdle` or without a target) */
  readonly left: number
  readonly outcome: CleanupOutcome
  readonly note: string
}

/**
 * The result of a cleanup round.
 *
 * @since 0.1.0
 * @category models
 */
export interface CleanupResult {
  readonly stream: string
  readonly dryRun: boolean
  readonly consumers: ReadonlyArray<ConsumerCleanup>
  /** entries moved to live consumers */
  readonly claimed: number
  /** consumers deleted */
  readonly deleted: number
}

/**
 * The stable machine-readable form of a report (for a CLI's JSON output).
 *
 * @since 0.1.0
 * @category models
 */
export interface ReportJson {
  readonly stream: string
  readonly at: number
  readonly groups: ReadonlyArray<{
    readonly name: string
    readonly lag: number
    readonly lagExact: boolean
    readonly pending: number
    readonly lastDeliveredId: string
    readonly oldestPendingAgeMs: number | null
    readonly maxDeliveries: number | null
    readonly deadLetters: number
    readonly consumers: ReadonlyArray<{
      readonly name: string
      readonly idleMs: number
      readonly pending: number
      readonly status: ConsumerStatus
    }>
  }>
}

// ---------------------------------------------------------------------------
// options
// ---------------------------------------------------------------------------

/**
 * Options of a Monitor.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly stream: string
  /** the group to watch; without it every group of the stream is reported, each under its own name */
  readonly group?: string | undefined
  /** a consumer idle longer than this is `IDLE` and, for cleanup, dead (strictly greater); default 30 seconds */
  readonly idleThreshold?: Duration.DurationInput | undefined
  /** a consumer with more pending entries than this is `TOO_MANY_PENDING` (strictly greater); default `batchSize` */
  readonly pendingThreshold?: number | undefined
  /** the consumers' batch size, the default of `pendingThreshold`; default 10 */
  readonly batchSize?: number | undefined
  /**
   * cleanup moves only entries idle at least this long (XCLAIM min-idle-time),
   * so it never takes an entry someone just received; default 1 second
   */
  readonly claimIdle?: Duration.DurationInput | undefined
  /** the dead-letter stream, or one per group; default `DeadLetter.defaultStream(stream)` */
  readonly deadLetterStream?: string | ((group: string) => string) | undefined
  /** how many pending entries a report reads to find the highest delivery count; default 1000 */
  readonly pendingScanLimit?: number | undefined
  /** the most entries read to count a backlog the server does not report; default 1000 */
  readonly backlogScanLimit?: number | undefined
  /**
   * Run `watch` for the lifetime of the layer: reports (and cleanups when
   * `cleanup` is true) on `schedule` (default every 10 seconds). Failures are
   * logged and the loop goes on.
   */
  readonly background?: {
    readonly schedule?: Schedule.Schedule<unknown> | undefined
    readonly cleanup?: boolean | undefined
  } | undefined
}

/**
 * Options after validation, with defaults applied.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResolvedOptions {
  readonly stream: string
  readonly group: string | undefined
  readonly idleThresholdMs: number
  readonly pendingThreshold: number
  readonly claimIdleMs: number
  readonly deadLetterStream: (group: string) => string
  readonly pendingScanLimit: number
  readonly backlogScanLimit: number
}

/**
 * Defaults.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults = {
  idleThresholdMs: 30_000,
  batchSize: 10,
  claimIdleMs: 1_000,
  pendingScanLimit: 1_000,
  backlogScanLimit: 1_000,
  backgroundEvery: Duration.seconds(10)
} as const

const C = "Monitor"

/**
 * Validate options and apply defaults; fails with `InvalidOptions` naming the
 * option and the accepted range.
 *
 * @since 0.1.0
 * @category constructors
 */
export const resolveOptions = (options: Options): Effect.Effect<ResolvedOptions, InvalidOptions> =>
  Effect.gen(function*() {
    const stream = yield* internalOptions.nonEmptyString(C, "stream", options.stream)
    const group = yield* internalOptions.optionalNonEmptyString(C, "group", options.group)
    const idleThresholdMs = yield* internalOptions.durationMs(
      C,
      "idleThreshold",
      options.idleThreshold,
      defaults.idleThresholdMs
    )
    const batchSize = yield* internalOptions.integer(C, "batchSize", options.batchSize, defaults.batchSize, 1)
    const pendingThreshold = yield* internalOptions.integer(
      C,
      "pendingThreshold",
      options.pendingThreshold,
      batchSize,
      0
    )
    const claimIdleMs = yield* internalOptions.durationMs(C, "claimIdle", options.claimIdle, defaults.claimIdleMs)
    const pendingScanLimit = yield* internalOptions.integer(
      C,
      "pendingScanLimit",
      options.pendingScanLimit,
      defaults.pendingScanLimit,
      1
    )
    const backlogScanLimit = yield* internalOptions.integer(
      C,
      "backlogScanLimit",
      options.backlogScanLimit,
      defaults.backlogScanLimit,
      1
    )
    const dlq = options.deadLetterStream
    let deadLetterStream: (group: string) => string
    if (dlq === undefined) {
      const name = DeadLetter.defaultStream(stream)
      deadLetterStream = () => name
    } else if (typeof dlq === "function") {
      deadLetterStream = dlq
    } else {
      const name = yield* internalOptions.nonEmptyString(C, "deadLetterStream", dlq)
      deadLetterStream = () => name
    }
    return {
      stream,
      group,
      idleThresholdMs,
      pendingThreshold,
      claimIdleMs,
      deadLetterStream,
      pendingScanLimit,
      backlogScanLimit
    }
  })

// ---------------------------------------------------------------------------
// pure functions
// ---------------------------------------------------------------------------

/**
 * The idle time a status is computed from: `inactive` where the server
 * reports it (Redis 7.2+; a negative value, "never active", falls back to
 * `idle`), `idle` otherwise.
 *
 * @since 0.1.0
 * @category utils
 */
export const effectiveIdleMs = (consumer: ConsumerInfo): number =>
  consumer.inactiveMs !== null && consumer.inactiveMs >= 0 ? consumer.inactiveMs : consumer.idleMs

/**
 * The seed's status rule, strict inequalities: `TOO_MANY_PENDING` when
 * `pending > pendingThreshold`, else `IDLE` when `idleMs > idleThresholdMs`,
 * else `OK`.
 *
 * @since 0.1.0
 * @category utils
 */
export const status = (
  consumer: { readonly pending: number; readonly idleMs: number },
  thresholds: { readonly pendingThreshold: number; readonly idleThresholdMs: number }
): ConsumerStatus =>
  consumer.pending > thresholds.pendingThreshold
    ? "TOO_MANY_PENDING"
    : consumer.idleMs > thresholds.idleThresholdMs
    ? "IDLE"
    : "OK"

/**
 * The report of one consumer from its XINFO CONSUMERS row.
 *
 * @since 0.1.0
 * @category utils
 */
export const consumerReport = (
  consumer: ConsumerInfo,
  thresholds: { readonly pendingThreshold: number; readonly idleThresholdMs: number }
): ConsumerReport => {
  const idleMs = effectiveIdleMs(consumer)
  return {
    name: consumer.name,
    idleMs,
    seenMs: consumer.idleMs,
    inactiveMs: consumer.inactiveMs,
    pending: consumer.pending,
    status: status({ pending: consumer.pending, idleMs }, thresholds)
  }
}

/**
 * The table headers: the seed's, with a Group column first.
 *
 * @since 0.1.0
 * @category constants
 */
export const tableHeaders: ReadonlyArray<string> = ["Group", "Consumer id", "Idle time", "Pending items", "Status"]

/**
 * The table headers with the idle time's unit: `Idle time (ms)`.
 *
 * @since 0.1.0
 * @category constants
 */
export const tableHeadersWithUnits: ReadonlyArray<string> = ["Group", "Consumer id", "Idle time (ms)", "Pending items", "Status"]

/**
 * Render a report as the seed's table (python-tabulate `grid` style), one
 * row per consumer, with a Group column. Idle time is in milliseconds. No
 * trailing newline, as in the seed. `headers` replaces the seed's
 * (`tableHeaders`), e.g. with `tableHeadersWithUnits`.
 *
 * @since 0.1.0
 * @category rendering
 */
export const render = (report: Pick<Report, "groups">, headers: ReadonlyArray<string> = tableHeaders): string =>
  internalTable.grid(
    headers,
    report.groups.flatMap((g) =>
      g.consumers.map((c) => [g.name, c.name, c.idleMs, c.pending, statusText[c.status]] as const)
    )
  )

/**
 * The stable machine-readable form of a report.
 *
 * @since 0.1.0
 * @category rendering
 */
export const toJson = (report: Report): ReportJson => ({
  stream: report.stream,
  at: report.at,
  groups: report.groups.map((g) => ({
    name: g.name,
    lag: g.lag,
    lagExact: g.lagExact,
    pending: g.pending,
    lastDeliveredId: g.lastDeliveredId,
    oldestPendingAgeMs: g.oldestPendingAgeMs,
    maxDeliveries: g.maxDeliveries,
    deadLetters: g.deadLetters,
    consumers: g.consumers.map((c) => ({ name: c.name, idleMs: c.idleMs, pending: c.pending, status: c.status }))
  }))
})

/**
 * Spread `ids` over `targets`, each to the target with the fewest pending at
 * that moment (ties by name), so loads even out and no target takes all.
 * `targets[i].pending` is updated in place with what it receives.
 *
 * @since 0.1.0
 * @category utils
 */
export const spread = (
  ids: ReadonlyArray<string>,
  targets: Array<{ readonly name: string; pending: number }>
): ReadonlyArray<Claim> => {
  if (targets.length === 0) return []
  const out = new Map<string, Array<string>>()
  for (const id of ids) {
    let best = targets[0]!
    for (const t of targets) {
      if (t.pending < best.pending || (t.pending === best.pending && t.name < best.name)) best = t
    }
    best.pending++
    const list = out.get(best.name)
    if (list) list.push(id)
    else out.set(best.name, [id])
  }
  return Array.from(out, ([to, list]) => ({ to, ids: list }))
}

// ---------------------------------------------------------------------------
// metrics
// ---------------------------------------------------------------------------

/**
 * The gauges every report sets in Effect's metric registry, tagged `stream`
 * and `group` (`consumers` also `status`, `deadLetters` also
 * `dead_letter_stream`). Names, units and tags: see `Metrics`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const metrics = {
  lag: Metric.gauge(Metrics.definitions.lag.name, { description: Metrics.definitions.lag.help }),
  lagExact: Metric.gauge(Metrics.definitions.lagExact.name, { description: Metrics.definitions.lagExact.help }),
  pending: Metric.gauge(Metrics.definitions.pending.name, { description: Metrics.definitions.pending.help }),
  oldestPendingAgeSeconds: Metric.gauge(Metrics.definitions.oldestPendingAge.name, {
    description: Metrics.definitions.oldestPendingAge.help
  }),
  maxDeliveries: Metric.gauge(Metrics.definitions.maxDeliveries.name, {
    description: Metrics.definitions.maxDeliveries.help
  }),
  consumers: Metric.gauge(Metrics.definitions.consumers.name, { description: Metrics.definitions.consumers.help }),
  deadLetters: Metric.gauge(Metrics.definitions.deadLetters.name, { description: Metrics.definitions.deadLetters.help })
} as const

/**
 * A gauge tagged with a stream and a group (then any further tags, in
 * order), to read or set it.
 *
 * @since 0.1.0
 * @category metrics
 */
export const taggedGauge = (
  gauge: Metric.Metric.Gauge<number>,
  stream: string,
  group: string,
  tags?: Readonly<Record<string, string>>
): Metric.Metric.Gauge<number> => {
  let g = gauge.pipe(Metric.tagged("stream", stream), Metric.tagged("group", group))
  for (const [k, v] of Object.entries(tags ?? {})) g = g.pipe(Metric.tagged(k, v))
  return g
}

/**
 * The report's figures as metric pairs, names and units from `Metrics`:
 * per group lag, lag exactness, pending, oldest pending age (seconds), highest
 * delivery count, consumers by status, dead letters; with `perConsumer`
 * (default true) also each consumer's pending count and idle seconds. Render
 * them with `Metrics.render`; `report` publishes them (without the
 * per-consumer series) to Effect's registry.
 *
 * @since 0.1.0
 * @category metrics
 */
export const metricPairs = (
  report: Pick<Report, "stream" | "groups">,
  options?: { readonly perConsumer?: boolean | undefined }
): Array<MetricPair.MetricPair.Untyped> => {
  const d = Metrics.definitions
  const out: Array<MetricPair.MetricPair.Untyped> = []
  for (const g of report.groups) {
    const sg = { stream: report.stream, group: g.name }
    out.push(
      Metrics.pair(d.lag, sg, g.lag),
      Metrics.pair(d.lagExact, sg, g.lagExact ? 1 : 0),
      Metrics.pair(d.pending, sg, g.pending),
      Metrics.pair(d.oldestPendingAge, sg, (g.oldestPendingAgeMs ?? 0) / 1000),
      Metrics.pair(d.maxDeliveries, sg, g.maxDeliveries ?? 0),
      Metrics.pair(d.deadLetters, { ...sg, dead_letter_stream: g.deadLetterStream }, g.deadLetters)
    )
    for (const [status, n] of Object.entries(internalReport.consumersByStatus(g))) {
      out.push(Metrics.pair(d.consumers, { ...sg, status }, n))
    }
    if (options?.perConsumer === false) continue
    for (const c of g.consumers) {
      const sgc = { ...sg, consumer: c.name }
      out.push(Metrics.pair(d.consumerPending, sgc, c.pending), Metrics.pair(d.consumerIdle, sgc, c.idleMs / 1000))
    }
  }
  return out
}

/**
 * A report with the replies it was built from: XINFO STREAM and, per group,
 * XINFO GROUPS, XINFO CONSUMERS and the backlog, so that a Scaler can decide
 * on the same reading (`Scaler.Service.observe`) without reading again.
 *
 * @since 0.1.0
 * @category models
 */
export interface Observation {
  readonly report: Report
  readonly stream: StreamInfo
  readonly groups: ReadonlyArray<{
    readonly info: GroupInfo
    readonly consumers: ReadonlyArray<ConsumerInfo>
    readonly backlog: internalBacklog.Backlog
  }>
}

// ---------------------------------------------------------------------------
// service
// ---------------------------------------------------------------------------

/**
 * Options of `watch`.
 *
 * @since 0.1.0
 * @category models
 */
export interface WatchOptions {
  /** default: every 10 seconds */
  readonly schedule?: Schedule.Schedule<unknown> | undefined
  /** run a cleanup before each report; default false */
  readonly cleanup?: boolean | undefined
}

/**
 * The service shape.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly options: ResolvedOptions
  /** a fresh report; also sets the gauges (`metrics`) */
  readonly report: Effect.Effect<Report, BackendError>
  /**
   * a fresh report with the replies it was built from (XINFO STREAM always
   * read); also sets the gauges. A stream of G groups and D distinct
   * dead-letter streams costs 2 + D + 2G round trips (plus, per group, one
   * bounded XRANGE where the server reports no lag)
   */
  readonly observe: Effect.Effect<Observation, BackendError>
  /** clean up dead consumers (see `CleanupOutcome`); `dryRun` returns the plan without changing anything */
  readonly cleanup: (options?: { readonly dryRun?: boolean | undefined }) => Effect.Effect<CleanupResult, BackendError>
  /** a report now, then one per schedule tick */
  readonly watch: (options?: WatchOptions) => Stream.Stream<Report, BackendError>
}

/**
 * The Monitor service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class Monitor extends Context.Tag("effect-redis-streams/Monitor")<Monitor, Service>() {}

interface GroupSnapshot {
  readonly info: GroupInfo
  readonly consumers: ReadonlyArray<ConsumerInfo>
}

/**
 * Build a Monitor over the `StreamsBackend`. Nothing is read or written until
 * an operation runs; with `background` set, a report loop runs until the
 * scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<Service, InvalidOptions, StreamsBackend | Scope.Scope> =>
  Effect.gen(function*() {
    const resolved = yield* resolveOptions(options)
    const backend = yield* StreamsBackend
    const { claimIdleMs, idleThresholdMs, pendingThreshold, stream } = resolved
    const spanAttributes = {
      "messaging.system": "redis",
      "messaging.destination.name": stream,
      ...(resolved.group !== undefined ? { "messaging.consumer.group.name": resolved.group } : {})
    }

    const reportEnv: internalReport.Env = { ...resolved, backend, consumerReport }
    const published = (reading: internalReport.Reading) =>
      Effect.as(Metrics.publish(metricPairs(reading.report, { perConsumer: false })), reading)

    const report: Effect.Effect<Report, BackendError> = Effect.flatMap(
      Effect.cached(backend.streamInfo(stream)),
      (streamInfo) => internalReport.read(reportEnv, streamInfo)
    ).pipe(
      Effect.flatMap(published),
      Effect.map((r) => r.report),
      Effect.withSpan("Monitor.report", { kind: "client", attributes: spanAttributes })
    )

    const observe: Effect.Effect<Observation, BackendError> = Effect.gen(function*() {
      // one XINFO STREAM, shared with the backlog fallback
      const streamInfo = yield* Effect.cached(backend.streamInfo(stream))
      const [info, reading] = yield* Effect.all([streamInfo, internalReport.read(reportEnv, streamInfo)], {
        concurrency: "unbounded"
      })
      yield* published(reading)
      return { report: reading.report, stream: info, groups: reading.groups }
    }).pipe(Effect.withSpan("Monitor.observe", { kind: "client", attributes: spanAttributes }))

    const snapshot: Effect.Effect<ReadonlyArray<GroupSnapshot>, BackendError> = Effect.gen(function*() {
      const groups = yield* internalReport.selectGroups(reportEnv, yield* backend.groupsInfo(stream))
      return yield* Effect.forEach(
        groups,
        (info) => Effect.map(backend.consumersInfo(stream, info.name), (consumers) => ({ info, consumers })),
        { concurrency: "unbounded" }
      )
    })

    const cleanupEnv: internalCleanup.Env = {
      backend,
      stream,
      claimIdleMs,
      pendingThreshold,
      deadAfterMs: Math.floor(idleThresholdMs) + 1,
      spread
    }

    const cleanup = (
      cleanupOptions?: { readonly dryRun?: boolean | undefined }
    ): Effect.Effect<CleanupResult, BackendError> => {
      const dryRun = cleanupOptions?.dryRun === true
      return Effect.flatMap(snapshot, (groups) => internalCleanup.cleanupGroups(cleanupEnv, groups, dryRun)).pipe(
        Effect.withSpan("Monitor.cleanup", { kind: "client", attributes: { ...spanAttributes, dryRun } })
      )
    }

    const watch = (watchOptions?: WatchOptions): Stream.Stream<Report, BackendError> => {
      const tick: Effect.Effect<Report, BackendError> = watchOptions?.cleanup === true
        ? Effect.flatMap(cleanup(), (done) => Effect.map(report, (r): Report => ({ ...r, cleanup: done })))
        : report
      return Stream.repeatEffectWithSchedule(
        tick,
        watchOptions?.schedule ?? Schedule.spaced(defaults.backgroundEvery)
      )
    }

    if (options.background !== undefined) {
      const schedule = options.background.schedule ?? Schedule.spaced(defaults.backgroundEvery)
      const once = (options.background.cleanup === true
        ? Effect.zipRight(cleanup(), report)
        : report).pipe(
          Effect.catchAllCause((cause) => Effect.logWarning("Monitor: background report failed", cause))
        )
      yield* once.pipe(
        Effect.repeat(schedule),
        Effect.annotateLogs({ package: "effect-redis-streams", module: "Monitor", stream }),
        Effect.interruptible,
        Effect.forkScoped
      )
    }

    return Monitor.of({ options: resolved, report, observe, cleanup, watch })
  })

/**
 * A layer of the Monitor.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<Monitor, InvalidOptions, StreamsBackend> =>
  Layer.scoped(Monitor, make(options))

/**
 * A layer of the Monitor from `Config`, e.g.
 * `layerConfig({ stream: Config.string("STREAM"), idleThreshold: Config.duration("IDLE") })`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options>
): Layer.Layer<Monitor, InvalidOptions | ConfigError.ConfigError, StreamsBackend> =>
  Layer.scoped(Monitor, Effect.flatMap(Config.unwrap(config), make))

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
 *   `Metric` gauges per group.
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
import * as Clock from "effect/Clock"
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
import * as internalBacklog from "./internal/scalerBacklog.js"
import * as internalOptions from "./internal/options.js"
import * as internalTable from "./internal/monitorTable.js"
import type { ConsumerInfo, GroupInfo, PendingEntry, StreamInfo } from "./StreamsBackend.js"
import { StreamsBackend } from "./StreamsBackend.js"
import type { BackendError, InvalidOptions } from "./StreamsError.js"
import { GroupNotFound } from "./StreamsError.js"

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
 * Render a report as the seed's table (python-tabulate `grid` style), one
 * row per consumer, with a Group column. Idle time is in milliseconds. No
 * trailing newline, as in the seed.
 *
 * @since 0.1.0
 * @category rendering
 */
export const render = (report: Pick<Report, "groups">): string =>
  internalTable.grid(
    tableHeaders,
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
 * Gauges set on every report, tagged `stream` and `group`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const metrics = {
  lag: Metric.gauge("redis_streams_group_lag", { description: "entries not yet delivered to the group" }),
  pending: Metric.gauge("redis_streams_group_pending", { description: "entries delivered, not yet acknowledged" }),
  consumers: Metric.gauge("redis_streams_group_consumers", { description: "consumers of the group" }),
  idleConsumers: Metric.gauge("redis_streams_group_idle_consumers", {
    description: "consumers idle beyond the monitor's idle threshold"
  }),
  oldestPendingAgeMs: Metric.gauge("redis_streams_group_oldest_pending_age_ms", {
    description: "age of the oldest pending entry in milliseconds (0 when none)"
  })
} as const

/**
 * A gauge tagged with a stream and a group, to read or set it.
 *
 * @since 0.1.0
 * @category metrics
 */
export const taggedGauge = (
  gauge: Metric.Metric.Gauge<number>,
  stream: string,
  group: string
): Metric.Metric.Gauge<number> => gauge.pipe(Metric.tagged("stream", stream), Metric.tagged("group", group))

const publish = (stream: string, g: GroupReport, idleThresholdMs: number): Effect.Effect<void> =>
  Effect.all([
    Metric.set(taggedGauge(metrics.lag, stream, g.name), g.lag),
    Metric.set(taggedGauge(metrics.pending, stream, g.name), g.pending),
    Metric.set(taggedGauge(metrics.consumers, stream, g.name), g.consumers.length),
    Metric.set(
      taggedGauge(metrics.idleConsumers, stream, g.name),
      g.consumers.filter((c) => c.idleMs > idleThresholdMs).length
    ),
    Metric.set(taggedGauge(metrics.oldestPendingAgeMs, stream, g.name), g.oldestPendingAgeMs ?? 0)
  ], { discard: true })

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
  /** a fresh report; also sets the gauges */
  readonly report: Effect.Effect<Report, BackendError>
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
    const thresholds = { idleThresholdMs, pendingThreshold }
    const spanAttributes = {
      "messaging.system": "redis",
      "messaging.destination.name": stream,
      ...(resolved.group !== undefined ? { "messaging.consumer.group.name": resolved.group } : {})
    }

    const selectGroups = (groups: ReadonlyArray<GroupInfo>): Effect.Effect<ReadonlyArray<GroupInfo>, GroupNotFound> => {
      if (resolved.group === undefined) return Effect.succeed(groups)
      const found = groups.filter((g) => g.name === resolved.group)
      return found.length > 0 ? Effect.succeed(found) : Effect.fail(
        new GroupNotFound({
          message: `Monitor: group ${resolved.group} of stream ${stream} does not exist`,
          stream,
          group: resolved.group,
          command: "XINFO GROUPS"
        })
      )
    }

    const groupReport = (
      g: GroupInfo,
      now: number,
      streamInfo: Effect.Effect<StreamInfo, BackendError>,
      deadLetters: ReadonlyMap<string, number>
    ): Effect.Effect<GroupReport, BackendError> =>
      Effect.gen(function*() {
        const [consumers, scan, backlog] = yield* Effect.all([
          backend.consumersInfo(stream, g.name),
          g.pending > 0
            ? backend.pending({ stream, group: g.name, start: "-", end: "+", count: resolved.pendingScanLimit })
            : Effect.succeed<ReadonlyArray<PendingEntry>>([]),
          internalBacklog.backlogOf(backend, stream, g, resolved.backlogScanLimit, streamInfo)
        ], { concurrency: "unbounded" })
        const first = scan[0]
        const dlq = resolved.deadLetterStream(g.name)
        return {
          name: g.name,
          lag: backlog.count,
          lagExact: backlog.exact,
          pending: g.pending,
          lastDeliveredId: g.lastDeliveredId,
          consumers: consumers.map((c) => consumerReport(c, thresholds)),
          oldestPendingId: first?.id ?? null,
          oldestPendingAgeMs: first ? Math.max(0, now - internalBacklog.idTimeMs(first.id)) : null,
          oldestPendingIdleMs: first?.idleMs ?? null,
          maxDeliveries: scan.length > 0 ? scan.reduce((m, e) => Math.max(m, e.deliveries), 0) : null,
          maxDeliveriesExact: scan.length >= g.pending,
          deadLetterStream: dlq,
          deadLetters: deadLetters.get(dlq) ?? 0
        }
      })

    const report: Effect.Effect<Report, BackendError> = Effect.gen(function*() {
      const groups = yield* selectGroups(yield* backend.groupsInfo(stream))
      const now = yield* Clock.currentTimeMillis
      const streamInfo = yield* Effect.cached(backend.streamInfo(stream))
      const dlqNames = Array.from(new Set(groups.map((g) => resolved.deadLetterStream(g.name))))
      const dlqLengths = yield* Effect.forEach(dlqNames, (name) => backend.length(name), {
        concurrency: "unbounded"
      })
      const deadLetters = new Map(dlqNames.map((name, i) => [name, dlqLengths[i]!] as const))
      const groupReports = yield* Effect.forEach(groups, (g) => groupReport(g, now, streamInfo, deadLetters), {
        concurrency: "unbounded"
      })
      yield* Effect.forEach(groupReports, (g) => publish(stream, g, idleThresholdMs), { discard: true })
      return { stream, at: now, idleThresholdMs, pendingThreshold, groups: groupReports }
    }).pipe(Effect.withSpan("Monitor.report", { kind: "client", attributes: spanAttributes }))

    const snapshot: Effect.Effect<ReadonlyArray<GroupSnapshot>, BackendError> = Effect.gen(function*() {
      const groups = yield* selectGroups(yield* backend.groupsInfo(stream))
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

    return Monitor.of({ options: resolved, report, cleanup, watch })
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

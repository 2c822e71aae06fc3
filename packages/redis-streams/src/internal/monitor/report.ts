/**
 * The Monitor's reading of a stream: XINFO GROUPS (and XINFO STREAM, lazily
 * for a report, always for an observation), one XLEN per distinct
 * dead-letter stream, and per group XINFO CONSUMERS plus XPENDING (only when
 * something is pending) and the bounded backlog fallback (only when the
 * server reports no lag). So a reading of G groups costs at most
 * 2 + D + 3G round trips, 2 + D + 2G on Redis 7 when lag is known.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { ConsumerReport, ConsumerStatus, GroupReport, Report } from "../../Monitor.js"
import type { ConsumerInfo, GroupInfo, PendingEntry, Service as Backend, StreamInfo } from "../../StreamsBackend.js"
import type { BackendError } from "../../StreamsError.js"
import { GroupNotFound } from "../../StreamsError.js"
import * as internalBacklog from "../scalerBacklog.js"

/** what a reading needs to know, fixed for a Monitor */
export interface Env {
  readonly backend: Backend
  readonly stream: string
  readonly group: string | undefined
  readonly idleThresholdMs: number
  readonly pendingThreshold: number
  readonly pendingScanLimit: number
  readonly backlogScanLimit: number
  readonly deadLetterStream: (group: string) => string
  readonly consumerReport: (
    consumer: ConsumerInfo,
    thresholds: { readonly pendingThreshold: number; readonly idleThresholdMs: number }
  ) => ConsumerReport
}

/** one group as read: the XINFO replies and the backlog the report was built from */
export interface GroupReading {
  readonly info: GroupInfo
  readonly consumers: ReadonlyArray<ConsumerInfo>
  readonly backlog: internalBacklog.Backlog
}

/** a report with the replies it was built from */
export interface Reading {
  readonly report: Report
  readonly groups: ReadonlyArray<GroupReading>
}

/** the groups asked for: all, or the one named (else `GroupNotFound`) */
export const selectGroups = (
  env: Env,
  groups: ReadonlyArray<GroupInfo>
): Effect.Effect<ReadonlyArray<GroupInfo>, GroupNotFound> => {
  if (env.group === undefined) return Effect.succeed(groups)
  const found = groups.filter((g) => g.name === env.group)
  return found.length > 0 ? Effect.succeed(found) : Effect.fail(
    new GroupNotFound({
      message: `Monitor: group ${env.group} of stream ${env.stream} does not exist`,
      stream: env.stream,
      group: env.group,
      command: "XINFO GROUPS"
    })
  )
}

const readGroup = (
  env: Env,
  g: GroupInfo,
  now: number,
  streamInfo: Effect.Effect<StreamInfo, BackendError>,
  deadLetters: ReadonlyMap<string, number>
): Effect.Effect<{ readonly report: GroupReport; readonly reading: GroupReading }, BackendError> =>
  Effect.gen(function*() {
    const { backend, stream } = env
    const [consumers, scan, backlog] = yield* Effect.all([
      backend.consumersInfo(stream, g.name),
      g.pending > 0
        ? backend.pending({ stream, group: g.name, start: "-", end: "+", count: env.pendingScanLimit })
        : Effect.succeed<ReadonlyArray<PendingEntry>>([]),
      internalBacklog.backlogOf(backend, stream, g, env.backlogScanLimit, streamInfo)
    ], { concurrency: "unbounded" })
    const first = scan[0]
    const dlq = env.deadLetterStream(g.name)
    const report: GroupReport = {
      name: g.name,
      lag: backlog.count,
      lagExact: backlog.exact,
      pending: g.pending,
      lastDeliveredId: g.lastDeliveredId,
      consumers: consumers.map((c) => env.consumerReport(c, env)),
      oldestPendingId: first?.id ?? null,
      oldestPendingAgeMs: first ? Math.max(0, now - internalBacklog.idTimeMs(first.id)) : null,
      oldestPendingIdleMs: first?.idleMs ?? null,
      maxDeliveries: scan.length > 0 ? scan.reduce((m, e) => Math.max(m, e.deliveries), 0) : null,
      maxDeliveriesExact: scan.length >= g.pending,
      deadLetterStream: dlq,
      deadLetters: deadLetters.get(dlq) ?? 0
    }
    return { report, reading: { info: g, consumers, backlog } }
  })

/** read the stream's groups (XINFO STREAM through `streamInfo`, read at most once) into a report */
export const read = (
  env: Env,
  streamInfo: Effect.Effect<StreamInfo, BackendError>
): Effect.Effect<Reading, BackendError> =>
  Effect.gen(function*() {
    const { backend, stream } = env
    const groups = yield* selectGroups(env, yield* backend.groupsInfo(stream))
    const now = yield* Clock.currentTimeMillis
    const dlqNames = Array.from(new Set(groups.map((g) => env.deadLetterStream(g.name))))
    const dlqLengths = yield* Effect.forEach(dlqNames, (name) => backend.length(name), { concurrency: "unbounded" })
    const deadLetters = new Map(dlqNames.map((name, i) => [name, dlqLengths[i]!] as const))
    const read = yield* Effect.forEach(groups, (g) => readGroup(env, g, now, streamInfo, deadLetters), {
      concurrency: "unbounded"
    })
    const report: Report = {
      stream,
      at: now,
      idleThresholdMs: env.idleThresholdMs,
      pendingThreshold: env.pendingThreshold,
      groups: read.map((r) => r.report)
    }
    return { report, groups: read.map((r) => r.reading) }
  })

/** consumers of a group by status (every status present, 0 when none) */
export const consumersByStatus = (g: GroupReport): Record<ConsumerStatus, number> => {
  const out: Record<ConsumerStatus, number> = { OK: 0, IDLE: 0, TOO_MANY_PENDING: 0 }
  for (const c of g.consumers) out[c.status]++
  return out
}

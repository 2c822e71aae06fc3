/**
 * The Monitor's cleanup of dead consumers, in small steps:
 * `plan` lists the targets per group, `cleanupConsumer` moves one dead
 * consumer's entries (`moveEntries`, page by page) and then either reports
 * the dry-run plan (`planOutcome`) or deletes it atomically
 * (`deleteOutcome`). Every result is built by `result`.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { Claim, CleanupOutcome, ConsumerCleanup, CleanupResult } from "../../Monitor.js"
import type { ConsumerInfo, GroupInfo, Service as Backend } from "../../StreamsBackend.js"
import type { BackendError } from "../../StreamsError.js"
import * as internalBacklog from "../scalerBacklog.js"

const CLAIM_CHUNK = 500
const PENDING_PAGE = 1000

/** what cleanup needs to know, fixed for a Monitor */
export interface Env {
  readonly backend: Backend
  readonly stream: string
  readonly claimIdleMs: number
  readonly pendingThreshold: number
  /** liveness: XINFO `idle` at least this is dead (idle strictly above the threshold; idle is whole ms) */
  readonly deadAfterMs: number
  readonly spread: (
    ids: ReadonlyArray<string>,
    targets: Array<{ readonly name: string; pending: number }>
  ) => ReadonlyArray<Claim>
}

/** a live consumer that may take entries, with its load so far */
export interface Target {
  readonly name: string
  pending: number
}

/** what moving one consumer's entries did (or would do) */
interface Moves {
  readonly claims: ReadonlyArray<Claim>
  readonly planned: number
  readonly claimed: number
  readonly skipped: number
}

/** the one result builder */
const result = (
  group: string,
  dead: ConsumerInfo,
  moves: Pick<Moves, "claims" | "claimed" | "skipped">,
  left: number,
  outcome: CleanupOutcome,
  note: string
): ConsumerCleanup => ({
  group,
  consumer: dead.name,
  idleMs: dead.idleMs,
  pending: dead.pending,
  claims: moves.claims,
  claimed: moves.claimed,
  skipped: moves.skipped,
  left,
  outcome,
  note
})

const noMoves: Moves = { claims: [], planned: 0, claimed: 0, skipped: 0 }

/** XCLAIM (JUSTID) `ids` to `to` in chunks; the ids actually claimed */
const claimTo = (
  env: Env,
  group: string,
  to: string,
  ids: ReadonlyArray<string>
): Effect.Effect<ReadonlyArray<string>, BackendError> =>
  Effect.gen(function*() {
    const done: Array<string> = []
    for (let i = 0; i < ids.length; i += CLAIM_CHUNK) {
      const got = yield* env.backend.claimJustId({
        stream: env.stream,
        group,
        consumer: to,
        minIdleMs: env.claimIdleMs,
        ids: ids.slice(i, i + CLAIM_CHUNK)
      })
      done.push(...got)
    }
    return done
  })

/** move `dead`'s entries idle >= claimIdle to `targets`, page by page, oldest first (planned only on a dry run) */
const moveEntries = (
  env: Env,
  group: string,
  dead: ConsumerInfo,
  targets: Array<Target>,
  dryRun: boolean
): Effect.Effect<Moves, BackendError> =>
  Effect.gen(function*() {
    const claims = new Map<string, Array<string>>()
    const record = (to: string, ids: ReadonlyArray<string>) => claims.set(to, [...(claims.get(to) ?? []), ...ids])
    let planned = 0
    let claimed = 0
    let skipped = 0
    let start = "-"
    while (dead.pending > 0) {
      const page = yield* env.backend.pending({
        stream: env.stream,
        group,
        start,
        end: "+",
        count: PENDING_PAGE,
        consumer: dead.name,
        minIdleMs: env.claimIdleMs
      })
      if (page.length === 0) break
      const ids = page.map((e) => e.id)
      planned += ids.length
      for (const claim of env.spread(ids, targets)) {
        if (dryRun) {
          record(claim.to, claim.ids)
          continue
        }
        const done = yield* claimTo(env, group, claim.to, claim.ids)
        // spread counted every id; correct the load by what was not claimed
        const target = targets.find((t) => t.name === claim.to)
        if (target) target.pending -= claim.ids.length - done.length
        claimed += done.length
        skipped += claim.ids.length - done.length
        if (done.length > 0) record(claim.to, done)
      }
      if (page.length < PENDING_PAGE) break
      start = internalBacklog.nextId(ids[ids.length - 1]!)
    }
    return { claims: Array.from(claims, ([to, ids]) => ({ to, ids })), planned, claimed, skipped }
  })

/** the dry run's answer */
const planOutcome = (env: Env, group: string, dead: ConsumerInfo, moves: Moves): ConsumerCleanup => {
  const planOnly = { claims: moves.claims, claimed: 0, skipped: 0 }
  const left = Math.max(0, dead.pending - moves.planned)
  if (left > 0) {
    return result(
      group,
      dead,
      planOnly,
      left,
      "KEPT_PENDING",
      `would move ${moves.planned} entries; ${left} are idle less than ${env.claimIdleMs} ms and stay, so it would be kept`
    )
  }
  return result(
    group,
    dead,
    planOnly,
    0,
    "WOULD_DELETE",
    moves.planned > 0
      ? `would move ${moves.planned} entries to ${moves.claims.length} consumer(s), then delete it`
      : "nothing pending; would delete it"
  )
}

/** delete only if, at that instant, it is still dead and has nothing pending (one atomic step) */
const deleteOutcome = (
  env: Env,
  group: string,
  dead: ConsumerInfo,
  moves: Moves
): Effect.Effect<ConsumerCleanup, BackendError> =>
  Effect.gen(function*() {
    const del = yield* env.backend.deleteConsumerIfIdle(env.stream, group, dead.name, { minIdleMs: env.deadAfterMs })
    if (del.idleMs === null) return result(group, dead, moves, 0, "GONE", "it no longer existed when re-checked")
    if (del.deleted) {
      const note = moves.claimed > 0
        ? `moved ${moves.claimed} entries to ${moves.claims.length} consumer(s), then deleted it`
        : "deleted"
      return result(group, dead, moves, 0, "DELETED", note)
    }
    if (del.idleMs < env.deadAfterMs) {
      const note = `it was active again (idle ${del.idleMs} ms) when re-checked; kept with ${del.pending} pending`
      yield* Effect.logInfo(`Monitor: ${dead.name}: ${note}`)
      return result(group, dead, moves, del.pending, "CAME_BACK", note)
    }
    return result(
      group,
      dead,
      moves,
      del.pending,
      "KEPT_PENDING",
      `moved ${moves.claimed}; ${del.pending} entries idle less than ${env.claimIdleMs} ms stay, so it is kept until a later round`
    )
  })

/** clean up one dead consumer: move its entries to `targets`, then delete it (or plan it, on a dry run) */
export const cleanupConsumer = (
  env: Env,
  group: string,
  dead: ConsumerInfo,
  targets: Array<Target>,
  dryRun: boolean
): Effect.Effect<ConsumerCleanup, BackendError> =>
  Effect.gen(function*() {
    if (dead.pending > 0 && targets.length === 0) {
      const note =
        `no live consumer in group ${group} to take its ${dead.pending} pending entries; left where they are for the consumers' own reclaim`
      yield* Effect.logWarning(`Monitor: ${dead.name}: ${note}`)
      return result(group, dead, noMoves, dead.pending, "NO_HEALTHY_CONSUMER", note)
    }
    const moves = yield* moveEntries(env, group, dead, targets, dryRun)
    if (moves.skipped > 0) {
      yield* Effect.logWarning(
        `Monitor: ${moves.skipped} pending entries of ${dead.name} were not moved: claimed by someone else meanwhile, or deleted from the stream while pending (Redis drops those from the pending list)`
      )
    }
    return dryRun ? planOutcome(env, group, dead, moves) : yield* deleteOutcome(env, group, dead, moves)
  })

/** a cleanup round over the groups' snapshots: dead consumers of each group, their entries to the live ones */
export const cleanupGroups = (
  env: Env,
  groups: ReadonlyArray<{ readonly info: GroupInfo; readonly consumers: ReadonlyArray<ConsumerInfo> }>,
  dryRun: boolean
): Effect.Effect<CleanupResult, BackendError> =>
  Effect.gen(function*() {
    const isDead = (c: ConsumerInfo): boolean => c.idleMs >= env.deadAfterMs
    const results: Array<ConsumerCleanup> = []
    for (const { consumers, info } of groups) {
      const dead = consumers.filter(isDead)
      if (dead.length === 0) continue
      const targets = consumers
        .filter((c) => !isDead(c) && c.pending <= env.pendingThreshold)
        .map((c): Target => ({ name: c.name, pending: c.pending }))
      for (const d of dead) results.push(yield* cleanupConsumer(env, info.name, d, targets, dryRun))
    }
    return {
      stream: env.stream,
      dryRun,
      consumers: results,
      claimed: results.reduce((n, r) => n + r.claimed, 0),
      deleted: results.filter((r) => r.outcome === "DELETED").length
    }
  })

/**
 * Reclaim: XAUTOCLAIM rounds that take over entries idle for `claimIdle`
 * from any consumer of the group (crashed ones included), between batches.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { BackendError } from "../../StreamsError.js"
import { handleRedelivered } from "./delivery.js"
import type { Collecting, Run } from "./run.js"

/**
 * Whether a reclaim round is due. Only before a batch has entries: otherwise, with a batch
 * collecting for longer than claimIdle, the consumer would reclaim the entries of that very batch
 * from itself.
 */
export const due = <A>(run: Run<A>, c: Collecting<A>, now: number): boolean =>
  run.env.o.claimIdleMs !== undefined && c.out.length === 0 && now >= run.nextReclaimAt

/**
 * One XAUTOCLAIM round from the run's cursor into `c`; the next round is due at once while the
 * scan goes on, and after `claimInterval` once it has wrapped. Returns whether it claimed entries.
 */
export const round = <A>(run: Run<A>, c: Collecting<A>, now: number): Effect.Effect<boolean, BackendError> => {
  const env = run.env
  const o = env.o
  const claimIdleMs = o.claimIdleMs!
  return Effect.flatMap(
    env.resilient(env.backend.autoClaim({
      stream: o.stream,
      group: o.group,
      consumer: o.name,
      minIdleMs: claimIdleMs,
      start: run.reclaimCursor,
      count: c.limit - c.out.length,
      lane: run.lane
    })),
    (r) => {
      run.reclaimCursor = r.next
      run.nextReclaimAt = r.next === "0-0" ? now + o.claimIntervalMs : now
      const logDeleted = r.deleted.length === 0 ? Effect.void : env.logWarning(
        `${r.deleted.length} pending entries were deleted or trimmed from the stream before being processed; ` +
          `Redis dropped them from the pending list: ${r.deleted.slice(0, 20).join(", ")}`
      )
      if (r.entries.length === 0) return Effect.as(logDeleted, false)
      run.remember(r.entries)
      env.metrics.reclaimed(r.entries.length)
      return logDeleted.pipe(
        Effect.zipRight(env.logInfo(`reclaimed ${r.entries.length} entries idle for more than ${claimIdleMs} ms`)),
        Effect.zipRight(handleRedelivered(env, r.entries, c.out, "reclaimed")),
        Effect.as(true)
      )
    }
  )
}

/**
 * Read-ahead: an acknowledgement that also reads the next entries in the
 * same round trip (XACK and XREADGROUP in one write), and the release of
 * entries read but never handed out.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { Message } from "../../Message.js"
import type { BackendError } from "../../StreamsError.js"
import type { Run } from "./run.js"

/** whether an acknowledgement may read ahead now */
export const allowed = <A>(run: Run<A>): boolean => {
  const o = run.env.o
  return o.readAhead && run.open && run.phase === "new" && run.readAhead === undefined && !run.readAheadInFlight &&
    // a reclaim round only runs at the start of an empty batch: do not read ahead when one is due
    (o.claimIdleMs === undefined || run.now() < run.nextReclaimAt)
}

/**
 * Acknowledge `ids` and, when allowed, read up to `count` new entries in the same round trip;
 * they start the next batch (`run.readAhead`). Returns how many ids were pending.
 */
export const ackThenRead = <A>(run: Run<A>, ids: ReadonlyArray<string>, count: number): Effect.Effect<number, BackendError> =>
  Effect.suspend(() => {
    const env = run.env
    if (!allowed(run)) return env.ackIds(ids)
    const o = env.o
    env.lastErrors.forget(ids)
    run.readAheadInFlight = true
    const effect = env.backend.ackThenRead(
      o.stream,
      o.group,
      ids,
      { stream: o.stream, group: o.group, consumer: o.name, id: ">", count },
      { delete: o.deleteOnAck, lane: run.lane }
    ).pipe(
      Effect.flatMap((r): Effect.Effect<number> => {
        run.readAheadInFlight = false
        if (Either.isLeft(r.read)) {
          // the read may have been served with its reply lost; other errors show on the next read
          run.readFailed(r.read.left)
          return Effect.succeed(r.acked)
        }
        const entries = run.readReturned(r.read.right, count)
        if (entries.length === 0) return Effect.succeed(r.acked)
        if (!run.open) return Effect.as(release(run, entries.map((e) => e.id), 0), r.acked)
        run.readAhead = entries
        return Effect.succeed(r.acked)
      }),
      Effect.tapError(() =>
        Effect.sync(() => {
          run.readAheadInFlight = false
          run.recoverOwnPending()
        })
      )
    )
    return env.ackSpan(effect, ids.length)
  })

/**
 * Give entries read but not handed out back to the group: they stay pending under this consumer
 * (Redis has no way to undo a delivery) with their delivery count set to `retryCount` (the count
 * before this delivery) and their idle time set to claimIdle, so other consumers reclaim them at
 * once; this consumer, if it runs again, hands them out first. Never fails: entries it cannot
 * release are reclaimed after claimIdle.
 */
export const release = <A>(run: Run<A>, ids: ReadonlyArray<string>, retryCount: number): Effect.Effect<void> => {
  const { o, backend } = run.env
  return backend.claimJustId({
    stream: o.stream,
    group: o.group,
    consumer: o.name,
    minIdleMs: 0,
    ids,
    idleMs: o.claimIdleMs ?? 0,
    retryCount,
    lane: run.lane
  }).pipe(
    Effect.flatMap((released) => Effect.logDebug(`released ${released.length} entries read and not handed out`)),
    Effect.catchAll((e) =>
      Effect.logWarning(
        `could not release ${ids.length} entries read and not handed out (${e.message}); they stay pending under ` +
          `this consumer and are reclaimed after claimIdle`
      )
    ),
    Effect.annotateLogs(run.env.annotations)
  )
}

/** release messages read and not started, each with the delivery count it had before this delivery */
export const releaseMessages = <A>(run: Run<A>, messages: ReadonlyArray<Message<A>>): Effect.Effect<void> => {
  if (messages.length === 0) return Effect.void
  const byCount = new Map<number, Array<string>>()
  for (const m of messages) {
    const ids = byCount.get(m.deliveryCount)
    if (ids === undefined) byCount.set(m.deliveryCount, [m.id])
    else ids.push(m.id)
  }
  return Effect.forEach(byCount, ([count, ids]) => release(run, ids, Math.max(0, count - 1)), { discard: true })
}

/**
 * Collecting one batch: this consumer's own pending entries first, reclaim
 * rounds between batches, then new entries, until the batch is full or
 * `maxWait` has passed. A small state machine rather than a generator: it
 * runs once per batch and its cost is paid per call, not per message (the
 * benchmark's raw loop does ~3,000 batches a second on one core, so every
 * microsecond here shows).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { Message } from "../../Message.js"
import type { ReadEntry } from "../../StreamsBackend.js"
import type { BackendError } from "../../StreamsError.js"
import { handleRedelivered, pushFresh } from "./delivery.js"
import * as Reclaim from "./reclaim.js"
import { Collecting, type Run } from "./run.js"

type Collected<A> = Effect.Effect<Array<Message<A>>, BackendError>

/** next to the highest stream id (the highest one itself means ">" to Redis): an own-pending read after it returns nothing */
const HEARTBEAT_ID = "18446744073709551615-18446744073709551614"

/** a ">" read: blocking on the run's blocking reader when `blockMs` is given, else on its lane */
const readNew = <A>(run: Run<A>, count: number, blockMs: number | undefined) => {
  const { env } = run
  const o = env.o
  const read = blockMs === undefined
    ? env.backend.readGroup({ stream: o.stream, group: o.group, consumer: o.name, id: ">", count, lane: run.lane })
    : run.reader.readGroup({ stream: o.stream, group: o.group, consumer: o.name, id: ">", count, blockMs })
  return env.resilient(Effect.tapError(read, (e) => Effect.sync(() => run.readFailed(e))))
}

/** the next own pending entries after the cursor; none left ends the pending phase */
const ownPendingStep = <A>(run: Run<A>, c: Collecting<A>): Collected<A> => {
  const { env } = run
  const o = env.o
  return Effect.flatMap(
    env.resilient(env.backend.readGroup({
      stream: o.stream,
      group: o.group,
      consumer: o.name,
      id: run.pendingCursor,
      count: c.limit - c.out.length,
      lane: run.lane
    })),
    (own) => {
      if (own.length === 0) {
        run.phase = "new"
        return step(run, c)
      }
      run.pendingCursor = own[own.length - 1]!.id
      run.remember(own)
      return Effect.zipRight(handleRedelivered(env, own, c.out, "own pending"), Effect.suspend(() => step(run, c)))
    }
  )
}

const step = <A>(run: Run<A>, c: Collecting<A>): Collected<A> => {
  if (c.out.length >= c.limit) return Effect.succeed(c.out)
  if (run.phase === "pending") return ownPendingStep(run, c)
  const now = run.now()
  if (Reclaim.due(run, c, now)) {
    return Effect.flatMap(Reclaim.round(run, c, now), (claimed) => claimed ? step(run, c) : readStep(run, c, now))
  }
  return readStep(run, c, now)
}

/** continue with `step` once the entries are messages (at once, unless some must be dead-lettered) */
const pushThenStep = <A>(run: Run<A>, entries: ReadonlyArray<ReadEntry>, c: Collecting<A>): Collected<A> => {
  const pending = pushFresh(run.env, entries, c.out)
  return pending === undefined ? step(run, c) : Effect.zipRight(pending, Effect.suspend(() => step(run, c)))
}

const readStep = <A>(run: Run<A>, c: Collecting<A>, now: number): Collected<A> => {
  const o = run.env.o
  const remaining = c.limit - c.out.length
  const left = c.deadline - now
  if (left >= 1) {
    return Effect.flatMap(readNew(run, remaining, Math.min(Math.ceil(left), o.blockMs)), (entries) =>
      pushThenStep(run, run.readReturned(entries, remaining), c))
  }
  if (!c.finalReadDone) {
    c.finalReadDone = true
    // eager (the worker) on a drained stream: straight to the blocking read, which returns as soon
    // as there is something (one round trip where a read that finds nothing, then a blocking one, take two)
    if (!(c.eager && run.drained && c.out.length === 0 && !o.emitEmpty)) {
      return Effect.flatMap(readNew(run, remaining, undefined), (entries) =>
        pushThenStep(run, run.readReturned(entries, remaining), c))
    }
  }
  if (c.out.length > 0 || o.emitEmpty) return Effect.succeed(c.out)
  return awaitFirst(run, c)
}

/** nothing at all: wait for the first entry; a new collection begins when it arrives */
const awaitFirst = <A>(run: Run<A>, c: Collecting<A>): Collected<A> => {
  const { env } = run
  const o = env.o
  const count = c.limit - c.out.length
  return Effect.flatMap(readNew(run, count, o.blockMs), (read) => {
    const first = run.readReturned(read, count)
    if (first.length > 0) {
      const pending = pushFresh(env, first, c.out)
      const restart = Effect.suspend(() => {
        c.deadline = run.now() + o.maxWaitMs
        // eager: what one read returned is the batch (handlers are waiting for it)
        c.finalReadDone = c.eager
        return step(run, c)
      })
      return pending === undefined ? restart : Effect.zipRight(pending, restart)
    }
    // heartbeat: before 7.2 an XREADGROUP ">" that finds nothing does not reset the consumer's
    // idle time, so a consumer waiting on a quiet stream would look dead to a Monitor. Reading
    // its own pending list after the highest possible id returns nothing and does reset it.
    return Effect.zipRight(
      env.resilient(env.backend.readGroup({
        stream: o.stream,
        group: o.group,
        consumer: o.name,
        id: HEARTBEAT_ID,
        count: 1,
        lane: run.lane
      })),
      Effect.suspend(() => step(run, c))
    )
  })
}

/**
 * Collect up to `limit` messages, waiting at most `maxWaitMs` once the first has arrived;
 * `eager` ends the collection as soon as a read returned something. It starts with the entries
 * read ahead, if any (they were remembered when they arrived).
 */
export const collect = <A>(
  run: Run<A>,
  limit: number,
  maxWaitMs: number,
  eager: boolean,
  into?: (out: ReadonlyArray<Message<A>>) => void
): Collected<A> =>
  Effect.suspend(() => {
    const c = new Collecting<A>(run.now() + maxWaitMs, limit, eager)
    run.collecting = c
    const ahead = run.readAhead
    if (ahead === undefined) return Effect.map(step(run, c), handOut(run, into))
    run.readAhead = undefined
    // a read ahead that returned fewer than asked for has read what there was
    if (eager && ahead.length < limit) c.finalReadDone = true
    return Effect.map(pushThenStep(run, ahead, c), handOut(run, into))
  })

/**
 * The collection is over: its messages are the caller's from now on. `into` takes them in the same
 * step, so that an interruption finds them either in `run.collecting` (released with the run) or
 * with the caller, never in between.
 */
const handOut = <A>(run: Run<A>, into: ((out: ReadonlyArray<Message<A>>) => void) | undefined) =>
(out: Array<Message<A>>): Array<Message<A>> => {
  run.collecting = undefined
  into?.(out)
  const metrics = run.env.metrics
  if (out.length > 0) metrics.received(out.length)
  metrics.batchSize(out.length)
  return out
}

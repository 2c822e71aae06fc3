/**
 * One run of batches: its connections (a blocking reader, and a lane for
 * everything else), and its state, all in one object.
 *
 * @internal
 */
import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { BlockingReader, Lane, ReadEntry } from "../../StreamsBackend.js"
import type { BackendError } from "../../StreamsError.js"
import * as StreamId from "../streamId.js"
import type { Env } from "./env.js"
import { isConnectionError } from "./env.js"
import type { Message } from "../../Message.js"
import { BatchImpl, type BatchOwner } from "./message.js"
import * as ReadAhead from "./readAhead.js"

/** the batch being collected (a class: see `BatchImpl`) */
export class Collecting<A> {
  readonly out = new Array<Message<A>>()
  finalReadDone = false
  constructor(
    public deadline: number,
    /** the most messages this batch takes */
    readonly limit: number,
    /** end the batch as soon as a blocking read returns something (the worker: handlers wait for it) */
    readonly eager: boolean
  ) {}
}

export class Run<A> implements BatchOwner {
  phase: "pending" | "new" = "pending"
  pendingCursor = "0"
  reclaimCursor = "0-0"
  nextReclaimAt = 0
  /** the highest id read in this run (handed out, or read ahead) */
  lastNewId = "0"
  /** false once the run is closing */
  open = true
  /** the batch emitted last: acknowledging it may read ahead */
  current: BatchImpl<A> | undefined = undefined
  /** entries read ahead, to start the next batch with */
  readAhead: ReadonlyArray<ReadEntry> | undefined = undefined
  readAheadInFlight = false
  /** the last ">" read returned fewer entries than it asked for: the stream had nothing more then */
  drained = false
  /** the batch being collected, until it is returned: its messages are released if the run ends first */
  collecting: Collecting<A> | undefined = undefined

  constructor(
    readonly env: Env<A>,
    /** read once per run: the batch loop reads the time synchronously (TestClock included) */
    readonly clock: Clock.Clock,
    readonly reader: BlockingReader,
    /** the run's own connection; undefined with `sharedConnection`, or when none could be opened */
    readonly lane: Lane | undefined
  ) {}

  now(): number {
    return this.clock.unsafeCurrentTimeMillis()
  }

  /** every read returns ids in ascending order (">" reads, own pending, XAUTOCLAIM): the last is the highest */
  remember<E extends ReadEntry>(entries: ReadonlyArray<E>): ReadonlyArray<E> {
    if (entries.length > 0) this.lastNewId = StreamId.max(this.lastNewId, entries[entries.length - 1]!.id)
    return entries
  }

  /** a ">" read asked for `asked` entries and returned these: remember them, and whether the stream was drained */
  readReturned<E extends ReadEntry>(entries: ReadonlyArray<E>, asked: number): ReadonlyArray<E> {
    this.drained = entries.length < asked
    return this.remember(entries)
  }

  /**
   * A ">" read whose reply was lost with its connection may have been served: its entries are in
   * this consumer's pending list, never handed out. So after a connection problem the own-pending
   * phase runs again, from the highest id read, before new reads.
   */
  recoverOwnPending(): void {
    this.phase = "pending"
    this.pendingCursor = this.lastNewId
  }

  /** note a read's failure: a connection problem means its reply may be lost */
  readFailed(e: BackendError): void {
    if (isConnectionError(e)) this.recoverOwnPending()
  }

  emit(out: Array<Message<A>>): BatchImpl<A> {
    const batch = new BatchImpl(this.env, out, this)
    this.current = batch
    return batch
  }

  ackBatch(batch: BatchImpl<any>, ids: ReadonlyArray<string>): Effect.Effect<number, BackendError> {
    return batch === this.current
      ? ReadAhead.ackThenRead(this, ids, this.env.o.batchSize)
      : this.env.ackIds(ids)
  }
}

/**
 * The run's own connection for everything but blocking reads (closed with the run). It only
 * spares the consumer a queue: when it cannot be opened (the server's maxclients, say), the run
 * goes on over the backend's connection rather than waiting for one.
 */
const openLane = <A>(env: Env<A>): Effect.Effect<Lane | undefined, never, Scope.Scope> =>
  env.o.sharedConnection ? Effect.succeed(undefined) : env.backend.lane.pipe(
    Effect.catchAll((e) =>
      Effect.as(
        env.logWarning(
          `could not open a connection of its own (${e.message}); this run reads and acknowledges ` +
            `on the backend's connection`
        ),
        undefined
      )
    )
  )

/** take the consumer's lock (runs take turns), open the run's connections and register its release */
export const acquire = <A>(
  env: Env<A>,
  lock: Effect.Semaphore
): Effect.Effect<Run<A>, BackendError, Scope.Scope> =>
  Effect.gen(function*() {
    // the lock is awaited interruptibly; once taken, its release is registered in the same step
    yield* Effect.uninterruptibleMask((restore) =>
      Effect.zipRight(restore(lock.take(1)), Effect.addFinalizer(() => lock.release(1)))
    )
    const clock = yield* Effect.clock
    const reader = yield* Effect.retry(env.backend.blockingReader, { schedule: env.reconnect, while: isConnectionError })
    const lane = yield* openLane(env)
    if (lane !== undefined) {
      env.setLane(lane)
      yield* Effect.addFinalizer(() => Effect.sync(() => env.setLane(undefined)))
    }
    const run = new Run(env, clock, reader, lane)
    // entries read and not handed out go back to the group (see `ReadAhead.release`)
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        run.open = false
        const ahead = run.readAhead
        const collecting = run.collecting
        run.readAhead = undefined
        run.collecting = undefined
        return Effect.zipRight(
          ahead === undefined ? Effect.void : ReadAhead.release(run, ahead.map((e) => e.id), 0),
          collecting === undefined ? Effect.void : ReadAhead.releaseMessages(run, collecting.out)
        )
      })
    )
    return run
  })

/**
 * The worker behind `process`: up to `concurrency` handlers run at all
 * times, across batch boundaries. A reader keeps messages in hand (at most
 * `concurrency + prefetch`), slots take them in read order, and successes
 * are acknowledged together: on the reader's next read (XACK and XREADGROUP
 * in one write) or by a flusher at most `ackDelay` later. Once interrupted,
 * no handler starts; running ones finish within `shutdownTimeout`; successes
 * are acknowledged; messages read and not started are released.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import type { Message } from "../../Message.js"
import { Poison } from "../../Message.js"
import type { BackendError } from "../../StreamsError.js"
import * as TraceContext from "../traceContext.js"
import { isDefaultTracer } from "../tracing.js"
import { collect } from "./collect.js"
import { describeFailure, type Env } from "./env.js"
import * as ReadAhead from "./readAhead.js"
import * as Run from "./run.js"

/** the worker's settings, resolved */
export interface Settings {
  readonly concurrency: number
  readonly prefetch: number
  readonly ackDelayMs: number
}

/** successes waiting for their acknowledgement, with the time each handler returned (`performance.now()`) */
class Successes {
  readonly ids: Array<string> = []
  readonly at: Array<number> = []
  get size(): number {
    return this.ids.length
  }
}

/** one worker's state, in one place */
class Worker<A> {
  private queue: Array<Message<A> | undefined> = []
  private head = 0
  running = 0
  succeeded = new Successes()
  stopping = false
  run: Run.Run<A> | undefined = undefined
  reader: Fiber.RuntimeFiber<void, BackendError> | undefined = undefined
  flusher: Fiber.RuntimeFiber<void, BackendError> | undefined = undefined
  slots: Array<Fiber.RuntimeFiber<void, BackendError>> = []
  /** a read is due once the messages waiting for a slot are down to this */
  private readonly lowWater: number

  constructor(
    readonly settings: Settings,
    readonly batchSize: number,
    readonly slotsWake: Effect.Latch,
    readonly readerWake: Effect.Latch,
    readonly flushWake: Effect.Latch,
    readonly fatal: Deferred.Deferred<never, BackendError>
  ) {
    this.lowWater = Math.floor(settings.prefetch / 2)
  }

  get waiting(): number {
    return this.queue.length - this.head
  }

  push(messages: ReadonlyArray<Message<A>>): void {
    for (let i = 0; i < messages.length; i++) this.queue.push(messages[i])
    if (messages.length > 0) this.slotsWake.unsafeOpen()
  }

  take(): Message<A> | undefined {
    if (this.head === this.queue.length) return undefined
    const m = this.queue[this.head]
    this.queue[this.head++] = undefined
    if (this.head === this.queue.length) {
      this.queue.length = 0
      this.head = 0
    }
    return m
  }

  /** the messages read and never started, in read order (the queue is empty afterwards) */
  drain(): Array<Message<A>> {
    const rest = this.queue.slice(this.head) as Array<Message<A>>
    this.queue = []
    this.head = 0
    return rest
  }

  wantsRead(): boolean {
    const { concurrency, prefetch } = this.settings
    return this.waiting <= this.lowWater && this.waiting + this.running < concurrency + prefetch
  }

  readCount(): number {
    const { concurrency, prefetch } = this.settings
    return Math.min(this.batchSize, concurrency + prefetch - this.waiting - this.running)
  }

  wakeReaderIfDue(): void {
    if (this.wantsRead()) this.readerWake.unsafeOpen()
  }

  /** a handler is done: its slot is free, which may make a read due */
  finished(): void {
    this.running--
    this.wakeReaderIfDue()
  }

  succeed(id: string, at: number): void {
    this.succeeded.ids.push(id)
    this.succeeded.at.push(at)
    if (this.succeeded.size === 1) this.flushWake.unsafeOpen()
  }

  takeSucceeded(): Successes {
    const taken = this.succeeded
    this.succeeded = new Successes()
    return taken
  }

  /** successes whose acknowledgement was cut short go back (acknowledging twice is harmless) */
  giveBack(taken: Successes): void {
    for (let i = 0; i < taken.size; i++) this.succeed(taken.ids[i]!, taken.at[i]!)
  }
}

/** the acknowledgement of `acked` replied now: record how long each waited since its handler returned */
const acknowledged = <A>(env: Env<A>, acked: Successes): void => {
  const now = performance.now()
  for (let i = 0; i < acked.size; i++) env.metrics.ackLatency((now - acked.at[i]!) / 1000)
}

/** a failed handler: a `Message.Poison` goes to the dead-letter stream, anything else stays pending */
const onHandlerFailure = <A>(env: Env<A>, m: Message<A>, cause: Cause.Cause<unknown>): Effect.Effect<void, BackendError> => {
  if (Cause.isInterruptedOnly(cause)) return Effect.void
  const failure = Cause.failureOption(cause)
  if (failure._tag === "Some" && failure.value instanceof Poison) return env.resilient(m.deadLetter(failure.value.reason))
  env.metrics.failed(1)
  const text = describeFailure(cause)
  env.lastErrors.set(m.id, text)
  return env.logWarning(
    `handler failed for ${m.id} (delivery ${m.deliveryCount} of at most ${env.o.maxDeliveries}); it stays pending: ${text}`
  )
}

/**
 * A slot: take the next message waiting, run the handler, repeat; stop taking once the worker
 * stops. Per message it costs one `matchCauseEffect` and no more: the tracer is looked up once
 * per slot (a slot's tracer does not change), and the slot's `running` count is settled in the
 * handler's continuations rather than by `Effect.ensuring`, whose interruption mask is several
 * Effect operations per message. A slot is interrupted only when the worker stops or its scope
 * closes; `running` no longer matters then.
 */
const slot = <A, E, R>(
  env: Env<A>,
  w: Worker<A>,
  handler: (message: Message<A>) => Effect.Effect<unknown, E, R>
): Effect.Effect<void, BackendError, R> =>
  Effect.tracerWith((tracer) => {
    const spans = !isDefaultTracer(tracer)
    const metrics = env.metrics
    const done = Effect.sync(() => w.finished())
    const handle = (m: Message<A>) => {
      const start = performance.now()
      const run = handler(m)
      return Effect.matchCauseEffect(spans ? TraceContext.inProcessSpan(run, m) : run, {
        onSuccess: () => {
          const end = performance.now()
          metrics.handlerDuration((end - start) / 1000)
          metrics.processed(1)
          w.succeed(m.id, end)
          w.finished()
          return Effect.void
        },
        onFailure: (cause) => {
          if (!Cause.isInterruptedOnly(cause)) metrics.handlerDuration((performance.now() - start) / 1000)
          return Effect.zipRight(onHandlerFailure(env, m, cause), done)
        }
      })
    }
    const loop: Effect.Effect<void, BackendError, R> = Effect.suspend(() => {
      if (w.stopping) return Effect.void
      const m = w.take()
      if (m === undefined) {
        w.slotsWake.unsafeClose()
        return Effect.zipRight(w.slotsWake.await, loop)
      }
      w.running++
      w.wakeReaderIfDue()
      return Effect.zipRight(handle(m), loop)
    })
    return loop
  })

/**
 * One read for the worker: the successes so far ride on it when the run can read ahead
 * (XACK + XREADGROUP in one write); then what that read brought, or a blocking read for the next.
 * On a drained stream (the last read found less than it asked for) the next read is the blocking
 * one, and the successes are left to the flusher (at most `ackDelay` later, many per XACK): a read
 * carrying them would find nothing and cost a round trip before the blocking read.
 */
const readSome = <A>(env: Env<A>, w: Worker<A>, run: Run.Run<A>): Effect.Effect<unknown, BackendError> => {
  const count = w.readCount()
  const into = (messages: ReadonlyArray<Message<A>>) => w.push(messages)
  if (w.succeeded.size === 0 || run.drained || !ReadAhead.allowed(run)) return collect(run, count, 0, true, into)
  const taken = w.takeSucceeded()
  return env.resilient(ReadAhead.ackThenRead(run, taken.ids, count)).pipe(
    Effect.onInterrupt(() => Effect.sync(() => w.giveBack(taken))),
    Effect.zipRight(Effect.suspend(() => {
      acknowledged(env, taken)
      return collect(run, count, 0, true, into)
    }))
  )
}

/** the reader: read while a read is due, sleep otherwise */
const reader = <A>(env: Env<A>, w: Worker<A>, run: Run.Run<A>): Effect.Effect<void, BackendError> => {
  const loop: Effect.Effect<void, BackendError> = Effect.suspend(() => {
    if (w.stopping) return Effect.void
    if (!w.wantsRead()) {
      w.readerWake.unsafeClose()
      return Effect.zipRight(w.readerWake.await, loop)
    }
    // the messages read go to the queue as the read ends (see `collect`'s `into`)
    return Effect.zipRight(readSome(env, w, run), loop)
  })
  return loop
}

/** acknowledge what succeeded so far (on the run's lane) */
const flush = <A>(env: Env<A>, w: Worker<A>): Effect.Effect<void, BackendError> =>
  Effect.suspend(() => {
    const taken = w.takeSucceeded()
    if (taken.size === 0) return Effect.void
    return env.resilient(env.ackIds(taken.ids)).pipe(
      Effect.onInterrupt(() => Effect.sync(() => w.giveBack(taken))),
      Effect.map(() => acknowledged(env, taken))
    )
  })

/** the flusher: a success waits at most `ackDelay` for a read to carry its acknowledgement */
const flusher = <A>(env: Env<A>, w: Worker<A>): Effect.Effect<void, BackendError> => {
  const delay = Duration.millis(w.settings.ackDelayMs)
  const loop: Effect.Effect<void, BackendError> = Effect.suspend(() => {
    if (w.succeeded.size === 0) {
      w.flushWake.unsafeClose()
      return Effect.zipRight(w.flushWake.await, loop)
    }
    return Effect.sleep(delay).pipe(Effect.zipRight(flush(env, w)), Effect.zipRight(loop))
  })
  return loop
}

/** a loop's failure (not its interruption) ends the worker */
const reportTo = <X, R>(w: Worker<any>, loop: Effect.Effect<X, BackendError, R>) =>
  Effect.catchAllCause(loop, (cause) => Cause.isInterruptedOnly(cause) ? Effect.void : Deferred.failCause(w.fatal, cause))

/** open the run and start the reader, the flusher and the slots in `scope`; returns at the first fatal failure */
const start = <A, E, R>(
  env: Env<A>,
  lock: Effect.Semaphore,
  w: Worker<A>,
  scope: Scope.Scope,
  handler: (message: Message<A>) => Effect.Effect<unknown, E, R>
): Effect.Effect<never, BackendError, R> =>
  Effect.gen(function*() {
    const run = yield* Scope.extend(Run.acquire(env, lock), scope)
    w.run = run
    w.reader = yield* Effect.forkIn(reportTo(w, reader(env, w, run)), scope)
    w.flusher = yield* Effect.forkIn(reportTo(w, flusher(env, w)), scope)
    for (let i = 0; i < w.settings.concurrency; i++) {
      w.slots.push(yield* Effect.forkIn(reportTo(w, slot(env, w, handler)), scope))
    }
    return yield* Deferred.await(w.fatal)
  })

/** stop: no handler starts, running ones get `shutdownTimeout`, successes are acknowledged, the rest released */
const stop = <A>(env: Env<A>, w: Worker<A>): Effect.Effect<void> =>
  Effect.gen(function*() {
    w.stopping = true
    w.slotsWake.unsafeOpen()
    w.readerWake.unsafeOpen()
    if (w.reader !== undefined) yield* Fiber.interrupt(w.reader)
    const finished = yield* Effect.timeout(Effect.interruptible(Fiber.awaitAll(w.slots)), Duration.millis(env.o.shutdownMs))
      .pipe(Effect.option)
    if (Option.isNone(finished)) {
      yield* env.logWarning(`handlers still running after shutdownTimeout (${env.o.shutdownMs} ms): interrupted; they stay pending`)
      yield* Fiber.interruptAll(w.slots)
    }
    if (w.flusher !== undefined) yield* Fiber.interrupt(w.flusher)
    yield* Effect.interruptible(flush(env, w)).pipe(
      Effect.timeout(Duration.millis(Math.max(env.o.shutdownMs, 1000))),
      Effect.catchAllCause((cause) =>
        Effect.logError(`could not acknowledge the handled messages; they will be delivered again`, cause)
      )
    )
    if (w.run !== undefined) yield* ReadAhead.releaseMessages(w.run, w.drain())
  })

/** run `handler` for every message until interrupted or a fatal failure (see the module's doc) */
export const process = <A, E, R>(
  env: Env<A>,
  lock: Effect.Semaphore,
  handler: (message: Message<A>) => Effect.Effect<unknown, E, R>,
  settings: Settings
): Effect.Effect<never, BackendError, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const w = new Worker<A>(
        settings,
        env.o.batchSize,
        yield* Effect.makeLatch(false),
        yield* Effect.makeLatch(false),
        yield* Effect.makeLatch(false),
        yield* Deferred.make<never, BackendError>()
      )
      const scope = yield* Scope.make()
      const exit = yield* Effect.exit(restore(start(env, lock, w, scope, handler)))
      yield* stop(env, w)
      yield* Scope.close(scope, exit)
      return yield* exit
    })
  ).pipe(Effect.annotateLogs(env.annotations))


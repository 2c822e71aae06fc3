/**
 * The blocking readers of the in-memory backend (`blockingReader`): a read
 * that finds nothing new registers a waiter with the engine and waits for an
 * add to serve it, for its timeout (a nil reply) or for the reader's release
 * (a `RedisConnectionError`), as a blocked XREADGROUP on a connection of its
 * own does.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import type * as Scope from "effect/Scope"
import type { BlockingReader, BlockingReadGroupOptions, ReadEntry } from "../../StreamsBackend.js"
import { type BackendError, RedisConnectionError } from "../../StreamsError.js"
import { traced } from "../redisTracing.js"
import { type Engine, NOTHING, type Waiter } from "./engine.js"
import { ENDPOINT, readerClosed, ReplyError, toBackendError } from "./errors.js"
import type { Faults } from "./faults.js"
import { EMPTY, nowOf } from "./run.js"

type Reply = Deferred.Deferred<ReadonlyArray<ReadEntry>, BackendError>

/** one reader: whether it was released, and the read blocked on it now */
interface ReaderState {
  closed: boolean
  current: { readonly waiter: Waiter; readonly deferred: Reply } | undefined
}

/** the engine's waiter of a blocked read, completing `deferred` when served or refused */
const makeWaiter = (o: BlockingReadGroupOptions, count: number, deferred: Reply): Waiter => ({
  key: o.stream,
  group: o.group,
  consumer: o.consumer,
  count,
  noAck: o.noAck === true,
  done: false,
  resolve: (result) =>
    Deferred.unsafeDone(
      deferred,
      result instanceof ReplyError ?
        Exit.fail(toBackendError(result, o.stream, o.group)) :
        Exit.succeed(result)
    )
})

/**
 * Read, and when there is nothing new, block: the read and the
 * registration of the waiter happen in one synchronous step (no add can
 * slip in between), and the cleanup is attached before the wait becomes
 * interruptible (an interrupted read never leaves a waiter behind).
 */
const blockingRead = (
  engine: Engine,
  state: ReaderState,
  o: BlockingReadGroupOptions,
  blockMs: number,
  now: number
): Effect.Effect<ReadonlyArray<ReadEntry>, BackendError> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.suspend((): Effect.Effect<ReadonlyArray<ReadEntry>, BackendError> => {
      let count: number
      try {
        count = engine.parseReadOptions(o.count, blockMs).count
        const r = engine.xreadgroup(o, count, now)
        if (r !== NOTHING) return Effect.succeed(r)
      } catch (e) {
        if (e instanceof ReplyError) return Effect.fail(toBackendError(e, o.stream, o.group))
        throw e
      }
      const deferred = Deferred.unsafeMake<ReadonlyArray<ReadEntry>, BackendError>(FiberId.none)
      const waiter = makeWaiter(o, count, deferred)
      engine.block(waiter)
      state.current = { waiter, deferred }
      const timeout = Effect.sleep(Duration.millis(blockMs)).pipe(
        Effect.zipRight(Effect.sync(() => {
          // timed out: unless it was served meanwhile, the reply is nil
          if (engine.unblock(waiter)) Deferred.unsafeDone(deferred, Exit.succeed(EMPTY))
        })),
        Effect.zipRight(Deferred.await(deferred))
      )
      return restore(Effect.raceFirst(Deferred.await(deferred), timeout)).pipe(
        Effect.ensuring(Effect.sync(() => {
          engine.unblock(waiter)
          if (state.current?.waiter === waiter) state.current = undefined
        }))
      )
    })
  )

/** a reader (one read at a time, as on its own connection) and its release */
const makeReader = (engine: Engine, faults: Faults): { reader: BlockingReader; close: () => void } => {
  const permit = Effect.unsafeMakeSemaphore(1)
  const state: ReaderState = { closed: false, current: undefined }

  const readGroup = (o: BlockingReadGroupOptions): Effect.Effect<ReadonlyArray<ReadEntry>, BackendError> =>
    Effect.clockWith((clock) =>
      Effect.suspend((): Effect.Effect<ReadonlyArray<ReadEntry>, BackendError> => {
        const command = "XREADGROUP"
        // as the Redis blocking reader: whole milliseconds, > 0 (BLOCK 0, forever, is not offered)
        const blockMs = Math.ceil(o.blockMs)
        if (!(blockMs > 0) || !Number.isFinite(blockMs)) {
          return Effect.dieMessage(`BlockingReader.readGroup: blockMs must be a finite number > 0, got ${o.blockMs}`)
        }
        if (state.closed) return Effect.fail(readerClosed(command, o.stream))
        const fault = faults.take("blockingReadGroup", command, o.stream, o.group, [o])
        if (fault !== undefined && !fault.after) return Effect.fail(fault.error)
        const read = blockingRead(engine, state, o, blockMs, nowOf(clock))
        return fault === undefined ? read : Effect.zipRight(read, Effect.fail(fault.error))
      })
    ).pipe(
      permit.withPermits(1),
      (effect) => traced(effect, "readGroup", o.stream, "consumer")
    )

  const close = (): void => {
    state.closed = true
    if (state.current !== undefined) {
      const { deferred, waiter } = state.current
      state.current = undefined
      if (engine.unblock(waiter)) Deferred.unsafeDone(deferred, Exit.fail(readerClosed("XREADGROUP", waiter.key)))
    }
  }

  return { reader: { readGroup }, close }
}

/**
 * `blockingReader`: a reader released with the scope; a fault registered for
 * its acquisition fails it with a `RedisConnectionError` (the given one, or
 * one wrapping it).
 */
export const makeBlockingReader = (
  engine: Engine,
  faults: Faults
): Effect.Effect<BlockingReader, RedisConnectionError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.suspend(() => {
      const fault = faults.take("blockingReader", "CONNECT", "", undefined, EMPTY)
      if (fault !== undefined) {
        const error = fault.error
        return Effect.fail(
          error._tag === "RedisConnectionError" ?
            error :
            new RedisConnectionError({ endpoint: ENDPOINT, message: error.message, cause: error })
        )
      }
      return Effect.succeed(makeReader(engine, faults))
    }),
    (r) => Effect.sync(r.close)
  ).pipe(Effect.map((r) => r.reader))

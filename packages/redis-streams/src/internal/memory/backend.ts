/**
 * The port over the in-memory engine: each operation is one synchronous call
 * of the engine inside `Effect.suspend`, with the time read once from the
 * fiber's `Clock` (so `TestClock` drives ids, idle times and blocking reads),
 * engine refusals mapped to the port's typed errors, and the fault hooks of
 * `InMemoryStore` checked first.
 *
 * @internal
 */
import type * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import type { FaultOptions, InMemoryBackend, Operation } from "../../InMemoryBackend.js"
import type { BlockingReader, BlockingReadGroupOptions, ReadEntry, StreamEntry } from "../../StreamsBackend.js"
import { type BackendError, RedisConnectionError } from "../../StreamsError.js"
import { type SpanKind, traced } from "../redisTracing.js"
import { moveEntryError } from "../replies.js"
import { Engine, NOTHING, type Waiter } from "./engine.js"
import { ENDPOINT, readerClosed, ReplyError, toBackendError } from "./errors.js"

/** the Redis version the engine emulates */
export const SERVER_VERSION = "7.0.15"

interface Fault {
  readonly predicate: (op: Operation) => boolean
  readonly error: BackendError
  readonly after: boolean
  times: number
}

const EMPTY: ReadonlyArray<never> = []

/** mstime(): whole milliseconds, never negative */
const nowOf = (clock: Clock.Clock): number => {
  const t = Math.floor(clock.unsafeCurrentTimeMillis())
  return t > 0 ? t : 0
}

/** the span kinds of the Redis backend's spans (`RedisStreams.<method>`, only when a tracer is installed) */
const spanKind = (method: string): SpanKind => {
  switch (method) {
    case "add":
    case "addMany":
      return "producer"
    case "readGroup":
    case "ack":
    case "ackAndDelete":
    case "claim":
    case "claimJustId":
    case "autoClaim":
      return "consumer"
    default:
      return "client"
  }
}

export const makeBackend = (): InMemoryBackend => {
  const engine = new Engine()
  const faults: Array<Fault> = []

  const takeFault = (op: Operation): Fault | undefined => {
    for (let i = 0; i < faults.length; i++) {
      const f = faults[i]!
      if (f.predicate(op)) {
        if (--f.times <= 0) faults.splice(i, 1)
        return f
      }
    }
    return undefined
  }

  /** run one engine call as an Effect */
  const run = <A>(
    method: string,
    command: string,
    stream: string,
    group: string | undefined,
    args: ReadonlyArray<unknown>,
    f: (now: number) => A
  ): Effect.Effect<A, BackendError> =>
    Effect.clockWith((clock) =>
      Effect.suspend((): Effect.Effect<A, BackendError> => {
        const fault = faults.length > 0 ? takeFault({ method, command, stream, group, args }) : undefined
        if (fault !== undefined && !fault.after) return Effect.fail(fault.error)
        let a: A
        try {
          a = f(nowOf(clock))
        } catch (e) {
          if (e instanceof ReplyError) return Effect.fail(toBackendError(e, stream, group))
          throw e
        }
        return fault === undefined ? Effect.succeed(a) : Effect.fail(fault.error)
      })
    ).pipe((effect) => traced(effect, method, stream, spanKind(method)))

  // ---------------------------------------------------------------------------
  // blocking reader
  // ---------------------------------------------------------------------------

  const makeReader = (): { reader: BlockingReader; close: () => void } => {
    const permit = Effect.unsafeMakeSemaphore(1)
    let closed = false
    let current: { waiter: Waiter; deferred: Deferred.Deferred<ReadonlyArray<ReadEntry>, BackendError> } | undefined

    const readGroup = (o: BlockingReadGroupOptions): Effect.Effect<ReadonlyArray<ReadEntry>, BackendError> =>
      Effect.clockWith((clock) =>
        Effect.suspend((): Effect.Effect<ReadonlyArray<ReadEntry>, BackendError> => {
          const command = "XREADGROUP"
          // as the Redis blocking reader: whole milliseconds, > 0 (BLOCK 0, forever, is not offered)
          const blockMs = Math.ceil(o.blockMs)
          if (!(blockMs > 0) || !Number.isFinite(blockMs)) {
            return Effect.dieMessage(`BlockingReader.readGroup: blockMs must be a finite number > 0, got ${o.blockMs}`)
          }
          if (closed) return Effect.fail(readerClosed(command, o.stream))
          const fault = faults.length > 0 ?
            takeFault({ method: "blockingReadGroup", command, stream: o.stream, group: o.group, args: [o] }) :
            undefined
          if (fault !== undefined && !fault.after) return Effect.fail(fault.error)
          const read = blockingRead(o, blockMs, nowOf(clock))
          return fault === undefined ? read : Effect.zipRight(read, Effect.fail(fault.error))
        })
      ).pipe(
        permit.withPermits(1),
        (effect) => traced(effect, "readGroup", o.stream, "consumer")
      )

    /**
     * Read, and when there is nothing new, block: the read and the
     * registration of the waiter happen in one synchronous step (no add can
     * slip in between), and the cleanup is attached before the wait becomes
     * interruptible (an interrupted read never leaves a waiter behind).
     */
    const blockingRead = (
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
          const waiter: Waiter = {
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
          }
          engine.block(waiter)
          current = { waiter, deferred }
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
              if (current?.waiter === waiter) current = undefined
            }))
          )
        })
      )

    const close = (): void => {
      closed = true
      if (current !== undefined) {
        const { deferred, waiter } = current
        current = undefined
        if (engine.unblock(waiter)) Deferred.unsafeDone(deferred, Exit.fail(readerClosed("XREADGROUP", waiter.key)))
      }
    }

    return { reader: { readGroup }, close }
  }

  const blockingReader = Effect.acquireRelease(
    Effect.suspend(() => {
      const fault = faults.length > 0 ?
        takeFault({ method: "blockingReader", command: "CONNECT", stream: "", group: undefined, args: EMPTY }) :
        undefined
      if (fault !== undefined) {
        const error = fault.error
        return Effect.fail(
          error._tag === "RedisConnectionError" ?
            error :
            new RedisConnectionError({ endpoint: ENDPOINT, message: error.message, cause: error })
        )
      }
      return Effect.succeed(makeReader())
    }),
    (r) => Effect.sync(r.close)
  ).pipe(Effect.map((r) => r.reader))

  // ---------------------------------------------------------------------------
  // the service
  // ---------------------------------------------------------------------------

  const service: InMemoryBackend = {
    kind: "memory",
    serverVersion: SERVER_VERSION,

    add: (stream, fields, options) =>
      run("add", "XADD", stream, undefined, [stream, fields, options], (now) =>
        engine.xadd(stream, fields, options, now)),
    addMany: (stream, entries, options) =>
      run("addMany", "XADD", stream, undefined, [stream, entries, options], (now) =>
        engine.xaddMany(stream, entries, options, now)),

    readGroup: (o) =>
      run("readGroup", "XREADGROUP", o.stream, o.group, [o], (now) => {
        const { count } = engine.parseReadOptions(o.count, undefined)
        const r = engine.xreadgroup(o, count, now)
        return r === NOTHING ? EMPTY : r
      }),
    blockingReader,
    // one keyspace, no connections: a lane changes nothing
    lane: Effect.acquireRelease(
      Effect.sync((): { open: boolean } => ({ open: true })),
      (lane) =>
        Effect.sync(() => {
          lane.open = false
        })
    ),

    ack: (stream, group, ids) =>
      run("ack", "XACK", stream, group, [stream, group, ids], () => ids.length === 0 ? 0 : engine.xack(stream, group, ids)),
    ackAndDelete: (stream, group, ids) =>
      run(
        "ackAndDelete",
        "XACK",
        stream,
        group,
        [stream, group, ids],
        () => ids.length === 0 ? 0 : engine.ackAndDelete(stream, group, ids)
      ),

    ackThenRead: (stream, group, ids, read, options) =>
      // the acknowledgement and the read are the two operations they stand for (so faults injected
      // on XACK or XREADGROUP apply to them), one after the other as Redis runs a pipeline
      Effect.flatMap(
        options?.delete === true ? service.ackAndDelete(stream, group, ids) : service.ack(stream, group, ids),
        (acked) => Effect.map(Effect.either(service.readGroup(read)), (result) => ({ acked, read: result }))
      ),

    pendingSummary: (stream, group) =>
      run("pendingSummary", "XPENDING", stream, group, [stream, group], () => engine.xpendingSummary(stream, group)),
    pending: (o) => run("pending", "XPENDING", o.stream, o.group, [o], (now) => engine.xpending(o, now)),

    claim: (o) =>
      run("claim", "XCLAIM", o.stream, o.group, [o], (now) =>
        o.ids.length === 0 ? EMPTY : engine.xclaim(o, false, now) as ReadonlyArray<StreamEntry>),
    claimJustId: (o) =>
      run("claimJustId", "XCLAIM", o.stream, o.group, [o], (now) =>
        o.ids.length === 0 ? EMPTY : engine.xclaim(o, true, now) as ReadonlyArray<string>),
    autoClaim: (o) =>
      run("autoClaim", "XAUTOCLAIM", o.stream, o.group, [o], (now) => {
        const r = engine.xautoclaim(o, false, now)
        return { next: r.next, entries: r.entries, deleted: r.deleted }
      }),

    streamInfo: (stream) => run("streamInfo", "XINFO STREAM", stream, undefined, [stream], () => engine.xinfoStream(stream)),
    groupsInfo: (stream) => run("groupsInfo", "XINFO GROUPS", stream, undefined, [stream], () => engine.xinfoGroups(stream)),
    consumersInfo: (stream, group) =>
      run("consumersInfo", "XINFO CONSUMERS", stream, group, [stream, group], (now) =>
        engine.xinfoConsumers(stream, group, now)),

    createGroup: (stream, group, options) =>
      run("createGroup", "XGROUP CREATE", stream, group, [stream, group, options], () =>
        engine.xgroupCreate(stream, group, options)),
    destroyGroup: (stream, group) =>
      run("destroyGroup", "XGROUP DESTROY", stream, group, [stream, group], (now) =>
        engine.xgroupDestroy(stream, group, now)),
    createConsumer: (stream, group, consumer) =>
      run("createConsumer", "XGROUP CREATECONSUMER", stream, group, [stream, group, consumer], (now) =>
        engine.xgroupCreateConsumer(stream, group, consumer, now)),
    deleteConsumer: (stream, group, consumer) =>
      run("deleteConsumer", "XGROUP DELCONSUMER", stream, group, [stream, group, consumer], () =>
        engine.xgroupDelConsumer(stream, group, consumer)),
    deleteConsumerIfIdle: (stream, group, consumer, options) =>
      run("deleteConsumerIfIdle", "XGROUP DELCONSUMER", stream, group, [stream, group, consumer, options], (now) =>
        engine.deleteConsumerIfIdle(stream, group, consumer, options?.minIdleMs ?? 0, now)),
    setGroupId: (stream, group, id, options) =>
      run("setGroupId", "XGROUP SETID", stream, group, [stream, group, id, options], () =>
        engine.xgroupSetId(stream, group, id, options?.entriesRead)),

    delete: (stream, ids) =>
      run("delete", "XDEL", stream, undefined, [stream, ids], () => ids.length === 0 ? 0 : engine.xdel(stream, ids)),
    trim: (stream, trim) => run("trim", "XTRIM", stream, undefined, [stream, trim], () => engine.xtrim(stream, trim)),
    length: (stream) => run("length", "XLEN", stream, undefined, [stream], () => engine.xlen(stream)),
    moveEntry: (o) =>
      run("moveEntry", "EVALSHA", o.from, undefined, [o], (now) => engine.moveEntry(o.from, o.id, o.to, o.fields, now))
        .pipe(Effect.mapError((e) => moveEntryError(e, o.from, o.to))),
    scanStreams: (pattern, options) =>
      run("scanStreams", "SCAN", pattern, undefined, [pattern, options], () => engine.scanStreams(pattern, options.limit)),
    range: (stream, options) =>
      run(
        "range",
        options?.reverse === true ? "XREVRANGE" : "XRANGE",
        stream,
        undefined,
        [stream, options],
        () =>
          engine.xrange(stream, options?.start ?? "-", options?.end ?? "+", options?.count, options?.reverse === true)
      ),

    // the store
    setString: (key, value) => Effect.sync(() => engine.setString(key, value)),
    deleteKey: (key) => Effect.sync(() => void engine.deleteKey(key)),
    flushAll: Effect.sync(() => engine.flushAll()),
    keys: Effect.sync(() => engine.keys()),
    failNext: (predicate, error, options?: FaultOptions) =>
      Effect.sync(() => {
        faults.push({
          predicate,
          error,
          after: options?.after === true,
          times: Math.max(1, Math.floor(options?.times ?? 1))
        })
      }),
    clearFaults: Effect.sync(() => {
      faults.length = 0
    }),
    blockedReaders: (stream) => Effect.sync(() => engine.blockedCount(stream))
  }
  return service
}

/**
 * The Consumer: joins a consumer group and hands out batches.
 *
 * A batch holds at most `batchSize` messages and is emitted as soon as it is
 * full, or when `maxWait` has passed since it began collecting, whichever
 * comes first. Blocking reads wait only for the time left, so `maxWait` is
 * not overrun by more than scheduling noise; `maxWait: 0` returns what is
 * available at once. An empty wait emits nothing unless `emitEmpty` is set.
 *
 * Delivery is at-least-once. What is not acknowledged stays pending under this
 * consumer's name and is delivered again: to this consumer when it restarts
 * under the same name (its own pending entries come first), or to any
 * consumer of the group once it has been idle for `claimIdle` (reclaim).
 * An entry delivered more than `maxDeliveries` times, an entry that does not
 * decode with the schema, or one a handler rejects with `Message.Poison`, is
 * moved to the dead-letter stream (see `DeadLetter`).
 *
 * Connections: while `batches` runs (`process` runs it), the Consumer reads
 * and acknowledges on a connection of its own (a `StreamsBackend.lane`;
 * `sharedConnection: true` uses the backend's) and blocks on one more; both
 * are closed when the run ends.
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Consumer } from "effect-redis-streams"
 *
 * const program = Effect.gen(function*() {
 *   const consumer = yield* Consumer.make({ stream: "orders", group: "billing", batchSize: 100, maxWait: "1 second" })
 *   yield* consumer.process((message) => Effect.log(message.body), { concurrency: 10 })
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import type * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Cause from "effect/Cause"
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import { identity } from "effect/Function"
import * as Os from "node:os"
import * as DeadLetter from "./DeadLetter.js"
import * as Codec from "./internal/codec.js"
import { isDefaultTracer, spanned } from "./internal/tracing.js"
import * as O from "./internal/options.js"
import type { Batch, Message } from "./Message.js"
import { Poison } from "./Message.js"
import { type BlockingReader, type Fields, type Lane, type ReadEntry, StreamsBackend } from "./StreamsBackend.js"
import type * as StreamsBackendNs from "./StreamsBackend.js"
import { type BackendError, InvalidOptions, type RedisConnectionError } from "./StreamsError.js"

/**
 * Where a group starts when the Consumer creates it: from the beginning of
 * the stream (the default: nothing added before the first consumer started is
 * skipped), only entries added from now on, or after a given id. It has no
 * effect on a group that exists.
 *
 * @since 0.1.0
 * @category models
 */
export type StartFrom = "beginning" | "new" | { readonly id: string }

/**
 * Consumer options. Defaults: `blockTime` 2 s, `startFrom` "beginning",
 * `claimIdle` 30 s (reclaim entries idle that long from any consumer of the
 * group; `false` disables reclaim), `claimInterval` claimIdle / 2 (at most
 * 5 s), `maxDeliveries` 5, `deadLetterStream` `DeadLetter.defaultStream(stream)`,
 * `shutdownTimeout` 10 s, `removeOnShutdown` true, `reconnect` exponential
 * backoff from 100 ms to 5 s, forever.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<A = Record<string, string>, I = unknown> {
  readonly stream: string
  readonly group: string
  /** the consumer name; the default is unique per instance: `<host>-<pid>-<random>` */
  readonly consumer?: string | undefined
  /** the most messages in a batch (>= 1) */
  readonly batchSize: number
  /** the longest a batch collects before it is emitted (>= 0) */
  readonly maxWait: Duration.DurationInput
  /** the longest single blocking read (BLOCK); also bounds how late reclaim and shutdown checks run */
  readonly blockTime?: Duration.DurationInput | undefined
  readonly startFrom?: StartFrom | undefined
  readonly schema?: Schema.Schema<A, I, never> | undefined
  readonly encoding?: "fields" | "json" | undefined
  /** emit empty batches when `maxWait` passes with nothing read (the seed's polling style) */
  readonly emitEmpty?: boolean | undefined
  /** acknowledge and delete from the stream in one round trip (for single-group queues) */
  readonly deleteOnAck?: boolean | undefined
  readonly claimIdle?: Duration.DurationInput | false | undefined
  readonly claimInterval?: Duration.DurationInput | undefined
  /** an entry delivered more times than this goes to the dead-letter stream (>= 1) */
  readonly maxDeliveries?: number | undefined
  readonly deadLetterStream?: string | undefined
  /** how long in-flight handlers may finish when `process` is interrupted */
  readonly shutdownTimeout?: Duration.DurationInput | undefined
  /** when the group disappears while consuming: recreate it (true) or fail with `GroupNotFound` (default) */
  readonly recreateGroup?: boolean | undefined
  /** on scope close, remove this consumer from the group if (and only if) it has nothing pending */
  readonly removeOnShutdown?: boolean | undefined
  /**
   * the largest entry handed to you, in bytes of field names and values
   * (UTF-8); a larger one goes to the dead-letter stream (metadata only: its
   * fields stay in the source stream). Default 16 MiB.
   */
  readonly maxEntryBytes?: number | undefined
  /** retry policy for lost connections while consuming; the error reaches you when it gives up */
  readonly reconnect?: Schedule.Schedule<unknown, BackendError> | undefined
  /**
   * Read ahead (default true): acknowledging a whole batch (`batch.ack`, or
   * `process` / `processBatch` after a batch) also reads the next one, in the
   * same round trip. If the run ends before that batch is handed out, its
   * entries are released: they stay pending under this consumer with their
   * delivery count restored and their idle time set to `claimIdle`, so other
   * consumers reclaim them at once (and this consumer, if it runs again, hands
   * them out first). `process` and `processBatch` do not read ahead once they
   * are interrupted.
   */
  readonly readAhead?: boolean | undefined
  /**
   * Read and acknowledge on the backend's connection (default false: while
   * `batches` runs, the Consumer has a connection of its own for its reads
   * and acknowledgements, a `StreamsBackend.lane`, so consumers in one
   * process do not queue behind each other's replies or a Monitor's scans; a
   * lane that cannot be opened leaves the run on the backend's connection,
   * with a warning). Blocking reads always have one more connection, per run
   * of `batches`.
   */
  readonly sharedConnection?: boolean | undefined
}

/**
 * Failures of a Consumer's stream.
 *
 * @since 0.1.0
 * @category errors
 */
export type ConsumerError = BackendError

/**
 * Options of `process`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProcessOptions {
  /** handlers running at once within a batch (default 1) */
  readonly concurrency?: number | "unbounded" | undefined
}

/**
 * The Consumer service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service<A> {
  readonly name: string
  readonly stream: string
  readonly group: string
  readonly deadLetterStream: string
  /**
   * The batches. One run at a time per Consumer (a second run waits). Each
   * run first hands out this consumer's own pending entries, then new ones,
   * with reclaimed entries of other consumers mixed in as they become idle.
   */
  readonly batches: Stream.Stream<Batch<A>, ConsumerError>
  /**
   * Run `handler` for every message, `concurrency` at a time within a batch;
   * acknowledge the successes of each batch in one round trip; leave failures
   * pending for redelivery (a `Message.Poison` failure goes to the dead-letter
   * stream at once). Runs until interrupted; on interruption it stops reading
   * at once, lets in-flight handlers finish within `shutdownTimeout`, and
   * acknowledges what succeeded.
   */
  readonly process: <E, R>(
    handler: (message: Message<A>) => Effect.Effect<unknown, E, R>,
    options?: ProcessOptions
  ) => Effect.Effect<never, ConsumerError, R>
  /** like `process`, one handler call per batch: success acknowledges the whole batch */
  readonly processBatch: <E, R>(
    handler: (batch: Batch<A>) => Effect.Effect<unknown, E, R>
  ) => Effect.Effect<never, ConsumerError, R>
  /** acknowledge ids of this group in one round trip; returns how many were pending */
  readonly ack: (ids: Iterable<string>) => Effect.Effect<number, BackendError>
}

/**
 * The default Consumer tag, for field-map messages. For a typed consumer,
 * declare your own tag over `Service<A>` and build it with `layerAs`.
 *
 * @since 0.1.0
 * @category tags
 */
export class Consumer extends Context.Tag("effect-redis-streams/Consumer")<Consumer, Service<Record<string, string>>>() {}

/**
 * A consumer name unique per instance: host, process id and a random part.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultName = (): string =>
  `${Os.hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`

interface Resolved {
  readonly stream: string
  readonly group: string
  readonly name: string
  readonly batchSize: number
  readonly maxWaitMs: number
  readonly blockMs: number
  readonly startId: string
  readonly claimIdleMs: number | undefined
  readonly claimIntervalMs: number
  readonly maxDeliveries: number
  readonly deadLetterStream: string
  readonly shutdownMs: number
  readonly emitEmpty: boolean
  readonly deleteOnAck: boolean
  readonly recreateGroup: boolean
  readonly removeOnShutdown: boolean
  readonly maxEntryBytes: number
  readonly readAhead: boolean
  readonly sharedConnection: boolean
}

const C = "Consumer"

const resolve = (options: Options<any, any>): Effect.Effect<Resolved, InvalidOptions> =>
  Effect.gen(function*() {
    const stream = yield* O.nonEmptyString(C, "stream", options.stream)
    const group = yield* O.nonEmptyString(C, "group", options.group)
    const name = options.consumer === undefined ? defaultName() : yield* O.nonEmptyString(C, "consumer", options.consumer)
    const batchSize = yield* O.integer(C, "batchSize", options.batchSize, undefined, 1, 1_000_000)
    if (options.maxWait === undefined) {
      return yield* O.invalid(C, "maxWait", undefined, "a duration >= 0 ms (required)")
    }
    const maxWaitMs = yield* O.durationMs(C, "maxWait", options.maxWait, 0)
    const blockMs = yield* O.durationMs(C, "blockTime", options.blockTime, 2000, 1)
    let startId = "0"
    const startFrom = options.startFrom ?? "beginning"
    if (startFrom === "new") startId = "$"
    else if (startFrom !== "beginning") {
      if (typeof startFrom !== "object" || !O.isStreamId(startFrom.id)) {
        return yield* O.invalid(C, "startFrom", startFrom, `"beginning", "new" or { id: "<ms>-<seq>" }`)
      }
      startId = startFrom.id
    }
    const claimIdleMs = options.claimIdle === false
      ? undefined
      : yield* O.durationMs(C, "claimIdle", options.claimIdle, 30_000, 1)
    const claimIntervalMs = yield* O.durationMs(
      C,
      "claimInterval",
      options.claimInterval,
      Math.min(5000, Math.max(10, Math.floor((claimIdleMs ?? 30_000) / 2))),
      1
    )
    const maxDeliveries = yield* O.integer(C, "maxDeliveries", options.maxDeliveries, 5, 1)
    yield* O.encoding(C, options.encoding)
    const deadLetterStream = options.deadLetterStream === undefined
      ? DeadLetter.defaultStream(stream)
      : yield* O.nonEmptyString(C, "deadLetterStream", options.deadLetterStream)
    if (deadLetterStream === stream) {
      return yield* O.invalid(C, "deadLetterStream", deadLetterStream, "a stream other than `stream`")
    }
    const shutdownMs = yield* O.durationMs(C, "shutdownTimeout", options.shutdownTimeout, 10_000, 0)
    const maxEntryBytes = yield* O.integer(C, "maxEntryBytes", options.maxEntryBytes, 16 * 1024 * 1024, 1)
    return {
      stream,
      group,
      name,
      batchSize,
      maxWaitMs,
      blockMs,
      startId,
      claimIdleMs,
      claimIntervalMs,
      maxDeliveries,
      deadLetterStream,
      shutdownMs,
      emitEmpty: options.emitEmpty ?? false,
      deleteOnAck: options.deleteOnAck ?? false,
      recreateGroup: options.recreateGroup ?? false,
      removeOnShutdown: options.removeOnShutdown ?? true,
      maxEntryBytes,
      readAhead: options.readAhead ?? true,
      sharedConnection: options.sharedConnection ?? false
    }
  })

/** remembers the last handler error per id (bounded), for dead-letter metadata */
class LastErrors {
  private readonly map = new Map<string, string>()
  set(id: string, error: string) {
    this.map.delete(id)
    this.map.set(id, error)
    if (this.map.size > 10_000) {
      const first = this.map.keys().next()
      if (!first.done) this.map.delete(first.value)
    }
  }
  get(id: string): string | undefined {
    return this.map.get(id)
  }
  delete(id: string) {
    this.map.delete(id)
  }
  get size() {
    return this.map.size
  }
}

interface Ctx<A> {
  readonly o: Resolved
  readonly backend: StreamsBackendNs.Service
  readonly codec: Codec.Codec<A>
  readonly lazyBody: boolean
  readonly ackIds: (ids: ReadonlyArray<string>) => Effect.Effect<number, BackendError>
  readonly deadLetter: (id: string, fields: Fields, deliveries: number, error: string) => Effect.Effect<void, BackendError>
}

class MessageImpl<A> implements Message<A> {
  private cachedFields: Record<string, string> | undefined
  private cachedBody: A | undefined
  constructor(
    readonly ctx: Ctx<A>,
    readonly id: string,
    readonly rawFields: Fields,
    readonly deliveryCount: number,
    body: A | undefined,
    readonly rawBytes: ReadonlyArray<Uint8Array> | undefined
  ) {
    this.cachedBody = body
  }
  get body(): A {
    if (this.cachedBody === undefined) this.cachedBody = this.fields as A
    return this.cachedBody
  }
  get fields(): Readonly<Record<string, string>> {
    if (this.cachedFields === undefined) this.cachedFields = Codec.fieldsToRecord(this.rawFields)
    return this.cachedFields
  }
  get stream() {
    return this.ctx.o.stream
  }
  get group() {
    return this.ctx.o.group
  }
  get consumer() {
    return this.ctx.o.name
  }
  get ack(): Effect.Effect<void, BackendError> {
    return Effect.asVoid(this.ctx.ackIds([this.id]))
  }
  deadLetter(reason: string): Effect.Effect<void, BackendError> {
    return this.ctx.deadLetter(this.id, this.rawFields, this.deliveryCount, reason)
  }
}

const idsOf = <A>(ms: Iterable<Message<A>>): Array<string> => {
  if (!Array.isArray(ms)) return Array.from(ms, (m) => m.id)
  // a plain loop: `Array.from` with a mapping function takes the iterator path, ~10 µs per 100
  const ids = new Array<string>(ms.length)
  for (let i = 0; i < ms.length; i++) ids[i] = (ms[i] as Message<A>).id
  return ids
}

/** what a batch needs from the run that emitted it */
interface Run {
  /** acknowledge `ids` of `batch`, reading the next batch in the same round trip when possible */
  readonly ackThenRead: (batch: BatchImpl<any>, ids: ReadonlyArray<string>) => Effect.Effect<number, BackendError>
}

/** a class, not an object literal: see `Entry` in internal/replies.ts (V8 pretenuring) */
class BatchImpl<A> implements Batch<A> {
  constructor(
    readonly ctx: Ctx<A>,
    readonly messages: ReadonlyArray<Message<A>>,
    readonly run: Run
  ) {}
  get ack(): Effect.Effect<void, BackendError> {
    return Effect.asVoid(this.ackWith(idsOf(this.messages), true))
  }
  /** acknowledge `ids`, reading ahead when `readAhead` is set and the run allows it */
  ackWith(ids: ReadonlyArray<string>, readAhead: boolean): Effect.Effect<number, BackendError> {
    return readAhead && ids.length > 0
      ? this.run.ackThenRead(this, ids)
      : this.ctx.ackIds(ids)
  }
  // properties, not methods, so that `const { ackIds } = batch` keeps working
  readonly ackMessages = (ms: Iterable<Message<A>>): Effect.Effect<void, BackendError> =>
    Effect.asVoid(this.ctx.ackIds(idsOf(ms)))
  readonly ackIds = (xs: Iterable<string>): Effect.Effect<void, BackendError> =>
    Effect.asVoid(this.ctx.ackIds(Array.from(xs)))
}

/**
 * Compare two decimal numbers given as ranges of two strings (no leading zeros), without
 * allocating substrings (this runs for every message handed out).
 */
const compareDigits = (a: string, a0: number, a1: number, b: string, b0: number, b1: number): number => {
  if (a1 - a0 !== b1 - b0) return (a1 - a0) - (b1 - b0)
  for (let i = 0; i < a1 - a0; i++) {
    const d = a.charCodeAt(a0 + i) - b.charCodeAt(b0 + i)
    if (d !== 0) return d
  }
  return 0
}

/** the larger of two stream ids (`ms-seq`; a bare `ms` counts as `ms-0`) */
const maxId = (a: string, b: string): string => {
  let da = a.indexOf("-")
  let db = b.indexOf("-")
  if (da < 0) da = a.length
  if (db < 0) db = b.length
  const ms = compareDigits(a, 0, da, b, 0, db)
  if (ms !== 0) return ms > 0 ? a : b
  const seq = compareDigits(a, da + 1, Math.max(da + 1, a.length), b, db + 1, Math.max(db + 1, b.length))
  return seq >= 0 ? a : b
}

/**
 * The size of an entry in UTF-8 bytes, computed exactly only when the cheap
 * bound (3 bytes per UTF-16 unit) could exceed `max`.
 */
const entrySize = (fields: Fields, max: number): number => {
  let units = 0
  for (let i = 0; i < fields.length; i++) units += fields[i]!.length
  if (units * 3 <= max) return units
  let bytes = 0
  for (let i = 0; i < fields.length; i++) bytes += Buffer.byteLength(fields[i]!, "utf8")
  return bytes
}

const EMPTY_FIELDS: Fields = []

/** the batch being collected (a class: see `BatchImpl`) */
class Collecting {
  readonly out = new Array<Message<any>>()
  finalReadDone = false
  constructor(public deadline: number) {}
}

/** next to the highest stream id (the highest one itself means ">" to Redis): an own-pending read after it returns nothing */
const HEARTBEAT_ID = "18446744073709551615-18446744073709551614"

const isConnectionError = (e: { readonly _tag: string }): e is RedisConnectionError => e._tag === "RedisConnectionError"

/**
 * Run `work` so that interrupting the caller lets it finish within
 * `graceMs`, then interrupts it (its own finalizers still run). `onStop` is
 * called when the caller is interrupted, before waiting. The work runs
 * in a daemon fiber because a child fiber would be interrupted together with
 * its parent; it is always joined or awaited here, so it never outlives this
 * call.
 */
const graceful = <A, E, R>(work: Effect.Effect<A, E, R>, graceMs: number, onStop: () => void): Effect.Effect<A, E, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(Effect.forkDaemon(restore(work)), (fiber) =>
      restore(Fiber.join(fiber)).pipe(
        Effect.onInterrupt(() =>
          Effect.zipRight(
            Effect.sync(onStop),
            Effect.flatMap(
              Effect.forkDaemon(
                Effect.interruptible(Effect.sleep(Duration.millis(graceMs))).pipe(
                  Effect.zipRight(Fiber.interruptFork(fiber))
                )
              ),
              (timer) => Effect.zipRight(Fiber.await(fiber), Fiber.interruptFork(timer))
            )
          )
        )
      ))
  )

/**
 * Build a Consumer: validates the options, creates the group if missing
 * (MKSTREAM; `startFrom` chooses its first id) and registers the consumer
 * name. Scoped: closing the scope removes the consumer from the group when
 * it has nothing pending.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: {
  <A, I>(options: Options<A, I> & { readonly schema: Schema.Schema<A, I, never> }): Effect.Effect<
    Service<A>,
    InvalidOptions | BackendError,
    StreamsBackend | Scope.Scope
  >
  (options: Options): Effect.Effect<
    Service<Record<string, string>>,
    InvalidOptions | BackendError,
    StreamsBackend | Scope.Scope
  >
} = (options: Options<any, any>): Effect.Effect<Service<any>, InvalidOptions | BackendError, StreamsBackend | Scope.Scope> =>
  Effect.gen(function*() {
    const o = yield* resolve(options)
    const backend = yield* StreamsBackend
    const codec: Codec.Codec<any> = options.schema === undefined
      ? Codec.recordCodec
      : Codec.make(options.schema, options.encoding)
    const reconnect: Schedule.Schedule<unknown, BackendError> = options.reconnect ??
      Schedule.exponential(Duration.millis(100)).pipe(Schedule.union(Schedule.spaced(Duration.seconds(5))))
    const annotations = { stream: o.stream, group: o.group, consumer: o.name }
    const attributes = {
      "messaging.system": "redis",
      "messaging.destination.name": o.stream,
      "messaging.consumer.group.name": o.group,
      "messaging.consumer.name": o.name
    }
    const lastErrors = new LastErrors()
    // logs of the batch path carry the consumer's annotations also when `batches` is run directly
    const logWarning = (message: string) => Effect.annotateLogs(Effect.logWarning(message), annotations)
    const logInfo = (message: string) => Effect.annotateLogs(Effect.logInfo(message), annotations)

    const createGroup = backend.createGroup(o.stream, o.group, { id: o.startId, mkStream: true })
    if (o.claimIdleMs !== undefined && o.claimIdleMs <= o.maxWaitMs) {
      yield* logWarning(
        `claimIdle (${o.claimIdleMs} ms) is not longer than maxWait (${o.maxWaitMs} ms): other consumers may ` +
          `reclaim entries of a batch that is still collecting, and handle them twice; make claimIdle longer ` +
          `than maxWait plus the time a batch takes to process`
      )
    }
    const created = yield* createGroup
    if (created) yield* logInfo(`created consumer group "${o.group}" on "${o.stream}" at ${o.startId}`)
    yield* backend.createConsumer(o.stream, o.group, o.name)

    /** retry lost connections with the reconnect policy; recreate a vanished group when asked */
    const resilient = <X>(effect: Effect.Effect<X, BackendError>): Effect.Effect<X, BackendError> => {
      const withGroup: Effect.Effect<X, BackendError> = o.recreateGroup
        ? Effect.catchTag(effect, "GroupNotFound", (e) =>
          logWarning(`${e.message}: recreating the group`).pipe(
            Effect.zipRight(backend.createGroup(o.stream, o.group, { id: o.startId, mkStream: true })),
            Effect.zipRight(effect)
          ))
        : effect
      // the retry machinery is built only after a first failure (it costs tens of microseconds per
      // call on the hot path); the failure that got here counts as the policy's first input
      return Effect.catchAll(withGroup, (first) => {
        if (!isConnectionError(first)) return Effect.fail(first)
        let replayed = false
        const attempt = Effect.suspend(() => {
          if (replayed) return withGroup
          replayed = true
          return Effect.fail(first)
        }).pipe(
          Effect.tapError((e) =>
            isConnectionError(e) ? logWarning(`connection problem, retrying: ${e.message}`) : Effect.void
          )
        )
        return Effect.retry(attempt, { schedule: reconnect, while: isConnectionError })
      })
    }

    /** the span of an acknowledgement; its attributes are built only when someone traces (once per batch) */
    const ackSpan = <X>(effect: Effect.Effect<X, BackendError>, count: number): Effect.Effect<X, BackendError> =>
      Effect.tracerWith((tracer) =>
        isDefaultTracer(tracer) ? effect : Effect.withSpan(effect, "Consumer.ack", {
          kind: "consumer",
          attributes: { ...attributes, "messaging.batch.message_count": count },
          captureStackTrace: false
        })
      )

    /** acknowledged ids need no last error any more */
    const forgetErrors = (ids: ReadonlyArray<string>) => {
      if (lastErrors.size > 0) for (const id of ids) lastErrors.delete(id)
    }

    /**
     * The lane of the run of `batches` in progress (runs take turns). A batch acknowledged after its
     * run ended goes on the backend's connection (a closed lane does too).
     */
    let laneOptions: { readonly lane?: Lane | undefined } = {}

    const ackIds = (ids: ReadonlyArray<string>): Effect.Effect<number, BackendError> => {
      if (ids.length === 0) return Effect.succeed(0)
      forgetErrors(ids)
      return ackSpan(
        o.deleteOnAck
          ? backend.ackAndDelete(o.stream, o.group, ids, laneOptions)
          : backend.ack(o.stream, o.group, ids, laneOptions),
        ids.length
      )
    }

    const deadLetter = (id: string, fields: Fields, deliveries: number, error: string) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        yield* backend.add(
          o.deadLetterStream,
          DeadLetter.toFields(fields, {
            id,
            stream: o.stream,
            group: o.group,
            consumer: o.name,
            deliveries,
            error,
            at: now
          })
        )
        yield* backend.ack(o.stream, o.group, [id])
        lastErrors.delete(id)
        yield* logWarning(`moved ${id} to the dead-letter stream "${o.deadLetterStream}": ${error}`)
      }).pipe((effect) => spanned(effect, "Consumer.deadLetter", attributes, "consumer"))

    const ctx: Ctx<any> = { o, backend, codec, lazyBody: options.schema === undefined, ackIds, deadLetter }

    /** decode an entry into a message, or dead-letter it when it does not decode */
    const toMessage = (
      id: string,
      fields: Fields,
      deliveries: number,
      out: Array<Message<any>>,
      bytes: ReadonlyArray<Uint8Array> | undefined
    ): Effect.Effect<void, BackendError> => {
      const size = entrySize(fields, o.maxEntryBytes)
      if (size > o.maxEntryBytes) {
        return resilient(deadLetter(
          id,
          [],
          deliveries,
          `the entry has ${size} bytes, more than maxEntryBytes (${o.maxEntryBytes}); its fields are not copied here, ` +
            `read them from the source stream by its id`
        ))
      }
      if (ctx.lazyBody) {
        out.push(new MessageImpl(ctx, id, fields, deliveries, undefined, bytes))
        return Effect.void
      }
      if (bytes !== undefined) {
        return resilient(deadLetter(
          id,
          fields,
          deliveries,
          "cannot decode: a field name or value is not valid UTF-8 (the dead letter holds it with U+FFFD; " +
            "the source stream keeps the bytes under the original id)"
        ))
      }
      const decoded = codec.decode(fields)
      if (Either.isRight(decoded)) {
        out.push(new MessageImpl(ctx, id, fields, deliveries, decoded.right, undefined))
        return Effect.void
      }
      return resilient(deadLetter(id, fields, deliveries, `cannot decode: ${decoded.left}`))
    }

    /** entries delivered before (own pending or claimed): find delivery counts, drop deleted, dead-letter the exhausted */
    const handleRedelivered = (entries: ReadonlyArray<ReadEntry>, out: Array<Message<any>>, origin: string) =>
      Effect.gen(function*() {
        const deleted: Array<string> = []
        const live: Array<{ readonly id: string; readonly fields: Fields; readonly bytes?: ReadonlyArray<Uint8Array> | undefined }> = []
        for (const e of entries) {
          if (e.fields === null) deleted.push(e.id)
          else live.push({ id: e.id, fields: e.fields, bytes: e.bytes })
        }
        if (deleted.length > 0) {
          yield* resilient(backend.ack(o.stream, o.group, deleted))
          yield* logWarning(
            `${deleted.length} pending entries (${origin}) were deleted or trimmed from the stream before being processed; acknowledged them: ${
              deleted.slice(0, 20).join(", ")
            }`
          )
        }
        if (live.length === 0) return
        const counts = new Map<string, number>()
        const pending = yield* resilient(backend.pending({
          stream: o.stream,
          group: o.group,
          start: live[0]!.id,
          end: live[live.length - 1]!.id,
          count: live.length + 1000,
          consumer: o.name,
          lane: laneOptions.lane
        }))
        for (const p of pending) counts.set(p.id, p.deliveries)
        for (const e of live) {
          const deliveries = counts.get(e.id) ?? 2
          if (deliveries > o.maxDeliveries) {
            const oversize = entrySize(e.fields, o.maxEntryBytes) > o.maxEntryBytes
            yield* resilient(deadLetter(
              e.id,
              oversize ? [] : e.fields,
              deliveries,
              (lastErrors.get(e.id) ?? `delivered ${deliveries} times, more than maxDeliveries (${o.maxDeliveries})`) +
                (oversize ? `; the entry is larger than maxEntryBytes (${o.maxEntryBytes}): fields not copied` : "")
            ))
          } else {
            yield* toMessage(e.id, e.fields, deliveries, out, e.bytes)
          }
        }
      })

    /**
     * Entries read for the first time, as messages. Synchronous in the common case (returns
     * `undefined`); an effect only when an entry must go to the dead-letter stream (oversize, or
     * not decodable with the schema).
     */
    const pushFresh = (entries: ReadonlyArray<ReadEntry>, out: Array<Message<any>>): Effect.Effect<void, BackendError> | undefined => {
      let i = 0
      if (ctx.lazyBody) {
        for (; i < entries.length; i++) {
          const e = entries[i]!
          const fields = e.fields ?? EMPTY_FIELDS
          if (entrySize(fields, o.maxEntryBytes) > o.maxEntryBytes) break
          out.push(new MessageImpl(ctx, e.id, fields, 1, undefined, e.bytes))
        }
      }
      if (i === entries.length) return undefined
      return Effect.forEach(entries.slice(i), (e) => toMessage(e.id, e.fields ?? EMPTY_FIELDS, 1, out, e.bytes), { discard: true })
    }

    const lock = yield* Effect.makeSemaphore(1)

    /** everything one run of `batches` needs, built in the run's scope; returns the batch loop */
    const openRun = Effect.gen(function*() {
        // the lock is awaited interruptibly; once taken, its release is registered in the same step
        yield* Effect.uninterruptibleMask((restore) =>
          Effect.zipRight(restore(lock.take(1)), Effect.addFinalizer(() => lock.release(1)))
        )
        // read once per run: the batch loop reads the time synchronously (TestClock included)
        const clock = yield* Effect.clock
        const reader: BlockingReader = yield* Effect.retry(backend.blockingReader, {
          schedule: reconnect,
          while: isConnectionError
        })
        // the run's own connection for reads and acknowledgements (closed with the run). It only
        // spares the consumer a queue: when it cannot be opened (the server's maxclients, say), the
        // run goes on over the backend's connection rather than waiting for one
        const lane: Lane | undefined = o.sharedConnection ? undefined : yield* backend.lane.pipe(
          Effect.catchAll((e) =>
            Effect.as(
              logWarning(
                `could not open a connection of its own (${e.message}); this run reads and acknowledges ` +
                  `on the backend's connection`
              ),
              undefined
            )
          )
        )
        if (lane !== undefined) {
          laneOptions = { lane }
          yield* Effect.addFinalizer(() =>
            Effect.sync(() => {
              laneOptions = {}
            })
          )
        }
        const state = {
          phase: "pending" as "pending" | "new",
          pendingCursor: "0",
          reclaimCursor: "0-0",
          nextReclaimAt: 0,
          /** the highest id read in this run (handed out, or read ahead) */
          lastNewId: "0",
          /** false once the run is closing */
          open: true,
          /** the batch emitted last: acknowledging it may read ahead */
          current: undefined as BatchImpl<any> | undefined,
          /** entries read ahead, to start the next batch with */
          readAhead: undefined as ReadonlyArray<ReadEntry> | undefined,
          readAheadInFlight: false
        }
        /** every read returns ids in ascending order (">" reads, own pending, XAUTOCLAIM): the last is the highest */
        const remember = (entries: ReadonlyArray<ReadEntry>) => {
          if (entries.length > 0) state.lastNewId = maxId(state.lastNewId, entries[entries.length - 1]!.id)
          return entries
        }
        /** after a connection problem: re-read own pending after the highest id read (see `readNew`) */
        const recoverOwnPending = () => {
          state.phase = "pending"
          state.pendingCursor = state.lastNewId
        }

        /**
         * Entries read ahead but not handed out when the run ends go back to the group: they stay
         * pending under this consumer (Redis has no way to undo a delivery) with their delivery count
         * restored (RETRYCOUNT) and their idle time set to claimIdle (IDLE), so other consumers
         * reclaim them at once; this consumer, if it runs again, hands them out first.
         */
        const release = (entries: ReadonlyArray<ReadEntry>): Effect.Effect<void> =>
          backend.claimJustId({
            stream: o.stream,
            group: o.group,
            consumer: o.name,
            minIdleMs: 0,
            ids: entries.map((e) => e.id),
            idleMs: o.claimIdleMs ?? 0,
            retryCount: 0
          }).pipe(
            Effect.flatMap((ids) => Effect.logDebug(`released ${ids.length} entries read ahead and not handed out`)),
            Effect.catchAll((e) =>
              Effect.logWarning(
                `could not release ${entries.length} entries read ahead (${e.message}); they stay pending under ` +
                  `this consumer and are reclaimed after claimIdle`
              )
            ),
            Effect.annotateLogs(annotations)
          )
        yield* Effect.addFinalizer(() =>
          Effect.suspend(() => {
            state.open = false
            const ahead = state.readAhead
            state.readAhead = undefined
            return ahead === undefined ? Effect.void : release(ahead)
          })
        )

        const run: Run = {
          ackThenRead: (batch, ids) =>
            Effect.suspend(() => {
              const eligible = o.readAhead && state.open && batch === state.current && state.phase === "new" &&
                state.readAhead === undefined && !state.readAheadInFlight &&
                // a reclaim round only runs at the start of an empty batch: do not read ahead when one is due
                (o.claimIdleMs === undefined || clock.unsafeCurrentTimeMillis() < state.nextReclaimAt)
              if (!eligible) return ctx.ackIds(ids)
              forgetErrors(ids)
              state.readAheadInFlight = true
              const effect = backend.ackThenRead(
                o.stream,
                o.group,
                ids,
                { stream: o.stream, group: o.group, consumer: o.name, id: ">", count: o.batchSize },
                { delete: o.deleteOnAck, lane }
              ).pipe(
                Effect.flatMap((r): Effect.Effect<number> => {
                  state.readAheadInFlight = false
                  if (Either.isLeft(r.read)) {
                    // the read may have been served with its reply lost; other errors show on the next read
                    if (isConnectionError(r.read.left)) recoverOwnPending()
                    return Effect.succeed(r.acked)
                  }
                  const entries = remember(r.read.right)
                  if (entries.length === 0) return Effect.succeed(r.acked)
                  if (!state.open) return Effect.as(release(entries), r.acked)
                  state.readAhead = entries
                  return Effect.succeed(r.acked)
                }),
                Effect.tapError(() =>
                  Effect.sync(() => {
                    state.readAheadInFlight = false
                    recoverOwnPending()
                  })
                )
              )
              return ackSpan(effect, ids.length)
            })
        }
        const emit = (out: Array<Message<any>>): Batch<any> => {
          const batch = new BatchImpl(ctx, out, run)
          state.current = batch
          return batch
        }
        /**
         * A ">" read whose reply was lost with its connection may have been served: its entries
         * are in this consumer's pending list, never handed out. So after a connection problem
         * the own-pending phase runs again, from the last id handed out, before new reads.
         */
        const readNew = (count: number, blockMs: number | undefined) =>
          resilient(
            (blockMs === undefined
              ? backend.readGroup({ stream: o.stream, group: o.group, consumer: o.name, id: ">", count, lane })
              : reader.readGroup({ stream: o.stream, group: o.group, consumer: o.name, id: ">", count, blockMs })).pipe(
                Effect.tapError((e) =>
                  Effect.sync(() => {
                    if (isConnectionError(e)) recoverOwnPending()
                  })
                )
              )
          )

        /**
         * One batch, as a small state machine rather than a generator: this runs once per batch
         * and its cost is paid per call, not per message (the benchmark's raw loop does ~3,000
         * batches a second on one core, so every microsecond here shows).
         */
        const step = (c: Collecting): Effect.Effect<Batch<any>, BackendError> => {
          const out = c.out
          if (out.length >= o.batchSize) return Effect.succeed(emit(out))
          const remaining = o.batchSize - out.length
          if (state.phase === "pending") {
            return Effect.flatMap(
              resilient(backend.readGroup({
                stream: o.stream,
                group: o.group,
                consumer: o.name,
                id: state.pendingCursor,
                count: remaining,
                lane
              })),
              (own) => {
                if (own.length === 0) {
                  state.phase = "new"
                  return step(c)
                }
                state.pendingCursor = own[own.length - 1]!.id
                remember(own)
                return Effect.zipRight(handleRedelivered(own, out, "own pending"), Effect.suspend(() => step(c)))
              }
            )
          }
          const now = clock.unsafeCurrentTimeMillis()
          // reclaim only before a batch has entries: otherwise, with a batch collecting for longer than
          // claimIdle, the consumer would reclaim the entries of that very batch from itself
          if (o.claimIdleMs !== undefined && out.length === 0 && now >= state.nextReclaimAt) {
            return Effect.flatMap(
              resilient(backend.autoClaim({
                stream: o.stream,
                group: o.group,
                consumer: o.name,
                minIdleMs: o.claimIdleMs,
                start: state.reclaimCursor,
                count: remaining
              })),
              (r) => {
                state.reclaimCursor = r.next
                state.nextReclaimAt = r.next === "0-0" ? now + o.claimIntervalMs : now
                const logDeleted = r.deleted.length === 0 ? Effect.void : logWarning(
                  `${r.deleted.length} pending entries were deleted or trimmed from the stream before being processed; Redis dropped them from the pending list: ${
                    r.deleted.slice(0, 20).join(", ")
                  }`
                )
                if (r.entries.length > 0) {
                  remember(r.entries)
                  return logDeleted.pipe(
                    Effect.zipRight(logInfo(`reclaimed ${r.entries.length} entries idle for more than ${o.claimIdleMs} ms`)),
                    Effect.zipRight(handleRedelivered(r.entries, out, "reclaimed")),
                    Effect.zipRight(Effect.suspend(() => step(c)))
                  )
                }
                return Effect.zipRight(logDeleted, Effect.suspend(() => readStep(c, now)))
              }
            )
          }
          return readStep(c, now)
        }

        /** continue with `step` once the entries are messages (at once, unless some must be dead-lettered) */
        const pushThenStep = (entries: ReadonlyArray<ReadEntry>, c: Collecting): Effect.Effect<Batch<any>, BackendError> => {
          const pending = pushFresh(entries, c.out)
          return pending === undefined ? step(c) : Effect.zipRight(pending, Effect.suspend(() => step(c)))
        }

        const readStep = (c: Collecting, now: number): Effect.Effect<Batch<any>, BackendError> => {
          const out = c.out
          const remaining = o.batchSize - out.length
          const left = c.deadline - now
          if (left >= 1) {
            return Effect.flatMap(readNew(remaining, Math.min(Math.ceil(left), o.blockMs)), (entries) => pushThenStep(remember(entries), c))
          }
          if (!c.finalReadDone) {
            c.finalReadDone = true
            return Effect.flatMap(readNew(remaining, undefined), (entries) => pushThenStep(remember(entries), c))
          }
          if (out.length > 0 || o.emitEmpty) return Effect.succeed(emit(out))
          // nothing at all: wait for the first entry; a new collection begins when it arrives
          return Effect.flatMap(readNew(remaining, o.blockMs), (first) => {
            if (first.length > 0) {
              const pending = pushFresh(remember(first), out)
              const restart = Effect.suspend(() => {
                c.deadline = clock.unsafeCurrentTimeMillis() + o.maxWaitMs
                c.finalReadDone = false
                return step(c)
              })
              return pending === undefined ? restart : Effect.zipRight(pending, restart)
            }
            // heartbeat: before 7.2 an XREADGROUP ">" that finds nothing does not reset the consumer's
            // idle time, so a consumer waiting on a quiet stream would look dead to a Monitor. Reading
            // its own pending list after the highest possible id returns nothing and does reset it.
            return Effect.zipRight(
              resilient(backend.readGroup({
                stream: o.stream,
                group: o.group,
                consumer: o.name,
                id: HEARTBEAT_ID,
                count: 1,
                lane
              })),
              Effect.suspend(() => step(c))
            )
          })
        }

        const collectBatch = Effect.suspend(() => {
          const c = new Collecting(clock.unsafeCurrentTimeMillis() + o.maxWaitMs)
          const ahead = state.readAhead
          if (ahead === undefined) return step(c)
          // start with the entries read ahead (they were remembered when they arrived)
          state.readAhead = undefined
          return pushThenStep(ahead, c)
        })
        const tracing = !isDefaultTracer(yield* Effect.tracer)
        const collect = tracing
          ? Effect.withSpan(collectBatch, "Consumer.batch", { kind: "consumer", attributes, captureStackTrace: false })
          : collectBatch

        const loop = (): Channel.Channel<Chunk.Chunk<Batch<any>>, unknown, BackendError, unknown, void, unknown> =>
          Channel.flatMap(Channel.fromEffect(collect), (batch) => Channel.flatMap(Channel.write(Chunk.of(batch)), loop))
        return loop()
      })

    /**
     * The batches, as a channel: set up the run in its own scope, then loop. Built from channel
     * primitives rather than `Stream.unwrapScoped(... Stream.repeatEffect(...))`, whose flatten
     * layer costs several microseconds per element (measured: ~10% of the loop with local Redis).
     */
    const batches: Stream.Stream<Batch<any>, BackendError> = Stream.fromChannel(
      Channel.flatMap(Channel.fromEffect(Scope.make()), (scope) =>
        Channel.ensuringWith(
          Channel.flatMap(Channel.fromEffect(Scope.extend(openRun, scope)), identity),
          (exit) => Scope.close(scope, exit)
        ))
    )

    const recordFailure = (id: string, cause: Cause.Cause<unknown>) => {
      const failure = Cause.failureOption(cause)
      const error = failure._tag === "Some" ? failure.value : Cause.squash(cause)
      const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
      lastErrors.set(id, text)
      return text
    }

    const process = <E, R>(
      handler: (message: Message<any>) => Effect.Effect<unknown, E, R>,
      processOptions?: ProcessOptions
    ): Effect.Effect<never, BackendError, R> => {
      const concurrency = processOptions?.concurrency ?? 1
      // once interrupted, acknowledgements no longer read ahead (nothing would hand those entries out)
      let stopping = false
      const stop = () => {
        stopping = true
      }
      const runBatch = (batch: Batch<any>) =>
        Effect.gen(function*() {
          const succeeded: Array<string> = []
          const ackSucceeded = (readAhead: boolean) =>
            Effect.suspend(() => resilient((batch as BatchImpl<any>).ackWith(succeeded.splice(0), readAhead && !stopping)))
          const one = (m: Message<any>) =>
            handler(m).pipe(
              Effect.matchCauseEffect({
                onSuccess: () => Effect.sync(() => void succeeded.push(m.id)),
                onFailure: (cause): Effect.Effect<void, BackendError> => {
                  if (Cause.isInterruptedOnly(cause)) return Effect.void
                  const failure = Cause.failureOption(cause)
                  if (failure._tag === "Some" && failure.value instanceof Poison) {
                    return resilient(m.deadLetter(failure.value.reason))
                  }
                  const text = recordFailure(m.id, cause)
                  return logWarning(
                    `handler failed for ${m.id} (delivery ${m.deliveryCount} of at most ${o.maxDeliveries}); it stays pending: ${text}`
                  )
                }
              })
            )
          yield* Effect.forEach(batch.messages, one, { concurrency, discard: true }).pipe(
            // interrupted, or failed (a dead-letter move refused, a defect): what succeeded is acknowledged
            Effect.onExit((exit) =>
              exit._tag === "Success"
                ? Effect.void
                : ackSucceeded(false).pipe(
                  Effect.catchAll((e) => Effect.logError(`could not acknowledge the handled messages: ${e.message}`))
                )
            )
          )
          yield* ackSucceeded(true)
        })
      return batches.pipe(
        Stream.mapEffect((batch) => graceful(runBatch(batch), o.shutdownMs, stop)),
        Stream.runDrain,
        Effect.zipRight(Effect.never),
        Effect.annotateLogs(annotations)
      )
    }

    const processBatch = <E, R>(
      handler: (batch: Batch<any>) => Effect.Effect<unknown, E, R>
    ): Effect.Effect<never, BackendError, R> => {
      let stopping = false
      const stop = () => {
        stopping = true
      }
      return batches.pipe(
        Stream.mapEffect((batch) =>
          graceful(
            handler(batch).pipe(
              Effect.matchCauseEffect({
                onSuccess: () =>
                  resilient(Effect.suspend(() => (batch as BatchImpl<any>).ackWith(idsOf(batch.messages), !stopping))),
                onFailure: (cause): Effect.Effect<void, BackendError> => {
                  if (Cause.isInterruptedOnly(cause)) return Effect.void
                  const failure = Cause.failureOption(cause)
                  if (failure._tag === "Some" && failure.value instanceof Poison) {
                    const reason = failure.value.reason
                    return Effect.forEach(batch.messages, (m) => resilient(m.deadLetter(reason)), { discard: true })
                  }
                  let text = ""
                  for (const m of batch.messages) text = recordFailure(m.id, cause)
                  return logWarning(`batch handler failed; ${batch.messages.length} messages stay pending: ${text}`)
                }
              })
            ),
            o.shutdownMs,
            stop
          )
        ),
        Stream.runDrain,
        Effect.zipRight(Effect.never),
        Effect.annotateLogs(annotations)
      )
    }

    if (o.removeOnShutdown) {
      yield* Effect.addFinalizer(() =>
        backend.deleteConsumerIfIdle(o.stream, o.group, o.name).pipe(
          Effect.flatMap((r) =>
            r.deleted
              ? Effect.logDebug(`removed consumer "${o.name}" from group "${o.group}"`)
              : logInfo(
                `consumer "${o.name}" keeps ${r.pending} pending entries in group "${o.group}"; not removed (they will be reclaimed)`
              )
          ),
          Effect.catchAll((e) => logWarning(`could not check consumer "${o.name}" on shutdown: ${e.message}`)),
          Effect.annotateLogs(annotations)
        )
      )
    }

    return {
      name: o.name,
      stream: o.stream,
      group: o.group,
      deadLetterStream: o.deadLetterStream,
      batches,
      process,
      processBatch,
      ack: (ids) => ackIds(Array.from(ids))
    } satisfies Service<any>
  })

/**
 * The default Consumer layer (field-map messages).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<Consumer, InvalidOptions | BackendError, StreamsBackend> =>
  Layer.scoped(Consumer, make(options))

/**
 * A layer for your own (typed) Consumer tag.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerAs = <Id, A, I>(
  tag: Context.Tag<Id, Service<A>>,
  options: Options<A, I> & { readonly schema: Schema.Schema<A, I, never> }
): Layer.Layer<Id, InvalidOptions | BackendError, StreamsBackend> => Layer.scoped(tag, make(options))

/**
 * The options that can come from configuration (everything but the schema
 * and the reconnect policy).
 *
 * @since 0.1.0
 * @category models
 */
export type ConfigOptions = Omit<Options, "schema" | "encoding" | "reconnect" | "startFrom"> & {
  /** "beginning", "new" or an id */
  readonly startFrom?: string | undefined
}

/**
 * The default Consumer layer, its options read through `Config`:
 *
 * ```ts
 * Consumer.layerConfig({
 *   stream: Config.string("STREAM"),
 *   group: Config.string("GROUP"),
 *   batchSize: Config.integer("BATCH_SIZE").pipe(Config.withDefault(100)),
 *   maxWait: Config.duration("MAX_WAIT").pipe(Config.withDefault(Duration.seconds(1)))
 * })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<ConfigOptions>
): Layer.Layer<Consumer, InvalidOptions | BackendError | ConfigError.ConfigError, StreamsBackend> =>
  Layer.scoped(
    Consumer,
    Effect.flatMap(Config.unwrap(config), ({ startFrom, ...rest }) =>
      make({
        ...rest,
        startFrom: startFrom === undefined || startFrom === "beginning" || startFrom === "new"
          ? startFrom
          : { id: startFrom }
      }))
  )

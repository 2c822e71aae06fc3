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
 * consumer of the group once it has been idle for `reclaim.idle` (reclaim).
 * An entry delivered more than `deadLetter.maxDeliveries` times, an entry that does not
 * decode with the schema, or one a handler rejects with `Message.Poison`, is
 * moved to the dead-letter stream (see `DeadLetter`).
 *
 * Connections: while `batches` runs (`process` runs it), the Consumer reads
 * and acknowledges on a connection of its own (a `StreamsBackend.lane`;
 * `connection: { shared: true }` uses the backend's) and blocks on one more; both
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
import type * as Config from "effect/Config"
import * as ConfigNs from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Schedule from "effect/Schedule"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/consumer/make.js"
import * as internalOptions from "./internal/consumer/options.js"
import type { Batch, Message } from "./Message.js"
import { StreamsBackend } from "./StreamsBackend.js"
import type { BackendError, InvalidOptions } from "./StreamsError.js"

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
 * `reclaim.idle` 30 s (reclaim entries idle that long from any consumer of
 * the group; `reclaim: false` disables reclaim), `reclaim.interval` idle / 2
 * (at most 5 s), `deadLetter.maxDeliveries` 5, `deadLetter.stream`
 * `DeadLetter.defaultStream(stream)`, `deadLetter.maxEntryBytes` 16 MiB,
 * `shutdownTimeout` 10 s, `removeOnShutdown` true, `connection.reconnect`
 * exponential backoff from 100 ms to 5 s, forever (see `defaults`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<A = Record<string, string>, I = unknown, R = never> {
  /** the stream to consume (created with the group when missing) */
  readonly stream: string
  /** the consumer group; created at `startFrom` when missing */
  readonly group: string
  /** the consumer name; the default is unique per instance: `<host>-<pid>-<random>` */
  readonly consumer?: string | undefined
  /** the most messages in a batch (>= 1) */
  readonly batchSize: number
  /** the longest a batch collects before it is emitted (>= 0) */
  readonly maxWait: Duration.DurationInput
  /** the longest single blocking read (BLOCK); also bounds how late reclaim and shutdown checks run */
  readonly blockTime?: Duration.DurationInput | undefined
  /** where a group created by this Consumer starts (default "beginning"); no effect on an existing group */
  readonly startFrom?: StartFrom | undefined
  /**
   * decode each entry into `message.body` with this Schema; an entry that
   * does not decode is dead-lettered. A schema that requires services (`R`)
   * makes the Consumer require them too; its transformations must run
   * synchronously.
   */
  readonly schema?: Schema.Schema<A, I, R> | undefined
  /** how `schema` reads an entry: one field per property ("fields", default) or one JSON `data` field ("json") */
  readonly encoding?: "fields" | "json" | undefined
  /** emit empty batches when `maxWait` passes with nothing read (the seed's polling style) */
  readonly emitEmpty?: boolean | undefined
  /** acknowledge and delete from the stream in one round trip (for single-group queues) */
  readonly deleteOnAck?: boolean | undefined
  /** how long running handlers may finish when `process` or `processBatch` stops (default 10 s) */
  readonly shutdownTimeout?: Duration.DurationInput | undefined
  /** when the group disappears while consuming: recreate it (true) or fail with `GroupNotFound` (default) */
  readonly recreateGroup?: boolean | undefined
  /** on scope close, remove this consumer from the group if (and only if) it has nothing pending */
  readonly removeOnShutdown?: boolean | undefined
  /**
   * Read ahead (default true): acknowledging a whole batch (`batch.ack`, or
   * `process` / `processBatch` after a batch) also reads the next one, in the
   * same round trip. If the run ends before that batch is handed out, its
   * entries are released: they stay pending under this consumer with their
   * delivery count restored and their idle time set to `reclaim.idle`, so
   * other consumers reclaim them at once (and this consumer, if it runs
   * again, hands them out first). `process` and `processBatch` do not read
   * ahead once they are interrupted.
   */
  readonly readAhead?: boolean | undefined
  /** taking over entries left idle by other consumers of the group (crashed ones included); `false`: never */
  readonly reclaim?: ReclaimOptions | false | undefined
  /** what goes to the dead-letter stream, and where */
  readonly deadLetter?: DeadLetterOptions | undefined
  /** the connections a run uses, and the retry of lost ones */
  readonly connection?: ConnectionOptions | undefined
}

/**
 * Reclaim (XAUTOCLAIM between batches).
 *
 * @since 0.2.0
 * @category models
 */
export interface ReclaimOptions {
  /**
   * reclaim entries idle this long from any consumer of the group (default
   * 30 s); keep it longer than `maxWait` plus the time a batch takes to process
   */
  readonly idle?: Duration.DurationInput | undefined
  /** how often a reclaim scan starts (default idle / 2, at most 5 s) */
  readonly interval?: Duration.DurationInput | undefined
}

/**
 * Dead letters: an entry delivered more than `maxDeliveries` times, larger
 * than `maxEntryBytes`, not decodable with the schema, or rejected with
 * `Message.Poison` is added to `stream` (see `DeadLetter`), then acknowledged.
 *
 * @since 0.2.0
 * @category models
 */
export interface DeadLetterOptions {
  /** where dead letters go (default `DeadLetter.defaultStream(stream)`: `<stream>:dlq`, in the stream's Cluster slot) */
  readonly stream?: string | undefined
  /** an entry delivered more times than this goes to the dead-letter stream (>= 1, default 5) */
  readonly maxDeliveries?: number | undefined
  /**
   * the largest entry handed to you, in bytes of field names and values
   * (UTF-8); a larger one goes to the dead-letter stream (metadata only: its
   * fields stay in the source stream). Default 16 MiB.
   */
  readonly maxEntryBytes?: number | undefined
}

/**
 * Connections of a run of batches.
 *
 * @since 0.2.0
 * @category models
 */
export interface ConnectionOptions {
  /**
   * Read and acknowledge on the backend's connection (default false: while
   * `batches` runs, the Consumer has a connection of its own for everything
   * but blocking reads, a `StreamsBackend.lane`, so consumers in one process
   * do not queue behind each other's replies or a Monitor's scans; a lane
   * that cannot be opened leaves the run on the backend's connection, with a
   * warning). Blocking reads always have one more connection, per run.
   */
  readonly shared?: boolean | undefined
  /**
   * retry policy for lost connections while consuming (default: exponential
   * from 100 ms to 5 s, forever); the error reaches you when it gives up
   */
  readonly reconnect?: Schedule.Schedule<unknown, BackendError> | undefined
}

/**
 * The defaults of `Options` and `ProcessOptions`, in milliseconds and counts.
 *
 * @since 0.2.0
 * @category constructors
 */
export const defaults: {
  readonly blockTimeMs: number
  readonly claimIdleMs: number
  readonly maxClaimIntervalMs: number
  readonly maxDeliveries: number
  readonly shutdownTimeoutMs: number
  readonly maxEntryBytes: number
  readonly concurrency: number
  readonly ackDelayMs: number
} = { ...internalOptions.defaults, concurrency: 1, ackDelayMs: internal.DEFAULT_ACK_DELAY_MS }

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
 * `process` keeps `concurrency` handlers busy across batch boundaries: it
 * reads up to `batchSize` entries at a time and holds at most `concurrency +
 * prefetch` messages (running or waiting for a slot); it reads again once at
 * most `prefetch / 2` are waiting, so a slow message never idles the others.
 * It does not wait for a batch to fill: a message starts as soon as it is
 * read and a slot is free (`maxWait` shapes `batches` and `processBatch`).
 * Messages start in the order they were read; with `concurrency: 1` they are
 * handled one after another in that order.
 *
 * Successes are acknowledged together: on the next read (XACK and
 * XREADGROUP in one write), or at most `ackDelay` after the handler returned
 * (plus a round trip) when no read comes first.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProcessOptions {
  /** handlers running at once (default 1); `"unbounded"`: as many as a batch holds (`batchSize`) */
  readonly concurrency?: number | "unbounded" | undefined
  /** messages read ahead of the running ones, waiting for a slot (default `batchSize`; 0 reads only for free slots) */
  readonly prefetch?: number | undefined
  /** the longest a success waits for its acknowledgement to ride on a read (default 20 ms) */
  readonly ackDelay?: Duration.DurationInput | undefined
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
   * Run `handler` for every message, `concurrency` at a time, always busy
   * (see `ProcessOptions`); acknowledge successes together; leave failures
   * pending for redelivery (a `Message.Poison` failure goes to the
   * dead-letter stream at once). Runs until interrupted or a failure it
   * cannot retry (the group deleted without `recreateGroup`, a permission
   * refused, the reconnect policy exhausted). On interruption it stops
   * reading at once and starts no handler; running handlers finish within
   * `shutdownTimeout` (then they are interrupted and stay pending); successes
   * are acknowledged; messages read and not started are released (pending,
   * reclaimable at once). A failure ends it the same way, then fails with
   * the error. Fails with `InvalidOptions` for invalid `options`.
   */
  readonly process: <E, R>(
    handler: (message: Message<A>) => Effect.Effect<unknown, E, R>,
    options?: ProcessOptions
  ) => Effect.Effect<never, ConsumerError | InvalidOptions, R>
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
export const defaultName: () => string = internalOptions.defaultName

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
  <A, I, R>(options: Options<A, I, R> & { readonly schema: Schema.Schema<A, I, R> }): Effect.Effect<
    Service<A>,
    InvalidOptions | BackendError,
    StreamsBackend | Scope.Scope | R
  >
  (options: Options): Effect.Effect<
    Service<Record<string, string>>,
    InvalidOptions | BackendError,
    StreamsBackend | Scope.Scope
  >
} = internal.make as any

/**
 * Where the workers of an application report a failure they cannot recover
 * from. `launch` provides it; `layerWorker` needs it, so a worker cannot be
 * started where its failure would go unnoticed.
 *
 * @since 0.2.0
 * @category workers
 */
export class Workers extends Context.Tag("effect-redis-streams/Consumer/Workers")<Workers, {
  /** failed with the first worker's failure */
  readonly failed: Deferred.Deferred<never, ConsumerError | InvalidOptions>
}>() {}

/**
 * Run `process(handler, options)` on the Consumer of `tag` for as long as
 * the application runs, as a layer beside the others (an HTTP server, say).
 * A failure the worker cannot recover from (the group deleted without
 * `recreateGroup`, a permission refused, the reconnect policy exhausted) is
 * logged and ends the application: `launch` fails with it, and
 * `NodeRuntime.runMain` exits with code 1. Closing the layer's scope stops
 * the worker gracefully (see `Service.process`).
 *
 * ```ts
 * const Worker = Consumer.layerWorker(Consumer.Consumer, (message) => Effect.log(message.id), { concurrency: 10 })
 * const App = Layer.mergeAll(HttpLive, Worker).pipe(Layer.provide(ConsumerLive), Layer.provide(BackendLive))
 * Consumer.launch(App).pipe(NodeRuntime.runMain)
 * ```
 *
 * @since 0.2.0
 * @category workers
 */
export const layerWorker = <Id, A, E, R>(
  tag: Context.Tag<Id, Service<A>>,
  handler: (message: Message<A>) => Effect.Effect<unknown, E, R>,
  options?: ProcessOptions
): Layer.Layer<never, never, Id | R | Workers> =>
  Layer.scopedDiscard(Effect.gen(function*() {
    const consumer = yield* tag
    const workers = yield* Workers
    yield* Effect.forkScoped(
      consumer.process(handler, options).pipe(
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause) ? Effect.void : Effect.zipRight(
            Effect.logError(`the worker of "${consumer.group}" on "${consumer.stream}" stopped`, cause),
            Deferred.failCause(workers.failed, cause)
          )
        )
      )
    )
  }))

/**
 * Like `Layer.launch`: build the application's layer and keep it running
 * until interrupted, or until one of its workers (`layerWorker`) fails: then
 * close the layer (every other worker stops gracefully) and fail with that
 * worker's error.
 *
 * @since 0.2.0
 * @category workers
 */
export const launch = <E, R>(
  layer: Layer.Layer<never, E, R>
): Effect.Effect<never, E | ConsumerError | InvalidOptions, Exclude<R, Workers>> =>
  Effect.scoped(Effect.gen(function*() {
    const failed = yield* Deferred.make<never, ConsumerError | InvalidOptions>()
    yield* Effect.provideService(Layer.build(layer), Workers, { failed })
    return yield* Deferred.await(failed)
  })) as Effect.Effect<never, E | ConsumerError | InvalidOptions, Exclude<R, Workers>>

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
export const layerAs = <Id, A, I, R>(
  tag: Context.Tag<Id, Service<A>>,
  options: Options<A, I, R> & { readonly schema: Schema.Schema<A, I, R> }
): Layer.Layer<Id, InvalidOptions | BackendError, StreamsBackend | R> => Layer.scoped(tag, make(options))

/**
 * The options that can come from configuration (everything but the schema
 * and the reconnect policy).
 *
 * @since 0.1.0
 * @category models
 */
export type ConfigOptions = Omit<Options, "schema" | "encoding" | "startFrom" | "reclaim" | "connection"> & {
  /** "beginning", "new" or an id */
  readonly startFrom?: string | undefined
  readonly reclaim?: ReclaimOptions | undefined
  readonly connection?: { readonly shared?: boolean | undefined } | undefined
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
  Layer.scoped(Consumer, Effect.flatMap(ConfigNs.unwrap(config), (read) => make(fromConfig(read))))

const fromConfig = ({ startFrom, ...rest }: ConfigOptions): Options => ({
  ...rest,
  startFrom: startFrom === undefined || startFrom === "beginning" || startFrom === "new" ? startFrom : { id: startFrom }
})

/**
 * A layer for your own (typed) Consumer tag, its options read through
 * `Config`; the schema (and its encoding, and the reconnect policy) are
 * given in code:
 *
 * ```ts
 * Consumer.layerConfigAs(Billing, Order, {
 *   stream: Config.string("STREAM"),
 *   group: Config.string("GROUP"),
 *   batchSize: Config.integer("BATCH_SIZE").pipe(Config.withDefault(100)),
 *   maxWait: Config.duration("MAX_WAIT").pipe(Config.withDefault(Duration.seconds(1)))
 * })
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerConfigAs = <Id, A, I, R>(
  tag: Context.Tag<Id, Service<A>>,
  schema: Schema.Schema<A, I, R>,
  config: Config.Config.Wrap<ConfigOptions>,
  options?: {
    readonly encoding?: "fields" | "json" | undefined
    readonly reconnect?: Schedule.Schedule<unknown, BackendError> | undefined
  }
): Layer.Layer<Id, InvalidOptions | BackendError | ConfigError.ConfigError, StreamsBackend | R> =>
  Layer.scoped(
    tag,
    Effect.flatMap(ConfigNs.unwrap(config), (read) =>
      make({
        ...fromConfig(read),
        schema,
        encoding: options?.encoding,
        connection: { ...read.connection, reconnect: options?.reconnect }
      }))
  )

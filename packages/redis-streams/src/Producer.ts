/**
 * The Producer: adds messages to a stream, one at a time or many in one
 * pipelined round trip, with optional trimming.
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Producer } from "effect-redis-streams"
 *
 * const program = Effect.gen(function*() {
 *   const producer = yield* Producer.make({ stream: "orders", trim: { maxlen: 10_000 } })
 *   const id = yield* producer.add({ message: "stuff goes here" })
 * })
 * ```
 *
 * Payloads: without a schema a message is a map of string fields, stored as
 * the entry's fields (readable by any Redis client). With a `Schema`, values
 * are encoded first: a schema whose encoded form is a struct of strings is
 * stored field by field, anything else as JSON in one field named `data`
 * (override with `encoding`). A value that does not encode fails with
 * `MessageEncodeError` before anything is sent.
 *
 * Trace context: when a span is active, its W3C context is written into the
 * reserved fields `traceparent` and `tracestate` (turn off with
 * `traceContext: false`); a message's own fields of those names are dropped
 * by the Consumer's decoding. Metrics: `redis_streams_producer_messages_added_total`
 * and `redis_streams_producer_add_duration_seconds` (see `Metrics`).
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import type * as Schema from "effect/Schema"
import * as Codec from "./internal/codec.js"
import * as TraceContext from "./internal/traceContext.js"
import * as Metrics from "./Metrics.js"
import { spanned } from "./internal/tracing.js"
import * as O from "./internal/options.js"
import { type Fields, StreamsBackend, type Trim } from "./StreamsBackend.js"
import { type BackendError, InvalidOptions, MessageEncodeError } from "./StreamsError.js"

/**
 * Trimming applied with every add: `maxlen` keeps about that many entries
 * (approximate `~` by default, as the seed's `maxlen`; `approximate: false`
 * for exact), `minid` drops entries with smaller ids.
 *
 * Trimming deletes entries whether or not a group has read or acknowledged
 * them: size it well above the backlog you expect.
 *
 * @since 0.1.0
 * @category models
 */
export type TrimOptions =
  | {
    readonly maxlen: number
    readonly approximate?: boolean | undefined
    readonly limit?: number | undefined
  }
  | {
    readonly minid: string
    readonly approximate?: boolean | undefined
    readonly limit?: number | undefined
  }

/**
 * Producer options.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<A = Record<string, string>, I = unknown, R = never> {
  /** the stream to add to */
  readonly stream: string
  /**
   * typed payloads; without it messages are field maps. A schema that
   * requires services (`R`) makes the Producer require them too; its
   * transformations must run synchronously.
   */
  readonly schema?: Schema.Schema<A, I, R> | undefined
  /** override how encoded values are stored: field by field, or JSON in the `data` field */
  readonly encoding?: "fields" | "json" | undefined
  /** trim the stream on every add (XADD MAXLEN / MINID) */
  readonly trim?: TrimOptions | undefined
  /** do not create a missing stream; `add` fails with `StreamNotFound` instead */
  readonly noMkStream?: boolean | undefined
  /**
   * write the active span's W3C trace context into the reserved fields
   * `traceparent` and `tracestate` (after the message's own fields, never
   * inside a Schema's body; decoding skips them), so the Consumer's handler
   * span can join the producer's trace; default true. Nothing is written when
   * no span is active.
   */
  readonly traceContext?: boolean | undefined
}

/**
 * Failures of the Producer.
 *
 * @since 0.1.0
 * @category errors
 */
export type ProducerError = BackendError | MessageEncodeError

/**
 * The Producer service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service<A> {
  readonly stream: string
  /**
   * add one message; returns its id. On Redis, adds made in the same tick
   * (from many fibers at once) are sent together, as one Lua script per run
   * of adds (applied atomically together; XADDs where scripts are refused);
   * each still gets its own id or error, in call order.
   */
  readonly add: (message: A) => Effect.Effect<string, ProducerError>
  /**
   * add many messages in order, in chunks (on Redis one Lua script per 250
   * messages, applied atomically, 8 chunks per round trip; pipelines of
   * 1,000 where scripts are refused); returns their ids in order. Every
   * message is encoded before anything is sent, so an encoding failure sends
   * nothing.
   */
  readonly addAll: (messages: Iterable<A>) => Effect.Effect<ReadonlyArray<string>, ProducerError>
}

/**
 * The default Producer tag, for field-map messages. For a typed producer,
 * declare your own tag over `Service<A>` and build it with `layerAs`.
 *
 * @since 0.1.0
 * @category tags
 */
export class Producer extends Context.Tag("effect-redis-streams/Producer")<Producer, Service<Record<string, string>>>() {}

const toTrim = (trim: TrimOptions): Trim =>
  "maxlen" in trim
    ? { strategy: "maxlen", threshold: trim.maxlen, approximate: trim.approximate ?? true, limit: trim.limit }
    : { strategy: "minid", threshold: trim.minid, approximate: trim.approximate ?? true, limit: trim.limit }

const P = "Producer"

const validate = (options: Options<any, any, any>): Effect.Effect<void, InvalidOptions> =>
  Effect.gen(function*() {
    yield* O.nonEmptyString(P, "stream", options.stream)
    yield* O.encoding(P, options.encoding)
    if (options.traceContext !== undefined && typeof options.traceContext !== "boolean") {
      return yield* O.invalid(P, "traceContext", options.traceContext, "true or false")
    }
    const trim = options.trim
    if (trim === undefined) return
    if ("maxlen" in trim) yield* O.integer(P, "trim.maxlen", trim.maxlen, undefined, 0)
    else if (!O.isStreamId(trim.minid)) {
      return yield* O.invalid(P, "trim.minid", trim.minid, `a stream id like "1700000000000-0"`)
    }
    if (trim.limit !== undefined) {
      yield* O.integer(P, "trim.limit", trim.limit, undefined, 0)
      if (trim.approximate === false) {
        return yield* O.invalid(P, "trim.limit", trim.limit, "a limit only with approximate trimming")
      }
    }
  })

/**
 * Build a Producer on the `StreamsBackend` in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: {
  <A, I, R>(options: Options<A, I, R> & { readonly schema: Schema.Schema<A, I, R> }): Effect.Effect<
    Service<A>,
    InvalidOptions,
    StreamsBackend | R
  >
  (options: Options): Effect.Effect<Service<Record<string, string>>, InvalidOptions, StreamsBackend>
} = (options: Options<any, any, any>): Effect.Effect<Service<any>, InvalidOptions, StreamsBackend> =>
  Effect.gen(function*() {
    yield* validate(options)
    const backend = yield* StreamsBackend
    const codec: Codec.Codec<any> = options.schema === undefined
      ? Codec.recordCodec
      : Codec.make(options.schema, options.encoding, yield* Effect.runtime<any>())
    const stream = options.stream
    const addOptions = {
      trim: options.trim === undefined ? undefined : toTrim(options.trim),
      noMkStream: options.noMkStream
    }
    const attributes = { "messaging.system": "redis", "messaging.destination.name": stream }
    const encodeOne = (message: unknown): Either.Either<Fields, MessageEncodeError> => {
      const encoded = codec.encode(message)
      // a success is passed on as it is (addAll encodes every message: no second object per message)
      if (Either.isRight(encoded)) return encoded as unknown as Either.Either<Fields, MessageEncodeError>
      return Either.left(
        new MessageEncodeError({ stream, message: `cannot encode a message for stream "${stream}": ${encoded.left}` })
      )
    }

    const instruments = Metrics.producer(stream)
    const traced = options.traceContext !== false
    /** the trace fields to append: the active span's context when tracing is on and a span is active */
    const traceOf = (context: Context.Context<never>) => traced ? TraceContext.fromContext(context) : undefined

    // one primitive per call for the context (trace) and the start time; the duration and count are
    // recorded on success in one map (a failed call is seen through its error instead)
    const add = (message: unknown) =>
      Effect.contextWithEffect((context: Context.Context<never>): Effect.Effect<string, ProducerError> => {
        const start = performance.now()
        const fields = encodeOne(message)
        if (Either.isLeft(fields)) return Effect.fail(fields.left)
        const trace = traceOf(context)
        const sent = trace === undefined ? fields.right : TraceContext.withTraceFields(fields.right, trace)
        return Effect.map(backend.add(stream, sent, addOptions), (id) => {
          instruments.added(1)
          instruments.addDuration("add", (performance.now() - start) / 1000)
          return id
        })
      }).pipe((effect) => spanned(effect, "Producer.add", attributes, "producer"))

    const addAll = (messages: Iterable<unknown>) =>
      Effect.contextWithEffect((context: Context.Context<never>): Effect.Effect<ReadonlyArray<string>, ProducerError> => {
        const start = performance.now()
        const all = new Array<Fields>()
        for (const message of messages) {
          const fields = encodeOne(message)
          if (Either.isLeft(fields)) {
            return Effect.fail(
              new MessageEncodeError({
                stream,
                message: `${fields.left.message} (message #${all.length}; nothing was sent)`
              })
            )
          }
          all.push(fields.right)
        }
        if (all.length === 0) return Effect.succeed([] as ReadonlyArray<string>)
        const trace = traceOf(context)
        if (trace !== undefined) for (let i = 0; i < all.length; i++) all[i] = TraceContext.withTraceFields(all[i]!, trace)
        return Effect.map(backend.addMany(stream, all, addOptions), (ids) => {
          instruments.added(ids.length)
          instruments.addDuration("addAll", (performance.now() - start) / 1000)
          return ids
        })
      }).pipe((effect) => spanned(effect, "Producer.addAll", attributes, "producer"))

    return { stream, add, addAll }
  })

/**
 * The default Producer layer (field-map messages).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<Producer, InvalidOptions, StreamsBackend> =>
  Layer.effect(Producer, make(options))

/**
 * A layer for your own (typed) Producer tag.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerAs = <Id, A, I, R>(
  tag: Context.Tag<Id, Service<A>>,
  options: Options<A, I, R> & { readonly schema: Schema.Schema<A, I, R> }
): Layer.Layer<Id, InvalidOptions, StreamsBackend | R> => Layer.effect(tag, make(options))

/**
 * A layer for your own (typed) Producer tag, its options read through
 * `Config` (the schema and encoding are given in code):
 * `Producer.layerConfigAs(Orders, Order, { stream: Config.string("STREAM") })`.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerConfigAs = <Id, A, I, R>(
  tag: Context.Tag<Id, Service<A>>,
  schema: Schema.Schema<A, I, R>,
  config: Config.Config.Wrap<Omit<Options, "schema" | "encoding">>,
  options?: { readonly encoding?: "fields" | "json" | undefined }
): Layer.Layer<Id, InvalidOptions | ConfigError.ConfigError, StreamsBackend | R> =>
  Layer.effect(
    tag,
    Effect.flatMap(Config.unwrap(config), (read) => make({ ...read, schema, encoding: options?.encoding }))
  )

/**
 * The default Producer layer (field-map messages), its options read through
 * `Config`, e.g. `Producer.layerConfig({ stream: Config.string("STREAM") })`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<Omit<Options, "schema" | "encoding">>
): Layer.Layer<Producer, InvalidOptions | ConfigError.ConfigError, StreamsBackend> =>
  Layer.effect(Producer, Effect.flatMap(Config.unwrap(config), (options) => make(options)))

/**
 * The `StreamsBackend` port over Redis (ioredis), on a `RedisConnection`.
 *
 * ```ts
 * import { Effect, Redacted } from "effect"
 * import { RedisBackend, StreamsBackend } from "effect-redis-streams"
 *
 * const program = Effect.gen(function*() {
 *   const backend = yield* StreamsBackend.StreamsBackend
 *   const id = yield* backend.add("orders", ["message", "stuff goes here"])
 * })
 *
 * program.pipe(Effect.provide(RedisBackend.layerRedis({ url: Redacted.make("redis://localhost:6379") })))
 * ```
 *
 * Redis semantics, exactly: every operation is the Redis command the port
 * names. A few details:
 * - `addMany` sends its XADDs pipelined (chunks of 1,000 commands, all
 *   written before any reply is read: one round trip), ids in order. If one
 *   XADD fails the others still apply; the first failure is reported.
 * - `ackAndDelete` is MULTI XACK XDEL EXEC (one round trip, atomic).
 * - `ack`, `ackAndDelete`, `delete`, `claim`, `claimJustId` with no ids return
 *   0 / `[]` without a round trip (Redis would reject the empty command).
 * - `createGroup` returns `false` on BUSYGROUP.
 * - Errors: NOGROUP -> `GroupNotFound`, WRONGTYPE -> `WrongKeyType`, a missing
 *   stream (XINFO, XGROUP, NOMKSTREAM) -> `StreamNotFound`, other error
 *   replies -> `RedisCommandError` with Redis's reply, lost connections and
 *   timeouts -> `RedisConnectionError` (naming the connection: main, lane N,
 *   blocking reader N, and when it was replaced), a connection ended for good
 *   (a `fromClient` client, or one that could not be rebuilt) ->
 *   `ConnectionEnded`.
 * - `deleteConsumerIfIdle` runs one Lua script (EVALSHA, EVAL on NOSCRIPT).
 * - `blockingReader` opens a dedicated connection (`RedisConnection.duplicate`);
 *   interrupting a blocked read sends CLIENT UNBLOCK from the main connection
 *   and returns within a round trip; a read that does not settle within
 *   `blockMs + max(1 s, blockMs / 2)` fails with `RedisConnectionError` and its
 *   connection is replaced.
 * - Spans: every operation runs in a span `RedisStreams.<operation>` with
 *   `messaging.system = "redis"` and `messaging.destination.name = <stream>`
 *   when a tracer is installed (OpenTelemetry, DevTools, any custom `Tracer`).
 *   With Effect's default tracer, which exports nothing, no span is created:
 *   one costs tens of microseconds, a visible share of a local XREADGROUP.
 * - Every operation is bounded by the connection's `commandTimeout` (one timer
 *   per operation, also for a pipelined batch) and then fails with
 *   `RedisConnectionError`.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as internal from "./internal/redisBackend.js"
import * as RedisConnection from "./RedisConnection.js"
import { type Service, StreamsBackend } from "./StreamsBackend.js"
import type { InvalidOptions, RedisConnectionError } from "./StreamsError.js"

/**
 * The Redis backend over the `RedisConnection` in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, RedisConnection.RedisConnection> = Effect.map(
  RedisConnection.RedisConnection,
  internal.make
)

/**
 * The Redis backend as a layer; needs a `RedisConnection`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<StreamsBackend, never, RedisConnection.RedisConnection> = Layer.effect(
  StreamsBackend,
  make
)

/**
 * The Redis backend and its connection from options, in one layer providing
 * both `StreamsBackend` and `RedisConnection`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerRedis = (
  options?: RedisConnection.Options
): Layer.Layer<StreamsBackend | RedisConnection.RedisConnection, RedisConnectionError | InvalidOptions> =>
  Layer.provideMerge(layer, RedisConnection.layer(options))

/**
 * The Redis backend and its connection, options read from `Config`:
 * `layerConfig({ url: Config.redacted("REDIS_URL") })`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<RedisConnection.Options>
): Layer.Layer<
  StreamsBackend | RedisConnection.RedisConnection,
  RedisConnectionError | InvalidOptions | ConfigError.ConfigError
> => Layer.provideMerge(layer, RedisConnection.layerConfig(config))

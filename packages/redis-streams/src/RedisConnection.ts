/**
 * The connection to Redis: one scoped ioredis client (standalone, Sentinel or
 * Cluster), connected when the layer is built, plus dedicated connections on
 * demand for blocking reads.
 *
 * ```ts
 * import { Config, Effect, Redacted } from "effect"
 * import { RedisConnection } from "effect-redis-streams"
 *
 * // from options
 * const live = RedisConnection.layer({ url: Redacted.make("redis://localhost:6379") })
 *
 * // from the environment (REDIS_URL may carry a password: read it as Redacted)
 * const fromEnv = RedisConnection.layerConfig({ url: Config.redacted("REDIS_URL") })
 *
 * const program = Effect.gen(function*() {
 *   const connection = yield* RedisConnection.RedisConnection
 *   yield* Effect.log(`connected to ${connection.endpoint}, Redis ${connection.serverVersion}`)
 * })
 * ```
 *
 * Behaviour:
 * - The layer connects when it is built, within `connectTimeout` (5 s by
 *   default). An unreachable server fails the layer with
 *   `RedisConnectionError` naming host and port (never a password), and no
 *   client is left retrying in the background.
 * - After a successful connect the main client reconnects by itself (backoff
 *   100 ms, 200 ms, ... up to 2 s, forever), so a Redis restart is survived.
 *   Commands sent while it is disconnected wait in ioredis's offline queue but
 *   never for long: they fail with `RedisConnectionError` after 3 failed
 *   reconnection attempts (under a second, `maxRetriesPerRequest: 3`). Every
 *   operation of `RedisBackend` is also bounded by `commandTimeout` (10 s by
 *   default; one timer per operation, so a pipelined batch of 1,000 XADDs
 *   costs one timer, not 1,000). ioredis's own per-command `commandTimeout` is
 *   not set on `client`: pass `ioredis: { commandTimeout }` if you send
 *   commands on it directly. A command in flight when the connection drops is
 *   sent again after the reconnection (ioredis's
 *   `autoResendUnfulfilledCommands`), so an XADD may, rarely, be applied twice:
 *   delivery is at least once.
 * - An operation of `RedisBackend` that gets no reply within `commandTimeout`
 *   resets the main connection (a silent network drop leaves a socket open
 *   forever): the commands after it run on a fresh connection.
 * - Sentinel connections follow Sentinel's `+switch-master` announcement
 *   (ioredis `failoverDetector`, on by default; `ioredis: { failoverDetector:
 *   false }` turns it off) and reconnect to the new master by themselves.
 * - A connection that ends for good (ioredis status `"end"`: its failover
 *   detector can leave a Sentinel client so when Sentinel switches during a
 *   reconnection attempt) is replaced by a new one built from the same
 *   options, with backoff (100 ms growing to 2 s), at most `rebuildAttempts`
 *   times (30 by default): the main connection, each lane (`sibling`), and
 *   each blocking reader's dedicated connection (on its next read), with
 *   Sentinel, Cluster and standalone alike. Operations sent meanwhile fail
 *   with `RedisConnectionError` naming the connection ("on the main
 *   connection \"app\", which ended at ... and is being rebuilt"; later
 *   failures say when it was replaced), which a Consumer's reconnect policy
 *   retries; once the attempts are used up they fail with `ConnectionEnded`,
 *   which it does not. `connections` lists them.
 * - A client given to `fromClient` is never rebuilt (it is the caller's):
 *   once it has ended, operations on it fail with `ConnectionEnded`.
 * - A database the server does not have (`db`, or `/db` in the URL) fails
 *   the layer with `InvalidOptions` naming it (ioredis only emits an event,
 *   and commands would go to database 0).
 * - What ioredis prints on the console while connecting (a password the
 *   server does not need, a ready check refused by ACL) is logged through
 *   Effect's logger at warning level instead.
 * - Dedicated connections (`duplicate`) have no command timeout (a blocking
 *   read must be allowed to block) and no reconnection: a lost dedicated
 *   connection fails its pending command at once, and its owner opens a new
 *   one. The blocking reader of `RedisBackend` adds its own stall detection.
 * - Closing the scope quits every connection it opened (QUIT bounded by
 *   `quitTimeout`, 1 s by default, then a hard disconnect).
 * - Connection errors and reconnections are logged through Effect's logger
 *   (annotated `package`, `module`, `endpoint`), never on the console.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type { Cluster, ClusterOptions, Redis, RedisOptions } from "ioredis"
import type * as Tls from "node:tls"
import * as internal from "./internal/redisConnection.js"
import type { InvalidOptions, RedisConnectionError } from "./StreamsError.js"

/**
 * A Redis endpoint.
 *
 * @since 0.1.0
 * @category models
 */
export interface HostAndPort {
  readonly host: string
  readonly port: number
}

/**
 * Connection options.
 *
 * Standalone: `url` and/or `host`/`port`/`username`/`password`/`db`/`tls`
 * (explicit fields override what the URL says; default `localhost:6379`).
 * Sentinel: `sentinels` + `name` (+ `sentinelPassword`). Cluster: `cluster`.
 * `url` cannot be combined with `sentinels` or `cluster`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * `redis://[[username]:password@]host[:port][/db]`, or `rediss://` for TLS.
   * Pass it as `Redacted` when it carries a password. Query parameters are
   * ignored.
   */
  readonly url?: string | Redacted.Redacted<string> | undefined
  readonly host?: string | undefined
  readonly port?: number | undefined
  /** ACL user (Redis 6+) */
  readonly username?: string | undefined
  readonly password?: Redacted.Redacted<string> | undefined
  readonly db?: number | undefined
  /** `true` for TLS with Node's defaults, or Node's TLS options (CA, client certificate, servername, ...) */
  readonly tls?: boolean | Tls.ConnectionOptions | undefined
  /** Sentinel addresses; requires `name` */
  readonly sentinels?: ReadonlyArray<HostAndPort> | undefined
  /** the Sentinel master group name */
  readonly name?: string | undefined
  readonly sentinelUsername?: string | undefined
  readonly sentinelPassword?: Redacted.Redacted<string> | undefined
  /** Redis Cluster startup nodes, and ioredis cluster options */
  readonly cluster?: {
    readonly nodes: ReadonlyArray<HostAndPort>
    readonly options?: ClusterOptions | undefined
  } | undefined
  /** bound on connecting (TCP, TLS, AUTH, ready check), default 5 seconds */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /**
   * bound on every non-blocking operation of `RedisBackend`, default 10
   * seconds; `Duration.infinity` disables it (not recommended: an operation
   * could then wait for as long as the server is unreachable)
   */
  readonly commandTimeout?: Duration.DurationInput | undefined
  /** bound on QUIT when the scope closes before the connection is dropped, default 1 second */
  readonly quitTimeout?: Duration.DurationInput | undefined
  /** CLIENT SETNAME of every connection (no spaces) */
  readonly connectionName?: string | undefined
  /**
   * How many times a connection that has ended for good (ioredis status
   * `"end"`, see the module documentation) is rebuilt before operations on it
   * fail with `ConnectionEnded`; default 30 (about 40 s of backoff, 100 ms
   * growing to 2 s, plus each attempt's connect). 0 never rebuilds.
   *
   * @since 0.2.0
   */
  readonly rebuildAttempts?: number | undefined
  /**
   * Escape hatch: extra ioredis options, applied over this module's defaults
   * (so `maxRetriesPerRequest`, `retryStrategy`, `keepAlive`... can be
   * changed). `lazyConnect` is always managed by this module. For a cluster
   * they apply to every node connection.
   */
  readonly ioredis?: RedisOptions | undefined
}

/**
 * One connection a `RedisConnection` holds, as `Service.connections` lists it.
 *
 * @since 0.2.0
 * @category models
 */
export interface ConnectionInfo {
  /** `"main"`, `"lane 2"` (a Consumer run's own connection), `"blocking reader 1"` */
  readonly role: string
  /** the `connectionName` option (CLIENT SETNAME), if any */
  readonly connectionName: string | undefined
  /** the current client (a new one after each replacement) */
  readonly client: Redis | Cluster
  /**
   * ioredis's status of the current client (`"ready"`, `"reconnecting"`,
   * ...), `"rebuilding"` while an ended connection is being replaced, and
   * `"failed"` once it could not be (operations fail with `ConnectionEnded`)
   */
  readonly status: string
  /** when the connection was last replaced by a new one */
  readonly replacedAt: Date | undefined
  /** how many times it was replaced */
  readonly replacements: number
}

/**
 * The connection service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * the main client, for non-blocking commands; shared, never use it for
   * blocking reads. It is replaced by a new one when it ends (see the module
   * documentation): read it when you use it, do not keep it.
   */
  readonly client: Redis | Cluster
  /** `"host:port"`, or a description of the Sentinel / Cluster endpoints; never a password */
  readonly endpoint: string
  /** `redis_version` of INFO server, read once when connected (`"unknown"` if INFO is not allowed) */
  readonly serverVersion: string
  /** the bound on non-blocking operations (`Duration.infinity` when disabled) */
  readonly commandTimeout: Duration.Duration
  /**
   * `true` when this layer created the client (it resets a connection whose
   * command timed out, and quits it with the scope); `false` for a client
   * given to `fromClient`, which is left to its owner
   */
  readonly owned: boolean
  /**
   * A new dedicated connection with the same options, connected, closed when
   * the scope closes: no command timeout, and (standalone, Sentinel) no
   * reconnection and no offline queue (see the module documentation). A
   * Cluster duplicate keeps ioredis's cluster reconnection. Used for blocking
   * reads.
   */
  readonly duplicate: Effect.Effect<Redis | Cluster, RedisConnectionError, Scope.Scope>
  /**
   * A new connection like the main one (standalone or Sentinel: the same
   * options, reconnection and offline queue included; this layer's command
   * timeout applies to what the backend sends on it), connected, quit when the
   * scope closes, as a service of its own whose `client` is rebuilt when it
   * ends, like the main one. The Redis backend opens one per lane (see
   * `StreamsBackend.lane`): a Consumer reads and acknowledges on a connection
   * of its own while it runs. Fails for a Cluster client, whose lanes use the
   * main client.
   *
   * Since 0.2.0 a `Service` (it was the bare client).
   */
  readonly sibling: Effect.Effect<Service, RedisConnectionError, Scope.Scope>
  /**
   * The connections this layer holds now: the main one, each open lane and
   * each blocking reader's, with their status and when they were last
   * replaced.
   *
   * @since 0.2.0
   */
  readonly connections: Effect.Effect<ReadonlyArray<ConnectionInfo>>
}

/**
 * The connection tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class RedisConnection extends Context.Tag("effect-redis-streams/RedisConnection")<RedisConnection, Service>() {}

/**
 * Validate the options, create the client and connect; the scope quits it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options?: Options) => Effect.Effect<Service, RedisConnectionError | InvalidOptions, Scope.Scope> =
  internal.make

/**
 * Wrap a client the caller owns (a `Redis` or a `Cluster`). It is not quit
 * when the scope closes; connections opened by `duplicate` are. Reads the
 * server version (connecting the client if it was created with
 * `lazyConnect`), bounded by `connectTimeout` (default 5 s). `commandTimeout`
 * (default 10 s) bounds the backend's operations as with `make`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromClient: (
  client: Redis | Cluster,
  options?: {
    readonly connectTimeout?: Duration.DurationInput | undefined
    readonly commandTimeout?: Duration.DurationInput | undefined
    readonly quitTimeout?: Duration.DurationInput | undefined
  }
) => Effect.Effect<Service, RedisConnectionError | InvalidOptions, Scope.Scope> = internal.fromClient

/**
 * The connection as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<RedisConnection, RedisConnectionError | InvalidOptions> =>
  Layer.scoped(RedisConnection, make(options))

/**
 * The connection as a layer, its options read from `Config`:
 * `layerConfig({ url: Config.redacted("REDIS_URL") })`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options>
): Layer.Layer<RedisConnection, RedisConnectionError | InvalidOptions | ConfigError.ConfigError> =>
  Layer.scoped(RedisConnection, Effect.flatMap(Config.unwrap(config), make))

/**
 * A layer over a client the caller owns (see `fromClient`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromClient = (
  client: Redis | Cluster,
  options?: {
    readonly connectTimeout?: Duration.DurationInput | undefined
    readonly commandTimeout?: Duration.DurationInput | undefined
    readonly quitTimeout?: Duration.DurationInput | undefined
  }
): Layer.Layer<RedisConnection, RedisConnectionError | InvalidOptions> =>
  Layer.scoped(RedisConnection, fromClient(client, options))

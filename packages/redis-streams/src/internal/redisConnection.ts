/**
 * RedisConnection: options, client creation, connect / quit, dedicated
 * connections, and routing ioredis events to Effect's logger.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import { Cluster, Redis } from "ioredis"
import type { ClusterOptions, RedisOptions } from "ioredis"
import type * as Tls from "node:tls"
import type { ConnectionInfo, HostAndPort, Options, Service } from "../RedisConnection.js"
import { InvalidOptions, RedisConnectionError } from "../StreamsError.js"
import { isReplyError, parseServerVersion } from "./replies.js"
import * as O from "./options.js"
import * as Recovery from "./redisRecovery.js"

/** @internal */
export type Client = Redis | Cluster

const DEFAULT_CONNECT_TIMEOUT_MS = 5000
const DEFAULT_COMMAND_TIMEOUT_MS = 10_000
const DEFAULT_QUIT_TIMEOUT_MS = 1000
/** rebuild attempts of an ended connection: about 40 s of backoff (100 ms growing to 2 s) plus the connects */
const DEFAULT_REBUILD_ATTEMPTS = 30
/** commands queued while the main client is disconnected fail after this many failed reconnection attempts */
const MAX_RETRIES_PER_REQUEST = 3
/** reconnection backoff of the main client: 100 ms, 200 ms, ... capped at 2 s, forever */
const retryStrategy = (times: number): number => Math.min(times * 100, 2000)

/** what `make` builds from validated options */
interface Plan {
  readonly endpoint: string
  readonly commandTimeout: Duration.Duration
  readonly secrets: ReadonlyArray<string>
  readonly connectTimeoutMs: number
  readonly quitTimeoutMs: number
  /** the database to SELECT (standalone, Sentinel) */
  readonly db: number | undefined
  readonly create: () => Client
}

// -----------------------------------------------------------------------------
// secrets
// -----------------------------------------------------------------------------

/** remove every secret from a text (secrets shorter than 4 characters are not worth mangling messages for) */
export const scrub = (text: string, secrets: ReadonlyArray<string>): string => {
  let out = text
  for (const secret of secrets) {
    if (secret.length >= 4 && out.includes(secret)) out = out.split(secret).join("<redacted>")
  }
  return out
}

/**
 * A copy of a connection failure without what ioredis attaches to errors
 * (`command.args` of an AUTH carries the password).
 */
const sanitize = (cause: unknown, secrets: ReadonlyArray<string>): Error => {
  if (!(cause instanceof Error)) return new Error(scrub(String(cause), secrets))
  const copy = new Error(scrub(cause.message, secrets))
  copy.name = cause.name
  for (const key of ["code", "errno", "syscall", "address", "port"] as const) {
    const value = (cause as unknown as Record<string, unknown>)[key]
    if (value !== undefined) (copy as unknown as Record<string, unknown>)[key] = value
  }
  return copy
}

// -----------------------------------------------------------------------------
// options
// -----------------------------------------------------------------------------

const invalid = (option: string, message: string) => Effect.fail(new InvalidOptions({ option, message }))

interface UrlParts {
  readonly host: string
  readonly port: number | undefined
  readonly username: string | undefined
  readonly password: string | undefined
  readonly db: number | undefined
  readonly tls: boolean
}

const parseUrl = (raw: string): Effect.Effect<UrlParts, InvalidOptions> => {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    // never echo the URL: it may carry a password
    return invalid("url", "url is not a valid URL (expected redis://[[user]:password@]host[:port][/db] or rediss://...)")
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    return invalid("url", `url must start with redis:// or rediss://, got ${url.protocol}//`)
  }
  const host = url.hostname.startsWith("[") && url.hostname.endsWith("]") ? url.hostname.slice(1, -1) : url.hostname
  let port: number | undefined
  if (url.port !== "") port = Number(url.port)
  let db: number | undefined
  const path = url.pathname.replace(/^\/+/, "")
  if (path !== "") {
    if (!/^\d+$/.test(path)) return invalid("url", `the database in url must be a number, got /${path}`)
    db = Number(path)
  }
  const username = url.username !== "" ? decodeURIComponent(url.username) : undefined
  const password = url.password !== "" ? decodeURIComponent(url.password) : undefined
  return Effect.succeed({
    host: host === "" ? "localhost" : host,
    port,
    username,
    password,
    db,
    tls: url.protocol === "rediss:"
  })
}

const validateNodes = (
  option: string,
  nodes: ReadonlyArray<HostAndPort> | undefined
): Effect.Effect<ReadonlyArray<HostAndPort>, InvalidOptions> => {
  if (!Array.isArray(nodes) || nodes.length === 0) {
    return invalid(option, `${option} must list at least one { host, port }`)
  }
  return Effect.forEach(nodes, (node, i) =>
    Effect.zipRight(
      O.nonEmptyString("RedisConnection", `${option}[${i}].host`, node?.host),
      O.integer("RedisConnection", `${option}[${i}].port`, node?.port, undefined, 1, 65535)
    ).pipe(Effect.as(node)))
}

const describeNodes = (nodes: ReadonlyArray<HostAndPort>): string => nodes.map((n) => `${n.host}:${n.port}`).join(",")

const commandTimeout = (value: Duration.DurationInput | undefined): Effect.Effect<Duration.Duration, InvalidOptions> => {
  if (value !== undefined) {
    const decoded = Duration.decodeUnknown(value)
    if (decoded._tag === "Some" && !Duration.isFinite(decoded.value)) return Effect.succeed(Duration.infinity)
  }
  return Effect.map(O.durationMs("RedisConnection", "commandTimeout", value, DEFAULT_COMMAND_TIMEOUT_MS, 1), Duration.millis)
}

/** the client key and its passphrase, when given as text, are secrets too */
const tlsSecrets = (tls: object | undefined): ReadonlyArray<unknown> => {
  if (tls === undefined) return []
  const o = tls as Tls.ConnectionOptions
  const keys = Array.isArray(o.key) ? o.key : [o.key]
  return [
    o.passphrase,
    ...keys.map((k) =>
      typeof k === "string" ? k : Buffer.isBuffer(k) ? k.toString("utf8") : typeof k === "object" && k !== null && "pem" in k ? String(k.pem) : undefined
    )
  ]
}

const tlsOption = (tls: boolean | object | undefined): object | undefined =>
  tls === true ? {} : tls === false || tls === undefined ? undefined : tls

/** the options' shape: connectionName, what cannot be combined, tls and ioredis types */
const checkShape = (options: Options): Effect.Effect<void, InvalidOptions> =>
  Effect.gen(function*() {
    if (options.connectionName !== undefined) {
      yield* O.nonEmptyString("RedisConnection", "connectionName", options.connectionName)
      if (/\s/.test(options.connectionName)) {
        return yield* invalid("connectionName", "connectionName cannot contain spaces")
      }
    }
    if (options.sentinels !== undefined && options.cluster !== undefined) {
      return yield* invalid("cluster", "sentinels and cluster cannot be combined")
    }
    if (options.url !== undefined && (options.sentinels !== undefined || options.cluster !== undefined)) {
      return yield* invalid(
        "url",
        "url cannot be combined with sentinels or cluster: give the nodes there and username/password/tls separately"
      )
    }
    const tlsType = typeof options.tls
    if (options.tls !== undefined && tlsType !== "boolean" && (tlsType !== "object" || options.tls === null)) {
      return yield* invalid("tls", "tls must be a boolean or Node TLS options")
    }
    if (options.ioredis !== undefined && (typeof options.ioredis !== "object" || options.ioredis === null)) {
      return yield* invalid("ioredis", "ioredis must be an object of ioredis options")
    }
  })

const plan = (options: Options): Effect.Effect<Plan, InvalidOptions> =>
  Effect.gen(function*() {
    const connectTimeoutMs = yield* O.durationMs("RedisConnection", "connectTimeout", options.connectTimeout, DEFAULT_CONNECT_TIMEOUT_MS, 1)
    const quitTimeoutMs = yield* O.durationMs("RedisConnection", "quitTimeout", options.quitTimeout, DEFAULT_QUIT_TIMEOUT_MS, 0)
    const commandTimeoutDuration = yield* commandTimeout(options.commandTimeout)
    yield* checkShape(options)
    const url = options.url === undefined
      ? undefined
      : yield* parseUrl(Redacted.isRedacted(options.url) ? Redacted.value(options.url) : options.url)
    const password = options.password !== undefined ? Redacted.value(options.password) : url?.password
    const username = options.username ?? url?.username
    const db = options.db ?? url?.db
    if (db !== undefined) yield* O.integer("RedisConnection", "db", db, undefined, 0)
    const tls = tlsOption(options.tls ?? (url?.tls === true ? true : undefined))
    const sentinelPassword = options.sentinelPassword !== undefined
      ? Redacted.value(options.sentinelPassword)
      : undefined
    const secrets = [password, sentinelPassword, ...tlsSecrets(tls)].filter((s): s is string => typeof s === "string")

    const common: RedisOptions = {
      connectTimeout: connectTimeoutMs,
      maxRetriesPerRequest: MAX_RETRIES_PER_REQUEST,
      ...(options.connectionName !== undefined ? { connectionName: options.connectionName } : {}),
      ...(username !== undefined ? { username } : {}),
      ...(password !== undefined ? { password } : {}),
      ...(tls !== undefined ? { tls } : {})
    }

    if (options.cluster !== undefined) {
      const nodes = yield* validateNodes("cluster.nodes", options.cluster.nodes)
      if (db !== undefined && db !== 0) return yield* invalid("db", "db must be 0 with Redis Cluster (it has only database 0)")
      const clusterOptions: ClusterOptions = {
        ...options.cluster.options,
        redisOptions: { ...common, ...options.cluster.options?.redisOptions, ...options.ioredis } as never,
        lazyConnect: true
      }
      return {
        endpoint: `cluster ${describeNodes(nodes)}`,
        commandTimeout: commandTimeoutDuration,
        secrets,
        connectTimeoutMs,
        quitTimeoutMs,
        db: undefined,
        create: () => new Cluster(nodes.map((n) => ({ host: n.host, port: n.port })), clusterOptions)
      }
    }

    if (options.sentinels !== undefined) {
      const sentinels = yield* validateNodes("sentinels", options.sentinels)
      const name = yield* O.nonEmptyString("RedisConnection", "name", options.name)
      const redisOptions: RedisOptions = {
        sentinels: sentinels.map((n) => ({ host: n.host, port: n.port })),
        name,
        ...(options.sentinelUsername !== undefined ? { sentinelUsername: options.sentinelUsername } : {}),
        ...(sentinelPassword !== undefined ? { sentinelPassword } : {}),
        ...(db !== undefined ? { db } : {}),
        ...common,
        retryStrategy,
        // follow a failover at once: subscribe to +switch-master on the sentinels and reconnect (through
        // Sentinel, to the new master) when it is published. Without it a client stays on the old master
        // until Sentinel demotes it, 8 s or more after SENTINEL FAILOVER, and every write it makes there
        // in the meantime is discarded when the old master resyncs from the new one
        failoverDetector: true,
        ...options.ioredis,
        lazyConnect: true
      }
      return {
        endpoint: `sentinel ${name} via ${describeNodes(sentinels)}`,
        commandTimeout: commandTimeoutDuration,
        secrets,
        connectTimeoutMs,
        quitTimeoutMs,
        db,
        create: () => new Redis(redisOptions)
      }
    }

    const host = options.host ?? url?.host ?? "localhost"
    yield* O.nonEmptyString("RedisConnection", "host", host)
    const port = options.port ?? url?.port ?? 6379
    yield* O.integer("RedisConnection", "port", port, undefined, 1, 65535)
    const redisOptions: RedisOptions = {
      host,
      port,
      ...(db !== undefined ? { db } : {}),
      ...common,
      retryStrategy,
      ...options.ioredis,
      lazyConnect: true
    }
    return {
      endpoint: host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`,
      commandTimeout: commandTimeoutDuration,
      secrets,
      connectTimeoutMs,
      quitTimeoutMs,
      db,
      create: () => new Redis(redisOptions)
    }
  })

// -----------------------------------------------------------------------------
// events -> logs
// -----------------------------------------------------------------------------

const noop = () => {}

const errorText = (err: unknown): string => err instanceof Error ? err.message : String(err)

/**
 * Route a client's events to Effect's logger: errors at debug level (the
 * reconnection loop emits one per attempt), a lost connection once at warning
 * level, its recovery at info level. Returns a function removing the
 * listeners; `keepErrorListener` leaves a no-op `error` listener so ioredis
 * never prints "Unhandled error event" for a client we closed.
 */
const watch = (
  client: Client,
  endpoint: string,
  role: string,
  secrets: ReadonlyArray<string>,
  runtime: Runtime.Runtime<never>,
  keepErrorListener: boolean
): () => void => {
  const run = Runtime.runFork(runtime)
  const log = (effect: Effect.Effect<void>) => {
    run(Effect.annotateLogs(effect, {
      package: "effect-redis-streams",
      module: "RedisConnection",
      endpoint,
      connection: role
    }))
  }
  // "lost" only once the client has been ready: failed first connects are reported by `connect`
  let wasReady = client.status === "ready"
  let lost = false
  let closed = false
  const onError = (err: unknown) => {
    if (closed) return
    log(Effect.logDebug(`Redis connection error: ${scrub(err instanceof Error ? err.message : String(err), secrets)}`))
  }
  const onReconnecting = () => {
    if (closed || lost || !wasReady) return
    lost = true
    log(Effect.logWarning(`Redis connection to ${endpoint} lost; reconnecting`))
  }
  const onReady = () => {
    wasReady = true
    if (closed || !lost) return
    lost = false
    log(Effect.logInfo(`Redis connection to ${endpoint} re-established`))
  }
  client.on("error", onError)
  client.on("reconnecting", onReconnecting)
  client.on("ready", onReady)
  if (keepErrorListener) client.on("error", noop)
  return () => {
    closed = true
    client.off("error", onError)
    client.off("reconnecting", onReconnecting)
    client.off("ready", onReady)
  }
}

// -----------------------------------------------------------------------------
// ioredis's console warnings -> logs
// -----------------------------------------------------------------------------

/** AUTH replies ioredis answers with a console.warn (and otherwise ignores) */
const IGNORED_AUTH =
  /no password is set|without any password configured for the default user|wrong number of arguments for 'auth' command/

type Callback = (err: unknown, reply?: unknown) => void

/**
 * ioredis prints two situations on the console (`console.warn`) while it
 * connects: an AUTH the server did not need (or an AUTH with a username on
 * Redis 5), and a ready check skipped because INFO is refused (ACL). Both
 * come through a callback given to `auth` / `info` while the client is in
 * status "connect": on the clients of this module those callbacks are
 * wrapped, so the situation is logged through Effect's logger and ioredis
 * goes on exactly as after its warning (it ignores the AUTH error, it skips
 * the ready check), without printing anything. A Cluster's node clients are
 * wrapped as they are created.
 */
const quietConsole = (
  client: Client,
  endpoint: string,
  role: string,
  secrets: ReadonlyArray<string>,
  runtime: Runtime.Runtime<never>
): void => {
  const log = (message: string) =>
    Runtime.runFork(runtime)(
      Effect.annotateLogs(Effect.logWarning(scrub(message, secrets)), {
        package: "effect-redis-streams",
        module: "RedisConnection",
        endpoint,
        connection: role
      })
    )
  const wrap = (
    redis: Redis,
    method: "auth" | "info",
    matches: (err: Error) => boolean,
    handle: (err: Error, callback: Callback) => void
  ) => {
    const target = redis as unknown as Record<string, (...args: Array<unknown>) => unknown>
    const original = target[method]!
    target[method] = function(this: unknown, ...args: Array<unknown>) {
      const last = args[args.length - 1]
      if (redis.status === "connect" && typeof last === "function") {
        const callback = last as Callback
        args[args.length - 1] = (err: unknown, reply?: unknown) =>
          err instanceof Error && matches(err) ? handle(err, callback) : callback(err, reply)
      }
      return original.apply(this, args)
    }
  }
  const patch = (redis: Redis) => {
    wrap(redis, "auth", (err) => IGNORED_AUTH.test(err.message), (err, callback) => {
      log(`AUTH on ${endpoint} was refused and is ignored (as ioredis does): ${err.message}; ` +
        `${/wrong number of arguments/.test(err.message)
          ? "Redis 5 and older take only a password, no username"
          : "the server does not require a password: remove it from the options"}`)
      callback(null, "OK")
    })
    wrap(redis, "info", (err) => err.message.includes("NOPERM"), (err, callback) => {
      log(`the ready check on ${endpoint} was skipped: INFO is refused (${err.message}); ` +
        `grant +info to the user, or pass ioredis: { enableReadyCheck: false }`)
      callback(null, {})
    })
  }
  if (client.isCluster) client.on("+node", patch)
  else patch(client as Redis)
}

// -----------------------------------------------------------------------------
// TLS failures
// -----------------------------------------------------------------------------

/** codes (Node / OpenSSL) of a server certificate that failed verification */
const SERVER_CERTIFICATE_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
  "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY",
  "INVALID_CA",
  "PATH_LENGTH_EXCEEDED",
  "INVALID_PURPOSE",
  "ERR_TLS_CERT_SIGNATURE_ALGORITHM_UNSUPPORTED"
])

const tlsOptionsOf = (client: Client): Tls.ConnectionOptions | undefined => {
  const o: RedisOptions | undefined = client.isCluster
    ? (client as Cluster).options.redisOptions as RedisOptions | undefined
    : (client as Redis).options
  const tls = o?.tls
  return typeof tls === "object" && tls !== null ? tls as Tls.ConnectionOptions : undefined
}

/**
 * Why a connect failed, in words: a TLS certificate problem says so first
 * ("TLS certificate problem: ...", with the Node/OpenSSL code and what to
 * set); a TLS connection the server cut while connecting says it may want a
 * client certificate (or one from another CA); anything else is the error's
 * message.
 *
 * @internal
 */
export const connectFailureReason = (cause: unknown, tls: Tls.ConnectionOptions | undefined): string => {
  const text = errorText(cause)
  const code = cause instanceof Error ? (cause as { readonly code?: unknown }).code : undefined
  if (typeof code === "string") {
    if (code === "ERR_TLS_CERT_ALTNAME_INVALID" || code === "HOSTNAME_MISMATCH") {
      return `TLS certificate problem: the server's certificate does not name the host connected to (${code}: ${text}); ` +
        `connect by a name the certificate lists, or set tls.servername`
    }
    if (SERVER_CERTIFICATE_CODES.has(code) || code.startsWith("CERT_")) {
      return `TLS certificate problem: the server's certificate could not be verified (${code}: ${text}); ` +
        `give the CA that signed it as tls.ca`
    }
    if (code.startsWith("ERR_SSL_") && /CERTIFICATE|UNKNOWN_CA/.test(code)) {
      // OpenSSL's text is "<hex>:error:<hex>:SSL routines:<function>:<reason>:<file>:<line>:SSL alert number N\n"
      const reason = /SSL routines:[^:]*:([^:]+)/.exec(text)?.[1] ?? text.trim()
      return `TLS certificate problem: the server did not accept this client's certificate (${code}: ${reason}); ` +
        `it requires a client certificate (tls.cert, tls.key) signed by a CA it trusts`
    }
  }
  if (tls === undefined && (code === "ECONNRESET" || code === "EPIPE" || /socket hang up/.test(text))) {
    return `${text}: the server closed the connection while connecting; the server may expect TLS: use rediss:// ` +
      `(or tls: true)`
  }
  if (
    tls !== undefined &&
    (code === "ECONNRESET" || code === "EPIPE" || /socket hang up|before secure TLS connection/.test(text))
  ) {
    return tls.cert === undefined
      ? `${text}: the server closed the TLS connection while connecting; ` +
        `if it requires client certificates (tls-auth-clients), give tls.cert and tls.key`
      : `${text}: the server closed the TLS connection while connecting; ` +
        `if it requires client certificates, check that it trusts the CA that signed tls.cert`
  }
  return text
}

// -----------------------------------------------------------------------------
// connect / quit
// -----------------------------------------------------------------------------

/**
 * `connect()` bounded by `timeoutMs` with a timer of its own (this runs inside
 * `acquireRelease`, where Effect timeouts could not interrupt it). On failure
 * or interruption the client is disconnected, so ioredis stops retrying.
 */
const connect = (
  client: Client,
  endpoint: string,
  timeoutMs: number,
  secrets: ReadonlyArray<string>
): Effect.Effect<void, RedisConnectionError> =>
  Effect.async<void, RedisConnectionError>((resume) => {
    let done = false
    let lastError: unknown = undefined
    const onError = (err: unknown) => {
      lastError = err
    }
    const finish = (error: RedisConnectionError | undefined) => {
      if (done) return
      done = true
      clearTimeout(timer)
      client.off("error", onError)
      if (error !== undefined) {
        client.disconnect()
        resume(Effect.fail(error))
      } else {
        resume(Effect.void)
      }
    }
    const fail = (reason: string, cause: unknown) =>
      new RedisConnectionError({
        endpoint,
        message: scrub(`Cannot connect to Redis at ${endpoint}: ${reason}`, secrets),
        ...(cause !== undefined ? { cause: sanitize(cause, secrets) } : {})
      })
    client.on("error", onError)
    const tls = tlsOptionsOf(client)
    const timer = setTimeout(() => {
      const last = lastError instanceof Error ? ` (last error: ${connectFailureReason(lastError, tls)})` : ""
      finish(fail(`not connected within ${timeoutMs} ms${last}`, lastError))
    }, timeoutMs)
    try {
      client.connect().then(
        () => finish(undefined),
        (err: unknown) => {
          // "Connection is closed." says little: the error event before it names the cause
          const cause = lastError ?? err
          finish(fail(connectFailureReason(cause, tls), cause))
        }
      )
    } catch (err) {
      finish(fail(connectFailureReason(err, tls), err))
    }
    return Effect.sync(() => {
      if (done) return
      done = true
      clearTimeout(timer)
      client.off("error", onError)
      client.disconnect()
    })
  })

/**
 * QUIT bounded by `timeoutMs`, then a hard disconnect, then (briefly) the
 * client's "end"; never fails.
 */
export const quit = (client: Client, timeoutMs: number): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    let done = false
    const ended = () => {
      clearTimeout(endTimer)
      client.off("end", ended)
      resume(Effect.void)
    }
    let endTimer: ReturnType<typeof setTimeout> | undefined
    const finish = () => {
      if (done) return
      done = true
      clearTimeout(timer)
      if (client.status === "end") {
        resume(Effect.void)
        return
      }
      client.once("end", ended)
      endTimer = setTimeout(ended, 250)
      client.disconnect()
    }
    const timer = setTimeout(finish, timeoutMs)
    if (client.status === "end" || client.status === "wait") {
      finish()
      return
    }
    try {
      client.quit().then(finish, finish)
    } catch {
      finish()
    }
  })

/** a command on a connected client, bounded by a timer (for the few calls made while building) */
const callWithin = (client: Client, timeoutMs: number, command: string, ...args: Array<string>) =>
  Effect.async<unknown, unknown>((resume) => {
    let done = false
    const timer = setTimeout(() => {
      if (done) return
      done = true
      resume(Effect.fail(new Error(`${command} did not complete within ${timeoutMs} ms`)))
    }, timeoutMs)
    client.call(command, ...args).then(
      (reply) => {
        if (done) return
        done = true
        clearTimeout(timer)
        resume(Effect.succeed(reply))
      },
      (err: unknown) => {
        if (done) return
        done = true
        clearTimeout(timer)
        resume(Effect.fail(err))
      }
    )
  })

/** INFO server -> redis_version; "unknown" when INFO is refused (ACL) */
const readServerVersion = (
  client: Client,
  endpoint: string,
  timeoutMs: number,
  secrets: ReadonlyArray<string>
): Effect.Effect<string, RedisConnectionError> =>
  callWithin(client, timeoutMs, "INFO", "server").pipe(
    Effect.map(parseServerVersion),
    Effect.catchAll((err) =>
      isReplyError(err)
        ? Effect.succeed("unknown")
        : Effect.fail(
          new RedisConnectionError({
            endpoint,
            message: scrub(
              `Cannot read the server version from Redis at ${endpoint}: ${errorText(err)}`,
              secrets
            ),
            cause: sanitize(err, secrets)
          })
        )
    )
  )

/**
 * ioredis sends SELECT when it connects, but a refused SELECT (a database the
 * server does not have) is only an "error" event, and commands then go to
 * database 0: SELECT once more, and fail naming the database.
 */
const checkDatabase = (
  client: Client,
  endpoint: string,
  db: number,
  timeoutMs: number,
  secrets: ReadonlyArray<string>
): Effect.Effect<void, InvalidOptions | RedisConnectionError> =>
  callWithin(client, timeoutMs, "SELECT", String(db)).pipe(
    Effect.asVoid,
    Effect.catchAll((err): Effect.Effect<void, InvalidOptions | RedisConnectionError> =>
      isReplyError(err)
        ? invalid(
          "db",
          `Redis at ${endpoint} refused database ${db} (SELECT ${db}: ${errorText(err)}); ` +
            `the server has fewer databases (its "databases" setting, 16 by default): use a lower db`
        )
        : Effect.fail(
          new RedisConnectionError({
            endpoint,
            message: scrub(`Cannot select database ${db} on Redis at ${endpoint}: ${errorText(err)}`, secrets),
            cause: sanitize(err, secrets)
          })
        )
    )
  )

/** create, watch and connect a client (not scoped: on failure nothing is left behind) */
const open = (
  create: () => Client,
  endpoint: string,
  role: string,
  secrets: ReadonlyArray<string>,
  connectTimeoutMs: number,
  runtime: Runtime.Runtime<never>
): Effect.Effect<Recovery.Opened, RedisConnectionError> =>
  Effect.suspend(() => {
    let client: Client
    try {
      client = create()
    } catch (err) {
      return Effect.fail(
        new RedisConnectionError({
          endpoint,
          message: scrub(`Cannot create a Redis client for ${endpoint}: ${errorText(err)}`, secrets),
          cause: sanitize(err, secrets)
        })
      )
    }
    quietConsole(client, endpoint, role, secrets, runtime)
    const unwatch = watch(client, endpoint, role, secrets, runtime, true)
    return connect(client, endpoint, connectTimeoutMs, secrets).pipe(
      Effect.as({ client, unwatch }),
      Effect.onError(() => Effect.sync(unwatch))
    )
  })

/** create, watch and connect a client; the scope quits it (a dedicated connection: not rebuilt) */
const acquire = (
  create: () => Client,
  endpoint: string,
  role: string,
  secrets: ReadonlyArray<string>,
  connectTimeoutMs: number,
  quitTimeoutMs: number,
  runtime: Runtime.Runtime<never>
): Effect.Effect<Client, RedisConnectionError, Scope.Scope> =>
  Effect.acquireRelease(
    open(create, endpoint, role, secrets, connectTimeoutMs, runtime),
    ({ client, unwatch }) => Effect.ensuring(quit(client, quitTimeoutMs), Effect.sync(unwatch))
  ).pipe(Effect.map((_) => _.client))

/**
 * A dedicated client with the options of `client`: no command timeout, no
 * reconnection, no offline queue (a lost connection fails its command at
 * once), connected by the caller.
 */
const duplicateOf = (client: Client): Client => {
  if (client.isCluster) {
    const cluster = client as Cluster
    return cluster.duplicate([], {
      lazyConnect: true,
      redisOptions: { ...cluster.options.redisOptions, commandTimeout: undefined }
    })
  }
  return (client as Redis).duplicate({
    lazyConnect: true,
    commandTimeout: undefined,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false
  })
}

/**
 * A connection like `client` (a standalone or Sentinel client), connected by
 * the caller: ioredis's `duplicate` keeps every option (Sentinel's failover
 * detector too), `lazyConnect` lets `open` connect it with its timeout.
 */
const siblingOf = (client: Client): Client => (client as Redis).duplicate({ lazyConnect: true })

/** what every connection of one layer shares */
interface Shared {
  readonly endpoint: string
  readonly secrets: ReadonlyArray<string>
  readonly connectTimeoutMs: number
  readonly quitTimeoutMs: number
  readonly commandTimeout: Duration.Duration
  readonly rebuildAttempts: number
  readonly connectionName: string | undefined
  readonly runtime: Runtime.Runtime<never>
  readonly registry: Recovery.Registry
}

const logsOf = (shared: Shared, role: string) => (effect: Effect.Effect<void>) =>
  Effect.annotateLogs(effect, {
    package: "effect-redis-streams",
    module: "RedisConnection",
    endpoint: shared.endpoint,
    connection: role
  })

/**
 * Open a connection with `create`, register it, and rebuild it with `create`
 * whenever it ends (see `Recovery.supervise`); the scope quits it.
 */
const supervised = (
  shared: Shared,
  role: string,
  create: () => Client
): Effect.Effect<Recovery.Entry, RedisConnectionError, Scope.Scope> => {
  const opening = open(create, shared.endpoint, role, shared.secrets, shared.connectTimeoutMs, shared.runtime)
  return Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(restore(opening), (first) => {
      const entry = Recovery.makeEntry({
        role,
        connectionName: shared.connectionName,
        owned: true,
        endpoint: shared.endpoint,
        client: first.client,
        rebuildAttempts: shared.rebuildAttempts
      })
      return registered(shared.registry, entry).pipe(
        Effect.zipRight(
          Recovery.supervise(
            entry,
            first,
            opening,
            (c) => quit(c, shared.quitTimeoutMs),
            shared.runtime,
            logsOf(shared, role)
          )
        ),
        Effect.as(entry)
      )
    })
  )
}

/** the entry is listed in the registry while the scope is open */
const registered = (registry: Recovery.Registry, entry: Recovery.Entry): Effect.Effect<void, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => registry.entries.add(entry)),
    () => Effect.sync(() => registry.entries.delete(entry))
  )

const infoOf = (entry: Recovery.Entry): ConnectionInfo => ({
  role: entry.role,
  connectionName: entry.connectionName,
  client: entry.client,
  status: entry.failure !== undefined
    ? "failed"
    : entry.endedAt !== undefined
    ? entry.owned ? "rebuilding" : "end"
    : entry.client.status,
  replacedAt: entry.replacedAt !== undefined ? new Date(entry.replacedAt) : undefined,
  replacements: entry.replacements
})

/** the service over `entry` (the main connection, or a lane's) */
const serviceOf = (shared: Shared, main: Recovery.Entry, entry: Recovery.Entry, serverVersion: string): Service => {
  const service: Service & { readonly [Recovery.EntryKey]: Recovery.Link } = {
    get client() {
      return entry.client
    },
    endpoint: shared.endpoint,
    serverVersion,
    owned: entry.owned,
    commandTimeout: shared.commandTimeout,
    duplicate: Effect.suspend(() =>
      acquire(
        () => duplicateOf(main.client),
        shared.endpoint,
        "dedicated",
        shared.secrets,
        shared.connectTimeoutMs,
        shared.quitTimeoutMs,
        shared.runtime
      )
    ),
    sibling: Effect.suspend(() =>
      main.client.isCluster
        ? Effect.fail(
          new RedisConnectionError({
            endpoint: shared.endpoint,
            message: `a Cluster client has no sibling connections: lanes use the Cluster client itself`
          })
        )
        : Effect.map(
          supervised(shared, shared.registry.nextLane(), () => siblingOf(main.client)),
          (lane) => serviceOf(shared, main, lane, serverVersion)
        )
    ),
    connections: Effect.sync(() => Array.from(shared.registry.entries, infoOf)),
    [Recovery.EntryKey]: { entry, registry: shared.registry }
  }
  return service
}

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

/** @internal */
export const make = (options: Options = {}): Effect.Effect<Service, RedisConnectionError | InvalidOptions, Scope.Scope> =>
  Effect.gen(function*() {
    const p = yield* plan(options)
    const rebuildAttempts = yield* O.integer(
      "RedisConnection",
      "rebuildAttempts",
      options.rebuildAttempts ?? DEFAULT_REBUILD_ATTEMPTS,
      undefined,
      0
    )
    const shared: Shared = {
      endpoint: p.endpoint,
      secrets: p.secrets,
      connectTimeoutMs: p.connectTimeoutMs,
      quitTimeoutMs: p.quitTimeoutMs,
      commandTimeout: p.commandTimeout,
      rebuildAttempts,
      connectionName: options.connectionName,
      runtime: yield* Effect.runtime<never>(),
      registry: new Recovery.Registry()
    }
    const main = yield* supervised(shared, "main", p.create)
    if (p.db !== undefined && p.db !== 0) yield* checkDatabase(main.client, p.endpoint, p.db, p.connectTimeoutMs, p.secrets)
    const serverVersion = yield* readServerVersion(main.client, p.endpoint, p.connectTimeoutMs, p.secrets)
    return serviceOf(shared, main, main, serverVersion)
  })

const describeClient = (client: Client): string => {
  if (client.isCluster) {
    const nodes = ((client as unknown as { startupNodes?: ReadonlyArray<unknown> }).startupNodes ?? []).map((n) =>
      typeof n === "object" && n !== null
        ? `${(n as { host?: string }).host ?? "localhost"}:${(n as { port?: number }).port ?? 6379}`
        : String(n)
    )
    return `cluster ${nodes.join(",")}`
  }
  const o = (client as Redis).options
  if (o.sentinels && o.sentinels.length > 0) {
    return `sentinel ${o.name ?? "?"} via ${o.sentinels.map((s) => `${s.host ?? "localhost"}:${s.port ?? 26379}`).join(",")}`
  }
  if ("path" in o && typeof o.path === "string" && o.path !== "") return o.path
  const host = o.host ?? "localhost"
  return `${host.includes(":") ? `[${host}]` : host}:${o.port ?? 6379}`
}

const clientSecrets = (client: Client): ReadonlyArray<string> => {
  const o: RedisOptions | undefined = client.isCluster
    ? (client as Cluster).options.redisOptions as RedisOptions | undefined
    : (client as Redis).options
  return [o?.password, o?.sentinelPassword].filter((s): s is string => typeof s === "string")
}

/** @internal */
export const fromClient = (
  client: Client,
  options: {
    readonly connectTimeout?: Duration.DurationInput | undefined
    readonly commandTimeout?: Duration.DurationInput | undefined
    readonly quitTimeout?: Duration.DurationInput | undefined
  } = {}
): Effect.Effect<Service, RedisConnectionError | InvalidOptions, Scope.Scope> =>
  Effect.gen(function*() {
    const connectTimeoutMs = yield* O.durationMs("RedisConnection", "connectTimeout", options.connectTimeout, DEFAULT_CONNECT_TIMEOUT_MS, 1)
    const quitTimeoutMs = yield* O.durationMs("RedisConnection", "quitTimeout", options.quitTimeout, DEFAULT_QUIT_TIMEOUT_MS, 0)
    const commandTimeoutDuration = yield* commandTimeout(options.commandTimeout)
    const redisOptions: RedisOptions | undefined = client.isCluster
      ? (client as Cluster).options.redisOptions as RedisOptions | undefined
      : (client as Redis).options
    const shared: Shared = {
      endpoint: describeClient(client),
      secrets: clientSecrets(client),
      connectTimeoutMs,
      quitTimeoutMs,
      commandTimeout: commandTimeoutDuration,
      rebuildAttempts: DEFAULT_REBUILD_ATTEMPTS,
      connectionName: typeof redisOptions?.connectionName === "string" ? redisOptions.connectionName : undefined,
      runtime: yield* Effect.runtime<never>(),
      registry: new Recovery.Registry()
    }
    // the caller's client: watched while the scope is open, never quit and never rebuilt (its lanes are this
    // layer's own: rebuilt, and quit with their scope)
    const main = Recovery.makeEntry({
      role: "main",
      connectionName: shared.connectionName,
      owned: false,
      endpoint: shared.endpoint,
      client,
      rebuildAttempts: 0
    })
    const unwatch = watch(client, shared.endpoint, "user", shared.secrets, shared.runtime, false)
    yield* registered(shared.registry, main)
    yield* Recovery.supervise(
      main,
      { client, unwatch },
      Effect.die("a client given to fromClient is never rebuilt"),
      () => Effect.void,
      shared.runtime,
      logsOf(shared, "user")
    )
    const serverVersion = yield* readServerVersion(client, shared.endpoint, connectTimeoutMs, shared.secrets)
    return serviceOf(shared, main, main, serverVersion)
  })

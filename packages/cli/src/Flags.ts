/**
 * Flags and arguments shared by the commands, the duration syntax, and the
 * Redis connection every command opens.
 *
 * The connection: `--url`, else the `REDIS_URL` environment variable, else
 * `redis://127.0.0.1:6379`. The URL is read as `Redacted` and never printed:
 * messages name the endpoint as host and port only.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { RedisBackend, StreamsError as Errors } from "effect-redis-streams"
import * as Fs from "node:fs"
import type * as Tls from "node:tls"
import type { RedisConnection, StreamsBackend, StreamsError } from "effect-redis-streams"
import type * as ConfigError from "effect/ConfigError"

/**
 * The URL used when neither `--url` nor `REDIS_URL` is given.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultUrl = "redis://127.0.0.1:6379"

/**
 * The connection flags of every command: `--url` (optional; falls back to
 * `REDIS_URL`) and, for TLS with a private CA or client certificates,
 * `--tls-ca`, `--tls-cert`, `--tls-key` (PEM files; the key's passphrase, if
 * any, from the `REDIS_TLS_KEY_PASSPHRASE` environment variable). Neither the
 * URL nor the key or passphrase is ever printed.
 *
 * @since 0.1.0
 * @category models
 */
export interface Connection {
  readonly url: Option.Option<Redacted.Redacted>
  readonly tlsCa: Option.Option<string>
  readonly tlsCert: Option.Option<string>
  readonly tlsKey: Option.Option<string>
}

const pemFile = (name: string, description: string): Options.Options<Option.Option<string>> =>
  Options.file(name, { exists: "yes" }).pipe(
    Options.withPseudoName("file"),
    Options.withDescription(description),
    Options.optional
  )

/**
 * `--url`, `--tls-ca`, `--tls-cert`, `--tls-key`: see `Connection`.
 *
 * @since 0.1.0
 * @category flags
 */
export const url: Options.Options<Connection> = Options.all({
  url: Options.redacted("url").pipe(
    Options.withPseudoName("url"),
    Options.withDescription(
      `Redis URL, redis://[[user]:password@]host[:port][/db] or rediss:// for TLS; default: the REDIS_URL environment variable, else ${defaultUrl}. Never printed.`
    ),
    Options.optional
  ),
  tlsCa: pemFile("tls-ca", "TLS: the CA certificate (PEM file) that signed the server's certificate; implies TLS"),
  tlsCert: pemFile("tls-cert", "TLS: a client certificate (PEM file), for servers with tls-auth-clients; implies TLS"),
  tlsKey: pemFile(
    "tls-key",
    "TLS: the client certificate's private key (PEM file; its passphrase, if any, from REDIS_TLS_KEY_PASSPHRASE); never printed"
  )
})

/**
 * `--json`: machine-readable output.
 *
 * @since 0.1.0
 * @category flags
 */
export const json = (description: string): Options.Options<boolean> =>
  Options.boolean("json").pipe(Options.withDescription(description))

/**
 * The `<stream>` argument.
 *
 * @since 0.1.0
 * @category flags
 */
export const stream: Args.Args<string> = Args.text({ name: "stream" }).pipe(
  Args.withDescription("the stream key"),
  Args.mapEffect((s) =>
    s.length === 0
      ? Effect.fail(HelpDoc.p("the stream name must not be empty"))
      : Effect.succeed(s)
  )
)

const invalid = (message: string) => ValidationError.invalidValue(HelpDoc.p(message))

/**
 * Parse a duration: `500ms`, `30s`, `1.5s`, `5m`, `1h`, `2d`, a bare number
 * of seconds (`30`), or Effect's form (`30 seconds`).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseDuration = (text: string): Option.Option<Duration.Duration> => {
  const t = text.trim()
  const short = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(t)
  if (short !== null) {
    const n = Number(short[1])
    const unit = short[2] ?? "s"
    const ms = unit === "ms" ? n : unit === "s" ? n * 1000 : unit === "m" ? n * 60_000 : unit === "h" ? n * 3_600_000 : n * 86_400_000
    return Number.isFinite(ms) ? Option.some(Duration.millis(ms)) : Option.none()
  }
  const decoded = Duration.decodeUnknown(t)
  return Option.filter(decoded, (d) => Duration.isFinite(d))
}

/**
 * A duration flag (see `parseDuration`), with a default.
 *
 * @since 0.1.0
 * @category flags
 */
export const duration = (
  name: string,
  description: string,
  fallback: string
): Options.Options<Duration.Duration> =>
  Options.text(name).pipe(
    Options.withPseudoName("duration"),
    Options.withDescription(`${description} (e.g. 500ms, 30s, 5m, 1h)`),
    Options.withDefault(fallback),
    Options.mapEffect((text) =>
      Option.match(parseDuration(text), {
        onNone: () => Effect.fail(invalid(`--${name}: '${text}' is not a duration (e.g. 500ms, 30s, 5m, 1h)`)),
        onSome: Effect.succeed
      })
    )
  )

/**
 * An optional duration flag that must be positive.
 *
 * @since 0.1.0
 * @category flags
 */
export const optionalDuration = (name: string, description: string): Options.Options<Option.Option<Duration.Duration>> =>
  Options.text(name).pipe(
    Options.withPseudoName("duration"),
    Options.withDescription(`${description} (e.g. 500ms, 5s, 1m)`),
    Options.mapEffect((text) =>
      Option.match(Option.filter(parseDuration(text), (d) => Duration.toMillis(d) > 0), {
        onNone: () => Effect.fail(invalid(`--${name}: '${text}' is not a positive duration (e.g. 500ms, 5s, 1m)`)),
        onSome: Effect.succeed
      })
    ),
    Options.optional
  )

/**
 * An integer flag with bounds.
 *
 * @since 0.1.0
 * @category flags
 */
export const integer = (name: string, description: string, min: number, max = Number.MAX_SAFE_INTEGER) =>
  Options.integer(name).pipe(
    Options.withPseudoName("N"),
    Options.withDescription(description),
    Options.mapEffect((n) =>
      n < min || n > max
        ? Effect.fail(
          invalid(
            max === Number.MAX_SAFE_INTEGER
              ? `--${name} must be at least ${min}, got ${n}`
              : `--${name} must be between ${min} and ${max}, got ${n}`
          )
        )
        : Effect.succeed(n)
    )
  )

/**
 * A number flag (decimals allowed) within bounds.
 *
 * @since 0.1.0
 * @category flags
 */
export const number = (name: string, description: string, min: number, max: number) =>
  Options.float(name).pipe(
    Options.withPseudoName("N"),
    Options.withDescription(description),
    Options.mapEffect((n) =>
      n < min || n > max
        ? Effect.fail(invalid(`--${name} must be between ${min} and ${max}, got ${n}`))
        : Effect.succeed(n)
    )
  )

/**
 * A number flag (decimals allowed) that must be greater than 0.
 *
 * @since 0.1.0
 * @category flags
 */
export const positiveNumber = (name: string, description: string) =>
  Options.float(name).pipe(
    Options.withPseudoName("N"),
    Options.withDescription(description),
    Options.mapEffect((n) =>
      n > 0 && Number.isFinite(n) ? Effect.succeed(n) : Effect.fail(invalid(`--${name} must be greater than 0, got ${n}`))
    )
  )

/**
 * The services a command gets from its connection.
 *
 * @since 0.1.0
 * @category connection
 */
export type Redis = StreamsBackend.StreamsBackend | RedisConnection.RedisConnection

/**
 * The connection layer: `--url`, else `REDIS_URL`, else `defaultUrl`; TLS files
 * from `--tls-ca` / `--tls-cert` / `--tls-key`.
 *
 * @since 0.1.0
 * @category connection
 */
export const redis = (
  connection: Connection
): Layer.Layer<
  Redis,
  StreamsError.RedisConnectionError | StreamsError.InvalidOptions | ConfigError.ConfigError
> =>
  Layer.unwrapEffect(
    Effect.gen(function*() {
      const fromEnv = yield* Config.option(Config.redacted("REDIS_URL"))
      const chosen = Option.orElse(connection.url, () => Option.filter(fromEnv, (u) => Redacted.value(u) !== ""))
      const target = Option.getOrElse(chosen, () => Redacted.make(defaultUrl))
      const passphrase = yield* Config.option(Config.redacted("REDIS_TLS_KEY_PASSPHRASE"))
      const read = (file: string) =>
        Effect.try({
          try: () => Fs.readFileSync(file),
          catch: () => new Errors.InvalidOptions({ option: "tls", message: `cannot read the TLS file ${file}` })
        })
      const wantsTls = Option.isSome(connection.tlsCa) || Option.isSome(connection.tlsCert) ||
        Option.isSome(connection.tlsKey)
      if (!wantsTls) return RedisBackend.layerRedis({ url: target, connectionName: "redis-streams-cli" })
      const tls: Tls.ConnectionOptions = {}
      if (Option.isSome(connection.tlsCa)) tls.ca = yield* read(connection.tlsCa.value)
      if (Option.isSome(connection.tlsCert)) tls.cert = yield* read(connection.tlsCert.value)
      if (Option.isSome(connection.tlsKey)) tls.key = yield* read(connection.tlsKey.value)
      if (Option.isSome(passphrase)) tls.passphrase = Redacted.value(passphrase.value)
      return RedisBackend.layerRedis({ url: target, tls, connectionName: "redis-streams-cli" })
    })
  )

/**
 * Run a command's effect with the Redis connection.
 *
 * @since 0.1.0
 * @category connection
 */
export const withRedis = <A, E, R>(
  connection: Connection,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<
  A,
  E | StreamsError.RedisConnectionError | StreamsError.InvalidOptions | ConfigError.ConfigError,
  Exclude<R, Redis>
> => Effect.provide(effect, redis(connection))

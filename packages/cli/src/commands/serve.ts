/**
 * `serve [--port 9464] [--match <glob>] [<stream>...]`: an HTTP server with
 * `/metrics` (Prometheus), `/scale` (JSON for KEDA's metrics-api trigger),
 * `/healthz`, and the dashboard at `/` over its JSON API `/api/...`, until
 * Ctrl-C or SIGTERM. See `Http`, `Dashboard` and `Actions`.
 *
 * Binds 127.0.0.1 unless `--host` says otherwise. Actions (replay, purge,
 * cleanup) are off unless `--allow-actions` is given with a token
 * (`--token`, or the `REDIS_STREAMS_TOKEN` environment variable, which keeps
 * it out of the process list); the token is never printed.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as NodeHttp from "node:http"
import * as Config from "effect/Config"
import * as Redacted from "effect/Redacted"
import { CommandFailed, UsageError } from "../CliError.js"
import * as Flags from "../Flags.js"
import * as Http from "../Http.js"
import * as Output from "../Output.js"
import { checkThresholds, type ScalerFlags, scalerFlags, scalerOptions } from "./scale.js"

interface ServeFlags extends ScalerFlags {
  readonly streams: ReadonlyArray<string>
  readonly match: Option.Option<string>
  readonly matchLimit: number
  readonly port: number
  readonly host: string
  readonly group: Option.Option<string>
  readonly pendingThreshold: Option.Option<number>
  readonly allowActions: boolean
  readonly token: Option.Option<Redacted.Redacted>
}

const TOKEN_ENV = "REDIS_STREAMS_TOKEN"

/** the action settings: a token from --token or the environment, required by --allow-actions */
const actionOptions = (flags: ServeFlags) =>
  Effect.gen(function*() {
    if (flags.streams.length === 0 && Option.isNone(flags.match)) {
      return yield* new UsageError({ message: "Missing argument <stream> (or --match <pattern>)" })
    }
    const fromEnv = yield* Effect.orElseSucceed(Config.option(Config.redacted(TOKEN_ENV)), () => Option.none())
    const token = Option.orElse(flags.token, () => Option.filter(fromEnv, (t) => Redacted.value(t) !== ""))
    if (flags.allowActions && Option.isNone(token)) {
      return yield* new UsageError({ message: `--allow-actions needs a token: --token or the ${TOKEN_ENV} environment variable` })
    }
    return {
      allowActions: flags.allowActions,
      token: Option.getOrUndefined(token),
      loopbackOnly: ["127.0.0.1", "localhost", "::1"].includes(flags.host) || flags.host.startsWith("127.")
    }
  })

const serverLayer = (
  flags: ServeFlags,
  actions: { allowActions: boolean; token: Redacted.Redacted | undefined; loopbackOnly: boolean }
) =>
  Http.layer(
    {
      streams: flags.streams,
      match: Option.match(flags.match, {
        onNone: () => undefined,
        onSome: (pattern) => ({ pattern, limit: flags.matchLimit })
      }),
      group: Option.getOrUndefined(flags.group),
      idleThreshold: flags.idleThreshold,
      pendingThreshold: Option.getOrUndefined(flags.pendingThreshold),
      scaler: scalerOptions(flags),
      dashboard: actions
    },
    (address) =>
      Effect.zipRight(
        Output.note(
          `serving /metrics, /scale and /healthz for ${
            [...flags.streams, ...Option.toArray(Option.map(flags.match, (p) => `streams matching '${p}'`))].join(", ")
          } on ${address} (Ctrl-C to stop)`
        ),
        Output.note(`dashboard at ${address}/ (actions ${actions.allowActions ? "on, token required" : "off"})`)
      )
  ).pipe(
    Layer.provide(
      NodeHttpServer.layer(() => NodeHttp.createServer(), { port: flags.port, host: flags.host }).pipe(
        Layer.mapError((e) =>
          new CommandFailed({
            message: `cannot listen on ${flags.host}:${flags.port}: ${
              e.cause instanceof Error ? e.cause.message : String(e.cause)
            }`
          })
        )
      )
    )
  )

/**
 * The command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(
  "serve",
  {
    streams: Args.text({ name: "stream" }).pipe(
      Args.withDescription("the streams to watch (one or more, or none with --match)"),
      Args.atLeast(0)
    ),
    match: Options.text("match").pipe(
      Options.withPseudoName("glob"),
      Options.withDescription(
        "also watch every stream whose name matches this glob (Redis MATCH syntax), found with SCAN ... TYPE stream, rescanned every 10 s"
      ),
      Options.optional
    ),
    matchLimit: Flags.integer("match-limit", "watch at most N streams found by --match (default 100)", 1, 10_000).pipe(
      Options.withDefault(100)
    ),
    allowActions: Options.boolean("allow-actions").pipe(
      Options.withDescription(
        `let the dashboard replay and purge dead letters and clean up dead consumers (POST, with the token: --token or ${TOKEN_ENV})`
      )
    ),
    token: Options.redacted("token").pipe(
      Options.withDescription(`the token the dashboard's actions need (prefer the ${TOKEN_ENV} environment variable); never printed`),
      Options.optional
    ),
    port: Flags.integer("port", "TCP port to listen on (default 9464; 0 picks a free one)", 0, 65535).pipe(
      Options.withDefault(9464)
    ),
    host: Options.text("host").pipe(
      Options.withDescription("address to listen on (default 127.0.0.1, this machine only; 0.0.0.0 for every interface)"),
      Options.withDefault("127.0.0.1")
    ),
    group: Options.text("group").pipe(
      Options.withAlias("g"),
      Options.withDescription("the group /scale answers for when the request has no ?group="),
      Options.optional
    ),
    pendingThreshold: Flags.integer(
      "pending-threshold",
      "a consumer with more pending entries than this is TOO_MANY_PENDING (default 10)",
      0
    ).pipe(Options.optional),
    ...scalerFlags,
    url: Flags.url
  },
  (flags) =>
    Effect.gen(function*() {
      yield* checkThresholds(flags)
      const actions = yield* actionOptions(flags)
      return yield* Flags.withRedis(flags.url, Layer.launch(serverLayer(flags, actions)))
    })
).pipe(
  Command.withDescription(
    "Serve HTTP until Ctrl-C, on 127.0.0.1 unless --host: the dashboard at / (streams, groups, consumers, pending entries, dead letters; JSON under /api/...), /metrics (Prometheus text: lag, pending, consumers, per-consumer idle and pending, dead letters, rates, scaling figures), /scale?stream=S&group=G (the Scaler's JSON, for KEDA's metrics-api trigger with valueLocation: recommended) and /healthz."
  )
)

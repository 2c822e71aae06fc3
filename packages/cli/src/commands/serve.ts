/**
 * `serve [--port 9464] <stream>...`: an HTTP server with `/metrics`
 * (Prometheus), `/scale` (JSON for KEDA's metrics-api trigger) and
 * `/healthz`, until Ctrl-C or SIGTERM. See `Http` for the endpoints.
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
import { CommandFailed } from "../CliError.js"
import * as Flags from "../Flags.js"
import * as Http from "../Http.js"
import * as Output from "../Output.js"
import { checkThresholds, type ScalerFlags, scalerFlags, scalerOptions } from "./scale.js"

interface ServeFlags extends ScalerFlags {
  readonly streams: ReadonlyArray<string>
  readonly port: number
  readonly host: string
  readonly group: Option.Option<string>
  readonly pendingThreshold: Option.Option<number>
}

const serverLayer = (flags: ServeFlags) =>
  Http.layer(
    {
      streams: flags.streams,
      group: Option.getOrUndefined(flags.group),
      idleThreshold: flags.idleThreshold,
      pendingThreshold: Option.getOrUndefined(flags.pendingThreshold),
      scaler: scalerOptions(flags)
    },
    (address) =>
      Output.note(`serving /metrics, /scale and /healthz for ${flags.streams.join(", ")} on ${address} (Ctrl-C to stop)`)
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
      Args.withDescription("the streams to watch (one or more)"),
      Args.atLeast(1)
    ),
    port: Flags.integer("port", "TCP port to listen on (default 9464; 0 picks a free one)", 0, 65535).pipe(
      Options.withDefault(9464)
    ),
    host: Options.text("host").pipe(
      Options.withDescription("address to listen on (default 0.0.0.0, every interface)"),
      Options.withDefault("0.0.0.0")
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
    Effect.zipRight(
      checkThresholds(flags),
      Flags.withRedis(flags.url, Layer.launch(serverLayer(flags)))
    )
).pipe(
  Command.withDescription(
    "Serve HTTP until Ctrl-C: /metrics (Prometheus text: lag, pending, consumers, per-consumer idle and pending, dead letters, rates, scaling figures), /scale?stream=S&group=G (the Scaler's JSON, for KEDA's metrics-api trigger with valueLocation: recommended) and /healthz."
  )
)

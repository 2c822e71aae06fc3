/**
 * The `redis-streams` command line: its commands, and `run`, which parses a
 * command line, runs the command and turns every failure into one line on
 * stderr and an exit code (see `CliError`).
 *
 * Output conventions: results on stdout (text, or JSON with `--json`), notes,
 * warnings and errors on stderr prefixed `redis-streams:`. Library logs go to
 * stderr too, from level Warning (`--log-level` changes it). Help is plain
 * text when stdout is not a terminal.
 *
 * @since 0.1.0
 */
import * as CliConfig from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Usage from "@effect/cli/Usage"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { describe, ExitCode, UsageError } from "./CliError.js"
import * as Dlq from "./commands/dlq.js"
import * as Info from "./commands/info.js"
import * as Monitor from "./commands/monitor.js"
import * as Produce from "./commands/produce.js"
import * as Scale from "./commands/scale.js"
import * as Serve from "./commands/serve.js"
import * as Tail from "./commands/tail.js"
import * as Output from "./Output.js"

/**
 * The program name.
 *
 * @since 0.1.0
 * @category constants
 */
export const name = "redis-streams"

/**
 * The version printed by `--version`.
 *
 * @since 0.1.0
 * @category constants
 */
export const version = "0.1.0"

const commandNames = ["info", "monitor", "scale", "produce", "tail", "dlq", "serve"] as const
const dlqNames = ["list", "replay", "purge"] as const

/**
 * The root command and its subcommands.
 *
 * @since 0.1.0
 * @category commands
 */
export const root = Command.make(
  name,
  {},
  () => Effect.fail(new UsageError({ message: `missing command: one of ${commandNames.join(", ")}` }))
).pipe(
  Command.withDescription(
    "Inspect, monitor, scale and feed Redis Streams consumer groups. Connection: --url or REDIS_URL (default redis://127.0.0.1:6379). Exit codes: 0 ok, 1 failure (Redis unreachable, stream or group missing, ...), 2 usage error."
  ),
  Command.withSubcommands([
    Info.command,
    Monitor.command,
    Scale.command,
    Produce.command,
    Tail.command,
    Dlq.command,
    Serve.command
  ])
)

const usages: Record<string, Command.Command<any, any, any, any>> = {
  info: Info.command,
  monitor: Monitor.command,
  scale: Scale.command,
  produce: Produce.command,
  tail: Tail.command,
  serve: Serve.command,
  "dlq list": Dlq.list,
  "dlq replay": Dlq.replay,
  "dlq purge": Dlq.purge
}

/**
 * The command a command line names (`"info"`, `"dlq replay"`), if any: the
 * first word that is a command (and, after `dlq`, the next one).
 *
 * @since 0.1.0
 * @category usage
 */
export const commandPath = (argv: ReadonlyArray<string>): string | undefined => {
  const words = argv.filter((a) => !a.startsWith("-"))
  const first = words[0]
  if (first === undefined || !(commandNames as ReadonlyArray<string>).includes(first)) return undefined
  if (first !== "dlq") return first
  const second = words[1]
  return second !== undefined && (dlqNames as ReadonlyArray<string>).includes(second) ? `dlq ${second}` : "dlq"
}

const plain = (doc: HelpDoc.HelpDoc): string => Output.oneLine(HelpDoc.toAnsiText(doc))

/**
 * The usage lines of a command (or of the program when `path` is undefined).
 *
 * @since 0.1.0
 * @category usage
 */
export const usage = (path: string | undefined): string => {
  const command = path === undefined ? undefined : usages[path]
  if (command === undefined) {
    const sub = path === "dlq" ? `dlq <${dlqNames.join("|")}>` : `<${commandNames.join("|")}>`
    return `usage: ${name} ${sub} [flags]\nrun '${name} ${path === "dlq" ? "dlq " : ""}--help' for details`
  }
  const prefix = path!.includes(" ") ? `${name} ${path!.split(" ")[0]} ` : `${name} `
  const lines = Usage.enumerate(Command.getUsage(command), CliConfig.defaultConfig).map((span) =>
    `usage: ${prefix}${plain(HelpDoc.p(span))}`
  )
  return [...lines, `run '${name} ${path} --help' for details`].join("\n")
}

/**
 * The message of a parser error, on one line.
 *
 * @since 0.1.0
 * @category usage
 */
export const validationMessage = (error: ValidationError.ValidationError): string =>
  "error" in error ? plain(error.error) : "invalid command line"

const formatLogPart = (part: unknown): string =>
  typeof part === "string" ? part : part instanceof Error ? part.message : Cause.isCause(part)
  ? Cause.pretty(part).split("\n")[0] ?? ""
  : JSON.stringify(part) ?? String(part)

/**
 * Library logs on stderr, `redis-streams: WARN: ...`.
 *
 * @since 0.1.0
 * @category logging
 */
export const logger: Logger.Logger<unknown, void> = Logger.make(({ cause, logLevel, message }) => {
  const parts = Array.isArray(message) ? message : [message]
  const text = parts.map(formatLogPart).join(" ")
  const extra = Cause.isEmpty(cause) ? "" : ` (${Cause.pretty(cause).split("\n")[0]})`
  process.stderr.write(`${name}: ${logLevel.label}: ${text}${extra}\n`)
})

/**
 * The logger layer: `logger`, from level Warning.
 *
 * @since 0.1.0
 * @category logging
 */
export const loggerLayer: Layer.Layer<never> = Layer.merge(
  Logger.replace(Logger.defaultLogger, logger),
  Logger.minimumLogLevel(LogLevel.Warning)
)

/**
 * The parser prints help with `Console.log` (made plain text when stdout is
 * not a terminal) and its errors with `Console.error` (dropped here: `run`
 * prints them as one line with the usage).
 */
const withCliConsole = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Console.consoleWith((current) => {
    const log = (...args: ReadonlyArray<unknown>) => {
      const text = args.map(String).join(" ")
      process.stdout.write((Output.stdoutIsTerminal() ? text : Output.stripAnsi(text)) + "\n")
    }
    const console: Console.Console = {
      ...current,
      log: (...args) => Effect.sync(() => log(...args)),
      error: () => Effect.void,
      unsafe: { ...current.unsafe, log, error: () => {} }
    }
    return Console.withConsole(effect, console)
  })

const cli = Command.run(root, { name, version })

/**
 * Run a command line (without `node` and the script: `["info", "orders"]`)
 * and return the exit code. Every failure is printed as one line on stderr
 * (plus the usage for a usage error).
 *
 * @since 0.1.0
 * @category running
 */
export const run = (argv: ReadonlyArray<string>) =>
  withCliConsole(cli(["node", name, ...argv])).pipe(
    Effect.as(ExitCode.ok as number),
    Effect.catchAll((error) => {
      if (ValidationError.isValidationError(error)) {
        return Output.note(validationMessage(error)).pipe(
          Effect.zipRight(Effect.sync(() => void process.stderr.write(usage(commandPath(argv)) + "\n"))),
          Effect.as(ExitCode.usage as number)
        )
      }
      const d = describe(error)
      return Output.note(Output.oneLine(d.message)).pipe(
        Effect.zipRight(
          d.usage ? Effect.sync(() => void process.stderr.write(usage(commandPath(argv)) + "\n")) : Effect.void
        ),
        Effect.as(d.code)
      )
    }),
    Effect.catchAllDefect((defect) =>
      Effect.as(
        Output.note(`internal error: ${Output.oneLine(defect instanceof Error ? defect.message : String(defect))}`),
        ExitCode.failed as number
      )
    ),
    Effect.provide(loggerLayer)
  )

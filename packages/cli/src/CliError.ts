/**
 * Failures of the command line tool itself, and how every failure becomes
 * one line on stderr and an exit code.
 *
 * Exit codes:
 * - `0` success (also a dry run, and a stop by Ctrl-C / SIGTERM);
 * - `1` the command failed: Redis unreachable, stream or group missing,
 *   wrong key type, a Redis error reply, bad input on stdin;
 * - `2` usage error: unknown command or flag, missing or invalid value
 *   (printed with the command's usage).
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * A command failed for a reason it explains in `message` (exit code 1).
 *
 * @since 0.1.0
 * @category errors
 */
export class CommandFailed extends Schema.TaggedError<CommandFailed>("effect-redis-streams-cli/CommandFailed")(
  "CommandFailed",
  { message: Schema.String }
) {}

/**
 * The command line was wrong in a way the parser cannot see (exit code 2,
 * printed with the command's usage).
 *
 * @since 0.1.0
 * @category errors
 */
export class UsageError extends Schema.TaggedError<UsageError>("effect-redis-streams-cli/UsageError")(
  "UsageError",
  { message: Schema.String }
) {}

/**
 * Exit codes.
 *
 * @since 0.1.0
 * @category constants
 */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2
} as const

interface Tagged {
  readonly _tag: string
  readonly message?: unknown
  readonly stream?: unknown
  readonly group?: unknown
  readonly key?: unknown
}

/**
 * The one line and exit code for a failure of a command (library errors and
 * this module's errors; parser errors are handled by `Cli`). Messages never
 * contain a password: the library names endpoints as host and port only.
 *
 * @since 0.1.0
 * @category errors
 */
export const describe = (error: unknown): { readonly message: string; readonly code: number; readonly usage: boolean } => {
  const e = (typeof error === "object" && error !== null ? error : { _tag: "Unknown", message: String(error) }) as Tagged
  const message = typeof e.message === "string" ? e.message : String(error)
  switch (e._tag) {
    case "StreamNotFound":
      return { message: `stream '${String(e.stream)}' does not exist`, code: ExitCode.failed, usage: false }
    case "GroupNotFound":
      return {
        message: `consumer group '${String(e.group)}' does not exist on stream '${String(e.stream)}'`,
        code: ExitCode.failed,
        usage: false
      }
    case "WrongKeyType":
      return { message: `key '${String(e.key)}' is not a stream`, code: ExitCode.failed, usage: false }
    case "InvalidOptions":
    case "UsageError":
      return { message, code: ExitCode.usage, usage: true }
    default:
      return { message, code: ExitCode.failed, usage: false }
  }
}

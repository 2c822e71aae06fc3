/**
 * `produce <stream>`: add one message from `--field key=value` flags, or,
 * without `--field`, one message per line of stdin, each line a JSON object,
 * all sent in one pipelined batch (`Producer.addAll`).
 *
 * JSON values: a string is stored as is; any other value (number, boolean,
 * null, array, object) is stored as its JSON text. Empty lines are skipped.
 * Every line is checked before anything is sent: a bad line fails the
 * command, naming the line, and nothing is added.
 *
 * Creates the stream if it does not exist (XADD does).
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import { Producer } from "effect-redis-streams"
import { CommandFailed, UsageError } from "../CliError.js"
import * as Flags from "../Flags.js"
import * as Output from "../Output.js"

/**
 * Parse `key=value` (split at the first `=`; the key must not be empty).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseField = (text: string): readonly [string, string] | undefined => {
  const at = text.indexOf("=")
  if (at <= 0) return undefined
  return [text.slice(0, at), text.slice(at + 1)]
}

/**
 * Turn one line of stdin into a message (field map), or explain why not.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseLine = (line: string): { readonly message: Record<string, string> } | { readonly error: string } => {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch (e) {
    return { error: `not valid JSON (${e instanceof Error ? e.message : String(e)})` }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { error: "expected a JSON object like {\"field\":\"value\"}" }
  }
  const entries = Object.entries(value as Record<string, unknown>)
  if (entries.length === 0) return { error: "an empty object has no fields (Redis needs at least one)" }
  const message: Record<string, string> = {}
  for (const [k, v] of entries) message[k] = typeof v === "string" ? v : JSON.stringify(v)
  return { message }
}

const readStdin: Effect.Effect<string, CommandFailed> = Effect.tryPromise({
  try: async () => {
    const chunks: Array<Buffer> = []
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks).toString("utf8")
  },
  catch: (e) => new CommandFailed({ message: `cannot read stdin: ${e instanceof Error ? e.message : String(e)}` })
})

/**
 * The messages to send: from the flags, or from stdin.
 *
 * @since 0.1.0
 * @category operations
 */
export const messages = (
  fieldFlags: ReadonlyArray<string>
): Effect.Effect<ReadonlyArray<Record<string, string>>, CommandFailed | UsageError> =>
  Effect.gen(function*() {
    if (fieldFlags.length > 0) {
      const message: Record<string, string> = {}
      for (const f of fieldFlags) {
        const kv = parseField(f)
        if (kv === undefined) {
          return yield* new UsageError({ message: `--field expects key=value, got '${Output.safe(f)}'` })
        }
        message[kv[0]] = kv[1]
      }
      return [message]
    }
    if (process.stdin.isTTY === true) {
      return yield* new UsageError({
        message: "nothing to send: give --field key=value, or pipe one JSON object per line on stdin"
      })
    }
    const text = yield* readStdin
    const out: Array<Record<string, string>> = []
    const lines = text.split("\n")
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim()
      if (line === "") continue
      const parsed = parseLine(line)
      if ("error" in parsed) {
        return yield* new CommandFailed({ message: `stdin line ${i + 1}: ${parsed.error}; nothing was sent` })
      }
      out.push(parsed.message)
    }
    return out
  })

/**
 * The command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(
  "produce",
  {
    stream: Flags.stream,
    field: Options.text("field").pipe(
      Options.withAlias("f"),
      Options.withPseudoName("key=value"),
      Options.withDescription(
        "a field of the message; repeat for more (--field a=1 --field b=2; a repeated key keeps its last value). Without --field, stdin is read: one JSON object per line, one message each, sent in one batch"
      ),
      Options.repeated
    ),
    json: Flags.json("one JSON object: {stream, count, ids[]}"),
    url: Flags.url
  },
  (flags) =>
    Effect.gen(function*() {
      const batch = yield* messages(flags.field)
      const ids = yield* Flags.withRedis(
        flags.url,
        Effect.flatMap(Producer.make({ stream: flags.stream }), (producer) => producer.addAll(batch))
      )
      if (flags.json) yield* Output.json({ stream: flags.stream, count: ids.length, ids })
      else if (ids.length > 0) yield* Output.line(ids.join("\n"))
      else yield* Output.note("nothing on stdin: no message sent")
    })
).pipe(
  Command.withDescription(
    "Add messages to a stream: one from --field key=value flags, or one per line of stdin (each line a JSON object; non-string values are stored as JSON text), sent in one pipelined batch. Prints the new ids, one per line. Creates the stream if missing."
  )
)

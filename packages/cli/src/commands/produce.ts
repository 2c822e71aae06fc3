/**
 * `produce <stream>`: add one message from `--field key=value` flags, or,
 * without `--field`, one message per line of stdin, each line a JSON object,
 * all sent in one pipelined batch (XADDs pipelined, as `Producer.addAll`).
 *
 * JSON values: a string is stored as is; any other value (number, boolean,
 * null, array, object) is stored as its JSON text. Fields keep their names
 * (`__proto__` too) and their order. Empty lines are skipped. With
 * `--encoding json` each message is stored as JSON text in one field, `data`
 * (the layout of a Consumer's JSON-encoded Schema).
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
import { StreamsBackend } from "effect-redis-streams"
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
 * How a message is stored: `fields`, one stream field per key (the
 * default), or `json`, the whole message as JSON text in one field, `data`,
 * which is how a Consumer or Producer with `encoding: "json"` (or a schema
 * that is not a struct of strings) reads and writes it.
 *
 * @since 0.1.0
 * @category models
 */
export type Encoding = "fields" | "json"

/**
 * The field a JSON-encoded entry keeps its JSON text in.
 *
 * @since 0.1.0
 * @category constants
 */
export const JSON_FIELD = "data"

/**
 * The top-level members of a JSON object in the order they are written, with
 * any name (`__proto__` too) and repeated names kept; a value that is not a
 * string becomes its JSON text. `text` must already be valid JSON (checked by
 * `JSON.parse`): this only finds where each member starts and ends.
 * (`Object.entries` of a parsed object would put integer-like names first.)
 */
const objectMembers = (text: string): Array<readonly [string, string]> => {
  const out: Array<readonly [string, string]> = []
  let depth = 0
  let i = text.indexOf("{")
  let key: string | undefined
  let valueStart = -1
  const close = (end: number) => {
    const raw = text.slice(valueStart, end).trim()
    const value: unknown = JSON.parse(raw)
    // JSON.parse keeps a nested "__proto__" as an own property, and JSON.stringify writes it back
    out.push([key!, typeof value === "string" ? value : JSON.stringify(value)])
    key = undefined
  }
  for (; i < text.length; i++) {
    const c = text[i]!
    if (c === "\"") {
      const start = i
      for (i++; text[i] !== "\""; i++) if (text[i] === "\\") i++
      if (depth === 1 && key === undefined) key = JSON.parse(text.slice(start, i + 1)) as string
    } else if (c === "{" || c === "[") depth++
    else if (c === "}" || c === "]") {
      if (--depth === 0 && key !== undefined) close(i)
    } else if (depth === 1 && c === ":") valueStart = i + 1
    else if (depth === 1 && c === ",") close(i)
  }
  return out
}

/**
 * Turn one line of stdin into the fields of an entry, or explain why not.
 * `fields`: the line is a JSON object, its members become fields in their
 * order, whatever their names. `json`: the line is any JSON value, stored as
 * it is in the `data` field.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseLine = (
  line: string,
  encoding: Encoding = "fields"
): { readonly fields: ReadonlyArray<string> } | { readonly error: string } => {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch (e) {
    return { error: `not valid JSON (${e instanceof Error ? e.message : String(e)})` }
  }
  if (encoding === "json") return { fields: [JSON_FIELD, line] }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { error: "expected a JSON object like {\"field\":\"value\"} (or use --encoding json)" }
  }
  const members = objectMembers(line)
  if (members.length === 0) return { error: "an empty object has no fields (Redis needs at least one)" }
  return { fields: members.flat() }
}

/**
 * The entry of `--field` flags: a repeated key keeps its last value, at the
 * place of its first; any name is kept (a `Map`, never a plain object).
 *
 * @since 0.1.0
 * @category parsing
 */
export const fromFlags = (
  pairs: ReadonlyArray<readonly [string, string]>,
  encoding: Encoding = "fields"
): ReadonlyArray<string> => {
  const map = new Map<string, string>()
  for (const [k, v] of pairs) map.set(k, v)
  if (encoding === "fields") return [...map].flat()
  const members = [...map].map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`)
  return [JSON_FIELD, `{${members.join(",")}}`]
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
 * The entries to send, as flat field lists: from the flags, or from stdin.
 *
 * @since 0.1.0
 * @category operations
 */
export const messages = (
  fieldFlags: ReadonlyArray<string>,
  encoding: Encoding = "fields"
): Effect.Effect<ReadonlyArray<ReadonlyArray<string>>, CommandFailed | UsageError> =>
  Effect.gen(function*() {
    if (fieldFlags.length > 0) {
      const pairs: Array<readonly [string, string]> = []
      for (const f of fieldFlags) {
        const kv = parseField(f)
        if (kv === undefined) {
          return yield* new UsageError({ message: `--field expects key=value, got '${Output.safe(f)}'` })
        }
        pairs.push(kv)
      }
      return [fromFlags(pairs, encoding)]
    }
    if (process.stdin.isTTY === true) {
      return yield* new UsageError({
        message: "nothing to send: give --field key=value, or pipe one JSON object per line on stdin"
      })
    }
    const text = yield* readStdin
    const out: Array<ReadonlyArray<string>> = []
    const lines = text.split("\n")
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim()
      if (line === "") continue
      const parsed = parseLine(line, encoding)
      if ("error" in parsed) {
        return yield* new CommandFailed({ message: `stdin line ${i + 1}: ${parsed.error}; nothing was sent` })
      }
      out.push(parsed.fields)
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
    encoding: Options.choice("encoding", ["fields", "json"]).pipe(
      Options.withDescription(
        "fields (default): one stream field per key; json: the whole message as JSON text in the field \"data\" (what a Consumer with a JSON-encoded Schema reads; each stdin line may then be any JSON value)"
      ),
      Options.withDefault("fields" as const)
    ),
    json: Flags.json("one JSON object: {stream, count, ids[]}"),
    url: Flags.url
  },
  (flags) =>
    Effect.gen(function*() {
      const batch = yield* messages(flags.field, flags.encoding)
      const ids = batch.length === 0 ? [] : yield* Flags.withRedis(
        flags.url,
        // flat field lists, straight to XADD: field names and their order are kept as given
        Effect.flatMap(StreamsBackend.StreamsBackend, (backend) => backend.addMany(flags.stream, batch))
      )
      if (flags.json) yield* Output.json({ stream: flags.stream, count: ids.length, ids })
      else if (ids.length > 0) yield* Output.line(ids.join("\n"))
      else yield* Output.note("nothing on stdin: no message sent")
    })
).pipe(
  Command.withDescription(
    "Add messages to a stream: one from --field key=value flags, or one per line of stdin (each line a JSON object; non-string values are stored as JSON text), sent in one pipelined batch. --encoding json stores each message as JSON in the field \"data\", for a Consumer with a JSON-encoded Schema. Prints the new ids, one per line. Creates the stream if missing."
  )
)

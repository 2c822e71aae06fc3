/**
 * `dlq list|replay|purge <stream>`: the dead letters of a stream (its
 * dead-letter stream, `DeadLetter.defaultStream(stream)` unless `--dlq`
 * names another).
 *
 * - `list` prints them: id, original id and stream, group, consumer,
 *   deliveries, error, time, and the original fields.
 * - `replay` adds each one's original fields to its source stream (the
 *   `dlq:stream` it records, else `<stream>`) as a new entry, then deletes
 *   the dead letter, only once the add succeeded: a failure in between leaves
 *   a duplicate, never a loss.
 * - `purge` deletes them.
 *
 * `replay` and `purge` change nothing without `--yes`: they print what they
 * would do. `--id` (repeatable) selects dead letters by id; `--count` bounds
 * how many are handled, oldest first. Exactly the dead letters listed are
 * handled: one added meanwhile is left alone.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { DeadLetter, StreamsBackend, StreamsError } from "effect-redis-streams"
import { UsageError } from "../CliError.js"
import * as Flags from "../Flags.js"
import * as Output from "../Output.js"

/**
 * The JSON form of one dead letter.
 *
 * @since 0.1.0
 * @category models
 */
export interface DeadLetterJson {
  /** its id in the dead-letter stream */
  readonly id: string
  /** the id it had in its source stream */
  readonly originalId: string
  /** the source stream */
  readonly stream: string
  readonly group: string
  readonly consumer: string
  readonly deliveries: number
  readonly error: string
  /** when it was dead-lettered, ms since epoch */
  readonly at: number
  /** the original fields (a repeated field name keeps its last value) */
  readonly fields: Readonly<Record<string, string>>
}

/**
 * The JSON form of a dead letter.
 *
 * @since 0.1.0
 * @category rendering
 */
export const toJson = (d: DeadLetter.DeadLetter): DeadLetterJson => ({
  id: d.id,
  originalId: d.meta.id,
  stream: d.meta.stream,
  group: d.meta.group,
  consumer: d.meta.consumer,
  deliveries: d.meta.deliveries,
  error: d.meta.error,
  at: d.meta.at,
  fields: Output.fieldsObject(d.original)
})

/**
 * Two lines per dead letter.
 *
 * @since 0.1.0
 * @category rendering
 */
export const render = (d: DeadLetter.DeadLetter): string =>
  `${d.id}  ${Output.safe(d.meta.stream)} ${d.meta.id}  group ${Output.safe(d.meta.group)}  consumer ${
    Output.safe(d.meta.consumer)
  }  deliveries ${d.meta.deliveries}  at ${d.meta.at > 0 ? new Date(d.meta.at).toISOString() : "-"}  error: ${
    Output.safe(d.meta.error)
  }\n    ${Output.fields(d.original)}`

const PAGE = 500

/**
 * Read dead letters oldest first: the ids selected, or all, at most `count`.
 *
 * @since 0.1.0
 * @category operations
 */
export const read = (
  deadLetterStream: string,
  options: { readonly ids: ReadonlyArray<string>; readonly count: number | undefined }
) =>
  Effect.gen(function*() {
    const backend = yield* StreamsBackend.StreamsBackend
    const out: Array<DeadLetter.DeadLetter> = []
    const limit = options.count ?? Number.POSITIVE_INFINITY
    if (options.ids.length > 0) {
      for (const id of options.ids) {
        if (out.length >= limit) break
        const found = yield* backend.range(deadLetterStream, { start: id, end: id, count: 1 })
        if (found.length === 0) yield* Output.note(`no dead letter ${Output.safe(id)} in ${Output.safe(deadLetterStream)}`)
        else out.push(DeadLetter.parse(found[0]!))
      }
      return out
    }
    let start = "-"
    while (out.length < limit) {
      const page = yield* backend.range(deadLetterStream, {
        start,
        end: "+",
        count: Math.min(PAGE, limit - out.length)
      })
      for (const e of page) out.push(DeadLetter.parse(e))
      if (page.length < PAGE) break
      start = `(${page[page.length - 1]!.id}`
    }
    return out
  })

/**
 * The dead-letter stream of `stream` (or `--dlq`), after checking that
 * something exists: a missing dead-letter stream is empty, but if the source
 * stream is missing too the name is probably wrong, which is an error.
 *
 * @since 0.1.0
 * @category operations
 */
export const resolve = (stream: string, dlq: Option.Option<string>) =>
  Effect.gen(function*() {
    const backend = yield* StreamsBackend.StreamsBackend
    const name = Option.getOrElse(dlq, () => DeadLetter.defaultStream(stream))
    const length = yield* backend.length(name)
    if (length === 0 && Option.isNone(dlq)) {
      const source = yield* backend.length(stream)
      if (source === 0) {
        // XLEN is 0 for a missing key and for an empty stream: tell them apart
        yield* Effect.catchTag(backend.streamInfo(stream), "StreamNotFound", () =>
          Effect.fail(
            new StreamsError.StreamNotFound({
              message: `stream '${stream}' does not exist, nor its dead-letter stream '${name}'`,
              stream,
              command: "XINFO STREAM"
            })
          ))
      }
    }
    return { name, length }
  })

const common = {
  stream: Flags.stream,
  dlq: Options.text("dlq").pipe(
    Options.withPseudoName("stream"),
    Options.withDescription("the dead-letter stream (default {<stream>}:dlq, or <stream>:dlq when <stream> has a {hash tag})"),
    Options.optional
  ),
  id: Options.text("id").pipe(
    Options.withDescription("only this dead letter (its id in the dead-letter stream); repeatable"),
    Options.repeated
  ),
  url: Flags.url
}

/**
 * `dlq list`.
 *
 * @since 0.1.0
 * @category commands
 */
export const list = Command.make(
  "list",
  {
    ...common,
    count: Flags.integer("count", "show at most N, oldest first (default 100)", 1).pipe(Options.withDefault(100)),
    json: Flags.json(
      "one JSON object: {deadLetterStream, length, deadLetters[{id, originalId, stream, group, consumer, deliveries, error, at, fields}]}"
    )
  },
  (flags) =>
    Flags.withRedis(
      flags.url,
      Effect.gen(function*() {
        const { length, name } = yield* resolve(flags.stream, flags.dlq)
        const letters = yield* read(name, { ids: flags.id, count: flags.count })
        if (flags.json) {
          return yield* Output.json({ deadLetterStream: name, length, deadLetters: letters.map(toJson) })
        }
        const head = `${Output.safe(name)}: ${length} dead letters${letters.length < length ? ` (showing ${letters.length})` : ""}`
        yield* Output.line([head, ...letters.map(render)].join("\n"))
      })
    )
).pipe(Command.withDescription("List dead letters, oldest first: where they came from, why, and their fields."))

/**
 * `dlq replay`.
 *
 * @since 0.1.0
 * @category commands
 */
export const replay = Command.make(
  "replay",
  {
    ...common,
    count: Flags.integer("count", "replay at most N, oldest first (default all)", 1).pipe(Options.optional),
    yes: Options.boolean("yes").pipe(
      Options.withAlias("y"),
      Options.withDescription("do it; without --yes only print what would be done")
    ),
    json: Flags.json(
      "one JSON object: {deadLetterStream, dryRun, replayed[{id, stream, originalId, newId}], failed[{id, error}]} (newId null on a dry run)"
    )
  },
  (flags) =>
    Flags.withRedis(
      flags.url,
      Effect.gen(function*() {
        const backend = yield* StreamsBackend.StreamsBackend
        const { name } = yield* resolve(flags.stream, flags.dlq)
        const letters = yield* read(name, { ids: flags.id, count: Option.getOrUndefined(flags.count) })
        const replayed: Array<{ id: string; stream: string; originalId: string; newId: string | null }> = []
        const failed: Array<{ id: string; error: string }> = []
        for (const d of letters) {
          const target = d.meta.stream !== "" ? d.meta.stream : flags.stream
          if (d.original.length === 0) {
            failed.push({ id: d.id, error: "no original fields to replay" })
            continue
          }
          if (!flags.yes) {
            replayed.push({ id: d.id, stream: target, originalId: d.meta.id, newId: null })
            continue
          }
          // add first, delete only once the add succeeded: a crash in between duplicates, never loses
          const newId = yield* backend.add(target, d.original)
          yield* backend.delete(name, [d.id])
          replayed.push({ id: d.id, stream: target, originalId: d.meta.id, newId })
        }
        if (flags.json) {
          yield* Output.json({ deadLetterStream: name, dryRun: !flags.yes, replayed, failed })
        } else {
          const lines = replayed.map((r) =>
            flags.yes
              ? `replayed ${r.id} -> ${Output.safe(r.stream)} ${r.newId} (was ${r.originalId})`
              : `would replay ${r.id} -> ${Output.safe(r.stream)} (was ${r.originalId})`
          )
          for (const f of failed) lines.push(`skipped ${f.id}: ${f.error}`)
          lines.push(
            flags.yes
              ? `${replayed.length} dead letters replayed from ${Output.safe(name)}`
              : `${replayed.length} dead letters would be replayed from ${Output.safe(name)}; nothing changed (add --yes to do it)`
          )
          yield* Output.line(lines.join("\n"))
        }
      })
    )
).pipe(
  Command.withDescription(
    "Move dead letters back to their source stream: add the original fields as a new entry, then delete the dead letter. Without --yes, print what would be done."
  )
)

/**
 * `dlq purge`.
 *
 * @since 0.1.0
 * @category commands
 */
export const purge = Command.make(
  "purge",
  {
    ...common,
    count: Flags.integer("count", "delete at most N, oldest first (default all)", 1).pipe(Options.optional),
    yes: Options.boolean("yes").pipe(
      Options.withAlias("y"),
      Options.withDescription("do it; without --yes only print what would be deleted")
    ),
    json: Flags.json("one JSON object: {deadLetterStream, dryRun, ids[], deleted}")
  },
  (flags) =>
    Flags.withRedis(
      flags.url,
      Effect.gen(function*() {
        const backend = yield* StreamsBackend.StreamsBackend
        const { name } = yield* resolve(flags.stream, flags.dlq)
        const letters = yield* read(name, { ids: flags.id, count: Option.getOrUndefined(flags.count) })
        const ids = letters.map((d) => d.id)
        let deleted = 0
        if (flags.yes) {
          for (let i = 0; i < ids.length; i += PAGE) deleted += yield* backend.delete(name, ids.slice(i, i + PAGE))
        }
        if (flags.json) {
          return yield* Output.json({ deadLetterStream: name, dryRun: !flags.yes, ids, deleted })
        }
        const lines = ids.map((id) => `${flags.yes ? "deleted" : "would delete"} ${id}`)
        lines.push(
          flags.yes
            ? `${deleted} dead letters deleted from ${Output.safe(name)}`
            : `${ids.length} dead letters would be deleted from ${Output.safe(name)}; nothing changed (add --yes to do it)`
        )
        yield* Output.line(lines.join("\n"))
      })
    )
).pipe(Command.withDescription("Delete dead letters. Without --yes, print what would be deleted."))

/**
 * `dlq` and its subcommands.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(
  "dlq",
  {},
  () => Effect.fail(new UsageError({ message: "missing dlq command: one of list, replay, purge" }))
).pipe(
  Command.withDescription("Inspect, replay or purge a stream's dead letters (list | replay | purge)."),
  Command.withSubcommands([list, replay, purge])
)

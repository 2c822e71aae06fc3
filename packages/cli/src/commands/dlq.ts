/**
 * `dlq list|replay|purge <stream>`: the dead letters of a stream (its
 * dead-letter stream, `DeadLetter.defaultStream(stream)` unless `--dlq`
 * names another).
 *
 * - `list` prints them: id, original id and stream, group, consumer,
 *   deliveries, error, time, and the original fields.
 * - `replay` adds each one's original fields to its source stream (the
 *   `dlq:stream` it records, else `<stream>`), or to `--to`, as a new entry
 *   and deletes the dead letter in the same atomic step
 *   (`DeadLetter.replay`); `--keep` keeps the dead letters.
 * - `purge` deletes them.
 *
 * `replay` and `purge` change nothing without `--yes`: they print what they
 * would do. `--id` (repeatable) selects dead letters by their id or by the
 * original entry's id; an `--id` that matches nothing fails the command
 * before anything is done. `--count` bounds how many are handled, oldest
 * first. Exactly the dead letters listed are handled: one added meanwhile is
 * left alone.
 *
 * The work is the library's (`DeadLetter.list`, `find`, `replay`, `purge`);
 * this module parses flags and prints.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { DeadLetter, StreamsBackend, StreamsError } from "effect-redis-streams"
import { CommandFailed, UsageError } from "../CliError.js"
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

/**
 * The dead letters a command works on, oldest first: those `--id` names (by
 * their id or the original entry's id), or all, at most `count`. An `--id`
 * that matches nothing fails with `CommandFailed`, before anything is done.
 *
 * @since 0.1.0
 * @category operations
 */
export const read = (
  deadLetterStream: string,
  options: { readonly ids: ReadonlyArray<string>; readonly count: number | undefined }
) =>
  Effect.gen(function*() {
    const limit = options.count ?? Number.POSITIVE_INFINITY
    if (options.ids.length > 0) {
      const seen = new Set<string>()
      const out: Array<DeadLetter.DeadLetter> = []
      const unmatched: Array<string> = []
      for (const id of options.ids) {
        const found = yield* DeadLetter.find(deadLetterStream, id)
        if (found.length === 0) unmatched.push(id)
        for (const d of found) if (!seen.has(d.id)) seen.add(d.id), out.push(d)
      }
      if (unmatched.length > 0) {
        return yield* new CommandFailed({
          message: `no dead letter with id ${unmatched.map(Output.safe).join(", ")} in ${
            Output.safe(deadLetterStream)
          } (neither a dead letter's id nor an original entry's id); nothing was done`
        })
      }
      return out.slice(0, Math.min(out.length, limit))
    }
    if (Number.isFinite(limit)) return (yield* DeadLetter.list(deadLetterStream, { count: limit })).deadLetters
    return Array.from(yield* Stream.runCollect(DeadLetter.stream(deadLetterStream)))
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
    Options.withDescription(
      "only this dead letter: its id in the dead-letter stream, or the original entry's id; repeatable; one that matches nothing fails the command"
    ),
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
    to: Options.text("to").pipe(
      Options.withPseudoName("stream"),
      Options.withDescription("add to this stream instead of each dead letter's source stream"),
      Options.optional
    ),
    keep: Options.boolean("keep").pipe(
      Options.withDescription("keep the dead letters (by default each is deleted in the same step as its replay)")
    ),
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
        const { name } = yield* resolve(flags.stream, flags.dlq)
        const letters = yield* read(name, { ids: flags.id, count: Option.getOrUndefined(flags.count) })
        const to = Option.getOrUndefined(flags.to)
        // a dead letter that records no source stream goes to <stream>
        const targetOf = (d: DeadLetter.DeadLetter) => to ?? (d.meta.stream !== "" ? d.meta.stream : flags.stream)
        const replayed: Array<{ id: string; stream: string; originalId: string; newId: string | null }> = []
        const failed: Array<{ id: string; error: string }> = []
        if (!flags.yes) {
          for (const d of letters) {
            if (d.original.length === 0) failed.push({ id: d.id, error: "no original fields to replay" })
            else replayed.push({ id: d.id, stream: targetOf(d), originalId: d.meta.id, newId: null })
          }
        } else {
          for (const d of letters) {
            const results = yield* DeadLetter.replay(name, [d], { to: targetOf(d), delete: !flags.keep })
            for (const r of results) {
              if (r.status === "replayed") {
                replayed.push({ id: r.id, stream: r.stream, originalId: r.originalId, newId: r.newId })
              } else {
                const error = r.status === "missing"
                  ? "no longer in the dead-letter stream (replayed or purged meanwhile)"
                  : r.reason
                failed.push({ id: r.id, error })
              }
            }
          }
        }
        if (flags.json) {
          yield* Output.json({ deadLetterStream: name, dryRun: !flags.yes, replayed, failed })
        } else {
          const lines = replayed.map((r) =>
            flags.yes
              ? `replayed ${r.id} -> ${Output.safe(r.stream)} ${r.newId} (was ${r.originalId})`
              : `would replay ${r.id} -> ${Output.safe(r.stream)} (was ${r.originalId})`
          )
          for (const f of failed) lines.push(`skipped ${f.id}: ${Output.safe(f.error)}`)
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
    "Move dead letters back to their source stream (or --to): add the original fields as a new entry and delete the dead letter in one atomic step (--keep keeps it). --id takes a dead letter's id or the original entry's id. Without --yes, print what would be done."
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
        const { name } = yield* resolve(flags.stream, flags.dlq)
        const letters = yield* read(name, { ids: flags.id, count: Option.getOrUndefined(flags.count) })
        const ids = letters.map((d) => d.id)
        const deleted = flags.yes ? yield* DeadLetter.purge(name, ids) : 0
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

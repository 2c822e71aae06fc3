/**
 * `info <stream>`: the stream's length, first and last ids, dead letters, and
 * each consumer group with its lag and pending count. Reads only (XINFO,
 * XLEN); a missing stream is an error, nothing is created.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import { DeadLetter, Monitor, StreamsBackend } from "effect-redis-streams"
import * as Flags from "../Flags.js"
import * as Output from "../Output.js"

/**
 * The JSON form of `info --json` (one object).
 *
 * @since 0.1.0
 * @category models
 */
export interface InfoJson {
  readonly stream: string
  readonly length: number
  /** `null` when the stream is empty */
  readonly firstId: string | null
  readonly lastId: string | null
  readonly lastGeneratedId: string
  readonly entriesAdded: number
  readonly deadLetterStream: string
  readonly deadLetters: number
  readonly groups: ReadonlyArray<{
    readonly name: string
    /** entries not yet delivered to the group */
    readonly lag: number
    /** `false` when `lag` is a lower bound (the server could not report it and the count stopped at its limit) */
    readonly lagExact: boolean
    readonly pending: number
    readonly consumers: number
    readonly lastDeliveredId: string
  }>
}

/**
 * Read the stream's figures.
 *
 * @since 0.1.0
 * @category operations
 */
export const collect = (stream: string) =>
  Effect.gen(function*() {
    const backend = yield* StreamsBackend.StreamsBackend
    const info = yield* backend.streamInfo(stream)
    const monitor = yield* Monitor.make({ stream })
    const report = yield* monitor.report
    const deadLetterStream = DeadLetter.defaultStream(stream)
    const deadLetters = yield* backend.length(deadLetterStream)
    const out: InfoJson = {
      stream,
      length: info.length,
      firstId: info.firstEntry?.id ?? null,
      lastId: info.lastEntry?.id ?? null,
      lastGeneratedId: info.lastGeneratedId,
      entriesAdded: info.entriesAdded,
      deadLetterStream,
      deadLetters,
      groups: report.groups.map((g) => ({
        name: g.name,
        lag: g.lag,
        lagExact: g.lagExact,
        pending: g.pending,
        consumers: g.consumers.length,
        lastDeliveredId: g.lastDeliveredId
      }))
    }
    return out
  }).pipe(Effect.scoped)

/**
 * The text form.
 *
 * @since 0.1.0
 * @category rendering
 */
export const render = (info: InfoJson): string => {
  const head = Output.pairs([
    ["stream", info.stream],
    ["length", info.length],
    ["first id", info.firstId ?? "-"],
    ["last id", info.lastId ?? "-"],
    ["entries added", info.entriesAdded],
    ["dead letters", `${info.deadLetters} (${info.deadLetterStream})`],
    ["groups", info.groups.length]
  ])
  if (info.groups.length === 0) return `${head}\n\nno consumer groups`
  const table = Output.columns(
    ["group", "lag", "pending", "consumers", "last delivered id"],
    info.groups.map((g) => [g.name, g.lagExact ? g.lag : `>=${g.lag}`, g.pending, g.consumers, g.lastDeliveredId])
  )
  return `${head}\n\n${table}`
}

/**
 * The command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(
  "info",
  {
    stream: Flags.stream,
    json: Flags.json("one JSON object: stream, length, firstId, lastId, lastGeneratedId, entriesAdded, deadLetterStream, deadLetters, groups[{name, lag, lagExact, pending, consumers, lastDeliveredId}]"),
    url: Flags.url
  },
  ({ json, stream, url }) =>
    Flags.withRedis(
      url,
      Effect.flatMap(collect(stream), (info) => json ? Output.json(info) : Output.line(render(info)))
    )
).pipe(
  Command.withDescription(
    "Show a stream: length, first and last ids, dead letters, and each consumer group with its lag, pending count and consumers. Read-only: never creates anything."
  )
)

/**
 * The machinery of `DeadLetter`: reading, finding, replaying and purging the
 * entries of a dead-letter stream over the `StreamsBackend` port. The
 * public module holds the types and the documentation.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { DeadLetter, ListOptions, Page, ReplayOptions, ReplayResult } from "../DeadLetter.js"
import type { StreamEntry } from "../StreamsBackend.js"
import { StreamsBackend } from "../StreamsBackend.js"
import { type BackendError, InvalidOptions } from "../StreamsError.js"

/** entries per XRANGE when a whole dead-letter stream is read or scanned */
export const PAGE = 500

/** ids per XDEL */
const DELETE_CHUNK = 500

/** the metadata prefix (`DeadLetter.PREFIX`; repeated here so the public module can import this one) */
const PREFIX = "dlq:"

const metaField = (field: string): string | undefined =>
  field.startsWith(PREFIX) ? field.slice(PREFIX.length) : undefined

/** split an entry into original fields and metadata */
export const parse = (entry: StreamEntry): DeadLetter => {
  const original: Array<string> = []
  // a Map: metadata names come from the stream, never a plain object's keys
  const meta = new Map<string, string>()
  const f = entry.fields
  for (let i = 0; i + 1 < f.length; i += 2) {
    const key = f[i]!
    const name = metaField(key)
    if (name !== undefined) meta.set(name, f[i + 1]!)
    else original.push(key, f[i + 1]!)
  }
  const number = (name: string): number => {
    const n = Number(meta.get(name) ?? 0)
    return Number.isFinite(n) ? n : 0
  }
  return {
    id: entry.id,
    original,
    meta: {
      id: meta.get("id") ?? "",
      stream: meta.get("stream") ?? "",
      group: meta.get("group") ?? "",
      consumer: meta.get("consumer") ?? "",
      deliveries: number("deliveries"),
      error: meta.get("error") ?? "",
      at: number("at")
    }
  }
}

const invalid = (option: string, message: string) => new InvalidOptions({ option, message })

const checkStream = (option: string, name: unknown): Effect.Effect<void, InvalidOptions> =>
  typeof name === "string" && name.length > 0
    ? Effect.void
    : Effect.fail(invalid(option, `${option} must be a non-empty stream name, got ${JSON.stringify(name)}`))

const checkCount = (option: string, count: unknown): Effect.Effect<void, InvalidOptions> =>
  count === undefined || (typeof count === "number" && Number.isSafeInteger(count) && count >= 1)
    ? Effect.void
    : Effect.fail(invalid(option, `${option} must be an integer >= 1, got ${String(count)}`))

/** one page, oldest first, after the cursor */
export const list = (
  deadLetterStream: string,
  options?: ListOptions
): Effect.Effect<Page, BackendError | InvalidOptions, StreamsBackend> =>
  Effect.gen(function*() {
    yield* checkStream("deadLetterStream", deadLetterStream)
    yield* checkCount("count", options?.count)
    const count = options?.count ?? 100
    const backend = yield* StreamsBackend
    const start = options?.after === undefined ? "-" : `(${options.after}`
    const entries = yield* backend.range(deadLetterStream, { start, end: "+", count })
    const deadLetters = entries.map(parse)
    return {
      deadLetters,
      next: entries.length === count ? entries[entries.length - 1]!.id : undefined
    }
  })

/** every dead letter, oldest first, a page of `pageSize` at a time */
export const stream = (
  deadLetterStream: string,
  options?: { readonly pageSize?: number | undefined }
): Stream.Stream<DeadLetter, BackendError | InvalidOptions, StreamsBackend> =>
  Stream.paginateEffect(undefined as string | undefined, (after) =>
    Effect.map(
      list(deadLetterStream, { after, count: options?.pageSize ?? PAGE }),
      (page): readonly [ReadonlyArray<DeadLetter>, Option.Option<string | undefined>] => [
        page.deadLetters,
        Option.fromNullable(page.next)
      ]
    )).pipe(Stream.mapConcat((letters) => letters))

const isStreamId = (id: string): boolean => /^\d+(-\d+)?$/.test(id)

/** the dead letter with this id, or the dead letters of the original entry with this id */
export const find = (
  deadLetterStream: string,
  id: string
): Effect.Effect<ReadonlyArray<DeadLetter>, BackendError | InvalidOptions, StreamsBackend> =>
  Effect.gen(function*() {
    yield* checkStream("deadLetterStream", deadLetterStream)
    const backend = yield* StreamsBackend
    if (isStreamId(id)) {
      const own = yield* backend.range(deadLetterStream, { start: id, end: id, count: 1 })
      if (own.length > 0) return [parse(own[0]!)]
    }
    // by the original id: a scan, oldest first (the metadata is not indexed)
    const matches: Array<DeadLetter> = []
    yield* Stream.runForEach(
      stream(deadLetterStream),
      (d) => Effect.sync(() => void (d.meta.id === id && matches.push(d)))
    )
    return matches
  })

const targetOf = (d: DeadLetter, options: ReplayOptions | undefined): string | undefined => {
  const to = options?.to ?? d.meta.stream
  return to === "" ? undefined : to
}

/** replay one dead letter */
const replayOne = (
  deadLetterStream: string,
  d: DeadLetter,
  options: ReplayOptions | undefined
): Effect.Effect<ReplayResult, BackendError, StreamsBackend> =>
  Effect.gen(function*() {
    const base = { id: d.id, originalId: d.meta.id }
    const to = targetOf(d, options)
    if (to === undefined) {
      return { ...base, status: "skipped", stream: "", reason: "no source stream recorded (give `to`)" } as const
    }
    if (d.original.length === 0) {
      return { ...base, status: "skipped", stream: to, reason: "no original fields to replay" } as const
    }
    const backend = yield* StreamsBackend
    if (options?.delete === false) {
      const newId = yield* backend.add(to, d.original)
      return { ...base, status: "replayed", stream: to, newId } as const
    }
    const newId = yield* backend.moveEntry({ from: deadLetterStream, id: d.id, to, fields: d.original })
    return newId === null
      ? { ...base, status: "missing", stream: to } as const
      : { ...base, status: "replayed", stream: to, newId } as const
  })

/** replay dead letters one by one, in the order given */
export const replay = (
  deadLetterStream: string,
  deadLetters: Iterable<DeadLetter>,
  options?: ReplayOptions
): Effect.Effect<ReadonlyArray<ReplayResult>, BackendError | InvalidOptions, StreamsBackend> =>
  Effect.gen(function*() {
    yield* checkStream("deadLetterStream", deadLetterStream)
    if (options?.to !== undefined) yield* checkStream("to", options.to)
    const out: Array<ReplayResult> = []
    for (const d of deadLetters) out.push(yield* replayOne(deadLetterStream, d, options))
    return out
  })

/** delete dead letters by id; how many existed */
export const purge = (
  deadLetterStream: string,
  ids: Iterable<string | DeadLetter>
): Effect.Effect<number, BackendError | InvalidOptions, StreamsBackend> =>
  Effect.gen(function*() {
    yield* checkStream("deadLetterStream", deadLetterStream)
    const backend = yield* StreamsBackend
    const all = Array.from(ids, (x) => (typeof x === "string" ? x : x.id))
    let deleted = 0
    for (let i = 0; i < all.length; i += DELETE_CHUNK) {
      deleted += yield* backend.delete(deadLetterStream, all.slice(i, i + DELETE_CHUNK))
    }
    return deleted
  })

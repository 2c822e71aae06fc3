/**
 * Dead letters: where a Consumer moves entries delivered more than
 * `maxDeliveries` times, entries that do not decode, and entries a handler
 * rejects as `Poison`.
 *
 * A dead-letter entry keeps the original fields unchanged and adds metadata
 * fields, all prefixed `dlq:`:
 * `dlq:id` (original id), `dlq:stream`, `dlq:group`, `dlq:consumer`,
 * `dlq:deliveries`, `dlq:error`, `dlq:at` (ms since epoch).
 *
 * The move is: add to the dead-letter stream, then acknowledge in the source
 * group. A crash between the two leaves the entry pending; it is moved again
 * later, so a dead-letter stream may hold a duplicate, never a loss.
 *
 * Naming and Redis Cluster: the default dead-letter stream of `orders` is
 * `{orders}:dlq`, and of a stream that already has a hash tag, like
 * `{shop}:orders`, it is `{shop}:orders:dlq`. Either way both keys hash to the
 * same slot. A name you give yourself should keep that rule. (A stream name
 * that contains `}` without a valid hash tag, like `a{}b`, cannot share a slot
 * with any other key; its default is `a{}b:dlq`, in another slot, which works
 * too: the move needs no atomicity across the two keys.)
 *
 * ## Working with dead letters
 *
 * `list` (a page, oldest first, with a cursor), `stream` (all of them),
 * `find` (by the dead letter's id or by the original entry's id), `replay`
 * (back to the source stream or to another, deleting the dead letter or
 * keeping it) and `purge`, over the `StreamsBackend` port (Redis or memory).
 * The `redis-streams dlq` command is built on them.
 *
 * Replay is atomic per dead letter when it deletes (the default): the new
 * entry is added and the dead letter deleted in one step
 * (`StreamsBackend.moveEntry`: one Lua script on Redis), and only if the dead
 * letter is still there, so two replays running at once never add one twice
 * and a replay interrupted half-way leaves every dead letter either replayed
 * or still in the dead-letter stream. The exception is a Redis Cluster where
 * the target stream is in another slot than the dead-letter stream (`to` names
 * a stream without the same hash tag): there the add and the delete are two
 * commands, and an interruption between them leaves a duplicate (never a
 * loss). A replayed entry is a new entry with a new id: the original id, the
 * group and the delivery count are not carried over (the original's entry may
 * long be trimmed from its stream; the replayed one is delivered to every
 * group of the target stream).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DeadLetter, InMemoryBackend } from "effect-redis-streams"
 *
 * const program = Effect.gen(function*() {
 *   const dlq = DeadLetter.defaultStream("orders") // "{orders}:dlq"
 *   const page = yield* DeadLetter.list(dlq, { count: 10 })
 *   for (const d of page.deadLetters) {
 *     console.log(d.meta.id, d.meta.error, d.meta.deliveries)
 *   }
 *   // back to "orders", each one added and deleted in one step
 *   const results = yield* DeadLetter.replay(dlq, page.deadLetters)
 *   return results.filter((r) => r.status === "replayed").length
 * }).pipe(Effect.provide(InMemoryBackend.layer))
 * ```
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/deadLetter.js"
import type { Fields, StreamEntry, StreamsBackend } from "./StreamsBackend.js"
import type { BackendError, InvalidOptions } from "./StreamsError.js"

/**
 * Prefix of the metadata fields.
 *
 * @since 0.1.0
 * @category constants
 */
export const PREFIX = "dlq:"

const hashTag = (key: string): string | undefined => {
  const open = key.indexOf("{")
  if (open === -1) return undefined
  const close = key.indexOf("}", open + 1)
  if (close === -1 || close === open + 1) return undefined
  return key.slice(open + 1, close)
}

/**
 * The default dead-letter stream of `stream`, in the same Cluster slot.
 *
 * @since 0.1.0
 * @category naming
 */
export const defaultStream = (stream: string): string => {
  if (hashTag(stream) !== undefined) return `${stream}:dlq`
  // a name with "}" but no valid hash tag cannot be wrapped in one: it gets a plain suffix, in
  // another slot (which works: moving a dead letter needs no atomicity across the two keys)
  if (stream.includes("}")) return `${stream}:dlq`
  return `{${stream}}:dlq`
}

/**
 * Metadata of a dead letter.
 *
 * @since 0.1.0
 * @category models
 */
export interface Metadata {
  readonly id: string
  readonly stream: string
  readonly group: string
  readonly consumer: string
  readonly deliveries: number
  readonly error: string
  readonly at: number
}

/**
 * The fields of a dead-letter entry: original fields, then metadata.
 *
 * @since 0.1.0
 * @category constructors
 */
export const toFields = (original: Fields, meta: Metadata): Array<string> => [
  ...original,
  `${PREFIX}id`,
  meta.id,
  `${PREFIX}stream`,
  meta.stream,
  `${PREFIX}group`,
  meta.group,
  `${PREFIX}consumer`,
  meta.consumer,
  `${PREFIX}deliveries`,
  String(meta.deliveries),
  `${PREFIX}error`,
  meta.error,
  `${PREFIX}at`,
  String(meta.at)
]

/**
 * A dead-letter entry read back: its id in the dead-letter stream, the
 * original fields, and the metadata.
 *
 * @since 0.1.0
 * @category models
 */
export interface DeadLetter {
  readonly id: string
  readonly original: Fields
  readonly meta: Metadata
}

/**
 * Split a dead-letter entry into original fields and metadata (a metadata
 * field that is missing reads as `""` or `0`).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse: (entry: StreamEntry) => DeadLetter = internal.parse

/**
 * Options of `list`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListOptions {
  /** the cursor: list the dead letters after this id (a page's `next`); default: from the oldest */
  readonly after?: string | undefined
  /** at most this many (>= 1, default 100) */
  readonly count?: number | undefined
}

/**
 * A page of dead letters, oldest first. `next` is the cursor of the next page
 * (`undefined` when this page was the last).
 *
 * @since 0.1.0
 * @category models
 */
export interface Page {
  readonly deadLetters: ReadonlyArray<DeadLetter>
  readonly next: string | undefined
}

/**
 * One page of a dead-letter stream, oldest first (XRANGE).
 *
 * @since 0.1.0
 * @category reading
 */
export const list: (
  deadLetterStream: string,
  options?: ListOptions
) => Effect.Effect<Page, BackendError | InvalidOptions, StreamsBackend> = internal.list

/**
 * Every dead letter of a dead-letter stream, oldest first, read a page at a
 * time (default 500) as the stream is pulled.
 *
 * @since 0.1.0
 * @category reading
 */
export const stream: (
  deadLetterStream: string,
  options?: { readonly pageSize?: number | undefined }
) => Stream.Stream<DeadLetter, BackendError | InvalidOptions, StreamsBackend> = internal.stream

/**
 * The dead letters an id names: the dead letter with that id, or else those
 * whose original entry had that id (`meta.id`; more than one when a crash
 * duplicated a move). Finding by the original id reads the whole
 * dead-letter stream (the metadata is not indexed). Empty when nothing
 * matches.
 *
 * @since 0.1.0
 * @category reading
 */
export const find: (
  deadLetterStream: string,
  id: string
) => Effect.Effect<ReadonlyArray<DeadLetter>, BackendError | InvalidOptions, StreamsBackend> = internal.find

/**
 * Options of `replay`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReplayOptions {
  /** the stream to add to; default: each dead letter's source stream (`meta.stream`) */
  readonly to?: string | undefined
  /**
   * delete each dead letter as it is replayed, atomically with the add
   * (default `true`); `false` keeps them (a plain XADD per dead letter)
   */
  readonly delete?: boolean | undefined
}

/**
 * What `replay` did with one dead letter:
 * - `replayed`: added to `stream` as `newId` (and deleted, unless
 *   `delete: false`);
 * - `missing`: the dead letter was no longer in the dead-letter stream
 *   (replayed or purged meanwhile): nothing was added;
 * - `skipped`: it could not be replayed (`reason`: no original fields, as
 *   for an entry too large to copy, or no source stream and no `to`).
 *
 * @since 0.1.0
 * @category models
 */
export type ReplayResult =
  | {
    readonly status: "replayed"
    readonly id: string
    readonly originalId: string
    readonly stream: string
    readonly newId: string
  }
  | { readonly status: "missing"; readonly id: string; readonly originalId: string; readonly stream: string }
  | {
    readonly status: "skipped"
    readonly id: string
    readonly originalId: string
    readonly stream: string
    readonly reason: string
  }

/**
 * Replay dead letters (from `list`, `stream` or `find`), one by one in the
 * order given: add each one's original fields as a new entry of its source
 * stream (or `to`), and delete it from the dead-letter stream in the same
 * atomic step (see the module's notes for a Redis Cluster). Fails with the
 * first backend error; the dead letters before it are replayed, the others
 * untouched.
 *
 * @since 0.1.0
 * @category replaying
 */
export const replay: (
  deadLetterStream: string,
  deadLetters: Iterable<DeadLetter>,
  options?: ReplayOptions
) => Effect.Effect<ReadonlyArray<ReplayResult>, BackendError | InvalidOptions, StreamsBackend> = internal.replay

/**
 * Delete dead letters (by id, or the dead letters themselves); returns how
 * many existed.
 *
 * @since 0.1.0
 * @category purging
 */
export const purge: (
  deadLetterStream: string,
  deadLetters: Iterable<string | DeadLetter>
) => Effect.Effect<number, BackendError | InvalidOptions, StreamsBackend> = internal.purge

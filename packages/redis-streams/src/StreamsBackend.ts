/**
 * The port every component is written against: the typed Redis Streams
 * operations that the Producer, Consumer, Monitor and Scaler need, and nothing
 * else.
 *
 * Two implementations exist and pass the same test suite:
 * - `RedisBackend` over ioredis (see `RedisConnection`);
 * - `InMemoryBackend`, which behaves like Redis 7.0 and takes its time from
 *   Effect's `Clock` (so `TestClock` drives idle times and blocking reads).
 *
 * Conventions:
 * - entry ids are Redis ids as strings (`"1700000000000-0"`);
 * - fields are flat `[field, value, field, value, ...]` arrays, in the order
 *   they were added (Redis allows repeated field names; so does this port);
 * - times are milliseconds.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import type * as Scope from "effect/Scope"
import type { BackendError, RedisConnectionError } from "./StreamsError.js"

/**
 * Flat field/value pairs: `["message", "stuff goes here"]`.
 *
 * @since 0.1.0
 * @category models
 */
export type Fields = ReadonlyArray<string>

/**
 * An entry of a stream.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamEntry {
  readonly id: string
  readonly fields: Fields
  /**
   * The fields as raw bytes, present only when a field name or value is not
   * valid UTF-8 (`fields` then holds the text with U+FFFD replacements). The
   * Redis backend reads such entries again as bytes; the in-memory backend
   * only stores text, so it never sets this.
   */
  readonly bytes?: ReadonlyArray<Uint8Array> | undefined
}

/**
 * An entry returned by a group read. When a consumer re-reads its own pending
 * entries (an id other than `">"`), entries deleted or trimmed from the stream
 * since they were delivered come back with `fields: null`, as Redis does.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadEntry {
  readonly id: string
  readonly fields: Fields | null
  /** as `StreamEntry.bytes` */
  readonly bytes?: ReadonlyArray<Uint8Array> | undefined
}

/**
 * Trimming strategy for XADD and XTRIM.
 *
 * `approximate` (`~`) lets the server trim whole internal nodes only, so more
 * entries than the threshold may remain; it never removes more than exact
 * trimming would.
 *
 * @since 0.1.0
 * @category models
 */
export type Trim =
  | {
    readonly strategy: "maxlen"
    readonly threshold: number
    readonly approximate?: boolean | undefined
    readonly limit?: number | undefined
  }
  | {
    readonly strategy: "minid"
    readonly threshold: string
    readonly approximate?: boolean | undefined
    readonly limit?: number | undefined
  }

/**
 * Options of XADD.
 *
 * @since 0.1.0
 * @category models
 */
export interface AddOptions {
  /** explicit id (`"5-1"`, `"5-*"`); generated (`*`) when absent */
  readonly id?: string | undefined
  readonly trim?: Trim | undefined
  /** NOMKSTREAM: fail with `StreamNotFound` instead of creating the stream */
  readonly noMkStream?: boolean | undefined
  /** run it on this lane (see `Service.lane`; `addMany` ignores it) */
  readonly lane?: Lane | undefined
}

/**
 * Options of XREADGROUP for one stream.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadGroupOptions {
  readonly stream: string
  readonly group: string
  readonly consumer: string
  /** `">"` for entries never delivered to the group, or an id to re-read this consumer's own pending entries after it */
  readonly id: string
  readonly count?: number | undefined
  readonly noAck?: boolean | undefined
  /** run it on this lane (see `Service.lane`); ignored by blocking reads, which have their own connection */
  readonly lane?: Lane | undefined
}

/**
 * A connection of its own for one caller of the backend, from `Service.lane`:
 * `readGroup`, `ack`, `ackAndDelete`, `ackThenRead`, `pending`, `add`,
 * `claim`, `claimJustId` and `autoClaim` given it run on it while it is
 * open, so that the caller's commands do not queue behind other callers'
 * (other consumers' large replies, a Monitor's scan) on the backend's
 * connection. Once its scope has closed, operations given it run
 * on the backend's connection (a batch acknowledged after its consumer
 * stopped still goes through). A lane changes where a command is sent, never
 * what it does: a backend may ignore it (the in-memory backend has no
 * connections; on a Redis Cluster lanes use the Cluster client).
 *
 * A wrapper of a backend (a decorated `ack` for metrics or fault injection)
 * that forwards all its arguments keeps the lane; one that drops them sends
 * on the backend's connection, which is slower with many consumers in one
 * process, and as correct.
 *
 * @since 0.1.0
 * @category models
 */
export interface Lane {
  /** false once its scope has closed */
  readonly open: boolean
}

/**
 * Options of a blocking XREADGROUP.
 *
 * @since 0.1.0
 * @category models
 */
export interface BlockingReadGroupOptions extends ReadGroupOptions {
  /** BLOCK milliseconds; must be > 0 (BLOCK 0, forever, is not offered) */
  readonly blockMs: number
}

/**
 * The XPENDING summary form.
 *
 * @since 0.1.0
 * @category models
 */
export interface PendingSummary {
  readonly count: number
  readonly first: string | null
  readonly last: string | null
  readonly consumers: ReadonlyArray<{ readonly name: string; readonly count: number }>
}

/**
 * One entry of the XPENDING extended form.
 *
 * @since 0.1.0
 * @category models
 */
export interface PendingEntry {
  readonly id: string
  readonly consumer: string
  readonly idleMs: number
  readonly deliveries: number
}

/**
 * Options of the XPENDING extended form.
 *
 * @since 0.1.0
 * @category models
 */
export interface PendingOptions {
  readonly stream: string
  readonly group: string
  /** default `"-"` */
  readonly start?: string | undefined
  /** default `"+"` */
  readonly end?: string | undefined
  readonly count: number
  readonly consumer?: string | undefined
  /** IDLE filter in milliseconds */
  readonly minIdleMs?: number | undefined
  /** run it on this lane (see `Service.lane`) */
  readonly lane?: Lane | undefined
}

/**
 * Options of XCLAIM.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClaimOptions {
  readonly stream: string
  readonly group: string
  readonly consumer: string
  readonly minIdleMs: number
  readonly ids: ReadonlyArray<string>
  /** IDLE: the claimed entries look idle for this long (their delivery time is set that far back) */
  readonly idleMs?: number | undefined
  /** RETRYCOUNT: set the delivery count to this value (instead of incrementing it) */
  readonly retryCount?: number | undefined
  /** run it on this lane (see `Service.lane`) */
  readonly lane?: Lane | undefined
}

/**
 * The outcome of `ackThenRead`: how many ids were acknowledged, and the
 * read's entries or its error.
 *
 * @since 0.1.0
 * @category models
 */
export interface AckThenReadResult {
  readonly acked: number
  readonly read: Either.Either<ReadonlyArray<ReadEntry>, BackendError>
}

/**
 * Options of XAUTOCLAIM.
 *
 * @since 0.1.0
 * @category models
 */
export interface AutoClaimOptions {
  readonly stream: string
  readonly group: string
  readonly consumer: string
  readonly minIdleMs: number
  /** cursor; `"0-0"` to start */
  readonly start: string
  /** default 100 */
  readonly count?: number | undefined
  /** run it on this lane (see `Service.lane`) */
  readonly lane?: Lane | undefined
}

/**
 * The XAUTOCLAIM reply: the next cursor (`"0-0"` when the scan is complete),
 * the claimed entries, and the ids that were pending but deleted from the
 * stream (Redis 7 removes those from the pending list).
 *
 * @since 0.1.0
 * @category models
 */
export interface AutoClaimResult {
  readonly next: string
  readonly entries: ReadonlyArray<StreamEntry>
  readonly deleted: ReadonlyArray<string>
}

/**
 * XINFO STREAM.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamInfo {
  readonly length: number
  readonly groups: number
  readonly lastGeneratedId: string
  readonly maxDeletedEntryId: string
  readonly entriesAdded: number
  readonly recordedFirstEntryId: string
  readonly firstEntry: StreamEntry | null
  readonly lastEntry: StreamEntry | null
}

/**
 * One group of XINFO GROUPS. `entriesRead` and `lag` are `null` where Redis
 * reports them as null (the lag cannot be computed, for example after
 * deletions in the middle of the stream).
 *
 * @since 0.1.0
 * @category models
 */
export interface GroupInfo {
  readonly name: string
  readonly consumers: number
  readonly pending: number
  readonly lastDeliveredId: string
  readonly entriesRead: number | null
  readonly lag: number | null
}

/**
 * One consumer of XINFO CONSUMERS. `inactiveMs` is `null` on servers before
 * 7.2, which do not report it.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConsumerInfo {
  readonly name: string
  readonly pending: number
  readonly idleMs: number
  readonly inactiveMs: number | null
}

/**
 * A reader on its own connection, for blocking reads. Interrupting a fiber
 * blocked in `readGroup` returns promptly (the Redis implementation unblocks
 * the connection with CLIENT UNBLOCK from another connection).
 *
 * @since 0.1.0
 * @category models
 */
export interface BlockingReader {
  readonly readGroup: (
    options: BlockingReadGroupOptions
  ) => Effect.Effect<ReadonlyArray<ReadEntry>, BackendError>
}

/**
 * The service shape.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** "redis" or "memory" */
  readonly kind: "redis" | "memory"
  /** the server version, read once when the backend is built (`"7.0.15"`) */
  readonly serverVersion: string

  /** XADD; fails with `StreamNotFound` when `noMkStream` is set and the stream is missing */
  readonly add: (stream: string, fields: Fields, options?: AddOptions) => Effect.Effect<string, BackendError>
  /**
   * many XADDs, in order; returns their ids in order. The Redis backend
   * sends chunks of 250 entries, each one Lua script running its XADDs
   * (applied atomically), 8 in flight, so up to 2,000 small entries take one
   * round trip; where scripts are refused, pipelines of 1,000 XADDs, 4 in
   * flight. If one fails, the others are still applied and the first error
   * is returned.
   */
  readonly addMany: (
    stream: string,
    entries: ReadonlyArray<Fields>,
    options?: Omit<AddOptions, "id">
  ) => Effect.Effect<ReadonlyArray<string>, BackendError>

  /** non-blocking XREADGROUP */
  readonly readGroup: (options: ReadGroupOptions) => Effect.Effect<ReadonlyArray<ReadEntry>, BackendError>
  /** a reader with its own connection for blocking reads, released with the scope */
  readonly blockingReader: Effect.Effect<BlockingReader, RedisConnectionError, Scope.Scope>
  /**
   * A lane (see `Lane`), released with the scope: on Redis a connection of
   * its own, from `RedisConnection.sibling` (on a Cluster, and in memory, a
   * lane that changes nothing).
   */
  readonly lane: Effect.Effect<Lane, RedisConnectionError, Scope.Scope>

  /** XACK of many ids; returns how many were pending */
  readonly ack: (
    stream: string,
    group: string,
    ids: ReadonlyArray<string>,
    options?: { readonly lane?: Lane | undefined }
  ) => Effect.Effect<number, BackendError>
  /** XACK then XDEL of the same ids, atomically, in one round trip; returns how many were acknowledged */
  readonly ackAndDelete: (
    stream: string,
    group: string,
    ids: ReadonlyArray<string>,
    options?: { readonly lane?: Lane | undefined }
  ) => Effect.Effect<number, BackendError>

  /**
   * XACK (XACK + XDEL when `delete` is set, as `ackAndDelete`) and a
   * non-blocking XREADGROUP, sent together so that both take one round trip
   * (the Consumer acknowledges a batch and reads the next one this way). Fails
   * with the acknowledgement's error; the read's outcome is in `read`. Both
   * go on `options.lane` when given.
   */
  readonly ackThenRead: (
    stream: string,
    group: string,
    ids: ReadonlyArray<string>,
    read: ReadGroupOptions,
    options?: { readonly delete?: boolean | undefined; readonly lane?: Lane | undefined }
  ) => Effect.Effect<AckThenReadResult, BackendError>

  /** XPENDING summary */
  readonly pendingSummary: (stream: string, group: string) => Effect.Effect<PendingSummary, BackendError>
  /** XPENDING extended form */
  readonly pending: (options: PendingOptions) => Effect.Effect<ReadonlyArray<PendingEntry>, BackendError>

  /** XCLAIM; increments delivery counts; deleted entries are dropped from the pending list and not returned */
  readonly claim: (options: ClaimOptions) => Effect.Effect<ReadonlyArray<StreamEntry>, BackendError>
  /** XCLAIM ... JUSTID; delivery counts unchanged; returns the claimed ids */
  readonly claimJustId: (options: ClaimOptions) => Effect.Effect<ReadonlyArray<string>, BackendError>
  /** XAUTOCLAIM */
  readonly autoClaim: (options: AutoClaimOptions) => Effect.Effect<AutoClaimResult, BackendError>

  /** XINFO STREAM; fails with `StreamNotFound` */
  readonly streamInfo: (stream: string) => Effect.Effect<StreamInfo, BackendError>
  /** XINFO GROUPS; fails with `StreamNotFound` */
  readonly groupsInfo: (stream: string) => Effect.Effect<ReadonlyArray<GroupInfo>, BackendError>
  /** XINFO CONSUMERS; fails with `GroupNotFound` or `StreamNotFound` */
  readonly consumersInfo: (stream: string, group: string) => Effect.Effect<ReadonlyArray<ConsumerInfo>, BackendError>

  /**
   * XGROUP CREATE. `id` is `"$"`, `"0"` or an id. Returns `true` when created,
   * `false` when the group existed already (BUSYGROUP is not an error here).
   */
  readonly createGroup: (
    stream: string,
    group: string,
    options: { readonly id: string; readonly mkStream?: boolean | undefined; readonly entriesRead?: number | undefined }
  ) => Effect.Effect<boolean, BackendError>
  /** XGROUP DESTROY; `true` when the group existed */
  readonly destroyGroup: (stream: string, group: string) => Effect.Effect<boolean, BackendError>
  /** XGROUP CREATECONSUMER; `true` when created */
  readonly createConsumer: (stream: string, group: string, consumer: string) => Effect.Effect<boolean, BackendError>
  /** XGROUP DELCONSUMER; returns the number of pending entries it dropped (they are lost to the group) */
  readonly deleteConsumer: (stream: string, group: string, consumer: string) => Effect.Effect<number, BackendError>
  /**
   * Delete a consumer atomically only if it has no pending entries and has
   * been idle for at least `minIdleMs` (default 0), so a consumer that came
   * back or received entries in the meantime is never deleted and no pending
   * entry is ever dropped (the Redis implementation runs one Lua script).
   * Returns whether it was deleted, and its pending count and idle time as
   * seen at that instant (`idleMs` null when the consumer does not exist).
   */
  readonly deleteConsumerIfIdle: (
    stream: string,
    group: string,
    consumer: string,
    options?: { readonly minIdleMs?: number | undefined }
  ) => Effect.Effect<
    { readonly deleted: boolean; readonly pending: number; readonly idleMs: number | null },
    BackendError
  >
  /** XGROUP SETID */
  readonly setGroupId: (
    stream: string,
    group: string,
    id: string,
    options?: { readonly entriesRead?: number | undefined }
  ) => Effect.Effect<void, BackendError>

  /** XDEL; returns how many existed */
  readonly delete: (stream: string, ids: ReadonlyArray<string>) => Effect.Effect<number, BackendError>
  /** XTRIM; returns how many were removed */
  readonly trim: (stream: string, trim: Trim) => Effect.Effect<number, BackendError>
  /** XLEN; 0 for a missing key */
  readonly length: (stream: string) => Effect.Effect<number, BackendError>
  /** XRANGE, or XREVRANGE with `reverse`. `start` is always the low bound (default `-`) and `end` the high one (default `+`); `reverse` only changes the order */
  readonly range: (
    stream: string,
    options?: {
      readonly start?: string | undefined
      readonly end?: string | undefined
      readonly count?: number | undefined
      readonly reverse?: boolean | undefined
    }
  ) => Effect.Effect<ReadonlyArray<StreamEntry>, BackendError>

  /**
   * Move one entry to another stream: if `id` is still in `from`, XADD a new
   * entry with `fields` to `to` (generated id), then XDEL `id` from `from`,
   * as one atomic step (the Redis implementation runs one Lua script; the
   * in-memory one a synchronous step). Returns the new entry's id, or `null`
   * when `id` is not in `from` (nothing is added). `from` and `to` may be the
   * same stream. Dead letters are replayed with it (`DeadLetter.replay`).
   *
   * On a Redis Cluster, when the two keys hash to different slots (a script
   * may not touch both), the same three steps run one after the other: a
   * failure between the add and the delete leaves both entries (a
   * duplicate, never a loss), and two concurrent moves of one entry may both
   * add it.
   */
  readonly moveEntry: (options: MoveEntryOptions) => Effect.Effect<string | null, BackendError>

  /**
   * The stream keys whose names match a glob `pattern` (Redis's MATCH syntax:
   * `*`, `?`, `[abc]`, `[^a-z]`, `\\` escapes), sorted, at most `limit` of
   * them: SCAN with MATCH, TYPE stream and COUNT 1000 (on every master of a
   * Cluster), stopping once `limit` names are found or after `maxRounds`
   * SCAN calls in all (default 1000), so a huge keyspace costs a bounded
   * number of round trips. `truncated` is true when the scan stopped early
   * (more streams may match). Needs Redis 6.0 (TYPE).
   */
  readonly scanStreams: (
    pattern: string,
    options: ScanStreamsOptions
  ) => Effect.Effect<ScanStreamsResult, BackendError>
}

/**
 * Options of `scanStreams`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ScanStreamsOptions {
  /** at most this many names (>= 1) */
  readonly limit: number
  /** at most this many SCAN calls in all (default 1000) */
  readonly maxRounds?: number | undefined
}

/**
 * What `scanStreams` found.
 *
 * @since 0.1.0
 * @category models
 */
export interface ScanStreamsResult {
  /** the matching stream names, sorted (by code unit) */
  readonly streams: ReadonlyArray<string>
  /** the scan stopped at `limit` or `maxRounds`: more streams may match */
  readonly truncated: boolean
}

/**
 * Options of `moveEntry`.
 *
 * @since 0.1.0
 * @category models
 */
export interface MoveEntryOptions {
  /** the stream the entry is moved from (deleted there) */
  readonly from: string
  /** its id in `from` */
  readonly id: string
  /** the stream the new entry is added to */
  readonly to: string
  /** the new entry's fields (at least one pair) */
  readonly fields: Fields
}

/**
 * The backend service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class StreamsBackend extends Context.Tag("effect-redis-streams/StreamsBackend")<StreamsBackend, Service>() {}

/**
 * The `StreamsBackend` port in memory, behaving like Redis 7.0 (7.0.15): use
 * it in your own tests instead of a Redis server.
 *
 * - Every reply, counter and error is the one Redis 7.0 gives: ids, explicit
 *   id rules and their exact error replies, trimming (approximate trimming
 *   removes whole nodes of 100 entries / 4096 bytes as Redis does), groups'
 *   `entries-read` and `lag`, pending lists, XCLAIM / XAUTOCLAIM cursors and
 *   deleted entries, consumers' idle times, blocking reads woken by adds and
 *   refused when their stream or group is deleted.
 * - Time comes from Effect's `Clock`: under `TestClock` generated ids, idle
 *   times and blocking timeouts move only when the test adjusts the clock.
 * - Besides the port, the layer provides `InMemoryStore`: keys of another type
 *   (to provoke WRONGTYPE), deleting keys, and fault injection (make the next
 *   matching operation fail, before or after it is applied).
 *
 * Known differences from a Redis 7.0 server: the node limits are the defaults
 * (`stream-node-max-entries` 100, `stream-node-max-bytes` 4096) and cannot be
 * configured; only stream and string keys exist (no expiry); an XCLAIM id
 * that spells an XCLAIM option (`JUSTID`, `FORCE`, ...) is refused as an id
 * instead of being read as the option; the "Elements are too large" limit
 * (4 GB per entry) is not checked; each operation reads the calling fiber's
 * `Clock` once, so fibers with different clocks see different times where
 * Redis has one clock; XCLAIM's IDLE may set a delivery time before 1970
 * (a TestClock starts at 0), which Redis would replace by the current time.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { InMemoryBackend, StreamsBackend, StreamsError } from "effect-redis-streams"
 *
 * const program = Effect.gen(function*() {
 *   const backend = yield* StreamsBackend.StreamsBackend
 *   const store = yield* InMemoryBackend.InMemoryStore
 *   yield* backend.createGroup("jobs", "workers", { id: "0", mkStream: true })
 *   yield* backend.add("jobs", ["n", "1"])
 *   // the next XACK fails as if the connection dropped
 *   yield* store.failNext(
 *     (op) => op.command === "XACK",
 *     new StreamsError.RedisConnectionError({ endpoint: "memory", message: "connection lost" })
 *   )
 * }).pipe(Effect.provide(InMemoryBackend.layer))
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { makeBackend } from "./internal/memory/backend.js"
import { StreamsBackend } from "./StreamsBackend.js"
import type { Service } from "./StreamsBackend.js"
import type { BackendError } from "./StreamsError.js"

/**
 * An operation of the backend, as seen by the fault hooks of `InMemoryStore`.
 *
 * | method | command |
 * | --- | --- |
 * | `add`, `addMany` | `XADD` |
 * | `readGroup`, `blockingReadGroup` (a blocking reader's `readGroup`) | `XREADGROUP` |
 * | `ack`, `ackAndDelete` | `XACK` (so one predicate on `XACK` catches both ways of acknowledging) |
 * | `pendingSummary`, `pending` | `XPENDING` |
 * | `claim`, `claimJustId` | `XCLAIM` |
 * | `autoClaim` | `XAUTOCLAIM` |
 * | `streamInfo`, `groupsInfo`, `consumersInfo` | `XINFO STREAM`, `XINFO GROUPS`, `XINFO CONSUMERS` |
 * | `createGroup`, `destroyGroup`, `createConsumer`, `deleteConsumer`, `deleteConsumerIfIdle`, `setGroupId` | `XGROUP CREATE`, `XGROUP DESTROY`, `XGROUP CREATECONSUMER`, `XGROUP DELCONSUMER` (both), `XGROUP SETID` |
 * | `delete`, `trim`, `length`, `range` | `XDEL`, `XTRIM`, `XLEN`, `XRANGE` / `XREVRANGE` |
 * | `moveEntry` (`stream` is its `from`) | `EVALSHA` (the Redis backend's script: XRANGE, XADD, XDEL) |
 * | `scanStreams` (`stream` is the pattern) | `SCAN` |
 * | `blockingReader` (acquiring a reader; `stream` is `""`) | `CONNECT` |
 *
 * @since 0.1.0
 * @category models
 */
export interface Operation {
  /** the port method that was called */
  readonly method: string
  /** the Redis command it stands for (see the table) */
  readonly command: string
  /** the stream key (`""` when acquiring a blocking reader) */
  readonly stream: string
  /** the consumer group, for methods that take one */
  readonly group: string | undefined
  /** the method's arguments, as given */
  readonly args: ReadonlyArray<unknown>
}

/**
 * Options of `InMemoryStore.failNext`.
 *
 * @since 0.1.0
 * @category models
 */
export interface FaultOptions {
  /** how many matching operations fail (default 1) */
  readonly times?: number | undefined
  /**
   * `false` (default): the operation fails without being applied, like a
   * request that never reached the server. `true`: it is applied, then the
   * caller gets the error, like a reply lost with the connection (an XADD
   * that was stored although the producer saw a failure).
   */
  readonly after?: boolean | undefined
}

/**
 * Test and operations hooks of the in-memory backend, which the port does not
 * have.
 *
 * @since 0.1.0
 * @category models
 */
export interface Store {
  /** SET: make `key` a string key (replacing any stream), to provoke WRONGTYPE; readers blocked on it fail as Redis fails them */
  readonly setString: (key: string, value: string) => Effect.Effect<void>
  /** DEL: delete any key; readers blocked on it fail with Redis's "UNBLOCKED the stream key no longer exists" */
  readonly deleteKey: (key: string) => Effect.Effect<void>
  /** FLUSHALL */
  readonly flushAll: Effect.Effect<void>
  /** every key, sorted */
  readonly keys: Effect.Effect<ReadonlyArray<string>>
  /**
   * Make the next operation matching `predicate` fail with `error` (the
   * first registered matching fault wins; it is used up after `times`
   * matches). A fault registered for `blockingReader` acquisition fails it
   * with a `RedisConnectionError` (the given one, or one wrapping it).
   */
  readonly failNext: (
    predicate: (op: Operation) => boolean,
    error: BackendError,
    options?: FaultOptions
  ) => Effect.Effect<void>
  /** remove every registered fault */
  readonly clearFaults: Effect.Effect<void>
  /** how many blocking reads are waiting (on one stream, or on all) */
  readonly blockedReaders: (stream?: string) => Effect.Effect<number>
}

/**
 * The tag of the store hooks, provided by `layer` next to `StreamsBackend`.
 *
 * @since 0.1.0
 * @category tags
 */
export class InMemoryStore extends Context.Tag("effect-redis-streams/InMemoryBackend/InMemoryStore")<
  InMemoryStore,
  Store
>() {}

/**
 * The in-memory backend: the port plus the store hooks, on one shared
 * keyspace.
 *
 * @since 0.1.0
 * @category models
 */
export interface InMemoryBackend extends Service, Store {}

/**
 * A new backend with an empty keyspace (`kind: "memory"`,
 * `serverVersion: "7.0.15"`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<InMemoryBackend> = Effect.sync(makeBackend)

/**
 * `StreamsBackend` and `InMemoryStore` over one new, empty keyspace per build
 * of the layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<StreamsBackend | InMemoryStore> = Layer.effectContext(
  Effect.map(make, (backend) => Context.make(StreamsBackend, backend).pipe(Context.add(InMemoryStore, backend)))
)

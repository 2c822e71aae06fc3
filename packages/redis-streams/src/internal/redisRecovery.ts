/**
 * Connection recovery: every connection a `RedisConnection` holds (the main
 * client, each lane, each blocking reader's dedicated connection) is an
 * `Entry` in the connection's registry. An entry the layer owns is watched
 * for the terminal state ("end": ioredis gives up on it, which its Sentinel
 * failover detector can do during a reconnection attempt) and rebuilt from
 * the same options with backoff, a bounded number of times. A client given
 * by the user (`fromClient`) is never rebuilt: once ended, operations on it
 * fail with `ConnectionEnded`.
 *
 * Operations read the entry's current client for every command; failures
 * on a connection name it (role, connection name, when it ended and when it
 * was replaced), so retry logs say which connection they retry on.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import { ConnectionEnded, RedisConnectionError } from "../StreamsError.js"
import type { Client } from "./redisConnection.js"

/** a client created, watched (events to logs) and connected */
export interface Opened {
  readonly client: Client
  /** removes the log listeners */
  readonly unwatch: () => void
}

/** one connection a RedisConnection holds */
export interface Entry {
  /** "main", "lane 2", "blocking reader 1" */
  readonly role: string
  readonly connectionName: string | undefined
  /** false for a client given to `fromClient`: never rebuilt */
  readonly owned: boolean
  readonly endpoint: string
  /** the current client */
  client: Client
  /** when the current client ended (undefined while it lives or once replaced) */
  endedAt: number | undefined
  /** when the client was last replaced */
  replacedAt: number | undefined
  replacements: number
  /** the rebuild attempt in progress (0 when none) */
  rebuildAttempt: number
  readonly rebuildAttempts: number
  /** set when the connection will not come back */
  failure: ConnectionEnded | undefined
  /** called with each new client */
  readonly replacedListeners: Array<(client: Client) => void>
}

/** the connections of one RedisConnection (its lanes and readers included) */
export class Registry {
  readonly entries = new Set<Entry>()
  private lanes = 0
  private readers = 0
  nextLane(): string {
    return `lane ${++this.lanes}`
  }
  nextReader(): string {
    return `blocking reader ${++this.readers}`
  }
}

/** the hidden link from a connection service to its entry and registry */
export const EntryKey: unique symbol = Symbol.for("effect-redis-streams/RedisConnection/entry")

/** what a service built by this package carries under `EntryKey` */
export interface Link {
  readonly entry: Entry
  readonly registry: Registry
}

/** the link of a connection service (undefined for a service assembled by hand) */
export const linkOf = (connection: object): Link | undefined =>
  (connection as { readonly [EntryKey]?: Link })[EntryKey]

export const makeEntry = (options: {
  readonly role: string
  readonly connectionName: string | undefined
  readonly owned: boolean
  readonly endpoint: string
  readonly client: Client
  readonly rebuildAttempts: number
}): Entry => ({
  ...options,
  endedAt: undefined,
  replacedAt: undefined,
  replacements: 0,
  rebuildAttempt: 0,
  failure: undefined,
  replacedListeners: []
})

const time = (ms: number): string => new Date(ms).toISOString()

/** `main connection "app"` */
export const label = (entry: Entry): string =>
  `${entry.role} connection${entry.connectionName !== undefined ? ` "${entry.connectionName}"` : ""}`

/**
 * Where a failure happened and the connection's history, for messages:
 * `on the main connection "app", which ended at ... (rebuilding: attempt 2 of 30)`,
 * `on the lane 1 connection, replaced at ...`.
 */
export const describe = (entry: Entry, used: Client = entry.client): string => {
  const parts: Array<string> = [`on the ${label(entry)}`]
  if (used !== entry.client) {
    parts.push(`(an earlier client of it; the current one was opened at ${time(entry.replacedAt ?? Date.now())})`)
  } else if (entry.endedAt !== undefined || entry.client.status === "end") {
    parts.push(
      `which ended at ${time(entry.endedAt ?? Date.now())}` +
        (entry.failure !== undefined
          ? " and could not be rebuilt"
          : entry.owned
          ? entry.rebuildAttempt > 0
            ? ` and is being rebuilt (attempt ${entry.rebuildAttempt} of ${entry.rebuildAttempts})`
            : " and is being replaced"
          : " (a client given to fromClient is not rebuilt)")
    )
    if (entry.replacedAt !== undefined) parts.push(`(last replaced at ${time(entry.replacedAt)})`)
  } else if (entry.replacedAt !== undefined) {
    parts.push(`replaced at ${time(entry.replacedAt)}`)
  }
  return parts.join(", ").replace(", (", " (")
}

/** a ConnectionEnded for a client given to fromClient that has ended */
const userClientEnded = (entry: Entry): ConnectionEnded =>
  new ConnectionEnded({
    endpoint: entry.endpoint,
    connection: label(entry),
    message: `the Redis client given to RedisConnection.fromClient (${entry.endpoint}) has ended (status "end")` +
      `${entry.endedAt !== undefined ? ` at ${time(entry.endedAt)}` : ""}; the library does not rebuild a client ` +
      `it does not own: create a new client and a new layer (or use RedisConnection.layer, whose connections ` +
      `are rebuilt)`
  })

/**
 * A RedisConnectionError of an operation, with the connection it ran on
 * appended; on an ended client given to fromClient, ConnectionEnded.
 */
export const annotate = (
  error: RedisConnectionError,
  entry: Entry,
  used: Client
): RedisConnectionError | ConnectionEnded =>
  !entry.owned && used.status === "end" ? userClientEnded(entry) : new RedisConnectionError({
    endpoint: error.endpoint,
    message: `${error.message} [${describe(entry, used)}]`,
    ...(error.cause !== undefined ? { cause: error.cause } : {})
  })

/**
 * The error for an operation about to be sent on the entry's client once it
 * has ended (`entry.endedAt` set; its status is not enough: an ended ioredis
 * Cluster can go from "end" back to "close" and then queue commands for
 * ever).
 */
export const endedError = (
  entry: Entry,
  command: string,
  stream: string
): RedisConnectionError | ConnectionEnded => {
  if (entry.failure !== undefined) return entry.failure
  if (!entry.owned) return userClientEnded(entry)
  return new RedisConnectionError({
    endpoint: entry.endpoint,
    message: `${command} ${stream} on ${entry.endpoint} not sent: the connection has ended [${describe(entry)}]`
  })
}

/** the delay before rebuild attempt `n + 1` (after `n` failed attempts): 100 ms, 200 ms, ... 2 s */
export const rebuildDelayMs = (n: number): number => Math.min(n * 100, 2000)

/** the failure of a connection whose rebuild attempts are used up */
const notRebuilt = (entry: Entry, lastError: RedisConnectionError | undefined): ConnectionEnded =>
  new ConnectionEnded({
    endpoint: entry.endpoint,
    connection: label(entry),
    message: `the ${label(entry)} to ${entry.endpoint} ended at ${time(entry.endedAt ?? Date.now())} and could ` +
      `not be rebuilt in ${entry.rebuildAttempts} attempts` +
      (lastError !== undefined ? ` (last: ${lastError.message})` : ""),
    ...(lastError !== undefined ? { cause: lastError } : {})
  })

/**
 * Watch `entry`'s client for "end" and rebuild it with `rebuild` (backoff
 * `rebuildDelayMs`, at most `entry.rebuildAttempts` attempts), or, for a
 * client the layer does not own, record that it has ended. The scope stops
 * a rebuild in progress and quits the current client (only when owned).
 */
export const supervise = (
  entry: Entry,
  first: Opened,
  rebuild: Effect.Effect<Opened, RedisConnectionError>,
  quit: (client: Client) => Effect.Effect<void>,
  runtime: Runtime.Runtime<never>,
  log: (effect: Effect.Effect<void>) => Effect.Effect<void>
): Effect.Effect<void, never, Scope.Scope> => {
  let current = first
  let closing = false
  let rebuilding: Fiber.RuntimeFiber<void> | undefined

  const swap = (next: Opened) => {
    const old = current
    old.client.off("end", onEnd)
    old.unwatch()
    old.client.disconnect()
    current = next
    entry.client = next.client
    entry.endedAt = undefined
    entry.rebuildAttempt = 0
    entry.replacedAt = Date.now()
    entry.replacements++
    // the new client is watched at once: if it ends too, a new rebuild starts (this one only logs now)
    rebuilding = undefined
    next.client.on("end", onEnd)
    for (const listener of entry.replacedListeners) listener(next.client)
  }

  /** one attempt: a new client swapped in (true), dropped because the scope is closing (false), or the failure */
  const attempt: Effect.Effect<boolean | RedisConnectionError> = Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(Effect.either(restore(rebuild)), (result): Effect.Effect<boolean | RedisConnectionError> => {
      if (result._tag === "Left") return Effect.succeed(result.left)
      const next = result.right
      if (closing) return Effect.as(Effect.ensuring(quit(next.client), Effect.sync(next.unwatch)), false)
      return Effect.sync(() => {
        swap(next)
        return true
      })
    })
  )

  const loop: Effect.Effect<void> = Effect.gen(function*() {
    let lastError: RedisConnectionError | undefined
    for (let n = 1; n <= entry.rebuildAttempts; n++) {
      entry.rebuildAttempt = n
      const result = yield* attempt
      if (result === false) return
      if (result === true) {
        yield* log(Effect.logInfo(
          `the ${label(entry)} to ${entry.endpoint} had ended; replaced by a new connection (attempt ${n})`
        ))
        return
      }
      lastError = result
      yield* log(Effect.logDebug(`rebuilding the ${label(entry)}: attempt ${n} failed: ${lastError.message}`))
      if (n < entry.rebuildAttempts) yield* Effect.sleep(rebuildDelayMs(n))
    }
    entry.failure = notRebuilt(entry, lastError)
    yield* log(Effect.logError(entry.failure.message))
  })

  const onEnd = () => {
    if (closing || rebuilding !== undefined || entry.failure !== undefined) return
    entry.endedAt = Date.now()
    if (!entry.owned) {
      Runtime.runFork(runtime)(log(Effect.logError(userClientEnded(entry).message)))
      return
    }
    Runtime.runFork(runtime)(
      log(Effect.logWarning(`the ${label(entry)} to ${entry.endpoint} has ended (status "end"); rebuilding it`))
    )
    rebuilding = Runtime.runFork(runtime)(loop)
  }

  return Effect.acquireRelease(
    Effect.sync(() => {
      first.client.on("end", onEnd)
      // ended before it was watched (a user's client)
      if (first.client.status === "end") onEnd()
    }),
    () =>
      Effect.suspend(() => {
        closing = true
        const fiber = rebuilding
        return Effect.zipRight(
          fiber !== undefined ? Fiber.interrupt(fiber) : Effect.void,
          Effect.suspend(() => {
            current.client.off("end", onEnd)
            return entry.owned ? Effect.ensuring(quit(current.client), Effect.sync(current.unwatch)) : Effect.sync(current.unwatch)
          })
        )
      })
  ).pipe(Effect.asVoid)
}

/**
 * The entry of a blocking reader's dedicated connection (the reader replaces
 * it itself, on its next read), listed in `link`'s registry while the scope
 * is open; undefined without a link.
 */
export const readerEntry = (
  link: Link | undefined,
  client: Client,
  endpoint: string
): Effect.Effect<Entry | undefined, never, Scope.Scope> => {
  if (link === undefined) return Effect.succeed(undefined)
  const entry = makeEntry({
    role: link.registry.nextReader(),
    connectionName: link.entry.connectionName,
    owned: true,
    endpoint,
    client,
    rebuildAttempts: 0
  })
  return Effect.acquireRelease(
    Effect.sync(() => link.registry.entries.add(entry)),
    () => Effect.sync(() => link.registry.entries.delete(entry))
  ).pipe(Effect.as(entry))
}

/** a blocking reader opened a new dedicated connection */
export const readerReplaced = (entry: Entry | undefined, client: Client): void => {
  if (entry === undefined) return
  entry.client = client
  entry.endedAt = undefined
  entry.replacedAt = Date.now()
  entry.replacements++
}

/** a blocking reader's dedicated connection ended */
export const readerEnded = (entry: Entry | undefined, client: Client): void => {
  if (entry !== undefined && entry.client === client) entry.endedAt = Date.now()
}

/** `annotate` for any backend error (only connection errors change), when there is an entry */
export const onConnection = <E extends { readonly _tag: string }>(
  entry: Entry | undefined,
  error: E,
  used: Client
): E | RedisConnectionError | ConnectionEnded =>
  entry !== undefined && error._tag === "RedisConnectionError"
    ? annotate(error as unknown as RedisConnectionError, entry, used)
    : error

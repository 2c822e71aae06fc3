/**
 * The minimal ACL rule of each component, derived from the commands the code
 * sends (internal/redisBackend.ts and the components), and helpers to create
 * users and read what Redis refused them (ACL LOG).
 *
 * Key patterns are ACL glob patterns: a stream name holding `*`, `?`, `[`,
 * `]` or `\` must have them escaped with `\`.
 */
import { Effect } from "effect"
import type { Redis } from "ioredis"

/** escape a key for an ACL key pattern */
export const keyPattern = (key: string): string => key.replace(/[*?[\]\\]/g, (c) => `\\${c}`)

/**
 * Permissions no component needs to work, which the library or ioredis still
 * tries and tolerates being refused:
 * - `info`: ioredis's ready check and the server version (without it ioredis
 *   prints "Skipping the ready check because INFO command fails" with
 *   console.warn at every connect, and `serverVersion` is "unknown");
 * - `client|id`, `client|unblock`: the Consumer's dedicated blocking
 *   connection (without them an interrupted blocking read drops and reopens
 *   its connection instead of CLIENT UNBLOCK);
 * - `client|setname`: only with `connectionName` (the CLI sets it);
 * - `eval`: the Producer's `addAll` sends each chunk as one script (about
 *   twice as fast); refused, it sends pipelined XADD (found once per
 *   connection: one refusal).
 */
export const optional = ["+info", "+client|id", "+client|unblock", "+eval"] as const
export const tolerated = new Set(["info", "client|id", "client|unblock", "client|setname", "client|setinfo", "eval"])

/** Producer: XADD (with MAXLEN/MINID trimming) on its stream (`+eval` is optional: see `optional`) */
export const producer = (stream: string): ReadonlyArray<string> => [`~${keyPattern(stream)}`, "+xadd"]

/**
 * Consumer: on its stream XGROUP CREATE (always tried; BUSYGROUP is fine),
 * XGROUP CREATECONSUMER, XREADGROUP, XACK, XPENDING (delivery counts of
 * redelivered entries), XAUTOCLAIM (reclaim; not with `claimIdle: false`),
 * and the delete-if-idle script on shutdown (EVALSHA, EVAL on NOSCRIPT,
 * running XINFO CONSUMERS and XGROUP DELCONSUMER; not with
 * `removeOnShutdown: false`); XADD on its dead-letter stream only (a
 * selector). `deleteOnAck` adds MULTI, EXEC and XDEL.
 */
export const consumer = (stream: string, deadLetterStream: string, options: { readonly deleteOnAck?: boolean } = {}) => [
  `~${keyPattern(stream)}`,
  "+xgroup|create",
  "+xgroup|createconsumer",
  "+xreadgroup",
  "+xack",
  "+xpending",
  "+xautoclaim",
  "+evalsha",
  "+eval",
  "+xinfo|consumers",
  "+xgroup|delconsumer",
  ...(options.deleteOnAck === true ? ["+multi", "+exec", "+xdel"] : []),
  `(~${keyPattern(deadLetterStream)} +xadd)`
]

/** Monitor, `report` only: read-only access to the stream and its dead-letter stream */
export const monitorReport = (stream: string, deadLetterStream: string): ReadonlyArray<string> => [
  `%R~${keyPattern(stream)}`,
  `%R~${keyPattern(deadLetterStream)}`,
  "+xinfo|groups",
  "+xinfo|stream",
  "+xinfo|consumers",
  "+xpending",
  "+xrange",
  "+xlen"
]

/** Monitor with `cleanup`: also XCLAIM ... JUSTID and the delete-if-idle script, so write access to the stream */
export const monitor = (stream: string, deadLetterStream: string): ReadonlyArray<string> => [
  `~${keyPattern(stream)}`,
  `%R~${keyPattern(deadLetterStream)}`,
  "+xinfo|groups",
  "+xinfo|stream",
  "+xinfo|consumers",
  "+xpending",
  "+xrange",
  "+xlen",
  "+xclaim",
  "+evalsha",
  "+eval",
  "+xgroup|delconsumer"
]

/** Scaler: read-only XINFO GROUPS / STREAM / CONSUMERS, and XRANGE (bounded backlog count when the server reports no lag) */
export const scaler = (stream: string): ReadonlyArray<string> => [
  `%R~${keyPattern(stream)}`,
  "+xinfo|groups",
  "+xinfo|stream",
  "+xinfo|consumers",
  "+xrange"
]

/** create (or reset) `user` with `password` and exactly `rules` */
export const setUser = (admin: Redis, user: string, password: string, rules: ReadonlyArray<string>) =>
  Effect.promise(() => admin.call("ACL", "SETUSER", user, "reset", "on", `>${password}`, ...rules))

export interface Denial {
  readonly user: string
  /** "command", "key" */
  readonly reason: string
  /** the command (`xack`, `xinfo|stream`) or the key */
  readonly object: string
  /** "toplevel", "lua", "multi" */
  readonly context: string
  readonly count: number
}

/** what Redis refused `user` so far (ACL LOG) */
export const denials = (admin: Redis, user: string): Effect.Effect<ReadonlyArray<Denial>> =>
  Effect.promise(async () => {
    const log = (await admin.call("ACL", "LOG", "128")) as ReadonlyArray<ReadonlyArray<unknown>>
    const out: Array<Denial> = []
    for (const entry of log) {
      const m = new Map<string, unknown>()
      for (let i = 0; i + 1 < entry.length; i += 2) m.set(String(entry[i]), entry[i + 1])
      if (m.get("username") !== user) continue
      out.push({
        user,
        reason: String(m.get("reason")),
        object: String(m.get("object")),
        context: String(m.get("context")),
        count: Number(m.get("count"))
      })
    }
    return out
  })

/** denials other than the tolerated optional permissions */
export const unexpected = (ds: ReadonlyArray<Denial>): ReadonlyArray<Denial> =>
  ds.filter((d) => !(d.reason === "command" && tolerated.has(d.object)))

/**
 * The CLI, per command (it also tries CLIENT SETNAME, tolerated when refused).
 * `tail` is a Consumer that never reclaims nor dead-letters, after an XINFO
 * GROUPS check; `serve` is the Monitor report plus the Scaler plus PING for
 * /healthz; `dlq` reads (and for replay / purge writes) the dead-letter stream.
 */
export const cli = {
  info: monitorReport,
  monitor: monitorReport,
  monitorCleanup: monitor,
  scale: (stream: string, _deadLetterStream: string) => scaler(stream),
  produce: (stream: string, _deadLetterStream: string) => producer(stream),
  tail: (stream: string, _deadLetterStream: string) => [
    `~${keyPattern(stream)}`,
    "+xinfo|groups",
    "+xgroup|create",
    "+xgroup|createconsumer",
    "+xreadgroup",
    "+xack",
    "+xpending",
    "+evalsha",
    "+eval",
    "+xinfo|consumers",
    "+xgroup|delconsumer"
  ],
  dlqList: (stream: string, deadLetterStream: string) => [
    `%R~${keyPattern(stream)}`,
    `%R~${keyPattern(deadLetterStream)}`,
    "+xlen",
    "+xrange",
    "+xinfo|stream"
  ],
  dlqReplay: (stream: string, deadLetterStream: string) => [
    `~${keyPattern(stream)}`,
    `~${keyPattern(deadLetterStream)}`,
    "+xlen",
    "+xrange",
    "+xinfo|stream",
    "+xadd",
    "+xdel",
    // DeadLetter.replay: add and delete in one Lua script
    "+evalsha",
    "+eval"
  ],
  dlqPurge: (stream: string, deadLetterStream: string) => [
    `%R~${keyPattern(stream)}`,
    `~${keyPattern(deadLetterStream)}`,
    "+xlen",
    "+xrange",
    "+xinfo|stream",
    "+xdel"
  ],
  serve: (stream: string, deadLetterStream: string) => [...monitorReport(stream, deadLetterStream), "+ping"]
} as const

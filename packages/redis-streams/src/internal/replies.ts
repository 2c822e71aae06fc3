/**
 * Every reply of ioredis (RESP2, ioredis 5) becomes a typed value of the port
 * here, and every Redis error reply becomes a typed error here: a move to
 * RESP3 or to another client changes this one file.
 *
 * The parsers are plain loops over the arrays ioredis returns; field arrays of
 * entries are handed to the caller as they come (no copy). A parser throws a
 * typed error (`StreamNotFound` for a NOMKSTREAM nil) or, for a reply of an
 * unexpected shape, anything else, which `toBackendError` turns into a
 * `RedisCommandError` naming the command.
 *
 * @internal
 */
import { isUtf8 } from "node:buffer"
import type {
  AutoClaimResult,
  ConsumerInfo,
  Fields,
  GroupInfo,
  PendingEntry,
  PendingSummary,
  ReadEntry,
  StreamEntry,
  StreamInfo
} from "../StreamsBackend.js"
import {
  type BackendError,
  GroupNotFound,
  PermissionDenied,
  RedisCommandError,
  RedisConnectionError,
  StreamNotFound,
  WrongKeyType
} from "../StreamsError.js"

// -----------------------------------------------------------------------------
// scalars
// -----------------------------------------------------------------------------

/** an integer reply (a number, or a string with `stringNumbers`) */
export const toInt = (reply: unknown): number => {
  if (typeof reply === "number") return reply
  if (typeof reply === "string") {
    const n = Number(reply)
    if (Number.isFinite(n)) return n
  }
  throw new UnexpectedReply(`expected an integer, got ${describe(reply)}`)
}

/** an integer reply that may be nil */
export const toIntOrNull = (reply: unknown): number | null => reply === null || reply === undefined ? null : toInt(reply)

/** a bulk string reply */
export const toStr = (reply: unknown): string => {
  if (typeof reply === "string") return reply
  if (typeof reply === "number") return String(reply)
  if (reply instanceof Uint8Array) return Buffer.from(reply).toString("utf8")
  throw new UnexpectedReply(`expected a string, got ${describe(reply)}`)
}

/** a bulk string reply that may be nil */
export const toStrOrNull = (reply: unknown): string | null => reply === null || reply === undefined ? null : toStr(reply)

/** 1 / 0 */
export const toBool = (reply: unknown): boolean => toInt(reply) !== 0

const asArray = (reply: unknown): ReadonlyArray<unknown> => {
  if (Array.isArray(reply)) return reply
  throw new UnexpectedReply(`expected an array, got ${describe(reply)}`)
}

const describe = (reply: unknown): string => {
  if (reply === null) return "nil"
  if (Array.isArray(reply)) return `an array of ${reply.length}`
  if (typeof reply === "string") return `"${reply.length > 40 ? reply.slice(0, 40) + "..." : reply}"`
  return typeof reply
}

/** a reply of a shape the parser does not know */
export class UnexpectedReply extends Error {
  override readonly name = "UnexpectedReply"
}

// -----------------------------------------------------------------------------
// entries
// -----------------------------------------------------------------------------

const EMPTY: ReadonlyArray<never> = []

/**
 * An entry of a reply. A class, not an object literal, on purpose: V8 tracks
 * object literals per allocation site and may decide to allocate a site's
 * objects in the old generation at once ("pretenuring"). An old entry then
 * keeps its young fields alive through every young-generation GC until a full
 * GC, which made the Consumer spend several times more time in GC than the
 * work itself (measured with --trace-gc-nvp; `--no-allocation-site-pretenuring`
 * made it disappear). Instances of a class carry no allocation site.
 *
 * @internal
 */
export class Entry implements ReadEntry {
  constructor(
    readonly id: string,
    readonly fields: Fields | null
  ) {}
}

/** a SCAN reply: the next cursor ("0" when the scan is complete) and the keys of this round */
export const parseScan = (reply: unknown): { readonly cursor: string; readonly keys: ReadonlyArray<string> } => {
  if (!Array.isArray(reply) || reply.length !== 2 || !Array.isArray(reply[1])) {
    throw new UnexpectedReply(`expected [cursor, keys], got ${describe(reply)}`)
  }
  return { cursor: toStr(reply[0]), keys: (reply[1] as Array<unknown>).map(toStr) }
}

/** XADD: the id; nil (NOMKSTREAM on a missing stream) fails with StreamNotFound */
export const parseAddedId = (reply: unknown, stream: string, command = "XADD"): string => {
  if (typeof reply === "string") return reply
  if (reply === null) throw streamNotFound(stream, command)
  return toStr(reply)
}

/** the add-many script (redisAddMany.ts): one reply per entry, each an id, nil or an error reply */
export const parseAddManyScript = (reply: unknown, count: number): ReadonlyArray<unknown> => {
  const out = asArray(reply)
  if (out.length !== count) throw new UnexpectedReply(`expected ${count} replies from the script, got ${out.length}`)
  return out
}

/** XRANGE / XREVRANGE / XCLAIM: `[[id, [f, v, ...]], ...]`; entries with nil fields (deleted, Redis < 7) are skipped */
export const parseEntries = (reply: unknown): ReadonlyArray<StreamEntry> => {
  if (reply === null) return EMPTY
  const raw = asArray(reply) as ReadonlyArray<[string, Array<string> | null]>
  const n = raw.length
  const out = new Array<StreamEntry>(n)
  let k = 0
  for (let i = 0; i < n; i++) {
    const e = raw[i]!
    const fields = e[1]
    if (fields !== null) out[k++] = new Entry(e[0], fields) as StreamEntry
  }
  out.length = k
  return out
}

/** the decoders `Buffer#toString` calls (present on every Node Buffer), without its argument handling */
interface Decoders {
  utf8Slice(start: number, end: number): string
  latin1Slice(start: number, end: number): string
}

/** an entry that is not valid UTF-8: its fields as text (U+FFFD where bytes do not decode) and as bytes */
class BinaryEntry implements ReadEntry {
  constructor(
    readonly id: string,
    readonly fields: Fields,
    readonly bytes: ReadonlyArray<Uint8Array>
  ) {}
}

/** one entry of a reply read as bytes: decoded here, its bytes kept (copied) only when they are not valid UTF-8 */
const entryOfBytes = (id: Uint8Array, values: ReadonlyArray<Uint8Array> | null): ReadEntry => {
  const text = (id as unknown as Decoders).latin1Slice(0, id.length)
  if (values === null) return new Entry(text, null)
  const m = values.length
  const fields = new Array<string>(m)
  let suspect = false
  for (let j = 0; j < m; j++) {
    const b = values[j]!
    const f = (b as unknown as Decoders).utf8Slice(0, b.length)
    // a one-byte (Latin-1) string cannot hold U+FFFD: V8 answers at once for ASCII text
    if (!suspect && f.includes("\uFFFD")) suspect = true
    fields[j] = f
  }
  if (suspect && values.some((b) => !isUtf8(b))) return new BinaryEntry(text, fields, values.map((b) => new Uint8Array(b)))
  return new Entry(text, fields)
}

/**
 * XREADGROUP (one stream), read with `callBuffer`: `nil` or `[[stream, [[id, fields | nil], ...]]]`;
 * deleted entries re-read from the pending list keep `fields: null`. The entries are decoded
 * straight from the parser's bytes. ioredis's parser always yields bytes; for a text reply ioredis
 * then walks the whole reply again to turn every value into a string (`convertBufferToString`, about 50 µs per 100
 * entries here against about 30 for this loop), and an entry that was not valid UTF-8 had to be
 * read again as bytes (one XRANGE each); here its bytes are at hand.
 */
export const parseReadGroupBytes = (reply: unknown): ReadonlyArray<ReadEntry> => {
  if (reply === null) return EMPTY
  const streams = asArray(reply) as ReadonlyArray<
    [Uint8Array, ReadonlyArray<[Uint8Array, ReadonlyArray<Uint8Array> | null]>]
  >
  if (streams.length === 0) return EMPTY
  const raw = streams[0]![1]
  const n = raw.length
  const out = new Array<ReadEntry>(n)
  for (let i = 0; i < n; i++) {
    const e = raw[i]!
    out[i] = entryOfBytes(e[0], e[1])
  }
  return out
}

/** true when a field name or value holds U+FFFD, which ioredis puts where bytes are not valid UTF-8 */
export const mayHoldBinary = (fields: ReadonlyArray<string> | null): boolean => {
  if (fields === null) return false
  for (let i = 0; i < fields.length; i++) if (fields[i]!.includes("\uFFFD")) return true
  return false
}

/** `XRANGE key id id` read with `callBuffer`: the entry's fields as bytes, or null when it is gone */
export const parseBytesEntry = (reply: unknown): ReadonlyArray<Uint8Array> | null => {
  if (!Array.isArray(reply) || reply.length === 0) return null
  const entry = reply[0] as [unknown, ReadonlyArray<unknown> | null]
  const fields = entry[1]
  if (!Array.isArray(fields)) return null
  return fields.map((f) => (f instanceof Uint8Array ? f : Buffer.from(String(f))))
}

/** a plain array of ids (XCLAIM ... JUSTID) */
export const parseIds = (reply: unknown): ReadonlyArray<string> => {
  if (reply === null) return EMPTY
  const raw = asArray(reply)
  for (let i = 0; i < raw.length; i++) {
    if (typeof raw[i] !== "string") return raw.map(toStr)
  }
  return raw as ReadonlyArray<string>
}

/** XAUTOCLAIM: `[next, entries, deleted]` (Redis 7) or `[next, entries]` (6.2, where deleted entries come with nil fields) */
export const parseAutoClaim = (reply: unknown): AutoClaimResult => {
  const raw = asArray(reply)
  const next = toStr(raw[0])
  const list = raw[1] === null ? EMPTY : asArray(raw[1]) as ReadonlyArray<[string, Array<string> | null]>
  const entries: Array<StreamEntry> = []
  const deleted: Array<string> = raw.length > 2 && raw[2] !== null ? [...parseIds(raw[2])] : []
  for (let i = 0; i < list.length; i++) {
    const e = list[i]!
    if (e[1] === null) deleted.push(e[0])
    else entries.push(new Entry(e[0], e[1]) as StreamEntry)
  }
  return { next, entries, deleted }
}

// -----------------------------------------------------------------------------
// pending
// -----------------------------------------------------------------------------

/** XPENDING key group: `[count, first, last, [[consumer, count], ...] | nil]` */
export const parsePendingSummary = (reply: unknown): PendingSummary => {
  const raw = asArray(reply)
  const list = raw[3] === null || raw[3] === undefined ? EMPTY : asArray(raw[3])
  const consumers = new Array<{ readonly name: string; readonly count: number }>(list.length)
  for (let i = 0; i < list.length; i++) {
    const c = asArray(list[i])
    consumers[i] = { name: toStr(c[0]), count: toInt(c[1]) }
  }
  return { count: toInt(raw[0]), first: toStrOrNull(raw[1]), last: toStrOrNull(raw[2]), consumers }
}

/** XPENDING extended: `[[id, consumer, idle, deliveries], ...]` */
export const parsePending = (reply: unknown): ReadonlyArray<PendingEntry> => {
  if (reply === null) return EMPTY
  const raw = asArray(reply)
  const out = new Array<PendingEntry>(raw.length)
  for (let i = 0; i < raw.length; i++) {
    const p = raw[i] as ReadonlyArray<unknown>
    out[i] = { id: toStr(p[0]), consumer: toStr(p[1]), idleMs: toInt(p[2]), deliveries: toInt(p[3]) }
  }
  return out
}

// -----------------------------------------------------------------------------
// XINFO
// -----------------------------------------------------------------------------

const parseEntryOrNull = (reply: unknown): StreamEntry | null => {
  if (reply === null || reply === undefined) return null
  const e = asArray(reply)
  if (e[1] === null || e[1] === undefined) return null
  return { id: toStr(e[0]), fields: asArray(e[1]) as ReadonlyArray<string> }
}

/**
 * XINFO STREAM (flat key/value array). Fields missing before Redis 7.0
 * (`max-deleted-entry-id`, `entries-added`, `recorded-first-entry-id`) fall
 * back to `"0-0"`, the length and the first entry's id.
 */
export const parseStreamInfo = (reply: unknown): StreamInfo => {
  const raw = asArray(reply)
  let length = 0
  let groups = 0
  let lastGeneratedId = "0-0"
  let maxDeletedEntryId = "0-0"
  let entriesAdded: number | undefined
  let recordedFirstEntryId: string | undefined
  let firstEntry: StreamEntry | null = null
  let lastEntry: StreamEntry | null = null
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const value = raw[i + 1]
    switch (raw[i]) {
      case "length":
        length = toInt(value)
        break
      case "groups":
        groups = toInt(value)
        break
      case "last-generated-id":
        lastGeneratedId = toStr(value)
        break
      case "max-deleted-entry-id":
        maxDeletedEntryId = toStr(value)
        break
      case "entries-added":
        entriesAdded = toInt(value)
        break
      case "recorded-first-entry-id":
        recordedFirstEntryId = toStr(value)
        break
      case "first-entry":
        firstEntry = parseEntryOrNull(value)
        break
      case "last-entry":
        lastEntry = parseEntryOrNull(value)
        break
    }
  }
  return {
    length,
    groups,
    lastGeneratedId,
    maxDeletedEntryId,
    entriesAdded: entriesAdded ?? length,
    recordedFirstEntryId: recordedFirstEntryId ?? firstEntry?.id ?? "0-0",
    firstEntry,
    lastEntry
  }
}

/** XINFO GROUPS: an array of flat key/value arrays; `entries-read` and `lag` may be nil (and are absent before 7.0) */
export const parseGroupsInfo = (reply: unknown): ReadonlyArray<GroupInfo> => {
  const raw = asArray(reply)
  const out = new Array<GroupInfo>(raw.length)
  for (let g = 0; g < raw.length; g++) {
    const kv = asArray(raw[g])
    let name = ""
    let consumers = 0
    let pending = 0
    let lastDeliveredId = "0-0"
    let entriesRead: number | null = null
    let lag: number | null = null
    for (let i = 0; i + 1 < kv.length; i += 2) {
      const value = kv[i + 1]
      switch (kv[i]) {
        case "name":
          name = toStr(value)
          break
        case "consumers":
          consumers = toInt(value)
          break
        case "pending":
          pending = toInt(value)
          break
        case "last-delivered-id":
          lastDeliveredId = toStr(value)
          break
        case "entries-read":
          entriesRead = toIntOrNull(value)
          break
        case "lag":
          lag = toIntOrNull(value)
          break
      }
    }
    out[g] = { name, consumers, pending, lastDeliveredId, entriesRead, lag }
  }
  return out
}

/** XINFO CONSUMERS: `inactive` exists from Redis 7.2 on; `null` before */
export const parseConsumersInfo = (reply: unknown): ReadonlyArray<ConsumerInfo> => {
  const raw = asArray(reply)
  const out = new Array<ConsumerInfo>(raw.length)
  for (let c = 0; c < raw.length; c++) {
    const kv = asArray(raw[c])
    let name = ""
    let pending = 0
    let idleMs = 0
    let inactiveMs: number | null = null
    for (let i = 0; i + 1 < kv.length; i += 2) {
      const value = kv[i + 1]
      switch (kv[i]) {
        case "name":
          name = toStr(value)
          break
        case "pending":
          pending = toInt(value)
          break
        case "idle":
          idleMs = toInt(value)
          break
        case "inactive":
          inactiveMs = toIntOrNull(value)
          // Redis 7.2 reports -1 for a consumer that never had a successful interaction
          if (inactiveMs !== null && inactiveMs < 0) inactiveMs = null
          break
      }
    }
    out[c] = { name, pending, idleMs, inactiveMs }
  }
  return out
}

/** the reply of the delete-consumer-if-idle script: `[deleted 0|1, pending, idle | -1]` */
export const parseDeleteConsumerIfIdle = (
  reply: unknown
): { readonly deleted: boolean; readonly pending: number; readonly idleMs: number | null } => {
  const raw = asArray(reply)
  const idle = toInt(raw[2])
  return { deleted: toInt(raw[0]) === 1, pending: toInt(raw[1]), idleMs: idle < 0 ? null : idle }
}

/** `redis_version` from `INFO server` ("unknown" when absent) */
export const parseServerVersion = (reply: unknown): string => {
  const text = toStr(reply)
  const match = /^(?:redis_version|valkey_version):([^\r\n]+)/m.exec(text)
  return match ? match[1]!.trim() : "unknown"
}

/** MULTI XACK XDEL EXEC: the number acknowledged, or the first error inside the transaction */
export const parseAckAndDelete = (reply: unknown): number => {
  if (reply === null) throw new UnexpectedReply("the transaction was aborted")
  const raw = asArray(reply) as ReadonlyArray<[Error | null, unknown]>
  for (let i = 0; i < raw.length; i++) {
    const err = raw[i]![0]
    if (err) throw err
  }
  return toInt(raw[0]![1])
}

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

const TAGS = new Set([
  "RedisConnectionError",
  "RedisCommandError",
  "GroupNotFound",
  "WrongKeyType",
  "StreamNotFound",
  "PermissionDenied"
])

const isBackendError = (u: unknown): u is BackendError =>
  typeof u === "object" && u !== null && TAGS.has((u as { _tag?: unknown })._tag as string) &&
  u instanceof Error

/** an error reply of the server (as opposed to a client-side or connection failure) */
export const isReplyError = (u: unknown): u is Error =>
  u instanceof Error && (u.name === "ReplyError" || u.constructor?.name === "ReplyError")

export const streamNotFound = (stream: string, command: string) =>
  new StreamNotFound({ stream, command, message: `${command}: stream '${stream}' does not exist` })

/**
 * The first error of a failed transaction (EXECABORT carries the errors of
 * the commands that could not be queued).
 */
const innermost = (err: Error): Error => {
  const previous = (err as { previousErrors?: ReadonlyArray<unknown> }).previousErrors
  if (previous && previous.length > 0 && previous[0] instanceof Error) return previous[0]
  return err
}

/**
 * A copy of a failure that is safe to keep in an error: ioredis attaches the
 * command to its errors (`command: { name, args }`), and the error of a
 * failed AUTH (a password rotated while connected) is handed to every command
 * waiting at that moment, so its `args` would carry the password. The copy
 * keeps the name, message, stack, code and the command's name, never its
 * arguments (which may also be megabytes of entry data).
 */
export const safeCause = (cause: unknown): unknown => {
  if (!(cause instanceof Error)) return cause
  const raw = cause as unknown as Record<string, unknown>
  const command = raw["command"]
  const previous = raw["previousErrors"]
  if ((typeof command !== "object" || command === null) && !Array.isArray(previous)) return cause
  const copy = new Error(cause.message)
  copy.name = cause.name
  if (cause.stack !== undefined) copy.stack = cause.stack
  const out = copy as unknown as Record<string, unknown>
  for (const key of Object.keys(raw)) {
    if (key === "command" || key === "previousErrors") continue
    out[key] = raw[key]
  }
  if (typeof command === "object" && command !== null) {
    const name = (command as { readonly name?: unknown }).name
    out["command"] = { name: typeof name === "string" ? name : "?" }
  }
  if (Array.isArray(previous)) out["previousErrors"] = previous.map(safeCause)
  return copy
}

/** `xinfo|stream` -> `XINFO STREAM` */
const commandName = (redisName: string): string => redisName.split("|").join(" ").toUpperCase()

const NOPERM_COMMAND = /no permissions to run the '([^']+)' command/
const SCRIPT_DENIED = /^ERR The user executing the script can't (run|access)/

/** a NOPERM reply (also the ERR a script gets for a refused command or key) as `PermissionDenied`, else undefined */
const permissionDenied = (reply: string, label: string, key: string): PermissionDenied | undefined => {
  const script = SCRIPT_DENIED.exec(reply)
  if (!reply.startsWith("NOPERM") && script === null) return undefined
  const named = NOPERM_COMMAND.exec(reply)
  const denied: "command" | "key" = named !== null || (script !== null && script[1] === "run") ? "command" : "key"
  const command = named !== null ? commandName(named[1]!) : label
  const grant = named !== null ? `+${named[1]}` : denied === "command" ? "the commands it runs" : `~${key}`
  const what = denied === "command"
    ? `may not run ${command}${script !== null ? " (one of the commands of the script)" : ""}`
    : `may not access the key '${key}'`
  return new PermissionDenied({
    command,
    key,
    denied,
    reply,
    message: `${label} on '${key}' refused by ACL: the Redis user ${what}; grant ${grant} to the user. Redis said: ${reply}`
  })
}

/** error replies of a server that is there but cannot serve the command now */
const TRANSIENT = /^(READONLY|LOADING|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|NOREPLICAS|BUSY )/

/**
 * Map an error reply of the server (or of the in-memory engine, which sends
 * the same texts) to the port's typed errors; see `toBackendError`.
 */
export const fromReply = (
  reply: string,
  command: string,
  stream: string,
  group: string | undefined,
  endpoint: string,
  cause?: unknown
): BackendError => {
  if (reply.startsWith("NOGROUP")) {
    const g = group ?? "?"
    return new GroupNotFound({
      stream,
      group: g,
      command,
      message: `${command}: consumer group '${g}' does not exist on stream '${stream}' (or the stream does not exist)`
    })
  }
  if (reply.startsWith("WRONGTYPE")) {
    return new WrongKeyType({
      key: stream,
      command,
      message: `${command}: key '${stream}' holds another type than a stream`
    })
  }
  if (reply.startsWith("ERR no such key") || reply.includes("requires the key to exist")) {
    return streamNotFound(stream, command)
  }
  const denied = permissionDenied(reply, command, stream)
  if (denied !== undefined) return denied
  if (TRANSIENT.test(reply)) {
    // the server is there but cannot serve this now (a failover, a replica, loading, a resharding):
    // a connection-class failure, so the Consumer's reconnect policy retries it
    return new RedisConnectionError({
      endpoint,
      message: `${command} ${stream} on ${endpoint} cannot be served now: ${reply}`,
      ...(cause !== undefined ? { cause: safeCause(cause) } : {})
    })
  }
  return new RedisCommandError({
    command,
    reply,
    message: `${command} ${stream} failed: ${reply}`,
    ...(cause !== undefined ? { cause: safeCause(cause) } : {})
  })
}

/** what errors of `moveEntry` name as their command, on both backends */
export const MOVE_ENTRY_LABEL = "XADD + XDEL (script)"

/** what Redis appends to an error raised inside a script */
const SCRIPT_SUFFIX = / script: [0-9a-f]+, on @user_script:\d+\.?$/

/**
 * An error of `moveEntry`, the same on both backends: named after the script,
 * a WRONGTYPE naming both keys (the reply does not say which one), and a
 * reply without the suffix Redis adds inside a script.
 */
export const moveEntryError = (e: BackendError, from: string, to: string): BackendError => {
  switch (e._tag) {
    case "WrongKeyType":
      return new WrongKeyType({
        key: from,
        command: MOVE_ENTRY_LABEL,
        message: `${MOVE_ENTRY_LABEL}: key '${from}' or '${to}' holds another type than a stream`
      })
    case "RedisCommandError": {
      const reply = e.reply.replace(SCRIPT_SUFFIX, "")
      return new RedisCommandError({
        command: MOVE_ENTRY_LABEL,
        reply,
        message: `${MOVE_ENTRY_LABEL} ${from} failed: ${reply}`,
        ...(e.cause !== undefined ? { cause: e.cause } : {})
      })
    }
    default:
      return e
  }
}

/**
 * Map any failure of a command to the port's typed errors:
 * NOGROUP -> GroupNotFound, WRONGTYPE -> WrongKeyType, "no such key" and
 * "requires the key to exist" -> StreamNotFound, NOPERM (and a script's
 * refused command or key) -> PermissionDenied,
 * READONLY, LOADING, MASTERDOWN, TRYAGAIN, CLUSTERDOWN, NOREPLICAS and BUSY
 * (a server that cannot serve the command now) -> RedisConnectionError, so the
 * Consumer's reconnect policy retries them, any other error reply ->
 * RedisCommandError (with the raw reply), a reply of an unexpected shape ->
 * RedisCommandError, anything else (closed connection, command timeout, retries
 * exhausted) -> RedisConnectionError naming the endpoint. Causes are kept
 * without the command's arguments (`safeCause`).
 */
export const toBackendError = (
  cause: unknown,
  command: string,
  stream: string,
  group: string | undefined,
  endpoint: string
): BackendError => {
  if (isBackendError(cause)) return cause
  if (cause instanceof UnexpectedReply) {
    return new RedisCommandError({
      command,
      reply: cause.message,
      message: `${command} ${stream}: unexpected reply from ${endpoint}: ${cause.message}`,
      cause
    })
  }
  if (isReplyError(cause)) return fromReply(innermost(cause).message, command, stream, group, endpoint, cause)
  const text = cause instanceof Error ? cause.message : String(cause)
  return new RedisConnectionError({
    endpoint,
    message: `${command} ${stream} on ${endpoint} failed: ${text}`,
    cause: safeCause(cause)
  })
}

/**
 * The in-memory engine: a keyspace of stream (and string) keys and the stream
 * commands of Redis 7.0.15, written after t_stream.c and checked reply by
 * reply against a real redis-server 7.0.15. Everything here is synchronous
 * and takes the current time as an argument (`now`, in milliseconds), so the
 * Effect layer above decides where time comes from (`Clock`).
 *
 * Arguments the Redis backend would send as text (counts, thresholds, ids)
 * are parsed the way the server parses them, and every refusal throws a
 * `ReplyError` with the server's exact error reply.
 *
 * @internal
 */
import type {
  AutoClaimResult,
  ConsumerInfo,
  Fields,
  GroupInfo,
  PendingEntry,
  PendingOptions,
  PendingSummary,
  ReadEntry,
  StreamEntry,
  StreamInfo,
  Trim
} from "../../StreamsBackend.js"
import { notInteger, nomkstreamNil, ReplyError, wrongType } from "./errors.js"
import { globMatch } from "./glob.js"
import {
  compare,
  format,
  type Id,
  incr,
  isMax,
  isZero,
  MAX,
  parseId,
  parseRangeEnd,
  parseRangeStart,
  parseStrictId,
  string2llNumber,
  U64_MAX,
  ZERO
} from "./id.js"
import { IdIndex } from "./idIndex.js"
import {
  type Consumer,
  type Entry,
  type Group,
  INVALID_ENTRIES_READ,
  type Nack,
  StreamValue
} from "./stream.js"

/** a key of another type than a stream (made by `setString`) */
export interface StringValue {
  readonly type: "string"
  readonly value: string
}

export type Value = StreamValue | StringValue

/** a client blocked in XREADGROUP ... BLOCK on one stream */
export interface Waiter {
  readonly key: string
  readonly group: string
  readonly consumer: string
  readonly count: number
  readonly noAck: boolean
  /** called once, synchronously, when the waiter is served or refused */
  readonly resolve: (result: ReadonlyArray<ReadEntry> | ReplyError) => void
  done: boolean
}

/** the result of a read that found nothing to serve (the caller may block) */
export const NOTHING: unique symbol = Symbol("effect-redis-streams/memory/nothing")

const EMPTY: ReadonlyArray<never> = []

/** the label of ackAndDelete's errors (as the Redis backend names its transaction) */
export const ACK_AND_DELETE = "MULTI XACK XDEL EXEC"
/** the label of deleteConsumerIfIdle's errors (as the Redis backend names its script) */
export const DELETE_IF_IDLE = "XGROUP DELCONSUMER if idle (script)"

/** the longest XAUTOCLAIM COUNT Redis accepts (LONG_MAX / 16) */
const AUTOCLAIM_MAX_COUNT = 576460752303423487

/** numbers are sent to Redis as their decimal text; parse that text as getLongLongFromObject does */
const toLongLong = (command: string, n: number, error?: string): number => {
  const v = string2llNumber(String(n))
  if (v === undefined) throw error === undefined ? notInteger(command) : new ReplyError(command, error)
  return v
}

const entryReply = (e: Entry): StreamEntry => ({ id: e.id, fields: e.fields })

/** byte order of the UTF-8 encodings (the order of Redis's radix trees) */
export const compareNames = (a: string, b: string): number => {
  if (a === b) return 0
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x !== y) {
      if (x < 0xd800 && y < 0xd800) return x < y ? -1 : 1
      return Buffer.compare(Buffer.from(a.slice(i)), Buffer.from(b.slice(i)))
    }
  }
  return a.length < b.length ? -1 : 1
}

export class Engine {
  readonly keyspace = new Map<string, Value>()
  private readonly blocked = new Map<string, Array<Waiter>>()

  // ---------------------------------------------------------------------------
  // keys
  // ---------------------------------------------------------------------------

  private lookupStream(command: string, key: string): StreamValue | undefined {
    const v = this.keyspace.get(key)
    if (v === undefined) return undefined
    if (v.type !== "stream") throw wrongType(command)
    return v
  }

  /** SET key value */
  setString(key: string, value: string): void {
    this.keyspace.set(key, { type: "string", value })
    this.signal(key, 0)
  }

  /** DEL key */
  deleteKey(key: string): boolean {
    const existed = this.keyspace.delete(key)
    if (existed) this.signal(key, 0)
    return existed
  }

  /** FLUSHALL */
  flushAll(): void {
    const keys = [...this.keyspace.keys()]
    this.keyspace.clear()
    for (const key of keys) this.signal(key, 0)
  }

  keys(): ReadonlyArray<string> {
    return [...this.keyspace.keys()].sort(compareNames)
  }

  /** SCAN MATCH pattern TYPE stream, at most `limit` names (sorted by code unit), and whether more match */
  scanStreams(pattern: string, limit: number): { readonly streams: Array<string>; readonly truncated: boolean } {
    const max = Math.max(1, limit)
    const found: Array<string> = []
    for (const [key, value] of this.keyspace) {
      if (value.type !== "stream" || !globMatch(pattern, key)) continue
      if (found.length >= max) return { streams: found.sort(), truncated: true }
      found.push(key)
    }
    return { streams: found.sort(), truncated: false }
  }

  // ---------------------------------------------------------------------------
  // XADD / XTRIM
  // ---------------------------------------------------------------------------

  /** streamParseAddOrTrimArgsOrReply for the trimming part */
  private parseTrim(command: string, trim: Trim | undefined): ParsedTrim | undefined {
    if (trim === undefined) return undefined
    let maxlen = 0
    let minid: Id = ZERO
    if (trim.strategy === "maxlen") {
      maxlen = toLongLong(command, trim.threshold)
      if (maxlen < 0) throw new ReplyError(command, "ERR The MAXLEN argument must be >= 0.")
    } else {
      minid = parseStrictId(command, trim.threshold)
    }
    const approx = trim.approximate === true
    let limit = 0
    if (trim.limit !== undefined) {
      limit = toLongLong(command, trim.limit)
      if (limit < 0) throw notInteger(command)
    }
    return { strategy: trim.strategy, maxlen, minid, approx, limit, limitGiven: trim.limit !== undefined }
  }

  private checkTrim(command: string, t: ParsedTrim | undefined): void {
    if (t === undefined) return
    if (t.limitGiven && !t.approx) {
      throw new ReplyError(command, "ERR syntax error, LIMIT cannot be used without the special ~ option")
    }
  }

  private applyTrim(s: StreamValue, t: ParsedTrim): number {
    // without LIMIT, approximate trimming does at most 100 * stream-node-max-entries
    const limit = t.approx ? (t.limitGiven ? t.limit : 10000) : 0
    return s.trim(t.strategy, t.maxlen, t.minid, t.approx, limit)
  }

  /** XADD key [NOMKSTREAM] [trim] <id | *> field value ... */
  xadd(
    key: string,
    fields: Fields,
    options: {
      readonly id?: string | undefined
      readonly trim?: Trim | undefined
      readonly noMkStream?: boolean | undefined
    } | undefined,
    now: number
  ): string {
    const command = "XADD"
    const trim = this.parseTrim(command, options?.trim)
    const given = options?.id === undefined || options.id === "*"
      ? undefined
      : parseId(command, options.id, 0, true, true)
    this.checkTrim(command, trim)
    const result = this.addOne(command, key, fields, given, trim, options?.noMkStream === true, now)
    this.signal(key, now)
    return result
  }

  /**
   * Many XADDs in one pipeline, as the Redis backend sends them: every XADD
   * runs (one that fails does not stop the others), blocked readers are
   * served after each one (Redis serves them between the commands of a
   * pipeline), and the first error, if any, is what the caller gets.
   */
  xaddMany(
    key: string,
    entries: ReadonlyArray<Fields>,
    options: { readonly trim?: Trim | undefined; readonly noMkStream?: boolean | undefined } | undefined,
    now: number
  ): ReadonlyArray<string> {
    const command = "XADD"
    const out = new Array<string>(entries.length)
    if (entries.length === 0) return out
    const trim = this.parseTrim(command, options?.trim)
    this.checkTrim(command, trim)
    const noMk = options?.noMkStream === true
    let error: ReplyError | undefined
    for (let i = 0; i < entries.length; i++) {
      try {
        out[i] = this.addOne(command, key, entries[i]!, undefined, trim, noMk, now)
      } catch (e) {
        if (!(e instanceof ReplyError)) throw e
        if (error === undefined) error = e
        continue
      }
      if (this.blocked.size > 0) this.signal(key, now)
    }
    if (error !== undefined) throw error
    return out
  }

  private addOne(
    command: string,
    key: string,
    fields: Fields,
    given: { readonly ms: Id["ms"]; readonly seq: Id["seq"]; readonly seqGiven: boolean } | undefined,
    trim: ParsedTrim | undefined,
    noMkStream: boolean,
    now: number
  ): string {
    const n = fields.length
    if (n < 2 || n % 2 === 1) throw new ReplyError(command, "ERR wrong number of arguments for 'xadd' command")
    if (given !== undefined && given.seqGiven && isZero(given)) {
      throw new ReplyError(command, "ERR The ID specified in XADD must be greater than 0-0")
    }
    let s = this.lookupStream(command, key)
    if (s === undefined) {
      if (noMkStream) throw nomkstreamNil(command)
      s = new StreamValue()
      this.keyspace.set(key, s)
    }
    const last = s.lastId
    if (isMax(last)) {
      throw new ReplyError(command, "ERR The stream has exhausted the last possible ID, unable to add more items")
    }
    if (given === undefined) {
      // streamNextID
      const entry = now > last.ms ? s.append(now, 0, fields.slice()) : this.appendNext(s, last, fields)
      if (trim !== undefined) this.applyTrim(s, trim)
      return entry.id
    }
    let id: Id
    if (given.seqGiven) {
      id = given
    } else if (given.ms === last.ms) {
      if (last.seq === U64_MAX) throw tooSmall(command)
      id = incr(last)!
    } else {
      id = given
    }
    if (compare(id, last) <= 0) throw tooSmall(command)
    const entry = s.append(id.ms, id.seq, fields.slice())
    if (trim !== undefined) this.applyTrim(s, trim)
    return entry.id
  }

  private appendNext(s: StreamValue, last: Id, fields: Fields): Entry {
    const next = incr(last)!
    return s.append(next.ms, next.seq, fields.slice())
  }

  /** XTRIM */
  xtrim(key: string, trim: Trim): number {
    const command = "XTRIM"
    const t = this.parseTrim(command, trim)!
    this.checkTrim(command, t)
    const s = this.lookupStream(command, key)
    if (s === undefined) return 0
    return this.applyTrim(s, t)
  }

  // ---------------------------------------------------------------------------
  // XDEL / XLEN / XRANGE
  // ---------------------------------------------------------------------------

  /** XDEL */
  xdel(key: string, ids: ReadonlyArray<string>): number {
    const command = "XDEL"
    const s = this.lookupStream(command, key)
    if (s === undefined) return 0
    const parsed = ids.map((t) => parseStrictId(command, t))
    return this.deleteIds(s, parsed)
  }

  private deleteIds(s: StreamValue, ids: ReadonlyArray<Id>): number {
    let deleted = 0
    let firstEntry = false
    for (const id of ids) {
      if (s.deleteEntry(id)) {
        if (compare(id, s.firstId) === 0) firstEntry = true
        if (compare(id, s.maxDeletedId) > 0) s.maxDeletedId = { ms: id.ms, seq: id.seq }
        deleted++
      }
    }
    if (deleted > 0) {
      if (s.length === 0) s.firstId = ZERO
      else if (firstEntry) s.firstId = s.firstEntry() ?? ZERO
    }
    return deleted
  }

  /**
   * `moveEntry` (the Redis backend's script): if `id` is in `from`, XADD
   * `fields` to `to`, then XDEL `id` from `from`; the new id, or null when
   * `id` is not in `from` (nothing changed). An error of the XADD (a key of
   * another type) leaves `from` unchanged, as the script's does.
   */
  moveEntry(from: string, id: string, to: string, fields: Fields, now: number): string | null {
    if (this.xrange(from, id, id, 1, false).length === 0) return null
    const added = this.xadd(to, fields, undefined, now)
    this.xdel(from, [id])
    return added
  }

  /** XLEN */
  xlen(key: string): number {
    const s = this.lookupStream("XLEN", key)
    return s === undefined ? 0 : s.length
  }

  /** XRANGE / XREVRANGE (start is always the low bound) */
  xrange(
    key: string,
    startText: string,
    endText: string,
    count: number | undefined,
    reverse: boolean
  ): ReadonlyArray<StreamEntry> {
    const command = reverse ? "XREVRANGE" : "XRANGE"
    const start = parseRangeStart(command, startText)
    const end = parseRangeEnd(command, endText)
    let n = -1
    if (count !== undefined) {
      n = toLongLong(command, count)
      if (n < 0) n = 0
    }
    const s = this.lookupStream(command, key)
    if (s === undefined || n === 0) return EMPTY
    const list = reverse ? s.revRange(start, end, n === -1 ? 0 : n) : s.range(start, end, n === -1 ? 0 : n)
    return list.map(entryReply)
  }

  // ---------------------------------------------------------------------------
  // groups: counters (t_stream.c, Redis 7.0)
  // ---------------------------------------------------------------------------

  /** streamRangeHasTombstones(s, start, NULL) */
  private hasTombstonesFrom(s: StreamValue, start: Id): boolean {
    if (s.length === 0 || isZero(s.maxDeletedId)) return false
    if (compare(s.firstId, s.maxDeletedId) > 0) return false
    return compare(start, s.maxDeletedId) <= 0
  }

  /** streamEstimateDistanceFromFirstEverEntry */
  private estimateDistance(s: StreamValue, id: Id): number {
    if (s.entriesAdded === 0) return 0
    if (s.length === 0 && compare(id, s.lastId) < 1) return s.entriesAdded
    const cmpLast = compare(id, s.lastId)
    if (cmpLast === 0) return s.entriesAdded
    if (cmpLast > 0) return INVALID_ENTRIES_READ
    const cmpFirst = compare(id, s.firstId)
    if (isZero(s.maxDeletedId) || compare(s.maxDeletedId, s.firstId) < 0) {
      if (cmpFirst < 0) return s.entriesAdded - s.length
      if (cmpFirst === 0) return s.entriesAdded - s.length + 1
    }
    return INVALID_ENTRIES_READ
  }

  /** streamReplyWithCGLag */
  private lag(s: StreamValue, g: Group): number | null {
    if (s.entriesAdded === 0) return 0
    if (g.entriesRead !== INVALID_ENTRIES_READ && !this.hasTombstonesFrom(s, g.lastId)) {
      return s.entriesAdded - g.entriesRead
    }
    const read = this.estimateDistance(s, g.lastId)
    return read === INVALID_ENTRIES_READ ? null : s.entriesAdded - read
  }

  private createConsumer(g: Group, name: string, now: number): Consumer {
    const c: Consumer = { name, seenTime: now, pel: new IdIndex<Nack>() }
    g.consumers.set(name, c)
    return c
  }

  /** streamLookupConsumer(SLC_DEFAULT), creating it when missing */
  private touchConsumer(g: Group, name: string, now: number): Consumer {
    const c = g.consumers.get(name)
    if (c === undefined) return this.createConsumer(g, name, now)
    c.seenTime = now
    return c
  }

  /** streamReplyWithRange for a group reading new entries (">") */
  private serveNew(
    s: StreamValue,
    g: Group,
    consumer: Consumer,
    count: number,
    noAck: boolean,
    now: number
  ): Array<ReadEntry> {
    const start = incr(g.lastId)
    if (start === undefined) return []
    const entries = s.range(start, MAX, count)
    const out = new Array<ReadEntry>(entries.length)
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!
      if (compare(e, g.lastId) > 0) {
        if (g.entriesRead !== INVALID_ENTRIES_READ && !this.hasTombstonesFrom(s, e)) {
          g.entriesRead++
        } else if (s.entriesAdded !== 0) {
          g.entriesRead = this.estimateDistance(s, e)
        }
        g.lastId = e
      }
      if (!noAck) {
        const nack: Nack = { consumer, deliveryTime: now, deliveryCount: 1 }
        if (g.pel.insert(e, e.id, nack)) {
          consumer.pel.insert(e, e.id, nack)
        } else {
          // already pending (the group's id was moved back): hand it to this consumer
          const existing = g.pel.get(e)!
          existing.consumer.pel.remove(e)
          existing.consumer = consumer
          existing.deliveryTime = now
          existing.deliveryCount = 1
          consumer.pel.insert(e, e.id, existing)
        }
      }
      out[i] = { id: e.id, fields: e.fields }
    }
    return out
  }

  private lookupGroupForRead(command: string, key: string, group: string): { s: StreamValue; g: Group } {
    const s = this.lookupStream(command, key)
    const g = s?.groups.get(group)
    if (s === undefined || g === undefined) {
      throw new ReplyError(
        command,
        `NOGROUP No such key '${key}' or consumer group '${group}' in XREADGROUP with GROUP option`
      )
    }
    return { s, g }
  }

  // ---------------------------------------------------------------------------
  // XREADGROUP
  // ---------------------------------------------------------------------------

  /** parse the options of XREADGROUP: the COUNT (0: no limit) and BLOCK values */
  parseReadOptions(count: number | undefined, blockMs: number | undefined): { count: number; blockMs: number } {
    const command = "XREADGROUP"
    let n = 0
    if (count !== undefined) {
      n = toLongLong(command, count)
      if (n < 0) n = 0
    }
    let block = -1
    if (blockMs !== undefined) {
      block = toLongLong(command, blockMs, "ERR timeout is not an integer or out of range")
      if (block < 0) throw new ReplyError(command, "ERR timeout is negative")
    }
    return { count: n, blockMs: block }
  }

  /**
   * XREADGROUP on one stream, without blocking. `NOTHING` when a ">" read
   * found nothing new (Redis replies nil, or blocks).
   */
  xreadgroup(
    options: {
      readonly stream: string
      readonly group: string
      readonly consumer: string
      readonly id: string
      readonly noAck?: boolean | undefined
    },
    count: number,
    now: number
  ): ReadonlyArray<ReadEntry> | typeof NOTHING {
    const command = "XREADGROUP"
    const { g, s } = this.lookupGroupForRead(command, options.stream, options.group)
    let history: Id | undefined
    if (options.id !== ">") {
      if (options.id === "$") {
        throw new ReplyError(
          command,
          "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set."
        )
      }
      const id = parseStrictId(command, options.id)
      // the maximal id is how the server marks ">"
      if (!isMax(id)) history = id
    }
    if (history !== undefined) {
      const consumer = this.touchConsumer(g, options.consumer, now)
      return this.serveHistory(s, consumer, history, count, now)
    }
    if (s.length === 0) return NOTHING
    const lastValid = s.lastEntry()
    if (lastValid === undefined || compare(lastValid, g.lastId) <= 0) return NOTHING
    const consumer = this.touchConsumer(g, options.consumer, now)
    return this.serveNew(s, g, consumer, count, options.noAck === true, now)
  }

  /** streamReplyWithRangeFromConsumerPEL: this consumer's pending entries after `after` */
  private serveHistory(
    s: StreamValue,
    consumer: Consumer,
    after: Id,
    count: number,
    now: number
  ): ReadonlyArray<ReadEntry> {
    const start = incr(after)
    const out: Array<ReadEntry> = []
    if (start === undefined) return out
    const pel = consumer.pel
    const first = pel.seek(start)
    const slots = pel.slots
    for (let i = first; i < slots.length; i++) {
      if (count > 0 && out.length >= count) break
      const slot = slots[i]!
      if (!slot.alive) continue
      const e = s.get(slot.id)
      if (e === undefined) {
        out.push({ id: slot.key, fields: null })
      } else {
        slot.value.deliveryTime = now
        slot.value.deliveryCount++
        out.push({ id: e.id, fields: e.fields })
      }
    }
    return out
  }

  /** register a client blocked on a ">" read */
  block(waiter: Waiter): void {
    const list = this.blocked.get(waiter.key)
    if (list === undefined) this.blocked.set(waiter.key, [waiter])
    else list.push(waiter)
  }

  /** forget a blocked client (timeout, interruption); false when it was served already */
  unblock(waiter: Waiter): boolean {
    if (waiter.done) return false
    waiter.done = true
    const list = this.blocked.get(waiter.key)
    if (list !== undefined) {
      const i = list.indexOf(waiter)
      if (i >= 0) list.splice(i, 1)
      if (list.length === 0) this.blocked.delete(waiter.key)
    }
    return true
  }

  /** how many clients are blocked (on one key, or on all) */
  blockedCount(key?: string): number {
    if (key !== undefined) return this.blocked.get(key)?.length ?? 0
    let n = 0
    for (const list of this.blocked.values()) n += list.length
    return n
  }

  /**
   * signalKeyAsReady + handleClientsBlockedOnKeys: serve, in the order they
   * blocked, the clients blocked on `key` that can be served now; refuse them
   * when the key is gone or changed type (UNBLOCKED) or their group is gone
   * (NOGROUP).
   */
  private signal(key: string, now: number): void {
    const list = this.blocked.get(key)
    if (list === undefined) return
    const v = this.keyspace.get(key)
    const waiters = list.slice()
    for (const w of waiters) {
      if (w.done) continue
      if (v === undefined || v.type !== "stream") {
        this.unblock(w)
        w.resolve(new ReplyError("XREADGROUP", "UNBLOCKED the stream key no longer exists"))
        continue
      }
      const g = v.groups.get(w.group)
      if (g === undefined) {
        this.unblock(w)
        w.resolve(
          new ReplyError("XREADGROUP", "NOGROUP the consumer group this client was blocked on no longer exists")
        )
        continue
      }
      if (compare(v.lastId, g.lastId) > 0) {
        const consumer = this.touchConsumer(g, w.consumer, now)
        const result = this.serveNew(v, g, consumer, w.count, w.noAck, now)
        this.unblock(w)
        w.resolve(result)
      }
    }
  }

  // ---------------------------------------------------------------------------
  // XACK
  // ---------------------------------------------------------------------------

  /** XACK */
  xack(key: string, group: string, ids: ReadonlyArray<string>): number {
    const command = "XACK"
    const s = this.lookupStream(command, key)
    const g = s?.groups.get(group)
    if (g === undefined) return 0
    const parsed = ids.map((t) => parseStrictId(command, t))
    let acked = 0
    for (const id of parsed) {
      const nack = g.pel.remove(id)
      if (nack !== undefined) {
        nack.consumer.pel.remove(id)
        acked++
      }
    }
    return acked
  }

  /** MULTI XACK XDEL EXEC: both run; the first error is reported */
  ackAndDelete(key: string, group: string, ids: ReadonlyArray<string>): number {
    let acked = 0
    let error: ReplyError | undefined
    try {
      acked = this.xack(key, group, ids)
    } catch (e) {
      if (!(e instanceof ReplyError)) throw e
      error = e
    }
    try {
      this.xdel(key, ids)
    } catch (e) {
      if (!(e instanceof ReplyError)) throw e
      if (error === undefined) error = e
    }
    if (error !== undefined) throw new ReplyError(ACK_AND_DELETE, error.reply)
    return acked
  }

  // ---------------------------------------------------------------------------
  // XPENDING
  // ---------------------------------------------------------------------------

  private lookupGroupNoGroup(command: string, key: string, group: string): { s: StreamValue; g: Group } {
    const s = this.lookupStream(command, key)
    const g = s?.groups.get(group)
    if (s === undefined || g === undefined) {
      throw new ReplyError(command, `NOGROUP No such key '${key}' or consumer group '${group}'`)
    }
    return { s, g }
  }

  /** XPENDING key group */
  xpendingSummary(key: string, group: string): PendingSummary {
    const { g } = this.lookupGroupNoGroup("XPENDING", key, group)
    const count = g.pel.size
    if (count === 0) return { count: 0, first: null, last: null, consumers: [] }
    const consumers: Array<{ readonly name: string; readonly count: number }> = []
    for (const c of this.sortedConsumers(g)) {
      if (c.pel.size > 0) consumers.push({ name: c.name, count: c.pel.size })
    }
    return { count, first: g.pel.first()!.key, last: g.pel.last()!.key, consumers }
  }

  /** XPENDING key group [IDLE min] start end count [consumer] */
  xpending(
    options: PendingOptions,
    now: number
  ): ReadonlyArray<PendingEntry> {
    const command = "XPENDING"
    let minIdle = 0
    if (options.minIdleMs !== undefined) minIdle = toLongLong(command, options.minIdleMs)
    let count = toLongLong(command, options.count)
    if (count < 0) count = 0
    const start = parseRangeStart(command, options.start ?? "-")
    const end = parseRangeEnd(command, options.end ?? "+")
    const { g } = this.lookupGroupNoGroup(command, options.stream, options.group)
    let pel = g.pel
    if (options.consumer !== undefined) {
      const c = g.consumers.get(options.consumer)
      if (c === undefined) return EMPTY
      pel = c.pel
    }
    const out: Array<PendingEntry> = []
    const first = pel.seek(start)
    const slots = pel.slots
    for (let i = first; count > 0 && i < slots.length; i++) {
      const slot = slots[i]!
      if (compare(slot.id, end) > 0) break
      if (!slot.alive) continue
      const nack = slot.value
      if (minIdle !== 0 && now - nack.deliveryTime < minIdle) continue
      count--
      const idle = now - nack.deliveryTime
      out.push({ id: slot.key, consumer: nack.consumer.name, idleMs: idle < 0 ? 0 : idle, deliveries: nack.deliveryCount })
    }
    return out
  }

  // ---------------------------------------------------------------------------
  // XCLAIM / XAUTOCLAIM
  // ---------------------------------------------------------------------------

  /** XCLAIM key group consumer min-idle id ... [JUSTID] */
  xclaim(
    options: {
      readonly stream: string
      readonly group: string
      readonly consumer: string
      readonly minIdleMs: number
      readonly ids: ReadonlyArray<string>
      readonly idleMs?: number | undefined
      readonly retryCount?: number | undefined
    },
    justId: boolean,
    now: number
  ): Array<StreamEntry> | Array<string> {
    const command = "XCLAIM"
    const { g, s } = this.lookupGroupNoGroup(command, options.stream, options.group)
    let minIdle = toLongLong(command, options.minIdleMs, "ERR Invalid min-idle-time argument for XCLAIM")
    if (minIdle < 0) minIdle = 0
    const ids = options.ids.map((text) => {
      try {
        return parseStrictId(command, text)
      } catch {
        throw new ReplyError(command, `ERR Unrecognized XCLAIM option '${text}'`)
      }
    })
    // IDLE sets the delivery time that far back; one in the future (a negative IDLE) means now. Redis
    // also treats a delivery time before 1970 as bogus, which with its clock only an IDLE of more than
    // 50 years gives; here the clock may be a TestClock starting at 0, so that rule is not applied.
    let deliveryTime = now
    if (options.idleMs !== undefined) {
      deliveryTime = now - toLongLong(command, options.idleMs, "ERR Invalid IDLE option argument for XCLAIM")
      if (deliveryTime > now) deliveryTime = now
    }
    const retryCount = options.retryCount === undefined
      ? -1
      : toLongLong(command, options.retryCount, "ERR Invalid RETRYCOUNT option argument for XCLAIM")
    let consumer: Consumer | undefined
    const entries: Array<StreamEntry> = []
    const claimedIds: Array<string> = []
    for (const id of ids) {
      const nack = g.pel.get(id)
      const e = s.get(id)
      if (e === undefined) {
        if (nack !== undefined) {
          g.pel.remove(id)
          nack.consumer.pel.remove(id)
        }
        continue
      }
      if (nack === undefined) continue
      if (minIdle !== 0 && now - nack.deliveryTime < minIdle) continue
      if (consumer === undefined) consumer = this.touchConsumer(g, options.consumer, now)
      if (nack.consumer !== consumer) nack.consumer.pel.remove(id)
      nack.deliveryTime = deliveryTime
      if (retryCount >= 0) nack.deliveryCount = retryCount
      else if (!justId) nack.deliveryCount++
      if (nack.consumer !== consumer) {
        consumer.pel.insert(e, e.id, nack)
        nack.consumer = consumer
      }
      if (justId) claimedIds.push(e.id)
      else entries.push(entryReply(e))
    }
    return justId ? claimedIds : entries
  }

  /** XAUTOCLAIM key group consumer min-idle start [COUNT count] [JUSTID] */
  xautoclaim(
    options: {
      readonly stream: string
      readonly group: string
      readonly consumer: string
      readonly minIdleMs: number
      readonly start: string
      readonly count?: number | undefined
    },
    justId: boolean,
    now: number
  ): AutoClaimResult & { readonly ids: ReadonlyArray<string> } {
    const command = "XAUTOCLAIM"
    let minIdle = toLongLong(command, options.minIdleMs, "ERR Invalid min-idle-time argument for XAUTOCLAIM")
    if (minIdle < 0) minIdle = 0
    const start = parseRangeStart(command, options.start)
    let count = 100
    if (options.count !== undefined) {
      count = toLongLong(command, options.count, "ERR COUNT must be > 0")
      if (count < 1 || count > AUTOCLAIM_MAX_COUNT) throw new ReplyError(command, "ERR COUNT must be > 0")
    }
    const { g, s } = this.lookupGroupNoGroup(command, options.stream, options.group)
    let attempts = count * 10
    let consumer: Consumer | undefined
    const entries: Array<StreamEntry> = []
    const ids: Array<string> = []
    const deleted: Array<string> = []
    const pel = g.pel
    let i = pel.seek(start)
    const slots = pel.slots
    // the next live slot at or after i (the rax iterator's next element)
    const nextLive = (from: number): number => {
      let j = from
      while (j < slots.length && !slots[j]!.alive) j++
      return j
    }
    while (attempts-- > 0 && count > 0) {
      i = nextLive(i)
      if (i >= slots.length) break
      const slot = slots[i]!
      i++
      const nack = slot.value
      const e = s.get(slot.id)
      if (e === undefined) {
        pel.kill(slot)
        nack.consumer.pel.remove(slot.id)
        deleted.push(slot.key)
        count--
        continue
      }
      if (minIdle !== 0 && now - nack.deliveryTime < minIdle) continue
      if (consumer === undefined) consumer = this.touchConsumer(g, options.consumer, now)
      if (nack.consumer !== consumer) nack.consumer.pel.remove(slot.id)
      nack.deliveryTime = now
      if (!justId) nack.deliveryCount++
      if (nack.consumer !== consumer) {
        consumer.pel.insert(e, slot.key, nack)
        nack.consumer = consumer
      }
      if (justId) ids.push(slot.key)
      else entries.push(entryReply(e))
      count--
    }
    const after = nextLive(i)
    const next = after < slots.length ? slots[after]!.key : "0-0"
    return { next, entries, deleted, ids }
  }

  // ---------------------------------------------------------------------------
  // XINFO
  // ---------------------------------------------------------------------------

  private lookupExisting(command: string, key: string): StreamValue {
    const s = this.lookupStream(command, key)
    if (s === undefined) throw new ReplyError(command, "ERR no such key")
    return s
  }

  /** XINFO STREAM */
  xinfoStream(key: string): StreamInfo {
    const s = this.lookupExisting("XINFO STREAM", key)
    const first = s.firstEntry()
    const last = s.lastEntry()
    return {
      length: s.length,
      groups: s.groups.size,
      lastGeneratedId: format(s.lastId),
      maxDeletedEntryId: format(s.maxDeletedId),
      entriesAdded: s.entriesAdded,
      recordedFirstEntryId: format(s.firstId),
      firstEntry: first === undefined ? null : entryReply(first),
      lastEntry: last === undefined ? null : entryReply(last)
    }
  }

  private sortedGroups(s: StreamValue): Array<Group> {
    return [...s.groups.values()].sort((a, b) => compareNames(a.name, b.name))
  }

  private sortedConsumers(g: Group): Array<Consumer> {
    return [...g.consumers.values()].sort((a, b) => compareNames(a.name, b.name))
  }

  /** XINFO GROUPS */
  xinfoGroups(key: string): ReadonlyArray<GroupInfo> {
    const s = this.lookupExisting("XINFO GROUPS", key)
    return this.sortedGroups(s).map((g) => ({
      name: g.name,
      consumers: g.consumers.size,
      pending: g.pel.size,
      lastDeliveredId: format(g.lastId),
      entriesRead: g.entriesRead === INVALID_ENTRIES_READ ? null : g.entriesRead,
      lag: this.lag(s, g)
    }))
  }

  /** XINFO CONSUMERS (Redis 7.0: no `inactive`) */
  xinfoConsumers(key: string, group: string, now: number): ReadonlyArray<ConsumerInfo> {
    const command = "XINFO CONSUMERS"
    const s = this.lookupExisting(command, key)
    const g = s.groups.get(group)
    if (g === undefined) {
      throw new ReplyError(command, `NOGROUP No such consumer group '${group}' for key name '${key}'`)
    }
    return this.sortedConsumers(g).map((c) => {
      const idle = now - c.seenTime
      return { name: c.name, pending: c.pel.size, idleMs: idle < 0 ? 0 : idle, inactiveMs: null }
    })
  }

  // ---------------------------------------------------------------------------
  // XGROUP
  // ---------------------------------------------------------------------------

  private parseEntriesRead(command: string, entriesRead: number | undefined): number {
    if (entriesRead === undefined) return INVALID_ENTRIES_READ
    const v = toLongLong(command, entriesRead)
    if (v < 0 && v !== INVALID_ENTRIES_READ) {
      throw new ReplyError(command, "ERR value for ENTRIESREAD must be positive or -1")
    }
    return v
  }

  private requireKey(command: string, key: string): StreamValue {
    const s = this.lookupStream(command, key)
    if (s === undefined) {
      throw new ReplyError(
        command,
        "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically."
      )
    }
    return s
  }

  private requireGroup(command: string, key: string, group: string): { s: StreamValue; g: Group } {
    const s = this.requireKey(command, key)
    const g = s.groups.get(group)
    if (g === undefined) {
      throw new ReplyError(command, `NOGROUP No such consumer group '${group}' for key name '${key}'`)
    }
    return { s, g }
  }

  /** XGROUP CREATE; false on BUSYGROUP */
  xgroupCreate(
    key: string,
    group: string,
    options: { readonly id: string; readonly mkStream?: boolean | undefined; readonly entriesRead?: number | undefined }
  ): boolean {
    const command = "XGROUP CREATE"
    const entriesRead = this.parseEntriesRead(command, options.entriesRead)
    let s = this.lookupStream(command, key)
    if (s === undefined && options.mkStream !== true) this.requireKey(command, key)
    let id: Id
    if (options.id === "$") id = s === undefined ? ZERO : s.lastId
    else id = parseStrictId(command, options.id)
    if (s === undefined) {
      s = new StreamValue()
      this.keyspace.set(key, s)
    }
    if (s.groups.has(group)) return false
    s.groups.set(group, {
      name: group,
      lastId: { ms: id.ms, seq: id.seq },
      entriesRead,
      pel: new IdIndex<Nack>(),
      consumers: new Map()
    })
    return true
  }

  /** XGROUP DESTROY */
  xgroupDestroy(key: string, group: string, now: number): boolean {
    const s = this.requireKey("XGROUP DESTROY", key)
    if (!s.groups.delete(group)) return false
    this.signal(key, now)
    return true
  }

  /** XGROUP CREATECONSUMER */
  xgroupCreateConsumer(key: string, group: string, consumer: string, now: number): boolean {
    const { g } = this.requireGroup("XGROUP CREATECONSUMER", key, group)
    if (g.consumers.has(consumer)) return false
    this.createConsumer(g, consumer, now)
    return true
  }

  /** XGROUP DELCONSUMER: the number of pending entries dropped */
  xgroupDelConsumer(key: string, group: string, consumer: string): number {
    const { g } = this.requireGroup("XGROUP DELCONSUMER", key, group)
    const c = g.consumers.get(consumer)
    if (c === undefined) return 0
    return this.dropConsumer(g, c)
  }

  private dropConsumer(g: Group, c: Consumer): number {
    const pending = c.pel.size
    const slots = c.pel.slots
    for (let i = 0; i < slots.length; i++) if (slots[i]!.alive) g.pel.remove(slots[i]!.id)
    g.consumers.delete(c.name)
    return pending
  }

  /**
   * The delete-consumer-if-idle script: the consumer is deleted only when it
   * has no pending entries and has been idle for at least `minIdleMs`.
   */
  deleteConsumerIfIdle(
    key: string,
    group: string,
    consumer: string,
    minIdleMs: number,
    now: number
  ): { readonly deleted: boolean; readonly pending: number; readonly idleMs: number | null } {
    const command = DELETE_IF_IDLE
    const s = this.lookupExisting(command, key)
    const g = s.groups.get(group)
    if (g === undefined) {
      throw new ReplyError(command, `NOGROUP No such consumer group '${group}' for key name '${key}'`)
    }
    const c = g.consumers.get(consumer)
    if (c === undefined) return { deleted: false, pending: 0, idleMs: null }
    const idle = Math.max(0, now - c.seenTime)
    const pending = c.pel.size
    if (pending > 0 || idle < minIdleMs) return { deleted: false, pending, idleMs: idle }
    this.dropConsumer(g, c)
    return { deleted: true, pending, idleMs: idle }
  }

  /** XGROUP SETID key group <id | $> [ENTRIESREAD n] */
  xgroupSetId(key: string, group: string, idText: string, entriesRead: number | undefined): void {
    const command = "XGROUP SETID"
    const { g, s } = this.requireGroup(command, key, group)
    const id = idText === "$" ? s.lastId : parseId(command, idText, 0, false)
    const read = this.parseEntriesRead(command, entriesRead)
    g.lastId = { ms: id.ms, seq: id.seq }
    g.entriesRead = read
  }
}

interface ParsedTrim {
  readonly strategy: "maxlen" | "minid"
  readonly maxlen: number
  readonly minid: Id
  readonly approx: boolean
  readonly limit: number
  readonly limitGiven: boolean
}

const tooSmall = (command: string): ReplyError =>
  new ReplyError(command, "ERR The ID specified in XADD is equal or smaller than the target stream top item")

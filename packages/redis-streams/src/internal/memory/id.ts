/**
 * Stream ids of the in-memory engine, as Redis 7.0 parses, compares and
 * increments them (t_stream.c: streamGenericParseIDOrReply, streamIncrID,
 * streamDecrID, streamCompareID).
 *
 * Both parts are unsigned 64-bit integers. A part is kept as a `number` while
 * it is at most `Number.MAX_SAFE_INTEGER` and as a `bigint` above (always
 * normalized that way, so `===` is exact equality and `<` compares across the
 * two representations exactly). Ids made from the clock are always numbers:
 * the hot path never touches a bigint.
 *
 * @internal
 */
import { compareParts } from "../streamId.js"
import { ReplyError } from "./errors.js"

/** an unsigned 64-bit integer: a number up to 2^53 - 1, a bigint above */
export type U64 = number | bigint

/** a parsed id */
export interface Id {
  readonly ms: U64
  readonly seq: U64
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER
const MAX_SAFE_BIG = BigInt(MAX_SAFE)
/** 2^64 - 1 */
export const U64_MAX = 18446744073709551615n
const TWO_64 = 18446744073709551616n

/** normalize a bigint: a number when it fits */
export const norm = (b: bigint): U64 => b <= MAX_SAFE_BIG ? Number(b) : b

export const ZERO: Id = { ms: 0, seq: 0 }
export const MAX: Id = { ms: U64_MAX, seq: U64_MAX }

/** streamCompareID: -1, 0 or 1 (the comparison of `streamId.ts`; parts are normalized, so it is exact) */
export const compare: (a: Id, b: Id) => number = compareParts

export const isZero = (a: Id): boolean => a.ms === 0 && a.seq === 0
export const isMax = (a: Id): boolean => a.ms === U64_MAX && a.seq === U64_MAX

export const format = (a: Id): string => `${a.ms}-${a.seq}`

/** x + 1 (x < 2^64 - 1) */
export const incrU64 = (x: U64): U64 => typeof x === "number" ? (x < MAX_SAFE ? x + 1 : BigInt(x) + 1n) : x + 1n

/** x - 1 (x > 0) */
export const decrU64 = (x: U64): U64 => typeof x === "number" ? x - 1 : norm(x - 1n)

/** streamIncrID: `undefined` when `id` is the last possible id */
export const incr = (id: Id): Id | undefined => {
  if (id.seq === U64_MAX) {
    if (id.ms === U64_MAX) return undefined
    return { ms: incrU64(id.ms), seq: 0 }
  }
  return { ms: id.ms, seq: incrU64(id.seq) }
}

/** streamDecrID: `undefined` when `id` is 0-0 */
export const decr = (id: Id): Id | undefined => {
  if (id.seq === 0) {
    if (id.ms === 0) return undefined
    return { ms: decrU64(id.ms), seq: U64_MAX }
  }
  return { ms: id.ms, seq: decrU64(id.seq) }
}

/** a - b as the int64 Redis stores in a listpack (`(int64_t)(a - b)` of two uint64) */
export const diffInt64 = (a: U64, b: U64): number | bigint => {
  if (typeof a === "number" && typeof b === "number") return a - b
  return BigInt.asIntN(64, BigInt(a) - BigInt(b))
}

// -----------------------------------------------------------------------------
// number parsing as Redis does it (util.c)
// -----------------------------------------------------------------------------

const isDigit = (c: number): boolean => c >= 48 && c <= 57

/**
 * string2ll: a canonical signed 64-bit decimal (no spaces, no "+", no leading
 * zeros, "-0" refused). `undefined` when not.
 */
export const string2ll = (s: string): bigint | undefined => {
  const n = s.length
  if (n === 0 || n > 20) return undefined
  if (n === 1 && s.charCodeAt(0) === 48) return 0n
  let i = 0
  if (s.charCodeAt(0) === 45) {
    i = 1
    if (n === 1) return undefined
  }
  const first = s.charCodeAt(i)
  if (first < 49 || first > 57) return undefined
  for (let j = i + 1; j < n; j++) if (!isDigit(s.charCodeAt(j))) return undefined
  const v = BigInt(s)
  if (v > 9223372036854775807n || v < -9223372036854775808n) return undefined
  return v
}

/** string2ll for the common case, as a number (for counts and times) */
export const string2llNumber = (s: string): number | undefined => {
  const v = string2ll(s)
  return v === undefined ? undefined : Number(v)
}

const isCSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13)

/**
 * string2ull: string2ll when it succeeds (refusing negatives), otherwise C's
 * strtoull in base 10 (leading white space, an optional sign, at least one
 * digit, nothing after; a "-" negates modulo 2^64; overflow refused).
 */
export const string2ull = (s: string): U64 | undefined => {
  const ll = string2ll(s)
  if (ll !== undefined) return ll < 0n ? undefined : norm(ll)
  const n = s.length
  if (n === 0) return undefined
  let i = 0
  while (i < n && isCSpace(s.charCodeAt(i))) i++
  let negative = false
  if (i < n && (s.charCodeAt(i) === 43 || s.charCodeAt(i) === 45)) {
    negative = s.charCodeAt(i) === 45
    i++
  }
  const start = i
  while (i < n && isDigit(s.charCodeAt(i))) i++
  if (i === start || i !== n) return undefined
  const v = BigInt(s.slice(start))
  if (v > U64_MAX) return undefined
  return norm(negative && v !== 0n ? TWO_64 - v : v)
}

// -----------------------------------------------------------------------------
// id parsing (streamGenericParseIDOrReply)
// -----------------------------------------------------------------------------

const INVALID_ID = "ERR Invalid stream ID specified as stream command argument"

/** the reply of an unparsable id */
export const invalidId = (command: string): ReplyError => new ReplyError(command, INVALID_ID)

export interface ParsedId extends Id {
  /** false for the `<ms>-*` form (XADD only) */
  readonly seqGiven: boolean
}

/**
 * Parse an id. `missingSeq` is the sequence of an id given as `<ms>` alone
 * (0, or 2^64 - 1 for the end of a range); `strict` refuses "-" and "+";
 * `allowSeqStar` accepts `<ms>-*` (XADD).
 */
/**
 * The common case: `<ms>-<seq>` in canonical decimal, both parts under 2^53
 * (at most 15 digits). `undefined` for anything else.
 */
const parseCanonical = (text: string): ParsedId | undefined => {
  const n = text.length
  if (n < 3 || n > 31) return undefined
  let ms = 0
  let i = 0
  let c = text.charCodeAt(0)
  if (c === 48) {
    i = 1
  } else {
    for (; i < n; i++) {
      c = text.charCodeAt(i)
      if (c < 48 || c > 57) break
      ms = ms * 10 + (c - 48)
    }
    if (i === 0 || i > 15) return undefined
  }
  if (i >= n - 1 || text.charCodeAt(i) !== 45) return undefined
  const start = ++i
  let seq = 0
  if (text.charCodeAt(i) === 48) {
    if (n !== i + 1) return undefined
    return { ms, seq: 0, seqGiven: true }
  }
  for (; i < n; i++) {
    c = text.charCodeAt(i)
    if (c < 48 || c > 57) return undefined
    seq = seq * 10 + (c - 48)
  }
  if (i - start > 15) return undefined
  return { ms, seq, seqGiven: true }
}

export const parseId = (
  command: string,
  text: string,
  missingSeq: U64,
  strict: boolean,
  allowSeqStar = false
): ParsedId => {
  const fast = parseCanonical(text)
  if (fast !== undefined) return fast
  // the server copies the argument to a 128 bytes buffer
  if (text.length > 42 && Buffer.byteLength(text) > 127) throw invalidId(command)
  if (strict && (text === "-" || text === "+")) throw invalidId(command)
  if (text === "-") return { ms: 0, seq: 0, seqGiven: true }
  if (text === "+") return { ms: U64_MAX, seq: U64_MAX, seqGiven: true }
  // C strings end at the first NUL byte
  const nul = text.indexOf("\0")
  const buf = nul === -1 ? text : text.slice(0, nul)
  const dash = buf.indexOf("-")
  const ms = string2ull(dash === -1 ? buf : buf.slice(0, dash))
  if (ms === undefined) throw invalidId(command)
  if (dash === -1) return { ms, seq: missingSeq, seqGiven: true }
  const rest = buf.slice(dash + 1)
  if (allowSeqStar && rest === "*") return { ms, seq: 0, seqGiven: false }
  const seq = string2ull(rest)
  if (seq === undefined) throw invalidId(command)
  return { ms, seq, seqGiven: true }
}

/** a strict id with a missing sequence of 0 (XDEL, XACK, XCLAIM, MINID, XGROUP CREATE, XREADGROUP) */
export const parseStrictId = (command: string, text: string): Id => parseId(command, text, 0, true)

/**
 * streamParseIntervalIDOrReply with the exclusive `(` form applied: the low
 * bound of a range (incremented when exclusive). `undefined` never: errors throw.
 */
export const parseRangeStart = (command: string, text: string): Id => {
  if (text.length > 1 && text.charCodeAt(0) === 40) {
    const id = parseId(command, text.slice(1), 0, true)
    const next = incr(id)
    if (next === undefined) throw new ReplyError(command, "ERR invalid start ID for the interval")
    return next
  }
  return parseId(command, text, 0, false)
}

/** the high bound of a range (decremented when exclusive) */
export const parseRangeEnd = (command: string, text: string): Id => {
  if (text.length > 1 && text.charCodeAt(0) === 40) {
    const id = parseId(command, text.slice(1), U64_MAX, true)
    const prev = decr(id)
    if (prev === undefined) throw new ReplyError(command, "ERR invalid end ID for the interval")
    return prev
  }
  return parseId(command, text, U64_MAX, false)
}

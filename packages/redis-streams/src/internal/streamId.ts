/**
 * Stream ids (`<ms>-<seq>`) compared as the numbers they are: as text,
 * without allocating substrings (`compare`: the Consumer compares one per
 * read; canonical ids, a bare `<ms>` sorting just before `<ms>-0`), or as
 * their two parts (`compareParts`: the in-memory engine's parsed ids;
 * `compareLenient`: ids read as `BigInt` reads them, a bare `<ms>` equal to
 * `<ms>-0`, for the Scaler and the Monitor).
 *
 * @internal
 */

/** compare two decimal numbers given as ranges of two strings (no leading zeros) */
const compareDigits = (a: string, a0: number, a1: number, b: string, b0: number, b1: number): number => {
  if (a1 - a0 !== b1 - b0) return (a1 - a0) - (b1 - b0)
  for (let i = 0; i < a1 - a0; i++) {
    const d = a.charCodeAt(a0 + i) - b.charCodeAt(b0 + i)
    if (d !== 0) return d
  }
  return 0
}

/** negative when `a` is before `b`, 0 when equal, positive when after */
export const compare = (a: string, b: string): number => {
  let da = a.indexOf("-")
  let db = b.indexOf("-")
  if (da < 0) da = a.length
  if (db < 0) db = b.length
  const ms = compareDigits(a, 0, da, b, 0, db)
  if (ms !== 0) return ms
  return compareDigits(a, da + 1, Math.max(da + 1, a.length), b, db + 1, Math.max(db + 1, b.length))
}

/** the larger of two stream ids */
export const max = (a: string, b: string): string => compare(a, b) >= 0 ? a : b

/**
 * The two parts of an id, unsigned 64-bit integers, each a `number` or a
 * `bigint`. Equal parts must come in the same representation (equality is
 * `===`): the in-memory engine keeps a part as a number up to
 * `Number.MAX_SAFE_INTEGER` and as a bigint above, `parts` gives bigints.
 */
export interface Parts {
  readonly ms: number | bigint
  readonly seq: number | bigint
}

/** -1 when `a` is before `b`, 0 when equal, 1 when after */
export const compareParts = (a: Parts, b: Parts): number => {
  if (a.ms !== b.ms) return a.ms < b.ms ? -1 : 1
  if (a.seq !== b.seq) return a.seq < b.seq ? -1 : 1
  return 0
}

/**
 * The parts of `"<ms>-<seq>"` (or `"<ms>"`, sequence 0) as bigints, read as
 * `BigInt` reads each part; 0-0 when either part does not read.
 */
export const parts = (id: string): { readonly ms: bigint; readonly seq: bigint } => {
  const dash = id.indexOf("-")
  try {
    if (dash === -1) return { ms: BigInt(id), seq: 0n }
    return { ms: BigInt(id.slice(0, dash)), seq: BigInt(id.slice(dash + 1)) }
  } catch {
    return { ms: 0n, seq: 0n }
  }
}

/**
 * `compareParts` of the `parts` of two ids: unlike `compare`, `"<ms>"` equals
 * `"<ms>-0"`, and an id that does not read counts as 0-0.
 */
export const compareLenient = (a: string, b: string): number => compareParts(parts(a), parts(b))

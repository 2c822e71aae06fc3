/**
 * Stream ids (`<ms>-<seq>`, a bare `<ms>` meaning `<ms>-0`) compared as the
 * numbers they are, without allocating substrings (the Consumer compares one
 * per read).
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

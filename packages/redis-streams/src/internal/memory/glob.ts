/**
 * Redis's glob matching (`stringmatchlen` in util.c, case-sensitive), on the
 * UTF-8 bytes of the pattern and the key as Redis sees them: `*` any
 * sequence, `?` one byte, `[abc]`, `[^a-c]` (a reversed range is swapped),
 * `\x` the byte x; an unclosed `[` ends at the pattern's end.
 *
 * @internal
 */

const STAR = 0x2a
const QUESTION = 0x3f
const OPEN = 0x5b
const CLOSE = 0x5d
const CARET = 0x5e
const DASH = 0x2d
const BACKSLASH = 0x5c

/** one `[...]` class at `p` (just after `[`) against byte `c`: whether it matched and where the pattern goes on */
const matchClass = (pattern: Uint8Array, start: number, c: number): { readonly match: boolean; readonly next: number } => {
  let p = start
  const not = pattern[p] === CARET
  if (not) p++
  let match = false
  while (p < pattern.length) {
    const b = pattern[p]!
    if (b === BACKSLASH && p + 1 < pattern.length) {
      p++
      if (pattern[p] === c) match = true
    } else if (b === CLOSE) {
      break
    } else if (p + 2 < pattern.length && pattern[p + 1] === DASH) {
      let lo = b
      let hi = pattern[p + 2]!
      if (lo > hi) [lo, hi] = [hi, lo]
      p += 2
      if (c >= lo && c <= hi) match = true
    } else if (b === c) {
      match = true
    }
    p++
  }
  // p is at "]" (or past the end of an unclosed class)
  return { match: not ? !match : match, next: p + 1 }
}

const matchAt = (pattern: Uint8Array, p0: number, key: Uint8Array, k0: number): boolean => {
  let p = p0
  let k = k0
  while (p < pattern.length) {
    const b = pattern[p]!
    if (b === STAR) {
      while (pattern[p + 1] === STAR) p++
      if (p + 1 === pattern.length) return true
      for (let i = k; i <= key.length; i++) if (matchAt(pattern, p + 1, key, i)) return true
      return false
    }
    if (k >= key.length) return false
    if (b === QUESTION) {
      p++
      k++
    } else if (b === OPEN) {
      const cls = matchClass(pattern, p + 1, key[k]!)
      if (!cls.match) return false
      p = cls.next
      k++
    } else {
      const literal = b === BACKSLASH && p + 1 < pattern.length ? pattern[++p]! : b
      if (literal !== key[k]) return false
      p++
      k++
    }
  }
  return k === key.length
}

/** whether `key` matches the glob `pattern`, as Redis's SCAN MATCH / KEYS decide */
export const globMatch = (pattern: string, key: string): boolean =>
  matchAt(Buffer.from(pattern, "utf8"), 0, Buffer.from(key, "utf8"), 0)

/**
 * Sizes of Redis 7.0 listpack encodings (listpack.c), used to decide, as
 * Redis does, when a stream's tail node is full (`stream-node-max-bytes`
 * 4096, `stream-node-max-entries` 100). Only the sizes are computed: nothing
 * is encoded.
 *
 * @internal
 */

/** `stream-node-max-bytes` (default) */
export const NODE_MAX_BYTES = 4096
/** `stream-node-max-entries` (default) */
export const NODE_MAX_ENTRIES = 100
/** a new listpack: 6 bytes of header and the 1 byte terminator */
export const LP_EMPTY_BYTES = 7

/** bytes of the back-length of an element whose encoding is `l` bytes */
const backlenSize = (l: number): number =>
  l <= 127 ? 1 : l < 16383 ? 2 : l < 2097151 ? 3 : l < 268435455 ? 4 : 5

/** bytes of an integer element (encoding + back-length) */
export const intSize = (v: number | bigint): number => {
  if (v >= 0 && v <= 127) return 2
  if (v >= -4096 && v <= 4095) return 3
  if (v >= -32768 && v <= 32767) return 4
  if (v >= -8388608 && v <= 8388607) return 5
  if (v >= -2147483648 && v <= 2147483647) return 6
  return 10
}

/**
 * lpStringToInt64: the value of a string a listpack stores as an integer
 * (canonical decimal of an int64, at most 20 bytes), or `undefined`.
 */
export const stringAsInt = (s: string): number | bigint | undefined => {
  const n = s.length
  if (n === 0 || n > 20) return undefined
  let c = s.charCodeAt(0)
  if (n === 1) return c === 48 ? 0 : c >= 49 && c <= 57 ? c - 48 : undefined
  let i = 0
  if (c === 45) {
    i = 1
    c = s.charCodeAt(1)
  }
  if (c < 49 || c > 57) return undefined
  for (let j = i + 1; j < n; j++) {
    const d = s.charCodeAt(j)
    if (d < 48 || d > 57) return undefined
  }
  if (n <= 15) return Number(s)
  const v = BigInt(s)
  if (v > 9223372036854775807n || v < -9223372036854775808n) return undefined
  return v
}

/** bytes of a string element of `byteLength` bytes (stored as an integer when it is one) */
export const stringSize = (s: string, byteLength: number): number => {
  if (byteLength <= 20) {
    const asInt = stringAsInt(s)
    if (asInt !== undefined) return intSize(asInt)
  }
  const enc = byteLength < 64 ? 1 + byteLength : byteLength < 4096 ? 2 + byteLength : 5 + byteLength
  return enc + backlenSize(enc)
}

/** UTF-8 length of a string (fast path for short ASCII) */
export const byteLength = (s: string): number => {
  const n = s.length
  if (n <= 32) {
    let ascii = true
    for (let i = 0; i < n; i++) {
      if (s.charCodeAt(i) > 127) {
        ascii = false
        break
      }
    }
    if (ascii) return n
  }
  return Buffer.byteLength(s, "utf8")
}

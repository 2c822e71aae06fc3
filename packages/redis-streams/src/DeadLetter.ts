/**
 * Dead letters: where a Consumer moves entries delivered more than
 * `maxDeliveries` times, entries that do not decode, and entries a handler
 * rejects as `Poison`.
 *
 * A dead-letter entry keeps the original fields unchanged and adds metadata
 * fields, all prefixed `dlq:`:
 * `dlq:id` (original id), `dlq:stream`, `dlq:group`, `dlq:consumer`,
 * `dlq:deliveries`, `dlq:error`, `dlq:at` (ms since epoch).
 *
 * The move is: add to the dead-letter stream, then acknowledge in the source
 * group. A crash between the two leaves the entry pending; it is moved again
 * later, so a dead-letter stream may hold a duplicate, never a loss.
 *
 * Naming and Redis Cluster: the default dead-letter stream of `orders` is
 * `{orders}:dlq`, and of a stream that already has a hash tag, like
 * `{shop}:orders`, it is `{shop}:orders:dlq`. Either way both keys hash to the
 * same slot. A name you give yourself should keep that rule. (A stream name
 * that contains `}` without a valid hash tag, like `a{}b`, cannot share a slot
 * with any other key; its default is `a{}b:dlq`, in another slot, which works
 * too: the move needs no atomicity across the two keys.)
 *
 * @since 0.1.0
 */
import type { Fields, StreamEntry } from "./StreamsBackend.js"

/**
 * Prefix of the metadata fields.
 *
 * @since 0.1.0
 * @category constants
 */
export const PREFIX = "dlq:"

const hashTag = (key: string): string | undefined => {
  const open = key.indexOf("{")
  if (open === -1) return undefined
  const close = key.indexOf("}", open + 1)
  if (close === -1 || close === open + 1) return undefined
  return key.slice(open + 1, close)
}

/**
 * The default dead-letter stream of `stream`, in the same Cluster slot.
 *
 * @since 0.1.0
 * @category naming
 */
export const defaultStream = (stream: string): string => {
  if (hashTag(stream) !== undefined) return `${stream}:dlq`
  // a name with "}" but no valid hash tag cannot be wrapped in one: it gets a plain suffix, in
  // another slot (which works: moving a dead letter needs no atomicity across the two keys)
  if (stream.includes("}")) return `${stream}:dlq`
  return `{${stream}}:dlq`
}

/**
 * Metadata of a dead letter.
 *
 * @since 0.1.0
 * @category models
 */
export interface Metadata {
  readonly id: string
  readonly stream: string
  readonly group: string
  readonly consumer: string
  readonly deliveries: number
  readonly error: string
  readonly at: number
}

/**
 * The fields of a dead-letter entry: original fields, then metadata.
 *
 * @since 0.1.0
 * @category constructors
 */
export const toFields = (original: Fields, meta: Metadata): Array<string> => [
  ...original,
  `${PREFIX}id`,
  meta.id,
  `${PREFIX}stream`,
  meta.stream,
  `${PREFIX}group`,
  meta.group,
  `${PREFIX}consumer`,
  meta.consumer,
  `${PREFIX}deliveries`,
  String(meta.deliveries),
  `${PREFIX}error`,
  meta.error,
  `${PREFIX}at`,
  String(meta.at)
]

/**
 * A dead-letter entry read back: its id in the dead-letter stream, the
 * original fields, and the metadata.
 *
 * @since 0.1.0
 * @category models
 */
export interface DeadLetter {
  readonly id: string
  readonly original: Fields
  readonly meta: Metadata
}

/**
 * Split a dead-letter entry into original fields and metadata.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (entry: StreamEntry): DeadLetter => {
  const original: Array<string> = []
  const meta: Record<string, string> = {}
  const f = entry.fields
  for (let i = 0; i + 1 < f.length; i += 2) {
    const key = f[i]!
    if (key.startsWith(PREFIX)) meta[key.slice(PREFIX.length)] = f[i + 1]!
    else original.push(key, f[i + 1]!)
  }
  return {
    id: entry.id,
    original,
    meta: {
      id: meta["id"] ?? "",
      stream: meta["stream"] ?? "",
      group: meta["group"] ?? "",
      consumer: meta["consumer"] ?? "",
      deliveries: Number(meta["deliveries"] ?? 0),
      error: meta["error"] ?? "",
      at: Number(meta["at"] ?? 0)
    }
  }
}

/**
 * Entries into messages: the size limit, decoding with the schema, delivery
 * counts of redelivered entries, and the dead-letter moves these decide
 * (oversize, undecodable, delivered more than `maxDeliveries` times).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { Message } from "../../Message.js"
import type { Fields, ReadEntry } from "../../StreamsBackend.js"
import type { BackendError } from "../../StreamsError.js"
import type { Env } from "./env.js"
import { MessageImpl } from "./message.js"

const EMPTY_FIELDS: Fields = []

/**
 * The size of an entry in UTF-8 bytes, computed exactly only when the cheap
 * bound (3 bytes per UTF-16 unit) could exceed `max`.
 */
export const entrySize = (fields: Fields, max: number): number => {
  let units = 0
  for (let i = 0; i < fields.length; i++) units += fields[i]!.length
  if (units * 3 <= max) return units
  let bytes = 0
  for (let i = 0; i < fields.length; i++) bytes += Buffer.byteLength(fields[i]!, "utf8")
  return bytes
}

/** decode an entry into a message pushed on `out`, or dead-letter it when it is too large or does not decode */
export const toMessage = <A>(
  env: Env<A>,
  id: string,
  fields: Fields,
  deliveries: number,
  out: Array<Message<A>>,
  bytes: ReadonlyArray<Uint8Array> | undefined
): Effect.Effect<void, BackendError> => {
  const { o } = env
  const size = entrySize(fields, o.maxEntryBytes)
  if (size > o.maxEntryBytes) {
    return env.resilient(env.deadLetter(
      id,
      [],
      deliveries,
      `the entry has ${size} bytes, more than maxEntryBytes (${o.maxEntryBytes}); its fields are not copied here, ` +
        `read them from the source stream by its id`,
      "oversize"
    ))
  }
  if (env.lazyBody) {
    out.push(new MessageImpl(env, id, fields, deliveries, undefined, bytes))
    return Effect.void
  }
  if (bytes !== undefined) {
    return env.resilient(env.deadLetter(
      id,
      fields,
      deliveries,
      "cannot decode: a field name or value is not valid UTF-8 (the dead letter holds it with U+FFFD; " +
        "the source stream keeps the bytes under the original id)",
      "decode"
    ))
  }
  const decoded = env.codec.decode(fields)
  if (Either.isRight(decoded)) {
    out.push(new MessageImpl(env, id, fields, deliveries, decoded.right, undefined))
    return Effect.void
  }
  return env.resilient(env.deadLetter(id, fields, deliveries, `cannot decode: ${decoded.left}`, "decode"))
}

/**
 * Entries read for the first time, as messages. Synchronous in the common case (returns
 * `undefined`); an effect only when an entry must go to the dead-letter stream (oversize, or
 * not decodable with the schema).
 */
export const pushFresh = <A>(
  env: Env<A>,
  entries: ReadonlyArray<ReadEntry>,
  out: Array<Message<A>>
): Effect.Effect<void, BackendError> | undefined => {
  let i = 0
  if (env.lazyBody) {
    const max = env.o.maxEntryBytes
    for (; i < entries.length; i++) {
      const e = entries[i]!
      const fields = e.fields ?? EMPTY_FIELDS
      if (entrySize(fields, max) > max) break
      out.push(new MessageImpl(env, e.id, fields, 1, undefined, e.bytes))
    }
  }
  if (i === entries.length) return undefined
  return Effect.forEach(
    entries.slice(i),
    (e) => toMessage(env, e.id, e.fields ?? EMPTY_FIELDS, 1, out, e.bytes),
    { discard: true }
  )
}

/** pending entries whose stream entry is gone (deleted, trimmed): acknowledged, with a warning */
const ackDeleted = <A>(env: Env<A>, deleted: ReadonlyArray<string>, origin: string) => {
  const { o, backend } = env
  return env.resilient(backend.ack(o.stream, o.group, deleted, env.laneOptions)).pipe(
    Effect.zipRight(env.logWarning(
      `${deleted.length} pending entries (${origin}) were deleted or trimmed from the stream before being processed; ` +
        `acknowledged them: ${deleted.slice(0, 20).join(", ")}`
    ))
  )
}

/** the delivery counts of this consumer's pending entries from `first` to `last` */
const deliveryCounts = <A>(env: Env<A>, first: string, last: string, count: number) =>
  Effect.map(
    env.resilient(env.backend.pending({
      stream: env.o.stream,
      group: env.o.group,
      start: first,
      end: last,
      count: count + 1000,
      consumer: env.o.name,
      lane: env.laneOptions.lane
    })),
    (pending) => {
      const counts = new Map<string, number>()
      for (const p of pending) counts.set(p.id, p.deliveries)
      return counts
    }
  )

/** entries delivered before (own pending or claimed): find delivery counts, drop deleted, dead-letter the exhausted */
export const handleRedelivered = <A>(
  env: Env<A>,
  entries: ReadonlyArray<ReadEntry>,
  out: Array<Message<A>>,
  origin: string
): Effect.Effect<void, BackendError> =>
  Effect.gen(function*() {
    const { o } = env
    const deleted: Array<string> = []
    const live: Array<ReadEntry & { readonly fields: Fields }> = []
    for (const e of entries) {
      if (e.fields === null) deleted.push(e.id)
      else live.push(e as ReadEntry & { readonly fields: Fields })
    }
    if (deleted.length > 0) yield* ackDeleted(env, deleted, origin)
    if (live.length === 0) return
    const counts = yield* deliveryCounts(env, live[0]!.id, live[live.length - 1]!.id, live.length)
    for (const e of live) {
      const deliveries = counts.get(e.id) ?? 2
      if (deliveries <= o.maxDeliveries) {
        yield* toMessage(env, e.id, e.fields, deliveries, out, e.bytes)
        continue
      }
      const oversize = entrySize(e.fields, o.maxEntryBytes) > o.maxEntryBytes
      yield* env.resilient(env.deadLetter(
        e.id,
        oversize ? [] : e.fields,
        deliveries,
        (env.lastErrors.get(e.id) ?? `delivered ${deliveries} times, more than maxDeliveries (${o.maxDeliveries})`) +
          (oversize ? `; the entry is larger than maxEntryBytes (${o.maxEntryBytes}): fields not copied` : ""),
        "max_deliveries"
      ))
    }
  })

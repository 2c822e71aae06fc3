/**
 * The messages and batches a Consumer hands out. Classes, not object
 * literals: V8 allocates object literals made at a hot site in the old
 * generation once it sees them survive (pretenuring), and every young batch
 * they point to then survives too (see `Entry` in internal/replies.ts).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Codec from "../codec.js"
import type { Batch, Message } from "../../Message.js"
import type { Fields } from "../../StreamsBackend.js"
import type { BackendError } from "../../StreamsError.js"
import type { Env } from "./env.js"

export class MessageImpl<A> implements Message<A> {
  private cachedFields: Record<string, string> | undefined
  private cachedBody: A | undefined
  constructor(
    readonly env: Env<A>,
    readonly id: string,
    readonly rawFields: Fields,
    readonly deliveryCount: number,
    body: A | undefined,
    readonly rawBytes: ReadonlyArray<Uint8Array> | undefined
  ) {
    this.cachedBody = body
  }
  get body(): A {
    if (this.cachedBody === undefined) this.cachedBody = this.fields as A
    return this.cachedBody
  }
  get fields(): Readonly<Record<string, string>> {
    if (this.cachedFields === undefined) this.cachedFields = Codec.fieldsToRecord(this.rawFields)
    return this.cachedFields
  }
  get stream() {
    return this.env.o.stream
  }
  get group() {
    return this.env.o.group
  }
  get consumer() {
    return this.env.o.name
  }
  get ack(): Effect.Effect<void, BackendError> {
    return Effect.asVoid(this.env.ackIds([this.id]))
  }
  deadLetter(reason: string): Effect.Effect<void, BackendError> {
    return this.env.deadLetter(this.id, this.rawFields, this.deliveryCount, reason, "poison")
  }
}

/** the ids of messages (a plain loop: `Array.from` with a mapping function takes the iterator path, ~10 µs per 100) */
export const idsOf = <A>(ms: Iterable<Message<A>>): Array<string> => {
  if (!Array.isArray(ms)) return Array.from(ms, (m) => m.id)
  const ids = new Array<string>(ms.length)
  for (let i = 0; i < ms.length; i++) ids[i] = (ms[i] as Message<A>).id
  return ids
}

/** what a batch needs from the run that emitted it */
export interface BatchOwner {
  /** acknowledge `ids` of `batch`, reading the next batch in the same round trip when possible */
  readonly ackBatch: (batch: BatchImpl<any>, ids: ReadonlyArray<string>) => Effect.Effect<number, BackendError>
}

export class BatchImpl<A> implements Batch<A> {
  constructor(
    readonly env: Env<A>,
    readonly messages: ReadonlyArray<Message<A>>,
    readonly owner: BatchOwner
  ) {}
  get ack(): Effect.Effect<void, BackendError> {
    return Effect.asVoid(this.ackWith(idsOf(this.messages), true))
  }
  /** acknowledge `ids`, reading ahead when `readAhead` is set and the run allows it */
  ackWith(ids: ReadonlyArray<string>, readAhead: boolean): Effect.Effect<number, BackendError> {
    return readAhead && ids.length > 0 ? this.owner.ackBatch(this, ids) : this.env.ackIds(ids)
  }
  // properties, not methods, so that `const { ackIds } = batch` keeps working
  readonly ackMessages = (ms: Iterable<Message<A>>): Effect.Effect<void, BackendError> =>
    Effect.asVoid(this.env.ackIds(idsOf(ms)))
  readonly ackIds = (xs: Iterable<string>): Effect.Effect<void, BackendError> =>
    Effect.asVoid(this.env.ackIds(Array.from(xs)))
}

/**
 * What a Consumer hands out: messages, grouped in batches, each with its
 * acknowledgement as an `Effect`.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { Fields } from "./StreamsBackend.js"
import type { BackendError } from "./StreamsError.js"

/**
 * One delivery of a stream entry.
 *
 * @since 0.1.0
 * @category models
 */
export interface Message<A> {
  /** the entry id, e.g. `"1700000000000-0"` */
  readonly id: string
  /** the decoded body (the field map when the consumer has no schema) */
  readonly body: A
  /** the entry's fields as a map (for a repeated field name, the last value) */
  readonly fields: Readonly<Record<string, string>>
  /** the entry's fields as Redis returned them: `[field, value, ...]` */
  readonly rawFields: Fields
  /**
   * the fields as raw bytes, present only when a name or value is not valid
   * UTF-8 (Redis backend): `rawFields` then holds text with U+FFFD where bytes
   * were not UTF-8, and these are the bytes as stored
   */
  readonly rawBytes: ReadonlyArray<Uint8Array> | undefined
  /** how many times the group has delivered this entry, this delivery included (1 on first delivery) */
  readonly deliveryCount: number
  readonly stream: string
  readonly group: string
  /** the consumer this delivery went to */
  readonly consumer: string
  /** acknowledge this message (XACK, or XACK + XDEL with `deleteOnAck`) */
  readonly ack: Effect.Effect<void, BackendError>
  /**
   * move this message to the dead-letter stream now, with `reason` as its
   * error, then acknowledge it
   */
  readonly deadLetter: (reason: string) => Effect.Effect<void, BackendError>
}

/**
 * A batch: at most `batchSize` messages, emitted when full or when `maxWait`
 * has passed since it began collecting.
 *
 * @since 0.1.0
 * @category models
 */
export interface Batch<A> {
  readonly messages: ReadonlyArray<Message<A>>
  /** acknowledge every message of the batch in one round trip */
  readonly ack: Effect.Effect<void, BackendError>
  /** acknowledge some messages, in one round trip */
  readonly ackMessages: (messages: Iterable<Message<A>>) => Effect.Effect<void, BackendError>
  /** acknowledge some ids, in one round trip */
  readonly ackIds: (ids: Iterable<string>) => Effect.Effect<void, BackendError>
}

/**
 * Fail a handler with `Poison` to send its message to the dead-letter stream
 * at once (without waiting for `maxDeliveries`), with `reason` recorded.
 *
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Consumer, Message } from "effect-redis-streams"
 *
 * const Order = Schema.Struct({ id: Schema.String, amount: Schema.NumberFromString })
 *
 * const program = Effect.gen(function*() {
 *   const consumer = yield* Consumer.make({ stream: "orders", group: "billing", batchSize: 10, maxWait: "1 second", schema: Order })
 *   yield* consumer.process((m) =>
 *     m.body.amount < 0 ? Effect.fail(new Message.Poison({ reason: "negative amount" })) : Effect.log(m.body)
 *   )
 * })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class Poison extends Schema.TaggedError<Poison>("effect-redis-streams/Poison")("Poison", {
  reason: Schema.String
}) {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `poison message: ${this.reason}`
  }
}

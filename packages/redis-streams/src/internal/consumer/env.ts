/**
 * What every part of a Consumer shares: its resolved options, the backend,
 * the codec, its logs, the retry of lost connections, and the two ways a
 * message leaves the group (acknowledgement and the dead-letter stream).
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as DeadLetter from "../../DeadLetter.js"
import * as Metrics from "../../Metrics.js"
import type { Fields, Lane, Service as Backend } from "../../StreamsBackend.js"
import type { BackendError, RedisConnectionError } from "../../StreamsError.js"
import type * as Codec from "../codec.js"
import { isDefaultTracer, spanned } from "../tracing.js"
import type { Resolved } from "./options.js"

/** remembers the last handler error per id (bounded), for dead-letter metadata */
export class LastErrors {
  private readonly map = new Map<string, string>()
  set(id: string, error: string) {
    this.map.delete(id)
    this.map.set(id, error)
    if (this.map.size > 10_000) {
      const first = this.map.keys().next()
      if (!first.done) this.map.delete(first.value)
    }
  }
  get(id: string): string | undefined {
    return this.map.get(id)
  }
  /** acknowledged or dead-lettered ids need no last error any more */
  forget(ids: ReadonlyArray<string>) {
    if (this.map.size > 0) for (const id of ids) this.map.delete(id)
  }
}

export const isConnectionError = (e: { readonly _tag: string }): e is RedisConnectionError =>
  e._tag === "RedisConnectionError"

const NO_LANE: { readonly lane?: Lane | undefined } = {}

/** the text of a handler's failure, remembered for the dead-letter metadata of `id` */
export const describeFailure = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  const error = failure._tag === "Some" ? failure.value : Cause.squash(cause)
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}

export class Env<A> {
  readonly lastErrors = new LastErrors()
  /** this Consumer's instruments (see `Metrics`) */
  readonly metrics: Metrics.ConsumerInstruments
  readonly annotations: Record<string, string>
  readonly attributes: Record<string, string>
  /**
   * Where the run of batches in progress sends its commands (runs take turns): its lane while it
   * runs, the backend's connection otherwise (a batch acknowledged after its run ended, too).
   */
  laneOptions = NO_LANE

  constructor(
    readonly o: Resolved,
    readonly backend: Backend,
    readonly codec: Codec.Codec<A>,
    /** no schema: the body is the field map, built when first asked for */
    readonly lazyBody: boolean,
    readonly reconnect: Schedule.Schedule<unknown, BackendError>
  ) {
    this.metrics = Metrics.consumer(o.stream, o.group)
    this.annotations = { stream: o.stream, group: o.group, consumer: o.name }
    this.attributes = {
      "messaging.system": "redis",
      "messaging.destination.name": o.stream,
      "messaging.consumer.group.name": o.group,
      "messaging.consumer.name": o.name
    }
  }

  setLane(lane: Lane | undefined) {
    this.laneOptions = lane === undefined ? NO_LANE : { lane }
  }

  // logs of the batch path carry the consumer's annotations also when `batches` is run directly
  logWarning(message: string): Effect.Effect<void> {
    return Effect.annotateLogs(Effect.logWarning(message), this.annotations)
  }
  logInfo(message: string): Effect.Effect<void> {
    return Effect.annotateLogs(Effect.logInfo(message), this.annotations)
  }

  createGroup(): Effect.Effect<boolean, BackendError> {
    return this.backend.createGroup(this.o.stream, this.o.group, { id: this.o.startId, mkStream: true })
  }

  /** retry lost connections with the reconnect policy; recreate a vanished group when asked */
  resilient<X>(effect: Effect.Effect<X, BackendError>): Effect.Effect<X, BackendError> {
    const withGroup: Effect.Effect<X, BackendError> = this.o.recreateGroup
      ? Effect.catchTag(effect, "GroupNotFound", (e) =>
        this.logWarning(`${e.message}: recreating the group`).pipe(
          Effect.zipRight(this.createGroup()),
          Effect.zipRight(effect)
        ))
      : effect
    // the retry machinery is built only after a first failure (it costs tens of microseconds per
    // call on the hot path); the failure that got here counts as the policy's first input
    return Effect.catchAll(withGroup, (first) => {
      if (!isConnectionError(first)) return Effect.fail(first)
      let replayed = false
      const attempt = Effect.suspend(() => {
        if (replayed) return withGroup
        replayed = true
        return Effect.fail(first)
      }).pipe(
        Effect.tapError((e) => isConnectionError(e) ? this.logWarning(`connection problem, retrying: ${e.message}`) : Effect.void)
      )
      return Effect.retry(attempt, { schedule: this.reconnect, while: isConnectionError })
    })
  }

  /** the span of an acknowledgement; its attributes are built only when someone traces (once per batch) */
  ackSpan<X>(effect: Effect.Effect<X, BackendError>, count: number): Effect.Effect<X, BackendError> {
    return Effect.tracerWith((tracer) =>
      isDefaultTracer(tracer) ? effect : Effect.withSpan(effect, "Consumer.ack", {
        kind: "consumer",
        attributes: { ...this.attributes, "messaging.batch.message_count": count },
        captureStackTrace: false
      })
    )
  }

  /** XACK (XACK + XDEL with `deleteOnAck`) of ids of this group, on the current run's lane; returns how many were pending */
  ackIds(ids: ReadonlyArray<string>): Effect.Effect<number, BackendError> {
    if (ids.length === 0) return Effect.succeed(0)
    this.lastErrors.forget(ids)
    const { o, backend } = this
    return this.ackSpan(
      o.deleteOnAck
        ? backend.ackAndDelete(o.stream, o.group, ids, this.laneOptions)
        : backend.ack(o.stream, o.group, ids, this.laneOptions),
      ids.length
    )
  }

  /** add the entry to the dead-letter stream with its metadata, then acknowledge it (a crash between: a duplicate, never a loss) */
  deadLetter(
    id: string,
    fields: Fields,
    deliveries: number,
    error: string,
    reason: Metrics.DeadLetterReason
  ): Effect.Effect<void, BackendError> {
    const { o, backend } = this
    const lane = this.laneOptions
    return Effect.gen(this, function*() {
      const now = yield* Clock.currentTimeMillis
      const meta = { id, stream: o.stream, group: o.group, consumer: o.name, deliveries, error, at: now }
      yield* backend.add(o.deadLetterStream, DeadLetter.toFields(fields, meta), lane)
      yield* backend.ack(o.stream, o.group, [id], lane)
      this.lastErrors.forget([id])
      this.metrics.deadLettered(reason, 1)
      yield* this.logWarning(`moved ${id} to the dead-letter stream "${o.deadLetterStream}": ${error}`)
    }).pipe((effect) => spanned(effect, "Consumer.deadLetter", this.attributes, "consumer"))
  }
}

/**
 * Spans of the Redis backend, cheap when nobody traces.
 *
 * Effect's default tracer exports nothing, yet creating one of its spans costs
 * tens of microseconds per operation (measured 20-50 µs with effect 3.22),
 * which is a visible share of a local XREADGROUP of 100 entries. So an
 * operation runs in its span `RedisStreams.<op>` when a tracer is installed
 * (OpenTelemetry, DevTools, a custom `Tracer`), and without one otherwise.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Tracer from "effect/Tracer"

let defaultTracer: Tracer.Tracer | undefined

const isDefault = (tracer: Tracer.Tracer): boolean => {
  if (defaultTracer === undefined) defaultTracer = Effect.runSync(Effect.tracer)
  return tracer === defaultTracer
}

/** @internal */
export type SpanKind = "producer" | "consumer" | "client"

/** run `effect` in the span `RedisStreams.<op>` (messaging attributes) unless the default tracer is in use */
export const traced = <A, E>(
  effect: Effect.Effect<A, E>,
  op: string,
  stream: string,
  kind: SpanKind = "client"
): Effect.Effect<A, E> =>
  Effect.tracerWith((tracer) =>
    isDefault(tracer)
      ? effect
      : Effect.withSpan(effect, `RedisStreams.${op}`, {
        kind,
        attributes: { "messaging.system": "redis", "messaging.destination.name": stream },
        captureStackTrace: false
      })
  )

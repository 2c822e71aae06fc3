/**
 * Spans of the backends, `RedisStreams.<op>` with messaging attributes, cheap
 * when nobody traces (see `tracing.ts`).
 *
 * @internal
 */
import type * as Effect from "effect/Effect"
import { type SpanKind, spanned } from "./tracing.js"

export type { SpanKind }

/** run `effect` in the span `RedisStreams.<op>` (messaging attributes) unless the default tracer is in use */
export const traced = <A, E>(
  effect: Effect.Effect<A, E>,
  op: string,
  stream: string,
  kind: SpanKind = "client"
): Effect.Effect<A, E> =>
  spanned(effect, `RedisStreams.${op}`, { "messaging.system": "redis", "messaging.destination.name": stream }, kind)

/**
 * W3C Trace Context in stream entries.
 *
 * The Producer writes the active span's context into two reserved fields,
 * `traceparent` and `tracestate` (the W3C header names, as OpenTelemetry's
 * messaging conventions carry them in a message's headers), after the
 * message's own fields. Decoding skips them (codec.ts), so neither a
 * Schema's body nor `message.fields` sees them.
 *
 * On the consumer side, `fromFields` reads them back strictly (W3C Trace
 * Context level 1): a malformed `traceparent` gives no context (never an
 * error), a malformed `tracestate` is dropped alone. `externalSpan` turns the
 * context into the `Tracer.ExternalSpan` that `Effect.withSpan`'s `parent`
 * or `links` take; its `context` carries the `tracestate` (so a handler that
 * produces again passes it on) and the sampled flag and tracestate under the
 * tags @effect/opentelemetry reads, so OpenTelemetry spans keep both.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import type { Fields } from "../StreamsBackend.js"
import { isDefaultTracer } from "./tracing.js"

/** the reserved field of the W3C `traceparent` */
export const TRACEPARENT = "traceparent"
/** the reserved field of the W3C `tracestate` */
export const TRACESTATE = "tracestate"

/** a parsed trace context */
export interface TraceContext {
  readonly traceId: string
  readonly spanId: string
  readonly sampled: boolean
  /** the validated `tracestate`, when one came along */
  readonly traceState: string | undefined
}

/** the `tracestate` of an external span, in its context */
export class TraceState extends Context.Tag("effect-redis-streams/TraceState")<TraceState, string>() {}

/**
 * A W3C `tracestate` in the shape of OpenTelemetry's `TraceState`
 * (get / set / unset / serialize, immutable), so that @effect/opentelemetry
 * can hand it to the OpenTelemetry SDK without this library depending on it.
 */
class W3cTraceState {
  constructor(private readonly members: ReadonlyArray<readonly [string, string]>) {}
  get(key: string): string | undefined {
    return this.members.find(([k]) => k === key)?.[1]
  }
  set(key: string, value: string): W3cTraceState {
    return new W3cTraceState([[key, value], ...this.members.filter(([k]) => k !== key)])
  }
  unset(key: string): W3cTraceState {
    return new W3cTraceState(this.members.filter(([k]) => k !== key))
  }
  serialize(): string {
    return this.members.map(([k, v]) => `${k}=${v}`).join(",")
  }
}

// the tags @effect/opentelemetry reads from an external parent's context (tags match by key): without
// the flags it would take every remote parent as sampled, without the state it would drop the tracestate
const OtelTraceFlags = Context.GenericTag<"OtelTraceFlags", number>("@effect/opentelemetry/Tracer/OtelTraceFlags")
const OtelTraceState = Context.GenericTag<"OtelTraceState", W3cTraceState>(
  "@effect/opentelemetry/Tracer/OtelTraceState"
)

const HEX32 = /^[0-9a-f]{32}$/
const HEX16 = /^[0-9a-f]{16}$/
const HEX2 = /^[0-9a-f]{2}$/
const ZEROS32 = "00000000000000000000000000000000"
const ZEROS16 = "0000000000000000"

/**
 * `version-traceid-parentid-flags`, strictly: lowercase hex, version not
 * `ff`, ids not all zeros; version 00 exactly 55 characters; a later version
 * may carry more after a `-` (read as version 00, as the spec says).
 */
export const parseTraceparent = (value: string): Omit<TraceContext, "traceState"> | undefined => {
  if (value.length < 55) return undefined
  const version = value.slice(0, 2)
  if (!HEX2.test(version) || version === "ff") return undefined
  if (version === "00" ? value.length !== 55 : value.length > 55 && value[55] !== "-") return undefined
  if (value[2] !== "-" || value[35] !== "-" || value[52] !== "-") return undefined
  const traceId = value.slice(3, 35)
  const spanId = value.slice(36, 52)
  const flags = value.slice(53, 55)
  if (!HEX32.test(traceId) || traceId === ZEROS32) return undefined
  if (!HEX16.test(spanId) || spanId === ZEROS16) return undefined
  if (!HEX2.test(flags)) return undefined
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 }
}

const SIMPLE_KEY = /^[a-z][a-z0-9_\-*/]{0,255}$/
const MULTI_TENANT_KEY = /^[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13}$/
const VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/

/** a `tracestate` kept only when every member is valid (at most 32, unique keys); else undefined */
export const parseTracestate = (value: string): string | undefined => {
  if (value.length > 8192) return undefined
  const members = value.split(",").map((m) => m.trim()).filter((m) => m.length > 0)
  if (members.length === 0 || members.length > 32) return undefined
  const keys = new Set<string>()
  for (const m of members) {
    const eq = m.indexOf("=")
    if (eq <= 0) return undefined
    const key = m.slice(0, eq)
    if (!(SIMPLE_KEY.test(key) || MULTI_TENANT_KEY.test(key)) || keys.has(key)) return undefined
    if (!VALUE.test(m.slice(eq + 1))) return undefined
    keys.add(key)
  }
  return members.join(",")
}

/** the trace context of an entry's raw fields, or undefined (absent or malformed; never an error) */
export const fromFields = (fields: Fields): TraceContext | undefined => {
  let parent: string | undefined
  let state: string | undefined
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const key = fields[i]
    if (key === TRACEPARENT) parent = fields[i + 1]
    else if (key === TRACESTATE) state = fields[i + 1]
  }
  if (parent === undefined) return undefined
  const parsed = parseTraceparent(parent)
  if (parsed === undefined) return undefined
  return { ...parsed, traceState: state === undefined ? undefined : parseTracestate(state) }
}

/** the span `Effect.withSpan`'s `parent` (or a link) takes; the `tracestate` rides in its context */
export const externalSpan = (context: TraceContext): Tracer.ExternalSpan => {
  let tags = Context.make(OtelTraceFlags, context.sampled ? 1 : 0)
  if (context.traceState !== undefined) {
    const members = context.traceState.split(",").map((m) => {
      const eq = m.indexOf("=")
      return [m.slice(0, eq), m.slice(eq + 1)] as const
    })
    tags = tags.pipe(
      Context.add(TraceState, context.traceState),
      Context.add(OtelTraceState, new W3cTraceState(members))
    )
  }
  return Tracer.externalSpan({
    traceId: context.traceId,
    spanId: context.spanId,
    sampled: context.sampled,
    context: tags
  })
}

/** `fromFields` then `externalSpan`: what the Consumer's per-message span needs, or undefined */
export const externalSpanOf = (fields: Fields): Tracer.ExternalSpan | undefined => {
  const context = fromFields(fields)
  return context === undefined ? undefined : externalSpan(context)
}

interface OtelLike {
  readonly span?: { readonly spanContext?: () => { readonly traceState?: { readonly serialize?: () => string } } }
}

/** the tracestate of a span or its nearest ancestor that has one (an external span of ours, or an OpenTelemetry span) */
const traceStateOf = (span: Tracer.AnySpan): string | undefined => {
  let current: Tracer.AnySpan | undefined = span
  for (let depth = 0; current !== undefined && depth < 32; depth++) {
    if (current._tag === "ExternalSpan") {
      const own = Context.getOption(current.context, TraceState)
      if (Option.isSome(own)) return own.value
      const serialized = (current as unknown as OtelLike).span?.spanContext?.().traceState?.serialize?.()
      return serialized === undefined || serialized === "" ? undefined : serialized
    }
    const serialized = (current as unknown as OtelLike).span?.spanContext?.().traceState?.serialize?.()
    if (serialized !== undefined && serialized !== "") return serialized
    current = Option.getOrUndefined(current.parent)
  }
  return undefined
}

/** the fields to append for a span: `traceparent` (and `tracestate`), or undefined when its ids are not W3C ids */
export const fieldsOf = (span: Tracer.AnySpan): ReadonlyArray<string> | undefined => {
  if (!HEX32.test(span.traceId) || span.traceId === ZEROS32) return undefined
  if (!HEX16.test(span.spanId) || span.spanId === ZEROS16) return undefined
  const parent = `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`
  const state = traceStateOf(span)
  return state === undefined ? [TRACEPARENT, parent] : [TRACEPARENT, parent, TRACESTATE, state]
}

/** the fields to append for the span active in `context`, or undefined when none is (no error, no allocation then) */
export const fromContext = (context: Context.Context<never>): ReadonlyArray<string> | undefined => {
  const span = Context.getOption(context, Tracer.ParentSpan)
  return Option.isSome(span) ? fieldsOf(span.value) : undefined
}

/** the active span's fields to append, or undefined when no span is active */
export const current: Effect.Effect<ReadonlyArray<string> | undefined> = Effect.contextWith(fromContext)

/** `fields` with the trace fields appended (a new array; `fields` is left as it is) */
export const withTraceFields = (fields: Fields, trace: ReadonlyArray<string>): Fields => {
  const out = new Array<string>(fields.length + trace.length)
  for (let i = 0; i < fields.length; i++) out[i] = fields[i]!
  for (let i = 0; i < trace.length; i++) out[fields.length + i] = trace[i]!
  return out
}

/** what the per-message span says about the message */
export interface ProcessedMessage {
  readonly stream: string
  readonly group: string
  readonly consumer: string
  readonly id: string
  readonly deliveryCount: number
  readonly rawFields: Fields
}

/**
 * Run `handler` in the per-message span `process <stream>` (kind consumer,
 * OpenTelemetry messaging attributes), a child of the producer's context
 * when the entry carries one, else the root of a new trace (never a child of
 * whatever fiber runs the worker). Child rather than link: a message has one
 * creation context, and a child puts the request that produced it and the
 * handler that processed it in one trace (OpenTelemetry's messaging
 * conventions allow the creation context as parent for single-message
 * processing; batch spans link instead, see `links`). With Effect's default
 * tracer (exports nothing) no span is made: a span costs tens of
 * microseconds (see tracing.ts).
 */
export const processSpan = <A, E, R>(handler: Effect.Effect<A, E, R>, message: ProcessedMessage): Effect.Effect<A, E, R> =>
  Effect.tracerWith((tracer) => isDefaultTracer(tracer) ? handler : inProcessSpan(handler, message))

/** `handler` in its "process" span, for a caller that has already found a tracer other than the default one */
export const inProcessSpan = <A, E, R>(handler: Effect.Effect<A, E, R>, message: ProcessedMessage): Effect.Effect<A, E, R> => {
  const parent = externalSpanOf(message.rawFields)
  return Effect.withSpan(handler, `process ${message.stream}`, {
    kind: "consumer",
    captureStackTrace: false,
    ...(parent === undefined ? { root: true } : { parent }),
    attributes: {
      "messaging.system": "redis",
      "messaging.operation.type": "process",
      "messaging.operation.name": "process",
      "messaging.destination.name": message.stream,
      "messaging.consumer.group.name": message.group,
      "messaging.client.id": message.consumer,
      "messaging.message.id": message.id,
      "messaging.redis.delivery_count": message.deliveryCount
    }
  })
}

/** links to the producers' contexts of a batch's entries (those that carry one), for the batch span */
export const links = (entries: Iterable<{ readonly id: string; readonly rawFields: Fields }>): Array<Tracer.SpanLink> => {
  const out: Array<Tracer.SpanLink> = []
  for (const e of entries) {
    const span = externalSpanOf(e.rawFields)
    if (span !== undefined) out.push({ _tag: "SpanLink", span, attributes: { "messaging.message.id": e.id } })
  }
  return out
}

/**
 * Trace context across the queue, producer side: the W3C `traceparent` /
 * `tracestate` parser (strict; malformed gives none, never an error), the
 * Producer writing the active span's context into the reserved fields (and
 * not without a span, nor with `traceContext: false`), and decoding that
 * never sees those fields (field maps, fields-encoded and JSON schemas), on
 * both backends.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Context, Effect, Option, Schema, Stream, Tracer } from "effect"
import { Consumer, Producer, StreamsBackend } from "effect-redis-streams"
import * as TraceContext from "../../packages/redis-streams/src/internal/traceContext.js"
import { forEachBackend, TestKit } from "../src/Harness.js"

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
const SPAN = "00f067aa0ba902b7"
const VALID = `00-${TRACE}-${SPAN}-01`

describe("traceContext: parsing (W3C Trace Context level 1)", () => {
  it("a valid traceparent, sampled or not", () => {
    assert.deepStrictEqual(TraceContext.parseTraceparent(VALID), { traceId: TRACE, spanId: SPAN, sampled: true })
    assert.deepStrictEqual(TraceContext.parseTraceparent(`00-${TRACE}-${SPAN}-00`), {
      traceId: TRACE,
      spanId: SPAN,
      sampled: false
    })
    // a later version may carry more fields after a dash; its first four are read as version 00
    assert.deepStrictEqual(TraceContext.parseTraceparent(`01-${TRACE}-${SPAN}-03-future`), {
      traceId: TRACE,
      spanId: SPAN,
      sampled: true
    })
  })

  it("malformed traceparents give no context, never an error", () => {
    const bad = [
      "",
      "garbage",
      `00-${TRACE}-${SPAN}`, // no flags
      `00-${TRACE}-${SPAN}-01-extra`, // version 00 is exactly 55 characters
      `00-${TRACE.toUpperCase()}-${SPAN}-01`, // uppercase hex
      `00-${"0".repeat(32)}-${SPAN}-01`, // all-zero trace id
      `00-${TRACE}-${"0".repeat(16)}-01`, // all-zero span id
      `ff-${TRACE}-${SPAN}-01`, // version ff is invalid
      `0g-${TRACE}-${SPAN}-01`,
      `00-${TRACE}-${SPAN}-0x`,
      `00_${TRACE}_${SPAN}_01`,
      `01-${TRACE}-${SPAN}-01x`, // a later version: more only after a dash
      ` ${VALID}`.slice(0, 55)
    ]
    for (const value of bad) assert.isUndefined(TraceContext.parseTraceparent(value), JSON.stringify(value))
    assert.isUndefined(TraceContext.fromFields(["traceparent", "00-nonsense", "n", "1"]))
    assert.isUndefined(TraceContext.externalSpanOf(["n", "1"]))
  })

  it("tracestate: kept when every member is valid, dropped alone otherwise", () => {
    assert.strictEqual(TraceContext.parseTracestate("rojo=00f067aa0ba902b7, congo=t61rcWkgMzE"), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
    assert.strictEqual(TraceContext.parseTracestate("tenant@vendor=x"), "tenant@vendor=x")
    for (const bad of ["", "=x", "UPPER=x", "a=b,a=c", "a=b=c", "a=\u00e9", "a=x\ty", "a", Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(",")]) {
      assert.isUndefined(TraceContext.parseTracestate(bad), JSON.stringify(bad))
    }
    const withBadState = TraceContext.fromFields(["traceparent", VALID, "tracestate", "BAD STATE"])
    assert.deepStrictEqual(withBadState, { traceId: TRACE, spanId: SPAN, sampled: true, traceState: undefined })
  })

  it("the external span: what Effect.withSpan's parent takes, the tracestate in its context", () =>
    Effect.runSync(Effect.gen(function*() {
      const external = TraceContext.externalSpanOf(["n", "1", "traceparent", VALID, "tracestate", "rojo=1"])!
      assert.strictEqual(external._tag, "ExternalSpan")
      assert.strictEqual(external.traceId, TRACE)
      assert.strictEqual(external.spanId, SPAN)
      assert.isTrue(external.sampled)
      assert.deepStrictEqual(Context.getOption(external.context, TraceContext.TraceState), Option.some("rojo=1"))
      // a child span joins the producer's trace
      const child = yield* Effect.currentSpan.pipe(Effect.withSpan("process orders", { parent: external }))
      assert.strictEqual(child.traceId, TRACE)
      assert.deepStrictEqual(Option.map(child.parent, (p) => p.spanId), Option.some(SPAN))
      // and producing from it passes the tracestate on
      const fields = yield* TraceContext.current.pipe(Effect.withSpan("handler", { parent: external }))
      assert.strictEqual(fields?.[0], "traceparent")
      assert.match(fields![1]!, new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`))
      assert.deepStrictEqual(fields!.slice(2), ["tracestate", "rojo=1"])
    })))
})

/** a tracer that records its spans (so the Producer opens its own `Producer.add` span) */
const recordingTracer = () => {
  const spans: Array<Tracer.Span> = []
  let n = 0
  const hex = (len: number) => (++n).toString(16).padStart(len, "0")
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind) => {
      const span: Tracer.Span = {
        _tag: "Span",
        name,
        spanId: hex(16),
        traceId: Option.match(parent, { onNone: () => hex(32), onSome: (p) => p.traceId }),
        parent,
        context,
        status: { _tag: "Started", startTime },
        attributes: new Map(),
        links,
        sampled: true,
        kind,
        end: () => {},
        attribute: () => {},
        event: () => {},
        addLinks: () => {}
      }
      spans.push(span)
      return span
    },
    context: (f) => f()
  })
  return { tracer, spans }
}

const Order = Schema.Struct({ orderId: Schema.String }).annotations({ parseOptions: { onExcessProperty: "error" } })
const Event = Schema.Struct({ kind: Schema.String, items: Schema.Array(Schema.Number) })

forEachBackend("traceContext: the Producer writes it, decoding ignores it", (it) => {
  it.effect("add with an active span writes traceparent after the message's fields; none without a span", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("trace-add")
      const producer = yield* Producer.make({ stream })
      const [id, span] = yield* Effect.all([producer.add({ n: "1" }), Effect.currentSpan]).pipe(
        Effect.withSpan("request")
      )
      const plain = yield* producer.add({ n: "2" })
      const entries = yield* backend.range(stream)
      assert.deepStrictEqual(entries, [
        { id, fields: ["n", "1", "traceparent", `00-${span.traceId}-${span.spanId}-01`] },
        { id: plain, fields: ["n", "2"] }
      ])
    }))

  it.effect("traceContext: false writes nothing, even inside a span; a non-boolean is InvalidOptions", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("trace-off")
      const producer = yield* Producer.make({ stream, traceContext: false })
      yield* producer.add({ n: "1" }).pipe(Effect.withSpan("request"))
      yield* producer.addAll([{ n: "2" }]).pipe(Effect.withSpan("request"))
      assert.deepStrictEqual((yield* backend.range(stream)).map((e) => e.fields), [["n", "1"], ["n", "2"]])
      const invalid = yield* Effect.flip(Producer.make({ stream, traceContext: "yes" as unknown as boolean }))
      assert.strictEqual(invalid.option, "traceContext")
    }))

  it.effect("addAll inside a span: every entry carries the context; with a tracer the Producer's own span is the parent", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("trace-all")
      const producer = yield* Producer.make({ stream })
      const { spans, tracer } = recordingTracer()
      yield* producer.addAll([{ n: "1" }, { n: "2" }, { n: "3" }]).pipe(Effect.withSpan("request"), Effect.withTracer(tracer))
      const request = spans.find((s) => s.name === "request")!
      const addAll = spans.find((s) => s.name === "Producer.addAll")!
      assert.strictEqual(addAll.kind, "producer")
      assert.strictEqual(addAll.traceId, request.traceId)
      const entries = yield* backend.range(stream)
      assert.strictEqual(entries.length, 3)
      for (const [i, e] of entries.entries()) {
        assert.deepStrictEqual(e.fields, ["n", String(i + 1), "traceparent", `00-${request.traceId}-${addAll.spanId}-01`])
      }
    }))

  it.scoped("decoding skips the reserved fields: field maps, fields-encoded and JSON schemas", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const external = TraceContext.externalSpanOf(["traceparent", VALID, "tracestate", "rojo=1"])!
      const inTrace = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        effect.pipe(Effect.withSpan("request", { parent: external }))

      const plainStream = kit.key("trace-dec-plain")
      yield* inTrace((yield* Producer.make({ stream: plainStream })).add({ n: "1" }))
      const plain = yield* Consumer.make({ stream: plainStream, group: "g", batchSize: 1, maxWait: "10 seconds" })
      const [m1] = Chunk.toReadonlyArray(yield* plain.batches.pipe(Stream.take(1), Stream.runCollect))[0]!.messages
      assert.deepStrictEqual(m1!.fields, { n: "1" })
      assert.deepStrictEqual(m1!.body, { n: "1" })
      // the raw fields still carry the context, for the Consumer's span
      assert.strictEqual(TraceContext.fromFields(m1!.rawFields)?.traceId, TRACE)
      assert.strictEqual(TraceContext.fromFields(m1!.rawFields)?.traceState, "rojo=1")

      const orderStream = kit.key("trace-dec-fields")
      yield* inTrace((yield* Producer.make({ stream: orderStream, schema: Order })).add({ orderId: "o-1" }))
      const orders = yield* Consumer.make({ stream: orderStream, group: "g", schema: Order, batchSize: 1, maxWait: "10 seconds" })
      const [m2] = Chunk.toReadonlyArray(yield* orders.batches.pipe(Stream.take(1), Stream.runCollect))[0]!.messages
      // the schema rejects excess properties: the trace fields never reached it
      assert.deepStrictEqual(m2!.body, { orderId: "o-1" })
      assert.include(m2!.rawFields, "traceparent")

      const eventStream = kit.key("trace-dec-json")
      yield* inTrace((yield* Producer.make({ stream: eventStream, schema: Event })).add({ kind: "paid", items: [1, 2] }))
      const raw = (yield* (yield* StreamsBackend.StreamsBackend).range(eventStream))[0]!
      assert.deepStrictEqual(raw.fields.slice(0, 1), ["data"])
      assert.deepStrictEqual(raw.fields.slice(2, 4), ["traceparent", raw.fields[3]!])
      assert.deepStrictEqual(raw.fields.slice(4), ["tracestate", "rojo=1"])
      const events = yield* Consumer.make({ stream: eventStream, group: "g", schema: Event, batchSize: 1, maxWait: "10 seconds" })
      const [m3] = Chunk.toReadonlyArray(yield* events.batches.pipe(Stream.take(1), Stream.runCollect))[0]!.messages
      assert.deepStrictEqual(m3!.body, { kind: "paid", items: [1, 2] })
    }))
})

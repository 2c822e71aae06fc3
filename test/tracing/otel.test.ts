/**
 * Trace context with @effect/opentelemetry and an in-memory exporter, on
 * both backends: the Producer's span (kind producer) is the parent written
 * into the entry; a consumer span started from the entry's fields
 * (`TraceContext.externalSpanOf`, as the Consumer's worker does) shares the
 * producer's trace id and has the Producer's span as its parent; the
 * tracestate and an unsampled decision cross the queue.
 *
 * The per-message span is `TraceContext.processSpan`, the helper the
 * Consumer's worker calls around each handler; batch spans link with
 * `TraceContext.links`.
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { assert } from "@effect/vitest"
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Chunk, Effect, Fiber, Stream } from "effect"
import { Consumer, DeadLetter, Producer, StreamsBackend } from "effect-redis-streams"
import * as TraceContext from "../../packages/redis-streams/src/internal/traceContext.js"
import { forEachBackend, TestKit } from "../src/Harness.js"

const withOtel = () => {
  const exporter = new InMemorySpanExporter()
  const layer = NodeSdk.layer(() => ({
    resource: { serviceName: "effect-redis-streams-test" },
    spanProcessor: new SimpleSpanProcessor(exporter)
  }))
  return { exporter, layer }
}

const parentIdOf = (span: ReadableSpan): string | undefined => span.parentSpanContext?.spanId

/** the Consumer's per-message span, as the worker starts it */
const processSpan = (stream: string, fields: ReadonlyArray<string>, id = "1-0") =>
  TraceContext.processSpan(Effect.void, { stream, group: "g", consumer: "c", id, deliveryCount: 1, rawFields: fields })

forEachBackend("traceContext with @effect/opentelemetry", (it) => {
  it.effect("end to end: Consumer.process runs each handler in a child of the producer's span; batches link to them", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const stream = kit.key("otel")
      const { exporter, layer } = withOtel()
      const { spans, handlerTraces } = yield* Effect.gen(function*() {
        const producer = yield* Producer.make({ stream })
        yield* producer.add({ n: "1" }).pipe(Effect.withSpan("request 1"))
        yield* producer.add({ n: "2" }).pipe(Effect.withSpan("request 2"))
        const consumer = yield* Consumer.make({ stream, group: "g", batchSize: 10, maxWait: 0 })
        const handlerTraces = new Map<string, string>()
        const worker = yield* consumer.process((m) =>
          Effect.flatMap(Effect.currentSpan, (span) => Effect.sync(() => handlerTraces.set(m.body.n, span.traceId))), {
          concurrency: 2
        }).pipe(Effect.fork)
        for (let waited = 0; waited < 5000 && handlerTraces.size < 2; waited += 10) yield* kit.sleep(10)
        yield* Fiber.interrupt(worker)
        // a second group reads the same entries as one batch: its span links to both producers
        const other = yield* Consumer.make({ stream, group: "h", batchSize: 10, maxWait: 0 })
        yield* other.batches.pipe(Stream.take(1), Stream.runCollect, Effect.map(Chunk.size))
        return { spans: exporter.getFinishedSpans(), handlerTraces }
      }).pipe(Effect.scoped, Effect.provide(layer))
      const byName = (name: string) => spans.filter((s) => s.name === name)
      const requests = ["request 1", "request 2"].map((n) => byName(n)[0]!)
      const adds = byName("Producer.add")
      const handlers = byName(`process ${stream}`)
      assert.strictEqual(handlers.length, 2)
      assert.strictEqual(handlerTraces.get("1"), requests[0]!.spanContext().traceId)
      assert.strictEqual(handlerTraces.get("2"), requests[1]!.spanContext().traceId)
      for (const handler of handlers) {
        const add = adds.find((a) => a.spanContext().traceId === handler.spanContext().traceId)!
        assert.strictEqual(parentIdOf(handler), add.spanContext().spanId, "the handler's span is a child of Producer.add")
        assert.strictEqual(handler.kind, 4)
        assert.strictEqual(handler.attributes["messaging.consumer.group.name"], "g")
      }
      const batch = byName("Consumer.batch").find((b) => b.links.length > 0)!
      assert.sameMembers(batch.links.map((l) => l.context.spanId), adds.map((a) => a.spanContext().spanId))
    }))

  it.effect("a malformed traceparent: the message is processed as usual and nothing is dead-lettered", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("otel")
      const { layer } = withOtel()
      yield* backend.add(stream, ["n", "1", "traceparent", "00-not-a-trace-context-zz", "tracestate", "=,=,"])
      yield* backend.add(stream, ["n", "2", "traceparent", "00-00000000000000000000000000000000-0000000000000000-01"])
      const seen = yield* Effect.gen(function*() {
        const consumer = yield* Consumer.make({ stream, group: "g", batchSize: 10, maxWait: 0 })
        const seen: Array<Record<string, string>> = []
        const worker = yield* consumer.process((m) => Effect.sync(() => seen.push(m.body))).pipe(Effect.fork)
        for (let waited = 0; waited < 5000 && seen.length < 2; waited += 10) yield* kit.sleep(10)
        for (let waited = 0; waited < 1000 && (yield* backend.pendingSummary(stream, "g")).count > 0; waited += 10) {
          yield* kit.sleep(10)
        }
        yield* Fiber.interrupt(worker)
        return seen
      }).pipe(Effect.scoped, Effect.provide(layer))
      assert.deepStrictEqual(seen, [{ n: "1" }, { n: "2" }], "processed, reserved fields hidden from the body")
      assert.strictEqual((yield* backend.pendingSummary(stream, "g")).count, 0, "acknowledged")
      assert.strictEqual(yield* backend.length(DeadLetter.defaultStream(stream)), 0, "nothing dead-lettered")
    }))

  it.effect("the producer's span and the handler's span share one trace; the Producer's span is the parent", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("otel")
      const { exporter, layer } = withOtel()
      const spans = yield* Effect.gen(function*() {
        const producer = yield* Producer.make({ stream })
        yield* producer.add({ n: "1" }).pipe(Effect.withSpan("request"))
        const [entry] = yield* backend.range(stream)
        assert.match(entry!.fields[3]!, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
        yield* processSpan(stream, entry!.fields, entry!.id)
        yield* Effect.withSpan(Effect.void, "batch", { links: TraceContext.links([{ id: entry!.id, rawFields: entry!.fields }]) })
        // read before the layer closes: shutting the exporter down empties it
        return exporter.getFinishedSpans()
      }).pipe(Effect.provide(layer))
      const byName = (name: string) => spans.find((s) => s.name === name)!
      const request = byName("request")
      const add = byName("Producer.add")
      const handler = byName(`process ${stream}`)
      assert.strictEqual(add.spanContext().traceId, request.spanContext().traceId)
      assert.strictEqual(handler.spanContext().traceId, request.spanContext().traceId)
      assert.strictEqual(parentIdOf(handler), add.spanContext().spanId)
      assert.strictEqual(add.kind, 3) // SpanKind.PRODUCER
      assert.strictEqual(handler.kind, 4) // SpanKind.CONSUMER
      assert.deepInclude(handler.attributes, {
        "messaging.system": "redis",
        "messaging.operation.type": "process",
        "messaging.destination.name": stream,
        "messaging.consumer.group.name": "g",
        "messaging.message.id": (yield* backend.range(stream))[0]!.id,
        "messaging.redis.delivery_count": 1
      })
      const batch = byName("batch")
      assert.deepStrictEqual(batch.links.map((l) => [l.context.traceId, l.context.spanId]), [[
        request.spanContext().traceId,
        add.spanContext().spanId
      ]])
    }))

  it.effect("with Effect's default tracer (exporting nothing) no per-message span is made", () =>
    Effect.gen(function*() {
      const outer = yield* Effect.currentSpan
      const inner = yield* TraceContext.processSpan(Effect.currentSpan, {
        stream: "s",
        group: "g",
        consumer: "c",
        id: "1-0",
        deliveryCount: 1,
        rawFields: ["traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"]
      })
      assert.strictEqual(inner, outer)
    }).pipe(Effect.withSpan("outer")))

  it.effect("tracestate crosses the queue; an unsampled trace stays unsampled; a malformed traceparent starts a new trace", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("otel-state")
      const { exporter, layer } = withOtel()
      const upstream = TraceContext.externalSpanOf([
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "tracestate",
        "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
      ])!
      const unsampled = TraceContext.externalSpanOf([
        "traceparent",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
      ])!
      const finished = yield* Effect.gen(function*() {
        const producer = yield* Producer.make({ stream })
        // a handler of an upstream message produces again: its trace and tracestate go on
        yield* producer.add({ n: "1" }).pipe(Effect.withSpan("handler", { parent: upstream }))
        yield* producer.add({ n: "2" }).pipe(Effect.withSpan("handler", { parent: unsampled }))
        const entries = yield* backend.range(stream)
        assert.deepStrictEqual(entries[0]!.fields.slice(2, 3), ["traceparent"])
        assert.match(entries[0]!.fields[3]!, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/)
        assert.deepStrictEqual(entries[0]!.fields.slice(4), ["tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"])
        assert.match(entries[1]!.fields[3]!, /^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-00$/)
        for (const e of entries) yield* processSpan(stream, e.fields)
        // a malformed one: processed in a trace of its own, no error
        yield* processSpan(stream, ["n", "3", "traceparent", "00-zz-yy-01"])
        return exporter.getFinishedSpans()
      }).pipe(Effect.provide(layer))
      const handlers = finished.filter((s) => s.name === `process ${stream}`)
      // the unsampled trace exports nothing
      assert.strictEqual(handlers.length, 2)
      assert.strictEqual(handlers[0]!.spanContext().traceId, "4bf92f3577b34da6a3ce929d0e0e4736")
      assert.strictEqual(handlers[0]!.spanContext().traceState?.serialize(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
      assert.notInclude(["4bf92f3577b34da6a3ce929d0e0e4736", "0af7651916cd43dd8448eb211c80319c"], handlers[1]!.spanContext().traceId)
      assert.isUndefined(parentIdOf(handlers[1]!))
      assert.isFalse(finished.some((s) => s.spanContext().traceId === "0af7651916cd43dd8448eb211c80319c"))
    }))
})

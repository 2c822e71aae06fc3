/**
 * A scrape of `serve`'s collector (in process, so it sees this process's
 * Producer and Consumer) during a run with failures and dead letters: every
 * metric of the library's table is in the text, with the values the run
 * produced; every metric the Grafana dashboard queries is in it; and a
 * scrape costs 2 + D + 2G round trips.
 *
 * The Consumer's figures come from `consumer.process` itself: a handler that
 * fails for n % 10 = 3 (left pending), rejects n % 10 = 7 with
 * `Message.Poison` (dead-lettered) and succeeds otherwise.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import { Consumer, DeadLetter, Message, Metrics, Producer, StreamsBackend } from "effect-redis-streams"
import * as Fs from "node:fs"
import * as Path from "node:path"
import parsePrometheus from "parse-prometheus-text-format"
import * as Http from "../../packages/cli/src/Http.js"
import { parsePrometheus as parseStrict, sampleValue } from "../cli/CliProcess.js"
import { redisLayer, TestKit, testLogLevel } from "../src/Harness.js"
import { dashboardMetrics } from "./dashboard.js"

const root = Path.resolve(import.meta.dirname, "../..")

/** run the worker until the 30 messages are settled: 24 acknowledged, 3 pending (failed), 3 dead-lettered */
const runWorker = (consumer: Consumer.Service<Record<string, string>>) =>
  Effect.gen(function*() {
    const kit = yield* TestKit
    const backend = yield* StreamsBackend.StreamsBackend
    let handled = 0
    const worker = yield* consumer.process((message): Effect.Effect<void, string | Message.Poison> => {
      const n = Number(message.body["n"])
      handled++
      if (n % 10 === 3) return Effect.fail("payment declined") // left pending
      if (n % 10 === 7) return Effect.fail(new Message.Poison({ reason: "poison" }))
      return Effect.void
    }, { concurrency: 4 }).pipe(Effect.fork)
    for (let waited = 0; waited < 10_000; waited += 20) {
      const pending = (yield* backend.pendingSummary(consumer.stream, consumer.group)).count
      const dead = yield* backend.length(consumer.deadLetterStream)
      if (handled === 30 && pending === 3 && dead === 3) break
      yield* kit.sleep(20)
    }
    yield* Fiber.interrupt(worker)
  })

const collector = (streams: ReadonlyArray<string>) =>
  Http.makeCollector({ streams, idleThreshold: "30 seconds", scaler: {} })

const scrape = (c: Http.Collector) =>
  Effect.map(c.metrics, (text) => {
    parsePrometheus(text) // a real parser accepts the whole text (it throws on a malformed line)
    return { text, families: parseStrict(text) }
  })

layer(Layer.merge(redisLayer, testLogLevel), { timeout: "60 seconds", excludeTestServices: true })("serve's scrape", (it) => {
  it.scoped("during a run with failures: every metric of the table, with the run's figures", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const stream = kit.key("scrape")
      const group = "workers"
      const producer = yield* Producer.make({ stream })
      for (let n = 0; n < 10; n++) yield* producer.add({ n: String(n) })
      yield* producer.addAll(Array.from({ length: 20 }, (_, i) => ({ n: String(10 + i) })))
      const consumer = yield* Consumer.make({ stream, group, batchSize: 10, maxWait: "200 millis" })
      yield* runWorker(consumer)

      const c = yield* collector([stream])
      yield* scrape(c) // a first reading, for the rates
      yield* kit.sleep(200)
      for (let n = 30; n < 35; n++) yield* producer.add({ n: String(n) })
      const { families, text } = yield* scrape(c)

      // every metric of the table is there
      for (const d of Metrics.table) {
        const family = families.get(d.name)
        assert.isDefined(family, `${d.name} missing from the scrape`)
        assert.strictEqual(family!.type, d.type, d.name)
        assert.isAbove(family!.samples.length, 0, d.name)
      }
      const v = (name: string, labels: Record<string, string>) => sampleValue(families, name, labels)
      const s = { stream }
      const sg = { stream, group }
      const series = (name: string, suffix: string, labels: Record<string, string>) =>
        families.get(name)!.samples.filter((x) =>
          x.name === name + suffix && Object.entries(labels).every(([k, val]) => x.labels[k] === val)
        ).map((x) => x.value)

      // Producer: 10 + 5 adds and one addAll of 20
      assert.strictEqual(v("redis_streams_producer_messages_added_total", s), 35)
      assert.deepStrictEqual(series("redis_streams_producer_add_duration_seconds", "_count", { ...s, operation: "add" }), [15])
      assert.deepStrictEqual(series("redis_streams_producer_add_duration_seconds", "_count", { ...s, operation: "addAll" }), [1])
      // Consumer: 30 received in reads of at most batchSize (10); 3 failed (n % 10 = 3), 3 dead-lettered (n % 10 = 7), 24 processed
      assert.strictEqual(v("redis_streams_consumer_messages_received_total", sg), 30)
      assert.strictEqual(v("redis_streams_consumer_messages_processed_total", sg), 24)
      assert.strictEqual(v("redis_streams_consumer_messages_failed_total", sg), 3)
      assert.strictEqual(v("redis_streams_consumer_messages_dead_lettered_total", { ...sg, reason: "poison" }), 3)
      assert.strictEqual(v("redis_streams_consumer_messages_dead_lettered_total", { ...sg, reason: "max_deliveries" }), 0)
      assert.strictEqual(v("redis_streams_consumer_messages_reclaimed_total", sg), 0)
      assert.deepStrictEqual(series("redis_streams_consumer_handler_duration_seconds", "_count", sg), [30])
      assert.deepStrictEqual(series("redis_streams_consumer_ack_latency_seconds", "_count", sg), [24])
      const reads = series("redis_streams_consumer_batch_size", "_count", sg)
      assert.strictEqual(reads.length, 1)
      assert.isAtLeast(reads[0]!, 3, "at most 10 per read")
      assert.deepStrictEqual(series("redis_streams_consumer_batch_size", "_sum", sg), [30])
      // the group, as Redis has it: 5 new entries, the 3 failures pending, 3 dead letters
      assert.strictEqual(v("redis_streams_group_lag", sg), 5)
      assert.strictEqual(v("redis_streams_group_lag_exact", sg), 1)
      assert.strictEqual(v("redis_streams_group_pending", sg), 3)
      assert.strictEqual(v("redis_streams_group_max_deliveries", sg), 1)
      assert.isAbove(v("redis_streams_group_oldest_pending_age_seconds", sg)!, 0)
      assert.isBelow(v("redis_streams_group_oldest_pending_age_seconds", sg)!, 60)
      assert.strictEqual(v("redis_streams_group_consumers", { ...sg, status: "OK" }), 1)
      assert.strictEqual(v("redis_streams_group_consumers", { ...sg, status: "IDLE" }), 0)
      assert.strictEqual(
        v("redis_streams_group_dead_letters", { ...sg, dead_letter_stream: DeadLetter.defaultStream(stream) }),
        3
      )
      assert.strictEqual(v("redis_streams_group_consumer_pending", { ...sg, consumer: consumer.name }), 3)
      assert.isAtLeast(v("redis_streams_group_consumer_idle_seconds", { ...sg, consumer: consumer.name })!, 0)
      // the Scaler: lag 5 / pending 3 -> the seed's rate 100 (ratio 1) -> OUT; rates from the second scrape
      assert.strictEqual(v("redis_streams_scaler_backlog_ratio", sg), 1)
      assert.strictEqual(v("redis_streams_scaler_decision", { ...sg, decision: "OUT" }), 1)
      assert.strictEqual(v("redis_streams_scaler_decision", { ...sg, decision: "IN" }), 0)
      assert.strictEqual(v("redis_streams_scaler_active_consumers", sg), 1)
      assert.strictEqual(v("redis_streams_scaler_desired_consumers", sg), 1)
      assert.strictEqual(v("redis_streams_scaler_recommended_consumers", sg), 1)
      assert.isAbove(v("redis_streams_scaler_arrival_rate", sg)!, 0)
      assert.strictEqual(v("redis_streams_scaler_ack_rate", sg), 0)
      // the stream
      assert.strictEqual(v("redis_streams_up", s), 1)
      assert.strictEqual(v("redis_streams_stream_length", s), 35)
      assert.strictEqual(v("redis_streams_stream_entries_added_total", s), 35)
      assert.strictEqual(v("redis_streams_stream_groups", s), 1)
      assert.isAtLeast(v("redis_streams_scrape_duration_seconds", {})!, 0)

      // every metric the Grafana dashboard queries is in this real scrape
      const dashboard = JSON.parse(Fs.readFileSync(Path.join(root, "examples/ops/grafana-dashboard.json"), "utf8")) as {
        panels: Array<{ targets: Array<{ expr: string }> }>
      }
      for (const name of dashboardMetrics(dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)))) {
        assert.isDefined(families.get(name), `the dashboard queries ${name}, not in the scrape`)
      }
      assert.notInclude(text, "redis_streams_dead_letters{")
    }))

  it.scoped("a scrape of a stream with G groups costs 2 + D + 2G round trips", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      const stream = kit.key("scrape-cost")
      const G = 3
      yield* Effect.flatMap(Producer.make({ stream }), (p) => p.addAll(Array.from({ length: 12 }, (_, i) => ({ n: String(i) }))))
      for (let g = 0; g < G; g++) {
        yield* backend.createGroup(stream, `g${g}`, { id: "0" })
        yield* backend.readGroup({ stream, group: `g${g}`, consumer: "c", id: ">", count: 2 }) // something pending
      }
      const calls = new Map<string, number>()
      const counting = new Proxy(backend, {
        get: (target, key, receiver) => {
          const value = Reflect.get(target, key, receiver)
          if (typeof value !== "function") return value
          return (...args: Array<unknown>) => {
            calls.set(String(key), (calls.get(String(key)) ?? 0) + 1)
            return value.apply(target, args)
          }
        }
      })
      const c = yield* collector([stream]).pipe(Effect.provideService(StreamsBackend.StreamsBackend, counting))
      yield* scrape(c) // Scalers made on the first scrape
      calls.clear()
      const { families } = yield* scrape(c)
      assert.strictEqual(sampleValue(families, "redis_streams_stream_groups", { stream }), G)
      const D = 1
      assert.deepStrictEqual(Object.fromEntries([...calls].sort()), {
        consumersInfo: G,
        groupsInfo: 1,
        length: D,
        pending: G,
        streamInfo: 1
      })
      assert.strictEqual([...calls.values()].reduce((a, b) => a + b, 0), 2 + D + 2 * G)
    }))
})

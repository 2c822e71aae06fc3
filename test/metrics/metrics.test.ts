/**
 * The library's metric table and its Prometheus formatter: the text passes a
 * real parser (parse-prometheus-text-format) with label values holding
 * quotes, backslashes, newlines and `{}`; histograms come out as buckets,
 * sum and count; the table follows Prometheus naming and is the one in the
 * README and the module's doc; the Grafana dashboard and the KEDA object in
 * examples/ops use only names (and fields) that exist; the Consumer's
 * instruments count, and what one update costs.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric, MetricKey, MetricLabel, MetricPair, MetricState, Option } from "effect"
import { Metrics, Monitor, Scaler } from "effect-redis-streams"
import * as Fs from "node:fs"
import * as Path from "node:path"
import parsePrometheus from "parse-prometheus-text-format"
import { uniqueKey } from "../src/Harness.js"
import { dashboardMetrics } from "./dashboard.js"
import { parsePrometheus as parseStrict } from "../cli/CliProcess.js"

const root = Path.resolve(import.meta.dirname, "../..")
const read = (file: string) => Fs.readFileSync(Path.join(root, file), "utf8")

const HOSTILE = ["quo\"te", "back\\slash", "new\nline", "{brace}", "all: \"\\\n{}\" ,="]

describe("Metrics: the Prometheus text", () => {
  it("passes a real parser; label values with quotes, backslashes, newlines and {} come back intact", () => {
    const pairs = HOSTILE.flatMap((value, i) => [
      Metrics.pair(Metrics.definitions.lag, { stream: value, group: `g${i}` }, i),
      Metrics.pair(Metrics.definitions.entriesAdded, { stream: value }, 10 * i)
    ])
    const text = Metrics.render(pairs)
    const families = parsePrometheus(text)
    assert.deepStrictEqual(families.map((f) => [f.name, f.type]), [
      ["redis_streams_group_lag", "GAUGE"],
      ["redis_streams_stream_entries_added_total", "COUNTER"]
    ])
    assert.strictEqual(families[0]!.help, Metrics.definitions.lag.help)
    assert.deepStrictEqual(
      families[0]!.metrics.map((m) => [m.labels?.["stream"], m.labels?.["group"], Number(m.value)]),
      HOSTILE.map((value, i) => [value, `g${i}`, i])
    )
    assert.deepStrictEqual(families[1]!.metrics.map((m) => m.labels?.["stream"]), HOSTILE)
    // escaped as the format says, one sample per line
    assert.include(text, `stream="quo\\"te"`)
    assert.include(text, `stream="back\\\\slash"`)
    assert.include(text, `stream="new\\nline"`)
    assert.include(text, `stream="{brace}"`)
    assert.strictEqual(text.split("\n").filter((l) => l.startsWith("redis_streams_group_lag{")).length, HOSTILE.length)
  })

  it("a series written twice is kept once (the first), invalid names are left out, not the whole text", () => {
    const d = Metrics.definitions
    const text = Metrics.render([
      Metrics.pair(d.pending, { stream: "s", group: "g" }, 1),
      Metrics.pair(d.pending, { stream: "s", group: "g" }, 2),
      MetricPair.unsafeMake(MetricKey.gauge("bad name"), MetricState.gauge(1)),
      MetricPair.unsafeMake(
        MetricKey.taggedWithLabels(MetricKey.gauge("ok_gauge"), [MetricLabel.make("bad-label", "x")]),
        MetricState.gauge(1)
      ),
      Metrics.pair(d.up, { stream: "s" }, 1)
    ])
    const families = parsePrometheus(text)
    assert.deepStrictEqual(families.map((f) => f.name), ["redis_streams_group_pending", "redis_streams_up"])
    assert.deepStrictEqual(families[0]!.metrics.map((m) => m.value), ["1"])
    assert.strictEqual(Metrics.render([]), "")
  })

  it.effect("the Consumer's instruments: counters and histograms per stream and group, rendered as buckets, sum and count", () =>
    Effect.gen(function*() {
      const stream = uniqueKey("metrics-inst")
      const c = Metrics.consumer(stream, "g")
      c.received(5)
      c.processed(3)
      c.failed(1)
      c.deadLettered("poison", 1)
      c.deadLettered("max_deliveries", 2)
      c.reclaimed(4)
      c.batchSize(5)
      for (const s of [0.002, 0.002, 0.03, 0.7]) c.handlerDuration(s)
      c.ackLatency(0.004)
      const value = (m: Metric.Metric.Counter<number>, tags: Record<string, string> = {}) =>
        Effect.map(
          Metric.value(Object.entries({ stream, group: "g", ...tags }).reduce((x, [k, v]) => x.pipe(Metric.tagged(k, v)), m)),
          (s) => s.count
        )
      assert.strictEqual(yield* value(Metrics.consumerMetrics.received), 5)
      assert.strictEqual(yield* value(Metrics.consumerMetrics.processed), 3)
      assert.strictEqual(yield* value(Metrics.consumerMetrics.deadLettered, { reason: "max_deliveries" }), 2)

      const text = yield* Metrics.prometheus()
      const families = new Map(parsePrometheus(text).map((f) => [f.name, f] as const))
      const mine = (name: string) =>
        families.get(name)!.metrics.filter((m) => m.labels?.["stream"] === stream)
      assert.deepStrictEqual(mine("redis_streams_consumer_messages_failed_total").map((m) => m.value), ["1"])
      assert.deepStrictEqual(
        mine("redis_streams_consumer_messages_dead_lettered_total").map((m) => [m.labels?.["reason"], m.value]).sort(),
        [["decode", "0"], ["max_deliveries", "2"], ["oversize", "0"], ["poison", "1"]] // every reason from the start
      )
      assert.strictEqual(families.get("redis_streams_consumer_handler_duration_seconds")!.type, "HISTOGRAM")
      // parse-prometheus-text-format folds labelled histograms into one (it drops their labels, sum and
      // count): the series are checked with the strict line parser of the CLI tests
      const strict = parseStrict(text)
      const series = (name: string, suffix: string, extra: Record<string, string> = {}) =>
        strict.get(name)!.samples.filter((x) =>
          x.name === name + suffix && x.labels["stream"] === stream &&
          Object.entries(extra).every(([k, v]) => x.labels[k] === v)
        ).map((x) => x.value)
      const handler = "redis_streams_consumer_handler_duration_seconds"
      assert.strictEqual(strict.get(handler)!.type, "histogram")
      assert.deepStrictEqual(series(handler, "_count"), [4])
      assert.closeTo(series(handler, "_sum")[0]!, 0.734, 1e-9)
      assert.deepStrictEqual(series(handler, "_bucket", { le: "0.0025" }), [2])
      assert.deepStrictEqual(series(handler, "_bucket", { le: "0.05" }), [3])
      assert.deepStrictEqual(series(handler, "_bucket", { le: "1" }), [4])
      assert.deepStrictEqual(series(handler, "_bucket", { le: "+Inf" }), [4])
      assert.deepStrictEqual(series("redis_streams_consumer_batch_size", "_bucket", { le: "5" }), [1])
      assert.deepStrictEqual(series("redis_streams_consumer_ack_latency_seconds", "_count"), [1])
      // only the library's families unless asked for all
      yield* Metric.increment(Metric.counter("app_specific_total"))
      assert.notInclude(yield* Metrics.prometheus(), "app_specific_total")
      assert.include(yield* Metrics.prometheus({ all: true }), "app_specific_total")
    }))

  it("an instrument update costs well under a microsecond (no Effect, no allocation per message)", () => {
    const c = Metrics.consumer(uniqueKey("metrics-cost"), "g")
    const n = 1_000_000
    for (let i = 0; i < 10_000; i++) c.processed(1) // warm-up
    const t0 = performance.now()
    for (let i = 0; i < n; i++) {
      c.received(1)
      c.handlerDuration(0.001)
    }
    const perPair = ((performance.now() - t0) * 1000) / n
    // eslint-disable-next-line no-console -- the figure for the report
    console.info(`Metrics.consumer: a counter increment plus a histogram observation: ${perPair.toFixed(3)} µs`)
    assert.isBelow(perPair, 2)
  })
})

describe("Metrics: the table", () => {
  it("follows Prometheus naming: prefix, _total on counters only, base units in the name", () => {
    const seen = new Set<string>()
    for (const d of Metrics.table) {
      assert.match(d.name, /^redis_streams_[a-z_]+$/)
      assert.isFalse(seen.has(d.name), `${d.name} twice`)
      seen.add(d.name)
      assert.strictEqual(d.name.endsWith("_total"), d.type === "counter", d.name)
      if (d.unit === "seconds") assert.match(d.name, /_seconds$/)
      assert.notMatch(d.name, /_ms$|_millis|_milliseconds/)
      if (d.source === "Consumer" || d.source === "Monitor" || d.source === "Scaler") {
        assert.deepStrictEqual(d.tags.slice(0, 2), ["stream", "group"], d.name)
      }
      assert.isTrue(Metrics.isLibraryMetric(d.name))
      assert.strictEqual(Metrics.definitionOf(d.name), d)
    }
  })

  /** rows `| \`name\` | type | unit | tags | source |` of a markdown table */
  const rowsOf = (text: string) =>
    Array.from(text.matchAll(/^\s*(?:\* )?\| `(redis_streams_[a-z_]+)` \| (\w+) \| ([^|]+) \| ([^|]+) \| ([^|]+) \|/gm), (m) => ({
      name: m[1]!,
      type: m[2]!,
      unit: m[3]!.trim(),
      tags: m[4]!.trim() === "(none)" ? [] : m[4]!.split(",").map((t) => t.trim()),
      source: m[5]!.trim().split(" ")[0]
    }))
  const expected = Metrics.table.map((d) => ({ name: d.name, type: d.type, unit: d.unit, tags: [...d.tags], source: d.source }))

  it("the README's Metrics section and the module's doc carry the same table", () => {
    const readme = read("README.md")
    const section = readme.slice(readme.indexOf("## Metrics"), readme.indexOf("\n## ", readme.indexOf("## Metrics") + 5))
    assert.deepStrictEqual(rowsOf(section), expected)
    assert.deepStrictEqual(rowsOf(read("packages/redis-streams/src/Metrics.ts")), expected)
  })

  it("the Grafana dashboard queries only metrics of the table, and covers the operator's questions", () => {
    const dashboard = JSON.parse(read("examples/ops/grafana-dashboard.json")) as {
      panels: Array<{ title: string; targets: Array<{ expr: string }> }>
      templating: { list: Array<{ definition?: string }> }
    }
    const exprs = [
      ...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)),
      ...dashboard.templating.list.flatMap((v) => (v.definition === undefined ? [] : [v.definition]))
    ]
    const used = dashboardMetrics(exprs)
    for (const name of used) assert.isTrue(Metrics.isLibraryMetric(name), `the dashboard queries ${name}, not in the table`)
    for (
      const needed of [
        "redis_streams_group_lag",
        "redis_streams_group_pending",
        "redis_streams_group_oldest_pending_age_seconds",
        "redis_streams_consumer_messages_processed_total",
        "redis_streams_consumer_messages_failed_total",
        "redis_streams_group_dead_letters",
        "redis_streams_consumer_messages_dead_lettered_total",
        "redis_streams_consumer_handler_duration_seconds"
      ]
    ) assert.include(used, needed)
    assert.isTrue(exprs.some((e) => e.includes("histogram_quantile(0.99") && e.includes("handler_duration_seconds_bucket")))
  })

  it("the KEDA ScaledObject reads a field /scale answers, on the /scale path", () => {
    const yaml = read("examples/ops/keda-scaledobject.yaml")
    assert.match(yaml, /type: metrics-api/)
    assert.match(yaml, /url: "http:\/\/[^"]+:9464\/scale\?stream=[^"&]+&group=[^"]+"/)
    const location = /valueLocation: (\w+)/.exec(yaml)?.[1]
    const fields = Object.keys(Scaler.toJson(fakeDecision))
    assert.include(fields, location)
  })

  it("Monitor.metricPairs and Scaler.metricPairs name only metrics of the table", () => {
    const pairs = [...Monitor.metricPairs(fakeReport), ...Scaler.metricPairs(fakeDecision)]
    const names = new Set(pairs.map((p) => p.metricKey.name))
    for (const name of names) assert.isTrue(Metrics.isLibraryMetric(name), name)
    const group = Metrics.table.filter((d) => d.source === "Monitor" || d.source === "Scaler").map((d) => d.name)
    assert.deepStrictEqual([...names].sort(), [...group].sort())
    const decision = pairs.filter((p) => p.metricKey.name === "redis_streams_scaler_decision")
    assert.deepStrictEqual(
      decision.map((p) => [Option.getOrThrow(Option.fromNullable(p.metricKey.tags.find((t) => t.key === "decision"))).value, (p.metricState as MetricState.MetricState.Gauge<number>).value]),
      [["OUT", 1], ["IN", 0], ["NO_SCALE", 0]]
    )
  })
})

const fakeReport: Monitor.Report = {
  stream: "s",
  at: 0,
  idleThresholdMs: 1000,
  pendingThreshold: 10,
  groups: [{
    name: "g",
    lag: 3,
    lagExact: true,
    pending: 2,
    lastDeliveredId: "1-0",
    consumers: [{ name: "c", idleMs: 5, seenMs: 5, inactiveMs: 5, pending: 2, status: "OK" }],
    oldestPendingId: "1-0",
    oldestPendingAgeMs: 1500,
    oldestPendingIdleMs: 10,
    maxDeliveries: 1,
    maxDeliveriesExact: true,
    deadLetterStream: "s:dlq",
    deadLetters: 0
  }]
}

const fakeDecision: Scaler.Decision = {
  stream: "s",
  group: "g",
  at: 0,
  backlog: 3,
  backlogExact: true,
  backlogSource: "lag",
  pending: 2,
  consumers: 1,
  registeredConsumers: 1,
  consumerList: [],
  entriesAdded: 5,
  entriesRead: 2,
  arrivalRate: 1,
  ackRate: 0.5,
  commands: 0,
  rate: 100,
  decision: "OUT",
  thresholds: Scaler.defaultThresholds,
  recommended: 2,
  desired: 2,
  byWork: 1,
  byRate: 2,
  lowReadings: 0,
  stabilizationWindow: 3,
  safeToStop: []
}

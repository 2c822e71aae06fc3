/**
 * Every metric of the library, as Effect `Metric`s, and the one Prometheus
 * formatter. Names follow Prometheus conventions: base units (seconds),
 * `_total` for counters, `redis_streams_` first.
 *
 * | name | type | unit | tags | set by |
 * | --- | --- | --- | --- | --- |
 * | `redis_streams_consumer_messages_received_total` | counter | messages | stream, group | Consumer |
 * | `redis_streams_consumer_messages_processed_total` | counter | messages | stream, group | Consumer |
 * | `redis_streams_consumer_messages_failed_total` | counter | messages | stream, group | Consumer |
 * | `redis_streams_consumer_messages_dead_lettered_total` | counter | messages | stream, group, reason | Consumer |
 * | `redis_streams_consumer_messages_reclaimed_total` | counter | messages | stream, group | Consumer |
 * | `redis_streams_consumer_handler_duration_seconds` | histogram | seconds | stream, group | Consumer |
 * | `redis_streams_consumer_ack_latency_seconds` | histogram | seconds | stream, group | Consumer |
 * | `redis_streams_consumer_batch_size` | histogram | messages | stream, group | Consumer |
 * | `redis_streams_producer_messages_added_total` | counter | messages | stream | Producer |
 * | `redis_streams_producer_add_duration_seconds` | histogram | seconds | stream, operation | Producer |
 * | `redis_streams_group_lag` | gauge | entries | stream, group | Monitor |
 * | `redis_streams_group_lag_exact` | gauge | 1 or 0 | stream, group | Monitor |
 * | `redis_streams_group_pending` | gauge | entries | stream, group | Monitor |
 * | `redis_streams_group_oldest_pending_age_seconds` | gauge | seconds | stream, group | Monitor |
 * | `redis_streams_group_max_deliveries` | gauge | deliveries | stream, group | Monitor |
 * | `redis_streams_group_consumers` | gauge | consumers | stream, group, status | Monitor |
 * | `redis_streams_group_dead_letters` | gauge | entries | stream, group, dead_letter_stream | Monitor |
 * | `redis_streams_group_consumer_pending` | gauge | entries | stream, group, consumer | Monitor (scrape only) |
 * | `redis_streams_group_consumer_idle_seconds` | gauge | seconds | stream, group, consumer | Monitor (scrape only) |
 * | `redis_streams_scaler_decision` | gauge | 1 or 0 | stream, group, decision | Scaler |
 * | `redis_streams_scaler_recommended_consumers` | gauge | consumers | stream, group | Scaler |
 * | `redis_streams_scaler_desired_consumers` | gauge | consumers | stream, group | Scaler |
 * | `redis_streams_scaler_active_consumers` | gauge | consumers | stream, group | Scaler |
 * | `redis_streams_scaler_backlog_ratio` | gauge | ratio | stream, group | Scaler |
 * | `redis_streams_scaler_arrival_rate` | gauge | entries per second | stream, group | Scaler |
 * | `redis_streams_scaler_ack_rate` | gauge | entries per second | stream, group | Scaler |
 * | `redis_streams_up` | gauge | 1 or 0 | stream | serve |
 * | `redis_streams_stream_length` | gauge | entries | stream | serve |
 * | `redis_streams_stream_entries_added_total` | counter | entries | stream | serve |
 * | `redis_streams_stream_groups` | gauge | groups | stream | serve |
 * | `redis_streams_scrape_duration_seconds` | gauge | seconds | (none) | serve |
 *
 * Tag values: `reason` is `max_deliveries`, `decode`, `poison` or
 * `oversize`; `operation` is `add` or `addAll`; `status` is `OK`, `IDLE` or
 * `TOO_MANY_PENDING`; `decision` is `OUT`, `IN` or `NO_SCALE` (1 for the
 * current one, 0 for the others).
 *
 * Consumer and Producer metrics count what this process did; the group,
 * Scaler and serve gauges describe Redis as last read. `Monitor.report` and
 * `Scaler.decide` set their gauges in Effect's metric registry (per-consumer
 * series are left out there: Effect's registry never forgets a series, and
 * consumer names come and go); `Monitor.metricPairs` and
 * `Scaler.metricPairs` give the same names for one report or decision, which
 * is what `redis-streams serve` renders on each scrape, so that a group or
 * consumer that is gone is gone from the scrape too.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricKey from "effect/MetricKey"
import type * as MetricKeyType from "effect/MetricKeyType"
import * as MetricLabel from "effect/MetricLabel"
import * as MetricPair from "effect/MetricPair"
import * as MetricState from "effect/MetricState"
import * as internalPrometheus from "./internal/prometheus.js"

// ---------------------------------------------------------------------------
// the table
// ---------------------------------------------------------------------------

/**
 * A metric type, as Prometheus names it.
 *
 * @since 0.1.0
 * @category models
 */
export type MetricType = "counter" | "gauge" | "histogram"

/**
 * The component that sets a metric.
 *
 * @since 0.1.0
 * @category models
 */
export type Source = "Consumer" | "Producer" | "Monitor" | "Scaler" | "serve"

/**
 * One row of the table: name, type, unit, tags, who sets it, what it says.
 *
 * @since 0.1.0
 * @category models
 */
export interface Definition {
  readonly name: string
  readonly type: MetricType
  readonly unit: string
  readonly tags: ReadonlyArray<string>
  readonly source: Source
  readonly help: string
}

const SG = ["stream", "group"] as const

const def = (
  name: string,
  type: MetricType,
  unit: string,
  tags: ReadonlyArray<string>,
  source: Source,
  help: string
): Definition => ({ name, type, unit, tags, source, help })

/**
 * Every metric of the library, in the order of the table above.
 *
 * @since 0.1.0
 * @category definitions
 */
export const definitions = {
  received: def(
    "redis_streams_consumer_messages_received_total",
    "counter",
    "messages",
    SG,
    "Consumer",
    "messages handed to the application (new deliveries, redeliveries and reclaimed entries)"
  ),
  processed: def(
    "redis_streams_consumer_messages_processed_total",
    "counter",
    "messages",
    SG,
    "Consumer",
    "messages whose handler succeeded"
  ),
  failed: def(
    "redis_streams_consumer_messages_failed_total",
    "counter",
    "messages",
    SG,
    "Consumer",
    "handler failures (the message stays pending, for a retry or a dead letter)"
  ),
  deadLettered: def(
    "redis_streams_consumer_messages_dead_lettered_total",
    "counter",
    "messages",
    [...SG, "reason"],
    "Consumer",
    "messages moved to the dead-letter stream, by reason (max_deliveries, decode, poison, oversize)"
  ),
  reclaimed: def(
    "redis_streams_consumer_messages_reclaimed_total",
    "counter",
    "messages",
    SG,
    "Consumer",
    "entries taken over from idle consumers (XAUTOCLAIM)"
  ),
  handlerDuration: def(
    "redis_streams_consumer_handler_duration_seconds",
    "histogram",
    "seconds",
    SG,
    "Consumer",
    "time a handler ran, successes and failures"
  ),
  ackLatency: def(
    "redis_streams_consumer_ack_latency_seconds",
    "histogram",
    "seconds",
    SG,
    "Consumer",
    "time from a handler's success to the reply of the XACK that acknowledged it"
  ),
  batchSize: def(
    "redis_streams_consumer_batch_size",
    "histogram",
    "messages",
    SG,
    "Consumer",
    "entries per read (XREADGROUP or XAUTOCLAIM) handed to the application"
  ),
  added: def(
    "redis_streams_producer_messages_added_total",
    "counter",
    "messages",
    ["stream"],
    "Producer",
    "messages added to the stream"
  ),
  addDuration: def(
    "redis_streams_producer_add_duration_seconds",
    "histogram",
    "seconds",
    ["stream", "operation"],
    "Producer",
    "time of one successful add or addAll call, encoding included (operation: add, addAll)"
  ),
  lag: def("redis_streams_group_lag", "gauge", "entries", SG, "Monitor", "entries not yet delivered to the group"),
  lagExact: def(
    "redis_streams_group_lag_exact",
    "gauge",
    "1 or 0",
    SG,
    "Monitor",
    "1 when redis_streams_group_lag is exact, 0 when it is a lower bound"
  ),
  pending: def(
    "redis_streams_group_pending",
    "gauge",
    "entries",
    SG,
    "Monitor",
    "entries delivered to the group, not yet acknowledged"
  ),
  oldestPendingAge: def(
    "redis_streams_group_oldest_pending_age_seconds",
    "gauge",
    "seconds",
    SG,
    "Monitor",
    "age of the oldest pending entry (0 when nothing is pending)"
  ),
  maxDeliveries: def(
    "redis_streams_group_max_deliveries",
    "gauge",
    "deliveries",
    SG,
    "Monitor",
    "highest delivery count among pending entries (0 when nothing is pending)"
  ),
  consumers: def(
    "redis_streams_group_consumers",
    "gauge",
    "consumers",
    [...SG, "status"],
    "Monitor",
    "consumers registered in the group, by status (OK, IDLE, TOO_MANY_PENDING)"
  ),
  deadLetters: def(
    "redis_streams_group_dead_letters",
    "gauge",
    "entries",
    [...SG, "dead_letter_stream"],
    "Monitor",
    "entries in the group's dead-letter stream"
  ),
  consumerPending: def(
    "redis_streams_group_consumer_pending",
    "gauge",
    "entries",
    [...SG, "consumer"],
    "Monitor",
    "entries pending on one consumer (scrapes only)"
  ),
  consumerIdle: def(
    "redis_streams_group_consumer_idle_seconds",
    "gauge",
    "seconds",
    [...SG, "consumer"],
    "Monitor",
    "time since the consumer's last successful interaction (XINFO CONSUMERS inactive, else idle; scrapes only)"
  ),
  decision: def(
    "redis_streams_scaler_decision",
    "gauge",
    "1 or 0",
    [...SG, "decision"],
    "Scaler",
    "1 for the Scaler's current suggestion (OUT, IN, NO_SCALE), 0 for the others"
  ),
  recommended: def(
    "redis_streams_scaler_recommended_consumers",
    "gauge",
    "consumers",
    SG,
    "Scaler",
    "consumer count to run (scaling in waits for stabilization)"
  ),
  desired: def(
    "redis_streams_scaler_desired_consumers",
    "gauge",
    "consumers",
    SG,
    "Scaler",
    "consumer count the figures call for, before scale-in stabilization"
  ),
  active: def(
    "redis_streams_scaler_active_consumers",
    "gauge",
    "consumers",
    SG,
    "Scaler",
    "consumers idle no longer than the Scaler's idle threshold"
  ),
  backlogRatio: def(
    "redis_streams_scaler_backlog_ratio",
    "gauge",
    "ratio",
    SG,
    "Scaler",
    "the seed's rate divided by 100: lag / pending clamped to 0.01..1, 0 when nothing is pending"
  ),
  arrivalRate: def(
    "redis_streams_scaler_arrival_rate",
    "gauge",
    "entries per second",
    SG,
    "Scaler",
    "entries added to the stream per second, over the rate window (absent until two readings)"
  ),
  ackRate: def(
    "redis_streams_scaler_ack_rate",
    "gauge",
    "entries per second",
    SG,
    "Scaler",
    "entries acknowledged by the group per second, over the rate window (absent until two readings)"
  ),
  up: def("redis_streams_up", "gauge", "1 or 0", ["stream"], "serve", "1 when the stream could be read in this scrape"),
  streamLength: def("redis_streams_stream_length", "gauge", "entries", ["stream"], "serve", "entries in the stream"),
  entriesAdded: def(
    "redis_streams_stream_entries_added_total",
    "counter",
    "entries",
    ["stream"],
    "serve",
    "entries ever added to the stream (XINFO STREAM entries-added)"
  ),
  streamGroups: def("redis_streams_stream_groups", "gauge", "groups", ["stream"], "serve", "consumer groups of the stream"),
  scrapeDuration: def(
    "redis_streams_scrape_duration_seconds",
    "gauge",
    "seconds",
    [],
    "serve",
    "time taken to collect this scrape"
  )
} as const satisfies Record<string, Definition>

/**
 * The table as a list.
 *
 * @since 0.1.0
 * @category definitions
 */
export const table: ReadonlyArray<Definition> = Object.values(definitions)

/**
 * Whether a name is one of the library's metrics.
 *
 * @since 0.1.0
 * @category definitions
 */
export const isLibraryMetric = (name: string): boolean => names.has(name)

const names = new Set(table.map((d) => d.name))
const byName = new Map(table.map((d) => [d.name, d] as const))

/**
 * The definition of a library metric by name.
 *
 * @since 0.1.0
 * @category definitions
 */
export const definitionOf = (name: string): Definition | undefined => byName.get(name)

// ---------------------------------------------------------------------------
// the Effect metrics
// ---------------------------------------------------------------------------

const secondsBoundaries = MetricBoundaries.fromIterable([
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30
])
const batchBoundaries = MetricBoundaries.fromIterable([1, 2, 5, 10, 20, 50, 100, 200, 500, 1000])

const counterKey = (d: Definition) => MetricKey.counter(d.name, { description: d.help, incremental: true })
const gaugeKey = (d: Definition) => MetricKey.gauge(d.name, { description: d.help })
const histogramKey = (d: Definition, boundaries: MetricBoundaries.MetricBoundaries) =>
  MetricKey.histogram(d.name, boundaries, d.help)

const keys = {
  received: counterKey(definitions.received),
  processed: counterKey(definitions.processed),
  failed: counterKey(definitions.failed),
  deadLettered: counterKey(definitions.deadLettered),
  reclaimed: counterKey(definitions.reclaimed),
  handlerDuration: histogramKey(definitions.handlerDuration, secondsBoundaries),
  ackLatency: histogramKey(definitions.ackLatency, secondsBoundaries),
  batchSize: histogramKey(definitions.batchSize, batchBoundaries),
  added: counterKey(definitions.added),
  addDuration: histogramKey(definitions.addDuration, secondsBoundaries)
}

/**
 * The Consumer's metrics, untagged (tag them with `stream` and `group`, or
 * use `consumer`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const consumerMetrics = {
  received: Metric.fromMetricKey(keys.received),
  processed: Metric.fromMetricKey(keys.processed),
  failed: Metric.fromMetricKey(keys.failed),
  deadLettered: Metric.fromMetricKey(keys.deadLettered),
  reclaimed: Metric.fromMetricKey(keys.reclaimed),
  handlerDuration: Metric.fromMetricKey(keys.handlerDuration),
  ackLatency: Metric.fromMetricKey(keys.ackLatency),
  batchSize: Metric.fromMetricKey(keys.batchSize)
} as const

/**
 * The Producer's metrics, untagged.
 *
 * @since 0.1.0
 * @category metrics
 */
export const producerMetrics = {
  added: Metric.fromMetricKey(keys.added),
  addDuration: Metric.fromMetricKey(keys.addDuration)
} as const

/**
 * Why a message was dead-lettered.
 *
 * @since 0.1.0
 * @category models
 */
export type DeadLetterReason = "max_deliveries" | "decode" | "poison" | "oversize"

/**
 * A metric whose key carries its tags (so an update finds its hook without
 * building a tagged key: no allocation per update).
 */
const taggedMetric = <Type extends MetricKeyType.MetricKeyType<any, any>>(
  key: MetricKey.MetricKey<Type>,
  tags: Record<string, string>
) =>
  Metric.fromMetricKey(
    MetricKey.taggedWithLabels(key, Object.entries(tags).map(([k, v]) => MetricLabel.make(k, v)))
  )

/**
 * The Consumer's instruments for one stream and group: plain synchronous
 * functions, to call from inside the worker's own effects (`Effect.sync`, a
 * `tap`), costing a counter or histogram update each, without an `Effect` or
 * any allocation per message. They ignore fiber-level metric tags
 * (`Effect.tagMetrics`): the tags are `stream` and `group` (and `reason`).
 *
 * @since 0.1.0
 * @category models
 */
export interface ConsumerInstruments {
  readonly stream: string
  readonly group: string
  /** `count` messages handed to the application (after a read, a reclaim or a redelivery) */
  readonly received: (count: number) => void
  /** `count` handlers succeeded */
  readonly processed: (count: number) => void
  /** `count` handlers failed (the messages stay pending) */
  readonly failed: (count: number) => void
  /** `count` messages dead-lettered for `reason` */
  readonly deadLettered: (reason: DeadLetterReason, count: number) => void
  /** `count` entries reclaimed from idle consumers */
  readonly reclaimed: (count: number) => void
  /** one handler ran for `seconds` */
  readonly handlerDuration: (seconds: number) => void
  /** one message's acknowledgement replied `seconds` after its handler succeeded */
  readonly ackLatency: (seconds: number) => void
  /** one read handed out `size` messages */
  readonly batchSize: (size: number) => void
}

/**
 * The Consumer's instruments for a stream and group (build once per
 * Consumer, not per message). Every series is registered at once, at 0.
 *
 * @since 0.1.0
 * @category constructors
 */
export const consumer = (stream: string, group: string): ConsumerInstruments => {
  const tags = { stream, group }
  const received = taggedMetric(keys.received, tags)
  const processed = taggedMetric(keys.processed, tags)
  const failed = taggedMetric(keys.failed, tags)
  const reclaimed = taggedMetric(keys.reclaimed, tags)
  const handlerDuration = taggedMetric(keys.handlerDuration, tags)
  const ackLatency = taggedMetric(keys.ackLatency, tags)
  const batchSize = taggedMetric(keys.batchSize, tags)
  const deadLettered = {
    max_deliveries: taggedMetric(keys.deadLettered, { ...tags, reason: "max_deliveries" }),
    decode: taggedMetric(keys.deadLettered, { ...tags, reason: "decode" }),
    poison: taggedMetric(keys.deadLettered, { ...tags, reason: "poison" }),
    oversize: taggedMetric(keys.deadLettered, { ...tags, reason: "oversize" })
  }
  const none: ReadonlyArray<MetricLabel.MetricLabel> = []
  // every series exists from the start, at 0 (a rate over a series that appears late misses its first counts)
  for (const m of [received, processed, failed, reclaimed, handlerDuration, ackLatency, batchSize]) m.unsafeValue(none)
  for (const m of Object.values(deadLettered)) m.unsafeValue(none)
  return {
    stream,
    group,
    received: (n) => received.unsafeUpdate(n, none),
    processed: (n) => processed.unsafeUpdate(n, none),
    failed: (n) => failed.unsafeUpdate(n, none),
    deadLettered: (reason, n) => deadLettered[reason].unsafeUpdate(n, none),
    reclaimed: (n) => reclaimed.unsafeUpdate(n, none),
    handlerDuration: (s) => handlerDuration.unsafeUpdate(s, none),
    ackLatency: (s) => ackLatency.unsafeUpdate(s, none),
    batchSize: (n) => batchSize.unsafeUpdate(n, none)
  }
}

/**
 * The Producer's instruments for a stream.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProducerInstruments {
  /** `count` messages were added */
  readonly added: (count: number) => void
  /** one `add` (or `addAll`) call took `seconds` */
  readonly addDuration: (operation: "add" | "addAll", seconds: number) => void
}

/**
 * The Producer's instruments for a stream.
 *
 * @since 0.1.0
 * @category constructors
 */
export const producer = (stream: string): ProducerInstruments => {
  const added = taggedMetric(keys.added, { stream })
  const durations = {
    add: taggedMetric(keys.addDuration, { stream, operation: "add" }),
    addAll: taggedMetric(keys.addDuration, { stream, operation: "addAll" })
  }
  const none: ReadonlyArray<MetricLabel.MetricLabel> = []
  for (const m of [added, durations.add, durations.addAll]) m.unsafeValue(none)
  return {
    added: (n) => added.unsafeUpdate(n, none),
    addDuration: (operation, s) => durations[operation].unsafeUpdate(s, none)
  }
}

// ---------------------------------------------------------------------------
// gauges as pairs (one reading, rendered or published)
// ---------------------------------------------------------------------------

/**
 * One gauge sample (or, for a `counter` definition, a counter read from
 * Redis) as an Effect `MetricPair`, named and described by its definition.
 *
 * @since 0.1.0
 * @category pairs
 */
export const pair = (
  definition: Definition,
  tags: Readonly<Record<string, string>>,
  value: number
): MetricPair.MetricPair.Untyped => {
  const labels = Object.entries(tags).map(([k, v]) => MetricLabel.make(k, v))
  return definition.type === "counter"
    ? MetricPair.unsafeMake(
      MetricKey.taggedWithLabels(MetricKey.counter(definition.name, { description: definition.help }), labels),
      MetricState.counter(value)
    )
    : MetricPair.unsafeMake(
      MetricKey.taggedWithLabels(gaugeKey(definition), labels),
      MetricState.gauge(value)
    )
}

/**
 * Set the gauges of `pairs` in Effect's metric registry (what
 * `Monitor.report` and `Scaler.decide` do with their readings). Pairs that
 * are not gauges are ignored.
 *
 * @since 0.1.0
 * @category pairs
 */
export const publish = (pairs: Iterable<MetricPair.MetricPair.Untyped>): Effect.Effect<void> =>
  Effect.sync(() => {
    for (const p of pairs) {
      if (MetricState.isGaugeState(p.metricState)) {
        Metric.fromMetricKey(p.metricKey as MetricKey.MetricKey.Gauge<number>).unsafeUpdate(
          p.metricState.value as number,
          []
        )
      }
    }
  })

// ---------------------------------------------------------------------------
// Prometheus
// ---------------------------------------------------------------------------

/**
 * The content type of the Prometheus text format.
 *
 * @since 0.1.0
 * @category prometheus
 */
export const contentType: string = internalPrometheus.contentType

/**
 * Render metric pairs (from `Metric.snapshot`, `Monitor.metricPairs`,
 * `Scaler.metricPairs`, in any mix) in the Prometheus text format 0.0.4.
 * Families appear in order of first appearance; a series already written is
 * skipped (the first wins), so fresh readings placed first take precedence
 * over the registry's. Label values are escaped as the format requires.
 *
 * @since 0.1.0
 * @category prometheus
 */
export const render: (pairs: Iterable<MetricPair.MetricPair.Untyped>) => string = internalPrometheus.render

/**
 * The library's metrics in Effect's registry, as Prometheus text (what a
 * worker process exposes on its own `/metrics`); `all: true` renders every
 * metric of the registry, the application's too.
 *
 * @since 0.1.0
 * @category prometheus
 */
export const prometheus = (options?: { readonly all?: boolean | undefined }): Effect.Effect<string> =>
  Effect.map(Metric.snapshot, (pairs) =>
    render(options?.all === true ? pairs : pairs.filter((p) => isLibraryMetric(p.metricKey.name))))

/**
 * The HTTP endpoints of `serve`:
 *
 * - `GET /metrics`: Prometheus text format (see `Prometheus`). Per stream:
 *   `redis_streams_up` (1 when the stream could be read), length, entries
 *   added, groups and dead letters; per group: lag, pending, consumers
 *   (registered and active), oldest pending age, highest delivery count,
 *   arrival and acknowledgement rates (entries per second since an earlier
 *   scrape, within the rate window; absent until there is one), the seed's
 *   rate, decision and the desired consumer count; per consumer: idle
 *   seconds, pending and status. A stream that cannot be read (missing,
 *   Redis down) gives `redis_streams_up{stream} 0` and still a 200 reply.
 * - `GET /scale?stream=S&group=G`: the Scaler's decision as JSON
 *   (`Scaler.toJson`: backlog, pending, consumers, rate, decision,
 *   recommended, ...), for KEDA's metrics-api trigger with
 *   `valueLocation: recommended` (or `backlog`). `stream` may be left out
 *   when one stream is served, `group` when `--group` is set or the stream
 *   has one group. The Scaler of each group lives as long as the server, so
 *   rates come from successive requests and scaling in waits for
 *   `scaleInStabilization` consecutive low readings (3). Errors: 400 (which
 *   stream or group is ambiguous), 404 (not served, or missing), 503 (Redis
 *   unreachable), each with `{"error": "..."}`.
 * - `GET /healthz`: 200 `{"status":"ok"}` when Redis answers PING within 2
 *   seconds, else 503 `{"status":"unavailable","error":"..."}`.
 *
 * Nothing is created in Redis: the Monitor and the Scaler only read.
 *
 * @since 0.1.0
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as SynchronizedRef from "effect/SynchronizedRef"
import { Monitor, RedisConnection, Scaler, StreamsBackend, StreamsError } from "effect-redis-streams"
import * as Prometheus from "./Prometheus.js"

/**
 * What the server watches and how.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly streams: ReadonlyArray<string>
  /** the group `/scale` answers for when the request names none */
  readonly group?: string | undefined
  readonly idleThreshold: Duration.DurationInput
  readonly pendingThreshold?: number | undefined
  /** Scaler options (thresholds, target, bounds) */
  readonly scaler: Omit<Scaler.Options, "stream" | "group">
}

/**
 * A reply: status and JSON body.
 *
 * @since 0.1.0
 * @category models
 */
export interface JsonReply {
  readonly status: number
  readonly body: unknown
}

/**
 * The collector behind the endpoints.
 *
 * @since 0.1.0
 * @category models
 */
export interface Collector {
  /** the `/metrics` text; never fails */
  readonly metrics: Effect.Effect<string>
  /** the `/scale` reply for the query parameters */
  readonly scale: (stream: string | undefined, group: string | undefined) => Effect.Effect<JsonReply>
  /** the `/healthz` reply */
  readonly health: Effect.Effect<JsonReply>
}

const families = [
  { name: "redis_streams_up", type: "gauge", help: "1 when the stream could be read in this scrape, else 0" },
  { name: "redis_streams_stream_length", type: "gauge", help: "entries in the stream (XLEN)" },
  {
    name: "redis_streams_stream_entries_added_total",
    type: "counter",
    help: "entries ever added to the stream (XINFO STREAM entries-added)"
  },
  { name: "redis_streams_stream_groups", type: "gauge", help: "consumer groups of the stream" },
  { name: "redis_streams_dead_letters", type: "gauge", help: "entries in the dead-letter stream" },
  { name: "redis_streams_group_lag", type: "gauge", help: "entries not yet delivered to the group" },
  {
    name: "redis_streams_group_lag_exact",
    type: "gauge",
    help: "1 when redis_streams_group_lag is exact, 0 when it is a lower bound"
  },
  { name: "redis_streams_group_pending", type: "gauge", help: "entries delivered to the group, not yet acknowledged" },
  { name: "redis_streams_group_consumers", type: "gauge", help: "consumers registered in the group" },
  {
    name: "redis_streams_group_active_consumers",
    type: "gauge",
    help: "consumers idle no longer than the idle threshold"
  },
  {
    name: "redis_streams_group_oldest_pending_age_seconds",
    type: "gauge",
    help: "age of the oldest pending entry (0 when nothing is pending)"
  },
  {
    name: "redis_streams_group_max_deliveries",
    type: "gauge",
    help: "highest delivery count among pending entries (0 when nothing is pending)"
  },
  {
    name: "redis_streams_group_arrival_rate",
    type: "gauge",
    help: "entries added to the stream per second, since an earlier scrape within the rate window"
  },
  {
    name: "redis_streams_group_ack_rate",
    type: "gauge",
    help: "entries acknowledged by the group per second, since an earlier scrape within the rate window"
  },
  {
    name: "redis_streams_group_scale_rate",
    type: "gauge",
    help: "the seed's rate: 100 * lag / pending clamped to 1..100, 0 when nothing is pending"
  },
  {
    name: "redis_streams_group_scale_decision",
    type: "gauge",
    help: "1 for the current scaling suggestion (OUT, IN, NO_SCALE), 0 for the others"
  },
  {
    name: "redis_streams_group_desired_consumers",
    type: "gauge",
    help: "consumer count the figures call for (before scale-in stabilization)"
  },
  {
    name: "redis_streams_consumer_idle_seconds",
    type: "gauge",
    help: "time since the consumer's last successful interaction (XINFO CONSUMERS inactive, else idle)"
  },
  { name: "redis_streams_consumer_pending", type: "gauge", help: "entries pending on the consumer" },
  {
    name: "redis_streams_consumer_status",
    type: "gauge",
    help: "1 for the consumer's status (OK, IDLE, TOO_MANY_PENDING), 0 for the others"
  },
  { name: "redis_streams_scrape_duration_seconds", type: "gauge", help: "time taken to collect these metrics" }
] as const

const decisions: ReadonlyArray<Scaler.ScaleDecision> = ["OUT", "IN", "NO_SCALE"]
const statuses: ReadonlyArray<Monitor.ConsumerStatus> = ["OK", "IDLE", "TOO_MANY_PENDING"]

const statusOf = (e: StreamsError.BackendError): number => {
  switch (e._tag) {
    case "StreamNotFound":
    case "GroupNotFound":
      return 404
    case "RedisConnectionError":
      return 503
    default:
      return 500
  }
}

/**
 * Build the collector: a Monitor per stream, a Scaler per group met
 * (created on first use, kept for the rates and the stabilization).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeCollector = (
  options: Options
): Effect.Effect<
  Collector,
  StreamsError.InvalidOptions,
  StreamsBackend.StreamsBackend | RedisConnection.RedisConnection | Scope.Scope
> =>
  Effect.gen(function*() {
    const backend = yield* StreamsBackend.StreamsBackend
    const connection = yield* RedisConnection.RedisConnection
    const scope = yield* Effect.scope
    // validate the Scaler options once, before serving
    yield* Scaler.resolveOptions({ stream: "validation", group: "validation", ...options.scaler })
    const monitors = new Map<string, Monitor.Service>()
    for (const stream of options.streams) {
      monitors.set(
        stream,
        yield* Monitor.make({
          stream,
          idleThreshold: options.idleThreshold,
          pendingThreshold: options.pendingThreshold
        })
      )
    }
    const scalers = yield* SynchronizedRef.make(new Map<string, Scaler.Service>())
    const scalerOf = (stream: string, group: string): Effect.Effect<Scaler.Service, StreamsError.InvalidOptions> =>
      SynchronizedRef.modifyEffect(scalers, (map) => {
        const key = JSON.stringify([stream, group])
        const existing = map.get(key)
        if (existing !== undefined) return Effect.succeed([existing, map] as const)
        return Scaler.make({ stream, group, ...options.scaler }).pipe(
          Effect.provideService(StreamsBackend.StreamsBackend, backend),
          Scope.extend(scope),
          Effect.map((s) => [s, new Map(map).set(key, s)] as const)
        )
      })

    const collectStream = (
      stream: string,
      monitor: Monitor.Service,
      registry: ReturnType<typeof Prometheus.registry<(typeof families)[number]["name"]>>
    ) =>
      Effect.gen(function*() {
        const s = { stream }
        const [info, report] = yield* Effect.all([backend.streamInfo(stream), monitor.report], {
          concurrency: "unbounded"
        })
        registry.add("redis_streams_stream_length", s, info.length)
        registry.add("redis_streams_stream_entries_added_total", s, info.entriesAdded)
        registry.add("redis_streams_stream_groups", s, report.groups.length)
        const deadLetterStreams = new Map<string, number>()
        for (const g of report.groups) deadLetterStreams.set(g.deadLetterStream, g.deadLetters)
        if (report.groups.length === 0) {
          const name = monitor.options.deadLetterStream("")
          deadLetterStreams.set(name, yield* backend.length(name))
        }
        for (const [name, length] of deadLetterStreams) {
          registry.add("redis_streams_dead_letters", { stream, dead_letter_stream: name }, length)
        }
        for (const g of report.groups) {
          const sg = { stream, group: g.name }
          registry.add("redis_streams_group_lag", sg, g.lag)
          registry.add("redis_streams_group_lag_exact", sg, g.lagExact ? 1 : 0)
          registry.add("redis_streams_group_pending", sg, g.pending)
          registry.add("redis_streams_group_consumers", sg, g.consumers.length)
          registry.add("redis_streams_group_oldest_pending_age_seconds", sg, (g.oldestPendingAgeMs ?? 0) / 1000)
          registry.add("redis_streams_group_max_deliveries", sg, g.maxDeliveries ?? 0)
          for (const c of g.consumers) {
            const sgc = { stream, group: g.name, consumer: c.name }
            registry.add("redis_streams_consumer_idle_seconds", sgc, c.idleMs / 1000)
            registry.add("redis_streams_consumer_pending", sgc, c.pending)
            for (const status of statuses) {
              registry.add("redis_streams_consumer_status", { ...sgc, status }, c.status === status ? 1 : 0)
            }
          }
          // the Scaler's reading (rates between scrapes); a group deleted meanwhile is skipped
          const scaler = yield* scalerOf(stream, g.name)
          const m = yield* Effect.option(scaler.metrics)
          if (m._tag === "None") continue
          const metrics = m.value
          const rate = Scaler.rate(metrics.backlog, metrics.pending)
          const decision = Scaler.decision(
            { rate, backlog: metrics.backlog, consumers: metrics.consumers },
            scaler.options.thresholds
          )
          registry.add("redis_streams_group_active_consumers", sg, metrics.consumers)
          registry.add("redis_streams_group_arrival_rate", sg, metrics.arrivalRate)
          registry.add("redis_streams_group_ack_rate", sg, metrics.ackRate)
          registry.add("redis_streams_group_scale_rate", sg, rate)
          for (const d of decisions) {
            registry.add("redis_streams_group_scale_decision", { ...sg, decision: d }, d === decision ? 1 : 0)
          }
          registry.add("redis_streams_group_desired_consumers", sg, Scaler.recommend(metrics, scaler.options).desired)
        }
      })

    const lastErrors = new Map<string, string>()
    const metrics: Effect.Effect<string> = Effect.gen(function*() {
      const started = yield* Clock.currentTimeMillis
      const registry = Prometheus.registry(families.map((f) => ({ ...f })))
      yield* Effect.forEach(
        Array.from(monitors),
        ([stream, monitor]) =>
          collectStream(stream, monitor, registry).pipe(
            Effect.zipRight(Effect.sync(() => lastErrors.delete(stream))),
            Effect.as(1),
            Effect.catchAll((e) => {
              // log a failure when it starts or changes, not on every scrape
              const text = e.message
              if (lastErrors.get(stream) === text) return Effect.succeed(0)
              lastErrors.set(stream, text)
              return Effect.as(Effect.logWarning(`/metrics: stream '${stream}': ${text}`), 0)
            }),
            Effect.flatMap((up) => Effect.sync(() => registry.add("redis_streams_up", { stream }, up)))
          ),
        { concurrency: "unbounded", discard: true }
      )
      const ended = yield* Clock.currentTimeMillis
      registry.add("redis_streams_scrape_duration_seconds", {}, (ended - started) / 1000)
      return Prometheus.render(registry.families())
    })

    const scale = (streamParam: string | undefined, groupParam: string | undefined): Effect.Effect<JsonReply> =>
      Effect.gen(function*() {
        let stream = streamParam
        if (stream === undefined || stream === "") {
          if (options.streams.length !== 1) {
            return {
              status: 400,
              body: { error: `several streams are served (${options.streams.join(", ")}): add ?stream=<name>` }
            }
          }
          stream = options.streams[0]!
        }
        if (!monitors.has(stream)) {
          return {
            status: 404,
            body: { error: `stream '${stream}' is not served (served: ${options.streams.join(", ")})` }
          }
        }
        let group = groupParam !== undefined && groupParam !== "" ? groupParam : options.group
        if (group === undefined) {
          const groups = yield* backend.groupsInfo(stream)
          if (groups.length !== 1) {
            return {
              status: groups.length === 0 ? 404 : 400,
              body: {
                error: groups.length === 0
                  ? `stream '${stream}' has no consumer groups`
                  : `stream '${stream}' has several groups (${groups.map((g) => g.name).join(", ")}): add &group=<name>`
              }
            }
          }
          group = groups[0]!.name
        }
        const scaler = yield* scalerOf(stream, group)
        const decision = yield* scaler.decide
        return { status: 200, body: Scaler.toJson(decision) }
      }).pipe(
        Effect.catchAll((e): Effect.Effect<JsonReply> =>
          Effect.succeed({
            status: e._tag === "InvalidOptions" ? 400 : statusOf(e),
            body: {
              error: e._tag === "StreamNotFound"
                ? `stream '${e.stream}' does not exist`
                : e._tag === "GroupNotFound"
                ? `consumer group '${e.group}' does not exist on stream '${e.stream}'`
                : e.message
            }
          })
        )
      )

    const health: Effect.Effect<JsonReply> = Effect.tryPromise({
      try: () => connection.client.ping(),
      catch: (e) => (e instanceof Error ? e.message : String(e))
    }).pipe(
      Effect.timeoutFail({ duration: Duration.seconds(2), onTimeout: () => "no reply to PING within 2 seconds" }),
      Effect.match({
        onFailure: (error) => ({
          status: 503,
          body: { status: "unavailable", redis: connection.endpoint, error }
        }),
        onSuccess: () => ({ status: 200, body: { status: "ok", redis: connection.endpoint } })
      })
    )

    return { metrics, scale, health }
  })

const jsonResponse = (reply: JsonReply) =>
  HttpServerResponse.text(JSON.stringify(reply.body) + "\n", {
    status: reply.status,
    contentType: "application/json; charset=utf-8"
  })

/**
 * The routes over a collector.
 *
 * @since 0.1.0
 * @category routes
 */
export const router = (collector: Collector) =>
  HttpRouter.empty.pipe(
    HttpRouter.get(
      "/metrics",
      Effect.map(collector.metrics, (text) => HttpServerResponse.text(text, { contentType: Prometheus.contentType }))
    ),
    HttpRouter.get(
      "/scale",
      Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
        const params = new URL(request.url, "http://localhost").searchParams
        return Effect.map(
          collector.scale(params.get("stream") ?? undefined, params.get("group") ?? undefined),
          jsonResponse
        )
      })
    ),
    HttpRouter.get("/healthz", Effect.map(collector.health, jsonResponse))
  )

/**
 * The server as a layer over an `HttpServer` (e.g. `NodeHttpServer.layer`):
 * builds the collector, serves the routes, and runs `onListening` with the
 * address once it listens.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options,
  onListening: (address: string) => Effect.Effect<void>
): Layer.Layer<
  never,
  StreamsError.InvalidOptions,
  HttpServer.HttpServer | StreamsBackend.StreamsBackend | RedisConnection.RedisConnection
> =>
  Layer.unwrapScoped(
    Effect.map(makeCollector(options), (collector) =>
      Layer.merge(
        HttpServer.serve(router(collector)),
        Layer.effectDiscard(HttpServer.addressFormattedWith(onListening))
      ))
  )

/**
 * The HTTP endpoints of `serve`:
 *
 * - `GET /metrics`: Prometheus text format, rendered by the library's one
 *   formatter (`Metrics.render`) with the library's names only (the table in
 *   `Metrics`). Per stream: `redis_streams_up` (1 when the stream could be
 *   read), length, entries added, groups; per group the Monitor's gauges
 *   (`Monitor.metricPairs`: lag, pending, oldest pending age in seconds,
 *   highest delivery count, consumers by status, dead letters, per consumer
 *   pending and idle seconds) and the Scaler's (`Scaler.metricPairs`:
 *   decision, recommended / desired / active consumers, the seed's rate as a
 *   ratio, arrival and acknowledgement rates from the second scrape on);
 *   then whatever this process's own Consumers and Producers counted. The
 *   Scaler decides on the Monitor's reading (`Scaler.Service.observe`), so a
 *   scrape of a stream with G groups and D dead-letter streams costs
 *   2 + D + 2G round trips (XINFO STREAM, XINFO GROUPS, an XLEN per
 *   dead-letter stream, per group XINFO CONSUMERS and XPENDING when
 *   something is pending), plus one bounded XRANGE per group whose lag the
 *   server does not report. A stream that cannot be read (missing, Redis
 *   down) gives `redis_streams_up{stream} 0` and still a 200 reply.
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
 * - `GET /`: the dashboard (`dashboard/page.ts`), a view over its JSON API:
 *   `GET /api/config`, `/api/overview`, `/api/pending`, `/api/dead-letters`
 *   (`Dashboard`) and `POST /api/actions/replay|purge|cleanup` (`Actions`,
 *   off unless `--allow-actions`, with a token).
 *
 * Nothing is created in Redis: the Monitor and the Scaler only read (the
 * actions, when allowed, replay and purge dead letters and clean up dead
 * consumers).
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
import * as Metric from "effect/Metric"
import type * as MetricPair from "effect/MetricPair"
import { Metrics, Monitor, RedisConnection, Scaler, StreamsBackend, StreamsError } from "effect-redis-streams"
import * as Option from "effect/Option"
import * as Actions from "./Actions.js"
import * as Dashboard from "./Dashboard.js"
import * as Page from "./dashboard/page.js"
import * as Watched from "./Watched.js"

/**
 * What the server watches and how.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends Watched.Options {
  /** the group `/scale` answers for when the request names none */
  readonly group?: string | undefined
  /** Scaler options (thresholds, target, bounds) */
  readonly scaler: Omit<Scaler.Options, "stream" | "group">
  /** serve the dashboard (`/`, `/api/...`) with these action settings; without it, only the three endpoints */
  readonly dashboard?: (Actions.Options & { readonly loopbackOnly?: boolean | undefined }) | undefined
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
  /** the watched streams and their Monitors */
  readonly watched: Watched.Watched
}

const d = Metrics.definitions
const tableIndex = new Map(Metrics.table.map((def, i) => [def.name, i] as const))

/** families in the order of the library's table (a stable sort: series keep their order) */
const inTableOrder = (pairs: Array<MetricPair.MetricPair.Untyped>) =>
  pairs.sort((a, b) =>
    (tableIndex.get(a.metricKey.name) ?? Infinity) - (tableIndex.get(b.metricKey.name) ?? Infinity)
  )

/** the `/healthz` reply: PING within 2 seconds */
const health = (connection: RedisConnection.RedisConnection["Type"]): Effect.Effect<JsonReply> =>
  Effect.tryPromise({
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

/** what `/scale` needs */
interface ScaleEnv {
  readonly options: Options
  readonly watched: Watched.Watched
  readonly backend: StreamsBackend.StreamsBackend["Type"]
  readonly scalerOf: (stream: string, group: string) => Effect.Effect<Scaler.Service, StreamsError.InvalidOptions>
}

/** the `/scale` reply for the query parameters: the Scaler's decision, or which parameter is missing */
const scaleReply = ({ backend, options, scalerOf, watched }: ScaleEnv) =>
(streamParam: string | undefined, groupParam: string | undefined): Effect.Effect<JsonReply> =>
  Effect.gen(function*() {
    let stream = streamParam
    const served = (yield* watched.list).streams
    if (stream === undefined || stream === "") {
      if (served.length !== 1) {
        return {
          status: 400,
          body: { error: `several streams are served (${watched.describe}): add ?stream=<name>` }
        }
      }
      stream = served[0]!
    }
    if (!served.includes(stream)) {
      return {
        status: 404,
        body: { error: `stream '${stream}' is not served (served: ${watched.describe})` }
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
        status: Dashboard.statusOf(e),
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
    const watched = yield* Watched.make(options)
    const scalerOf = yield* Watched.makeScalers(options.scaler)

    const collectStream = (stream: string, monitor: Monitor.Service) =>
      Effect.gen(function*() {
        const observation = yield* monitor.observe
        const s = { stream }
        const pairs = [
          Metrics.pair(d.up, s, 1),
          Metrics.pair(d.streamLength, s, observation.stream.length),
          Metrics.pair(d.entriesAdded, s, observation.stream.entriesAdded),
          Metrics.pair(d.streamGroups, s, observation.groups.length),
          ...Monitor.metricPairs(observation.report)
        ]
        // the Scaler of each group decides on the same reading: no more round trips
        for (const g of observation.groups) {
          const scaler = yield* scalerOf(stream, g.info.name)
          const reading = { at: observation.report.at, stream: observation.stream, ...g, group: g.info }
          pairs.push(...Scaler.metricPairs(yield* scaler.observe(reading)))
        }
        return pairs
      })

    const lastErrors = new Map<string, string>()
    const collectOrDown = (stream: string, monitor: Monitor.Service) =>
      collectStream(stream, monitor).pipe(
        Effect.tap(() => Effect.sync(() => lastErrors.delete(stream))),
        Effect.catchAll((e) => {
          // log a failure when it starts or changes, not on every scrape
          const down = [Metrics.pair(d.up, { stream }, 0)]
          const text = e.message
          if (lastErrors.get(stream) === text) return Effect.succeed(down)
          lastErrors.set(stream, text)
          return Effect.as(Effect.logWarning(`/metrics: stream '${stream}': ${text}`), down)
        })
      )

    // when a --match scan fails (Redis down), the named streams are still reported (as down)
    const streamsNow = Effect.map(
      Effect.orElseSucceed(watched.list, () => ({ streams: options.streams, truncated: false })),
      (l) => l.streams
    )
    const metrics: Effect.Effect<string> = Effect.gen(function*() {
      const started = yield* Clock.currentTimeMillis
      const fresh = yield* Effect.forEach(
        yield* streamsNow,
        (stream) =>
          Effect.flatMap(
            Effect.orDie(watched.monitorOf(stream)), // validated at start
            (monitor) => collectOrDown(stream, monitor)
          ),
        { concurrency: "unbounded" }
      )
      const ended = yield* Clock.currentTimeMillis
      // what this process's own Consumers and Producers counted (none, unless serve runs inside the app)
      const processPairs = (yield* Metric.snapshot).filter((p) => {
        const source = Metrics.definitionOf(p.metricKey.name)?.source
        return source === "Consumer" || source === "Producer"
      })
      return Metrics.render(inTableOrder([
        ...fresh.flat(),
        Metrics.pair(d.scrapeDuration, {}, (ended - started) / 1000),
        ...processPairs
      ]))
    })

    const scale = scaleReply({ options, watched, backend, scalerOf })

    return { metrics, scale, health: health(connection), watched }
  })

const jsonResponse = (reply: JsonReply) =>
  HttpServerResponse.text(JSON.stringify(reply.body) + "\n", {
    status: reply.status,
    contentType: "application/json; charset=utf-8"
  })

/** the query parameters of the request */
const paramsOf = (request: HttpServerRequest.HttpServerRequest) => new URL(request.url, "http://localhost").searchParams

const asset = (body: string, contentType: string) =>
  HttpServerResponse.text(body, { contentType, headers: Page.headers })

/** the dashboard's API replies also carry the page's security headers */
const apiResponse = (reply: JsonReply) =>
  HttpServerResponse.text(JSON.stringify(reply.body) + "\n", {
    status: reply.status,
    contentType: "application/json; charset=utf-8",
    headers: Page.headers
  })

/** `POST /api/actions/:action`: the request's parts for `Actions.run` */
const actionRoute = (dashboard: DashboardEnv) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const { action } = yield* HttpRouter.params
    const body = yield* Effect.orElseSucceed(request.text, () => "")
    const reply = yield* Actions.run(dashboard.watched, dashboard.actions, {
      action: action ?? "",
      headers: request.headers,
      body,
      remote: Option.getOrElse(request.remoteAddress, () => "unknown")
    }).pipe(Effect.provideService(StreamsBackend.StreamsBackend, dashboard.backend))
    return apiResponse(reply)
  })

/**
 * What the dashboard routes need.
 *
 * @since 0.1.0
 * @category models
 */
export interface DashboardEnv {
  readonly api: Dashboard.Api
  readonly watched: Watched.Watched
  readonly actions: Actions.Options
  readonly backend: StreamsBackend.StreamsBackend["Type"]
  /** serving on a loopback address: answer only requests addressed to a loopback name */
  readonly loopbackOnly: boolean
}

/**
 * The routes over a collector, and the dashboard's when given.
 *
 * @since 0.1.0
 * @category routes
 */
export const router = (collector: Collector, dashboard?: DashboardEnv) => {
  const base = HttpRouter.empty.pipe(
    HttpRouter.get(
      "/metrics",
      Effect.map(collector.metrics, (text) => HttpServerResponse.text(text, { contentType: Metrics.contentType }))
    ),
    HttpRouter.get(
      "/scale",
      Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
        const params = paramsOf(request)
        return Effect.map(
          collector.scale(params.get("stream") ?? undefined, params.get("group") ?? undefined),
          jsonResponse
        )
      })
    ),
    HttpRouter.get("/healthz", Effect.map(collector.health, jsonResponse))
  )
  if (dashboard === undefined) return base
  const { api } = dashboard
  const guard = guardHost(dashboard.loopbackOnly)
  const withParams = (f: (params: URLSearchParams) => Effect.Effect<JsonReply>) =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => Effect.map(f(paramsOf(request)), apiResponse))
  return base.pipe(
    HttpRouter.get("/", guard(Effect.succeed(asset(Page.html, "text/html; charset=utf-8")))),
    HttpRouter.get("/dashboard.js", guard(Effect.succeed(asset(Page.js, "text/javascript; charset=utf-8")))),
    HttpRouter.get("/dashboard.css", guard(Effect.succeed(asset(Page.css, "text/css; charset=utf-8")))),
    HttpRouter.get("/favicon.ico", Effect.succeed(HttpServerResponse.empty({ status: 204 }))),
    HttpRouter.get(
      "/api/config",
      guard(Effect.succeed(apiResponse({
        status: 200,
        body: { actions: dashboard.actions.allowActions, match: dashboard.watched.options.match?.pattern ?? null }
      })))
    ),
    HttpRouter.get("/api/overview", guard(withParams(api.overview))),
    HttpRouter.get("/api/pending", guard(withParams(api.pending))),
    HttpRouter.get("/api/dead-letters", guard(withParams(api.deadLetters))),
    HttpRouter.post("/api/actions/:action", guard(actionRoute(dashboard)))
  )
}

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "[::1]"])

/** the host name of a Host header (without the port; an IPv6 address keeps its brackets) */
const hostName = (host: string): string =>
  host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : host.split(":")[0]!

/**
 * When serving on a loopback address, the dashboard answers only requests
 * addressed to a loopback name: a page of another site that rebinds its own
 * name to 127.0.0.1 (DNS rebinding) gets a 403 instead of the data.
 */
const guardHost = (loopbackOnly: boolean) =>
<E, R>(route: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
  loopbackOnly
    ? Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      const host = request.headers["host"] ?? ""
      return LOOPBACK_NAMES.has(hostName(host).toLowerCase())
        ? route
        : Effect.succeed(apiResponse(refuseHost(host)))
    })
    : route

const refuseHost = (host: string): JsonReply => ({
  status: 403,
  body: { error: `serve listens on a loopback address: requests must be addressed to localhost or 127.0.0.1, not '${host}'` }
})

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
    Effect.gen(function*() {
      const collector = yield* makeCollector(options)
      const backend = yield* StreamsBackend.StreamsBackend
      const dashboard: DashboardEnv | undefined = options.dashboard === undefined ? undefined : {
        api: yield* Dashboard.make(collector.watched, { scaler: options.scaler }),
        watched: collector.watched,
        actions: options.dashboard,
        backend,
        loopbackOnly: options.dashboard.loopbackOnly === true
      }
      return Layer.merge(
        HttpServer.serve(router(collector, dashboard)),
        Layer.effectDiscard(HttpServer.addressFormattedWith(onListening))
      )
    })
  )

/**
 * The dashboard's JSON API (`serve` answers it under `/api/...`; the page at
 * `/` is a view over it). Every figure comes from the library: the Monitor's
 * observation (`Monitor.Service.observe`), the Scaler's decision on the same
 * reading (`Scaler.Service.observe`), the port's XPENDING
 * (`StreamsBackend.pending`) and the dead-letter API (`DeadLetter.list`,
 * `find`, `replay`, `purge`); this module only picks parameters and shapes
 * replies.
 *
 * - `GET /api/overview[?fresh=1]`: every watched stream with its groups,
 *   consumers and a history of samples (kept in memory, at most
 *   `historySize` per stream). `serve` takes a snapshot every 2 seconds in
 *   the background while a page is open (every 10 seconds otherwise, for the
 *   history) and answers with the latest (`at` says when it was
 *   taken, `tookMs` how long it took), so any number of pages costs Redis
 *   the same; `fresh=1` takes a new one first (the page asks for it after
 *   an action).
 * - `GET /api/pending?stream=S&group=G[&consumer=C][&after=ID][&count=N]`:
 *   a page of pending entries (id, consumer, idle, deliveries), `next` the
 *   cursor of the following page.
 * - `GET /api/dead-letters?stream=S[&after=ID][&count=N][&id=ID]`: a page of
 *   the stream's dead letters, or those an id names.
 * - `POST /api/actions/replay|purge|cleanup` (see `Actions.ts`).
 *
 * The dashboard's Scalers are their own: its readings never mix with the
 * rates and the stabilization of `/scale` (KEDA) and `/metrics`.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { DeadLetter, type Monitor, Scaler, StreamsBackend, type StreamsError } from "effect-redis-streams"
import * as Dlq from "./commands/dlq.js"
import type { JsonReply } from "./Http.js"
import * as Watched from "./Watched.js"

/**
 * Options of the dashboard.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Scaler options (thresholds, target, bounds) */
  readonly scaler: Omit<Scaler.Options, "stream" | "group">
  /** samples kept per stream (default 120: 4 minutes while a page is open, 20 minutes otherwise) */
  readonly historySize?: number | undefined
  /** take a snapshot of every stream this often while a page is open (default 2 seconds; else every 10 seconds) */
  readonly sampleEvery?: Duration.DurationInput | undefined
}

/**
 * One sample of a stream's history.
 *
 * @since 0.1.0
 * @category models
 */
export interface Sample {
  readonly at: number
  readonly length: number
  /** the sum of the groups' lag */
  readonly backlog: number
  /** the sum of the groups' pending counts */
  readonly pending: number
  /** entries added per second since the previous sample (null for the first) */
  readonly addedPerSecond: number | null
}

/**
 * The API over the watched streams.
 *
 * @since 0.1.0
 * @category models
 */
export interface Api {
  /** the latest snapshot (at most `sampleEvery` old), or a new one with `?fresh=1` */
  readonly overview: (params: URLSearchParams) => Effect.Effect<JsonReply>
  readonly pending: (params: URLSearchParams) => Effect.Effect<JsonReply>
  readonly deadLetters: (params: URLSearchParams) => Effect.Effect<JsonReply>
}

const ID = /^\d+-\d+$/
/** a page counts as open this long after its last request */
const VIEWED_FOR_MS = 30_000
/** the snapshot interval while no page is open */
const UNWATCHED_EVERY_MS = 10_000
const MIN_SAMPLE_GAP_MS = 1_000

/**
 * A reply refusing a request: `{ "error": ... }` with a status.
 *
 * @since 0.1.0
 * @category replies
 */
export const refuse = (status: number, error: string): JsonReply => ({ status, body: { error } })

/**
 * The HTTP status of a library error: 400 invalid options, 404 missing
 * stream or group, 503 Redis unreachable, else 500.
 *
 * @since 0.1.0
 * @category replies
 */
export const statusOf = (e: StreamsError.BackendError | StreamsError.InvalidOptions): number =>
  e._tag === "InvalidOptions"
    ? 400
    : e._tag === "StreamNotFound" || e._tag === "GroupNotFound"
    ? 404
    : e._tag === "RedisConnectionError" || e._tag === "ConnectionEnded"
    ? 503
    : 500

/**
 * A library error as a reply.
 *
 * @since 0.1.0
 * @category replies
 */
export const failed = (e: StreamsError.BackendError | StreamsError.InvalidOptions): JsonReply =>
  refuse(statusOf(e), e.message)

/**
 * `?count=`: an integer in [1, max], default `fallback`; a string saying why
 * when invalid.
 *
 * @since 0.1.0
 * @category parameters
 */
export const countParam = (params: URLSearchParams, fallback: number, max: number): number | string => {
  const raw = params.get("count")
  if (raw === null || raw === "") return fallback
  const n = Number(raw)
  return Number.isInteger(n) && n >= 1 && n <= max ? n : `count must be an integer between 1 and ${max}`
}

/** `after`: a stream id or nothing; a string error when malformed */
const afterParam = (params: URLSearchParams): { readonly after: string | undefined } | string => {
  const raw = params.get("after")
  if (raw === null || raw === "") return { after: undefined }
  return ID.test(raw) ? { after: raw } : "after must be a stream id like 1700000000000-0"
}

/** the JSON of one group: the Monitor's figures and the Scaler's decision */
const groupJson = (g: Monitor.GroupReport, d: Scaler.Decision) => ({
  name: g.name,
  lag: g.lag,
  lagExact: g.lagExact,
  pending: g.pending,
  lastDeliveredId: g.lastDeliveredId,
  oldestPendingId: g.oldestPendingId,
  oldestPendingAgeMs: g.oldestPendingAgeMs,
  maxDeliveries: g.maxDeliveries,
  deadLetterStream: g.deadLetterStream,
  deadLetters: g.deadLetters,
  scaler: {
    decision: d.decision,
    recommended: d.recommended,
    desired: d.desired,
    active: d.consumers,
    rate: d.rate,
    arrivalRate: d.arrivalRate,
    ackRate: d.ackRate
  },
  consumers: g.consumers.map((c) => ({ name: c.name, status: c.status, idleMs: c.idleMs, pending: c.pending }))
})

/** the history of the streams: a bounded list of samples per stream */
const makeHistory = (size: number) => {
  const samples = new Map<string, Array<Sample & { readonly entriesAdded: number }>>()
  const record = (stream: string, observation: Monitor.Observation): void => {
    const list = samples.get(stream) ?? []
    const last = list[list.length - 1]
    const at = observation.report.at
    if (last !== undefined && at - last.at < MIN_SAMPLE_GAP_MS) return
    const entriesAdded = observation.stream.entriesAdded
    let backlog = 0
    let pending = 0
    for (const g of observation.report.groups) backlog += g.lag, pending += g.pending
    list.push({
      at,
      length: observation.stream.length,
      backlog,
      pending,
      entriesAdded,
      addedPerSecond: last === undefined || at <= last.at
        ? null
        : Math.max(0, entriesAdded - last.entriesAdded) * 1000 / (at - last.at)
    })
    if (list.length > size) list.splice(0, list.length - size)
    samples.set(stream, list)
  }
  const of = (stream: string): ReadonlyArray<Sample> =>
    (samples.get(stream) ?? []).map(({ entriesAdded: _, ...s }) => s)
  return { record, of }
}

/** what the readers need */
interface Env {
  readonly watched: Watched.Watched
  readonly backend: StreamsBackend.StreamsBackend["Type"]
  readonly scalerOf: (stream: string, group: string) => Effect.Effect<Scaler.Service, StreamsError.InvalidOptions>
  readonly history: ReturnType<typeof makeHistory>
}

/** one stream of the overview: the Monitor's observation, the Scaler's decision per group, the history */
const streamView = ({ history, scalerOf, watched }: Env, stream: string) =>
  Effect.gen(function*() {
    const monitor = yield* watched.monitorOf(stream)
    const observation = yield* monitor.observe
    history.record(stream, observation)
    const reports = new Map(observation.report.groups.map((g) => [g.name, g] as const))
    const groups = yield* Effect.forEach(observation.groups, (g) =>
      Effect.gen(function*() {
        const scaler = yield* scalerOf(stream, g.info.name)
        const decision = yield* scaler.observe({ at: observation.report.at, stream: observation.stream, ...g, group: g.info })
        return groupJson(reports.get(g.info.name)!, decision)
      }))
    return {
      stream,
      up: true,
      error: null,
      length: observation.stream.length,
      entriesAdded: observation.stream.entriesAdded,
      lastGeneratedId: observation.stream.lastGeneratedId,
      groups,
      history: history.of(stream)
    }
  }).pipe(
    Effect.catchAll((e) => Effect.succeed({ stream, up: false, error: e.message, groups: [], history: history.of(stream) }))
  )

/** every watched stream, read at once */
const snapshot = (env: Env) =>
  Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    const listing = yield* env.watched.list
    const streams = yield* Effect.forEach(listing.streams, (s) => streamView(env, s), { concurrency: "unbounded" })
    const at = yield* Clock.currentTimeMillis
    return {
      at,
      tookMs: at - started,
      match: env.watched.options.match?.pattern ?? null,
      truncated: listing.truncated,
      streams
    }
  })

/** `?stream=`: a watched stream, or the reply refusing it */
const watchedStream = (watched: Watched.Watched, params: URLSearchParams) =>
  Effect.gen(function*() {
    const stream = params.get("stream")
    if (stream === null || stream === "") return refuse(400, "missing ?stream=<name>")
    if (!(yield* watched.has(stream))) return refuse(404, `stream '${stream}' is not served`)
    return stream
  })

/** `GET /api/pending` */
const pendingPage = ({ backend, watched }: Env, params: URLSearchParams): Effect.Effect<JsonReply> =>
  Effect.gen(function*() {
    const stream = yield* watchedStream(watched, params)
    if (typeof stream !== "string") return stream
    const group = params.get("group")
    if (group === null || group === "") return refuse(400, "missing &group=<name>")
    const consumer = params.get("consumer") ?? ""
    const count = countParam(params, 50, 1000)
    if (typeof count === "string") return refuse(400, count)
    const after = afterParam(params)
    if (typeof after === "string") return refuse(400, after)
    const entries = yield* backend.pending({
      stream,
      group,
      consumer: consumer === "" ? undefined : consumer,
      start: after.after === undefined ? "-" : `(${after.after}`,
      count
    })
    return {
      status: 200,
      body: {
        stream,
        group,
        consumer: consumer === "" ? null : consumer,
        entries: entries.map((e) => ({ id: e.id, consumer: e.consumer, idleMs: e.idleMs, deliveries: e.deliveries })),
        next: entries.length === count ? entries[entries.length - 1]!.id : null
      }
    }
  }).pipe(Effect.catchAll((e) => Effect.succeed(failed(e))))

/** `GET /api/dead-letters` */
const deadLetterPage = ({ backend, watched }: Env, params: URLSearchParams): Effect.Effect<JsonReply> =>
  Effect.gen(function*() {
    const stream = yield* watchedStream(watched, params)
    if (typeof stream !== "string") return stream
    const dlq = DeadLetter.defaultStream(stream)
    const length = yield* backend.length(dlq)
    const id = params.get("id")
    if (id !== null && id !== "") {
      const found = yield* DeadLetter.find(dlq, id)
      return {
        status: 200,
        body: { stream, deadLetterStream: dlq, length, deadLetters: found.map(Dlq.toJson), next: null }
      }
    }
    const count = countParam(params, 20, 500)
    if (typeof count === "string") return refuse(400, count)
    const after = afterParam(params)
    if (typeof after === "string") return refuse(400, after)
    const page = yield* DeadLetter.list(dlq, { count, after: after.after })
    return {
      status: 200,
      body: {
        stream,
        deadLetterStream: dlq,
        length,
        deadLetters: page.deadLetters.map(Dlq.toJson),
        next: page.next ?? null
      }
    }
  }).pipe(
    Effect.provideService(StreamsBackend.StreamsBackend, backend),
    Effect.catchAll((e) => Effect.succeed(failed(e)))
  )

/**
 * Build the API; a fiber takes a snapshot every `sampleEvery` until the
 * scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  watched: Watched.Watched,
  options: Options
): Effect.Effect<Api, StreamsError.InvalidOptions, StreamsBackend.StreamsBackend | Scope.Scope> =>
  Effect.gen(function*() {
    const env: Env = {
      watched,
      backend: yield* StreamsBackend.StreamsBackend,
      scalerOf: yield* Watched.makeScalers(options.scaler),
      history: makeHistory(options.historySize ?? 120)
    }
    // the latest snapshot, refreshed by the sampler: a page (or many) reads it without waiting for
    // the 2 + D + 2G round trips per stream, and without multiplying them
    const latest = yield* Ref.make<Option.Option<JsonReply>>(Option.none())
    const fresh: Effect.Effect<JsonReply> = snapshot(env).pipe(
      Effect.map((body): JsonReply => ({ status: 200, body })),
      Effect.catchAll((e) => Effect.succeed(failed(e))),
      Effect.tap((reply) => Ref.set(latest, Option.some(reply)))
    )
    // every `sampleEvery` while someone looks (a request in the last 30 s), else every 10 s (the history)
    const every = Duration.toMillis(options.sampleEvery ?? Duration.seconds(2))
    let viewedAt = 0
    let sampledAt = 0
    const tick = Effect.flatMap(Clock.currentTimeMillis, (now) =>
      now - viewedAt < VIEWED_FOR_MS || now - sampledAt >= Math.max(every, UNWATCHED_EVERY_MS) - every / 2
        ? Effect.zipRight(Effect.sync(() => (sampledAt = now)), fresh)
        : Effect.void)
    yield* tick.pipe(Effect.repeat(Schedule.spaced(every)), Effect.interruptible, Effect.forkScoped)
    const viewed = Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => (viewedAt = now)))
    return {
      overview: (params) =>
        Effect.zipRight(
          viewed,
          params.get("fresh") === "1"
            ? fresh
            : Effect.flatMap(Ref.get(latest), Option.match({ onNone: () => fresh, onSome: Effect.succeed }))
        ),
      pending: (params) => pendingPage(env, params),
      deadLetters: (params) => deadLetterPage(env, params)
    }
  })

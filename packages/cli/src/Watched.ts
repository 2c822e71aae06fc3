/**
 * The streams `serve` watches: those named on the command line, plus those
 * matching `--match <glob>` (found with the library's
 * `StreamsBackend.scanStreams`: SCAN MATCH TYPE stream, bounded by
 * `--match-limit`, rescanned at most every 10 seconds; the dead-letter
 * stream of a watched stream is left out, it is shown with its stream),
 * each with its Monitor, made on first use and kept.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import * as SynchronizedRef from "effect/SynchronizedRef"
import { DeadLetter, Monitor, Scaler, StreamsBackend, type StreamsError } from "effect-redis-streams"

/**
 * What is watched and the Monitor options.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly streams: ReadonlyArray<string>
  /** a glob (Redis's MATCH syntax) and the most streams it may add */
  readonly match?: { readonly pattern: string; readonly limit: number } | undefined
  readonly idleThreshold: Duration.DurationInput
  readonly pendingThreshold?: number | undefined
}

/**
 * The watched streams right now.
 *
 * @since 0.1.0
 * @category models
 */
export interface Listing {
  /** the named streams first (in the order given), then the matched ones (sorted), without repeats */
  readonly streams: ReadonlyArray<string>
  /** the scan stopped at `--match-limit`: more streams match */
  readonly truncated: boolean
}

/**
 * The service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Watched {
  readonly options: Options
  /** the watched streams (the scan's result is reused for 10 seconds) */
  readonly list: Effect.Effect<Listing, StreamsError.BackendError>
  /** whether `stream` is watched */
  readonly has: (stream: string) => Effect.Effect<boolean, StreamsError.BackendError>
  /** the Monitor of a stream (made on first use) */
  readonly monitorOf: (stream: string) => Effect.Effect<Monitor.Service, StreamsError.InvalidOptions>
  /** a short description for messages: the names, and the pattern */
  readonly describe: string
}

const RESCAN_EVERY = Duration.seconds(10)

/**
 * Build it; the Monitors live as long as the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<Watched, StreamsError.InvalidOptions, StreamsBackend.StreamsBackend | Scope.Scope> =>
  Effect.gen(function*() {
    const backend = yield* StreamsBackend.StreamsBackend
    const scope = yield* Effect.scope
    const monitorOptions = (stream: string): Monitor.Options => ({
      stream,
      idleThreshold: options.idleThreshold,
      pendingThreshold: options.pendingThreshold
    })
    // validate the Monitor options once, before serving
    yield* Monitor.resolveOptions(monitorOptions("validation"))

    const monitors = yield* SynchronizedRef.make(new Map<string, Monitor.Service>())
    const monitorOf = (stream: string) =>
      SynchronizedRef.modifyEffect(monitors, (map) => {
        const existing = map.get(stream)
        if (existing !== undefined) return Effect.succeed([existing, map] as const)
        return Monitor.make(monitorOptions(stream)).pipe(
          Effect.provideService(StreamsBackend.StreamsBackend, backend),
          Effect.provideService(Scope.Scope, scope),
          Effect.map((m) => [m, new Map(map).set(stream, m)] as const)
        )
      })

    const named: Listing = { streams: Array.from(new Set(options.streams)), truncated: false }
    const match = options.match
    const scan: Effect.Effect<Listing, StreamsError.BackendError> = match === undefined
      ? Effect.succeed(named)
      : Effect.map(backend.scanStreams(match.pattern, { limit: match.limit }), (found) => {
        const seen = new Set(named.streams)
        // a matched stream's own dead-letter stream is shown with it, not as a stream of its own
        const deadLetterStreams = new Set([...named.streams, ...found.streams].map(DeadLetter.defaultStream))
        return {
          streams: [
            ...named.streams,
            ...found.streams.filter((s) => !seen.has(s) && !deadLetterStreams.has(s))
          ],
          truncated: found.truncated
        }
      })
    // a failed scan is not kept: the next call scans again
    const list = match === undefined ? scan : yield* Effect.map(
      Effect.cachedInvalidateWithTTL(scan, RESCAN_EVERY),
      ([cached, invalidate]) => Effect.tapError(cached, () => invalidate)
    )
    const describe = [
      ...named.streams,
      ...(match !== undefined ? [`streams matching '${match.pattern}'`] : [])
    ].join(", ")

    return {
      options,
      list,
      has: (stream) => Effect.map(list, (l) => l.streams.includes(stream)),
      monitorOf,
      describe
    }
  })

/**
 * The Scalers of the groups met, by stream and group: made on first use and
 * kept (for the rates and the stabilization). The options are validated
 * here, once.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeScalers = (
  scalerOptions: Omit<Scaler.Options, "stream" | "group">
): Effect.Effect<
  (stream: string, group: string) => Effect.Effect<Scaler.Service, StreamsError.InvalidOptions>,
  StreamsError.InvalidOptions,
  StreamsBackend.StreamsBackend
> =>
  Effect.gen(function*() {
    const backend = yield* StreamsBackend.StreamsBackend
    yield* Scaler.resolveOptions({ stream: "validation", group: "validation", ...scalerOptions })
    const scalers = yield* SynchronizedRef.make(new Map<string, Scaler.Service>())
    return (stream: string, group: string): Effect.Effect<Scaler.Service, StreamsError.InvalidOptions> =>
      SynchronizedRef.modifyEffect(scalers, (map) => {
        const key = JSON.stringify([stream, group])
        const existing = map.get(key)
        if (existing !== undefined) return Effect.succeed([existing, map] as const)
        return Scaler.make({ stream, group, ...scalerOptions }).pipe(
          Effect.provideService(StreamsBackend.StreamsBackend, backend),
          Effect.map((s) => [s, new Map(map).set(key, s)] as const)
        )
      })
  })

/**
 * The Consumer's options, validated into one resolved record.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Os from "node:os"
import * as DeadLetter from "../../DeadLetter.js"
import type { InvalidOptions } from "../../StreamsError.js"
import * as O from "../options.js"

/** the options of `Consumer.Options` that `make` validates (the schema and reconnect policy are taken as given) */
export interface Input {
  readonly stream: string
  readonly group: string
  readonly consumer?: string | undefined
  readonly batchSize: number
  readonly maxWait: unknown
  readonly blockTime?: unknown
  readonly startFrom?: unknown
  readonly encoding?: unknown
  readonly emitEmpty?: boolean | undefined
  readonly deleteOnAck?: boolean | undefined
  readonly shutdownTimeout?: unknown
  readonly recreateGroup?: boolean | undefined
  readonly removeOnShutdown?: boolean | undefined
  readonly readAhead?: boolean | undefined
  readonly reclaim?: false | { readonly idle?: unknown; readonly interval?: unknown } | undefined
  readonly deadLetter?: { readonly stream?: unknown; readonly maxDeliveries?: unknown; readonly maxEntryBytes?: unknown } | undefined
  readonly connection?: { readonly shared?: boolean | undefined; readonly reconnect?: unknown } | undefined
}

/** options of 0.1.0 and where they are now: given, they fail with a message that says so (a spread would hide them from TypeScript) */
const MOVED: Record<string, string> = {
  claimIdle: "reclaim.idle (reclaim: false to disable)",
  claimInterval: "reclaim.interval",
  maxDeliveries: "deadLetter.maxDeliveries",
  deadLetterStream: "deadLetter.stream",
  maxEntryBytes: "deadLetter.maxEntryBytes",
  sharedConnection: "connection.shared",
  reconnect: "connection.reconnect"
}

const notMoved = (options: object): Effect.Effect<void, InvalidOptions> => {
  for (const key in MOVED) {
    if (Object.prototype.hasOwnProperty.call(options, key)) {
      return Effect.fail(O.invalid(C, key, (options as Record<string, unknown>)[key], `nothing here: it moved to ${MOVED[key]}`))
    }
  }
  return Effect.void
}

/** everything a Consumer runs on, validated */
export interface Resolved {
  readonly stream: string
  readonly group: string
  readonly name: string
  readonly batchSize: number
  readonly maxWaitMs: number
  readonly blockMs: number
  readonly startId: string
  /** undefined: reclaim is off */
  readonly claimIdleMs: number | undefined
  readonly claimIntervalMs: number
  readonly maxDeliveries: number
  readonly deadLetterStream: string
  readonly shutdownMs: number
  readonly emitEmpty: boolean
  readonly deleteOnAck: boolean
  readonly recreateGroup: boolean
  readonly removeOnShutdown: boolean
  readonly maxEntryBytes: number
  readonly readAhead: boolean
  readonly sharedConnection: boolean
}

/** the defaults, in milliseconds and counts */
export const defaults = {
  blockTimeMs: 2000,
  claimIdleMs: 30_000,
  maxClaimIntervalMs: 5000,
  maxDeliveries: 5,
  shutdownTimeoutMs: 10_000,
  maxEntryBytes: 16 * 1024 * 1024
} as const

/** a consumer name unique per instance: host, process id and a random part */
export const defaultName = (): string => `${Os.hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`

const C = "Consumer"

const startId = (startFrom: unknown): Effect.Effect<string, InvalidOptions> => {
  if (startFrom === undefined || startFrom === "beginning") return Effect.succeed("0")
  if (startFrom === "new") return Effect.succeed("$")
  const id = typeof startFrom === "object" && startFrom !== null ? (startFrom as { readonly id?: unknown }).id : undefined
  return O.isStreamId(id)
    ? Effect.succeed(id as string)
    : Effect.fail(O.invalid(C, "startFrom", startFrom, `"beginning", "new" or { id: "<ms>-<seq>" }`))
}

const reclaim = (options: Input) =>
  Effect.gen(function*() {
    const group = options.reclaim === false ? undefined : options.reclaim
    const claimIdleMs = options.reclaim === false
      ? undefined
      : yield* O.durationMs(C, "reclaim.idle", group?.idle as any, defaults.claimIdleMs, 1)
    const claimIntervalMs = yield* O.durationMs(
      C,
      "reclaim.interval",
      group?.interval as any,
      Math.min(defaults.maxClaimIntervalMs, Math.max(10, Math.floor((claimIdleMs ?? defaults.claimIdleMs) / 2))),
      1
    )
    return { claimIdleMs, claimIntervalMs }
  })

const deadLetter = (options: Input, stream: string) =>
  Effect.gen(function*() {
    const given = options.deadLetter
    const name = given?.stream === undefined
      ? DeadLetter.defaultStream(stream)
      : yield* O.nonEmptyString(C, "deadLetter.stream", given.stream)
    if (name === stream) return yield* O.invalid(C, "deadLetter.stream", name, "a stream other than `stream`")
    const maxDeliveries = yield* O.integer(C, "deadLetter.maxDeliveries", given?.maxDeliveries as any, defaults.maxDeliveries, 1)
    const maxEntryBytes = yield* O.integer(C, "deadLetter.maxEntryBytes", given?.maxEntryBytes as any, defaults.maxEntryBytes, 1)
    return { deadLetterStream: name, maxDeliveries, maxEntryBytes }
  })

/** validate every option; the first invalid one fails with `InvalidOptions` naming it */
export const resolve = (options: Input): Effect.Effect<Resolved, InvalidOptions> =>
  Effect.gen(function*() {
    yield* notMoved(options)
    const stream = yield* O.nonEmptyString(C, "stream", options.stream)
    const group = yield* O.nonEmptyString(C, "group", options.group)
    const name = options.consumer === undefined ? defaultName() : yield* O.nonEmptyString(C, "consumer", options.consumer)
    const batchSize = yield* O.integer(C, "batchSize", options.batchSize, undefined, 1, 1_000_000)
    if (options.maxWait === undefined) {
      return yield* O.invalid(C, "maxWait", undefined, "a duration >= 0 ms (required)")
    }
    const maxWaitMs = yield* O.durationMs(C, "maxWait", options.maxWait as any, 0)
    const blockMs = yield* O.durationMs(C, "blockTime", options.blockTime as any, defaults.blockTimeMs, 1)
    const start = yield* startId(options.startFrom)
    const { claimIdleMs, claimIntervalMs } = yield* reclaim(options)
    yield* O.encoding(C, options.encoding)
    const { deadLetterStream, maxDeliveries, maxEntryBytes } = yield* deadLetter(options, stream)
    const shutdownMs = yield* O.durationMs(C, "shutdownTimeout", options.shutdownTimeout as any, defaults.shutdownTimeoutMs, 0)
    return {
      stream,
      group,
      name,
      batchSize,
      maxWaitMs,
      blockMs,
      startId: start,
      claimIdleMs,
      claimIntervalMs,
      maxDeliveries,
      deadLetterStream,
      shutdownMs,
      emitEmpty: options.emitEmpty ?? false,
      deleteOnAck: options.deleteOnAck ?? false,
      recreateGroup: options.recreateGroup ?? false,
      removeOnShutdown: options.removeOnShutdown ?? true,
      maxEntryBytes,
      readAhead: options.readAhead ?? true,
      sharedConnection: options.connection?.shared ?? false
    }
  })

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
  readonly claimIdle?: unknown
  readonly claimInterval?: unknown
  readonly maxDeliveries?: number | undefined
  readonly deadLetterStream?: string | undefined
  readonly shutdownTimeout?: unknown
  readonly recreateGroup?: boolean | undefined
  readonly removeOnShutdown?: boolean | undefined
  readonly maxEntryBytes?: number | undefined
  readonly readAhead?: boolean | undefined
  readonly sharedConnection?: boolean | undefined
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
    const claimIdleMs = options.claimIdle === false
      ? undefined
      : yield* O.durationMs(C, "claimIdle", options.claimIdle as any, defaults.claimIdleMs, 1)
    const claimIntervalMs = yield* O.durationMs(
      C,
      "claimInterval",
      options.claimInterval as any,
      Math.min(defaults.maxClaimIntervalMs, Math.max(10, Math.floor((claimIdleMs ?? defaults.claimIdleMs) / 2))),
      1
    )
    return { claimIdleMs, claimIntervalMs }
  })

const deadLetterStream = (options: Input, stream: string) =>
  Effect.gen(function*() {
    const name = options.deadLetterStream === undefined
      ? DeadLetter.defaultStream(stream)
      : yield* O.nonEmptyString(C, "deadLetterStream", options.deadLetterStream)
    if (name === stream) return yield* O.invalid(C, "deadLetterStream", name, "a stream other than `stream`")
    return name
  })

/** validate every option; the first invalid one fails with `InvalidOptions` naming it */
export const resolve = (options: Input): Effect.Effect<Resolved, InvalidOptions> =>
  Effect.gen(function*() {
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
    const maxDeliveries = yield* O.integer(C, "maxDeliveries", options.maxDeliveries, defaults.maxDeliveries, 1)
    yield* O.encoding(C, options.encoding)
    const dlq = yield* deadLetterStream(options, stream)
    const shutdownMs = yield* O.durationMs(C, "shutdownTimeout", options.shutdownTimeout as any, defaults.shutdownTimeoutMs, 0)
    const maxEntryBytes = yield* O.integer(C, "maxEntryBytes", options.maxEntryBytes, defaults.maxEntryBytes, 1)
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
      deadLetterStream: dlq,
      shutdownMs,
      emitEmpty: options.emitEmpty ?? false,
      deleteOnAck: options.deleteOnAck ?? false,
      recreateGroup: options.recreateGroup ?? false,
      removeOnShutdown: options.removeOnShutdown ?? true,
      maxEntryBytes,
      readAhead: options.readAhead ?? true,
      sharedConnection: options.sharedConnection ?? false
    }
  })

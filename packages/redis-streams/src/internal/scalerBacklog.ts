/**
 * Shared by Monitor and Scaler: the backlog of a group (entries not yet
 * delivered to it) at a bounded cost, and small helpers on stream ids.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { GroupInfo, Service, StreamInfo } from "../StreamsBackend.js"
import type { BackendError } from "../StreamsError.js"
import * as StreamId from "./streamId.js"

const MAX_SEQ = (1n << 64n) - 1n

/**
 * The smallest id after `id` (an inclusive start that acts as an exclusive
 * one, understood by every server and backend).
 */
export const nextId = (id: string): string => {
  const { ms, seq } = StreamId.parts(id)
  return seq >= MAX_SEQ ? `${ms + 1n}-0` : `${ms}-${seq + 1n}`
}

/** the millisecond part of a stream id, as a number (0 when unparsable) */
export const idTimeMs = (id: string): number => Number(StreamId.parts(id).ms)

/**
 * The backlog of a group: how many entries are after its last-delivered id.
 * `exact: false` means "at least `count`".
 */
export interface Backlog {
  readonly count: number
  readonly exact: boolean
  /** where the figure came from */
  readonly source: "lag" | "empty" | "caught-up" | "whole-stream" | "scan"
}

/**
 * The backlog from XINFO GROUPS `lag` when the server reports it; otherwise a
 * bounded fallback on XINFO STREAM plus, only when needed, one XRANGE of at
 * most `scanLimit` entries after the last-delivered id (never a scan of the
 * whole backlog).
 *
 * `streamInfo` is read lazily and at most once (pass the one you already have).
 */
export const backlogOf = (
  backend: Service,
  stream: string,
  group: GroupInfo,
  scanLimit: number,
  streamInfo: Effect.Effect<StreamInfo, BackendError>
): Effect.Effect<Backlog, BackendError> => {
  if (group.lag !== null) {
    return Effect.succeed({ count: group.lag, exact: true, source: "lag" })
  }
  return Effect.gen(function*() {
    const info = yield* streamInfo
    return yield* backlogFromStreamInfo(backend, stream, group.lastDeliveredId, info, scanLimit)
  })
}

/** the fallback alone (exported for tests) */
export const backlogFromStreamInfo = (
  backend: Service,
  stream: string,
  lastDeliveredId: string,
  info: StreamInfo,
  scanLimit: number
): Effect.Effect<Backlog, BackendError> => {
  if (info.length === 0) return Effect.succeed({ count: 0, exact: true, source: "empty" })
  if (StreamId.compareLenient(lastDeliveredId, info.lastGeneratedId) >= 0) {
    return Effect.succeed({ count: 0, exact: true, source: "caught-up" })
  }
  const first = info.firstEntry?.id
  if (first !== undefined && StreamId.compareLenient(lastDeliveredId, first) < 0) {
    // every entry still in the stream is after the last-delivered id
    return Effect.succeed({ count: info.length, exact: true, source: "whole-stream" })
  }
  return Effect.map(
    backend.range(stream, { start: nextId(lastDeliveredId), end: "+", count: scanLimit }),
    (entries): Backlog => {
      const last = entries[entries.length - 1]?.id
      const reachedEnd = entries.length < scanLimit ||
        (last !== undefined && info.lastEntry !== null && last === info.lastEntry.id)
      return { count: entries.length, exact: reachedEnd, source: "scan" }
    }
  )
}

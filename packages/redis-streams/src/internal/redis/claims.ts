/**
 * The pending entries and claims of the Redis backend: `pendingSummary`,
 * `pending` (XPENDING), `claim`, `claimJustId` (XCLAIM) and `autoClaim`
 * (XAUTOCLAIM).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { AutoClaimOptions, ClaimOptions, PendingOptions } from "../../StreamsBackend.js"
import { traced } from "../redisTracing.js"
import * as Replies from "../replies.js"
import { withBytes } from "./reads.js"
import { type Arg, EMPTY, type Requests } from "./request.js"

const claimArgs = (options: ClaimOptions): Array<Arg> => {
  const args: Array<Arg> = [options.stream, options.group, options.consumer, options.minIdleMs]
  for (let i = 0; i < options.ids.length; i++) args.push(options.ids[i]!)
  if (options.idleMs !== undefined) args.push("IDLE", options.idleMs)
  if (options.retryCount !== undefined) args.push("RETRYCOUNT", options.retryCount)
  return args
}

/** `pendingSummary`, `pending`, `claim`, `claimJustId` and `autoClaim` through `requests` */
export const makeClaims = (requests: Requests) => {
  const pendingSummary = (stream: string, group: string) =>
    traced(
      requests.send("XPENDING", [stream, group], Replies.parsePendingSummary, stream, group),
      "pendingSummary",
      stream
    )

  const pending = (options: PendingOptions) => {
    const args: Array<Arg> = [options.stream, options.group]
    if (options.minIdleMs !== undefined) args.push("IDLE", options.minIdleMs)
    args.push(options.start ?? "-", options.end ?? "+", options.count)
    if (options.consumer !== undefined) args.push(options.consumer)
    return traced(
      requests.send("XPENDING", args, Replies.parsePending, options.stream, options.group),
      "pending",
      options.stream
    )
  }

  const claim = (options: ClaimOptions) => {
    if (options.ids.length === 0) return Effect.succeed(EMPTY)
    return traced(
      Effect.flatMap(
        requests.send("XCLAIM", claimArgs(options), Replies.parseEntries, options.stream, options.group),
        (entries) => withBytes(requests, options.stream, entries)
      ),
      "claim",
      options.stream,
      "consumer"
    )
  }

  const claimJustId = (options: ClaimOptions) => {
    if (options.ids.length === 0) return Effect.succeed(EMPTY as ReadonlyArray<string>)
    const args = claimArgs(options)
    args.push("JUSTID")
    return traced(
      requests.send("XCLAIM", args, Replies.parseIds, options.stream, options.group),
      "claimJustId",
      options.stream,
      "consumer"
    )
  }

  const autoClaim = (options: AutoClaimOptions) =>
    traced(
      requests.send(
        "XAUTOCLAIM",
        [
          options.stream,
          options.group,
          options.consumer,
          options.minIdleMs,
          options.start,
          "COUNT",
          options.count ?? 100
        ],
        Replies.parseAutoClaim,
        options.stream,
        options.group
      ).pipe(
        Effect.flatMap((r) =>
          Effect.map(withBytes(requests, options.stream, r.entries), (entries) => ({ ...r, entries }))
        )
      ),
      "autoClaim",
      options.stream,
      "consumer"
    )

  return { pendingSummary, pending, claim, claimJustId, autoClaim }
}

/**
 * One operation of the in-memory backend as an Effect: the fault hooks
 * checked first, then one synchronous call of the engine inside
 * `Effect.suspend` with the time read once from the fiber's `Clock`, engine
 * refusals mapped to the port's typed errors, and the span the Redis backend
 * would make.
 *
 * @internal
 */
import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { BackendError } from "../../StreamsError.js"
import { type SpanKind, traced } from "../redisTracing.js"
import { ReplyError, toBackendError } from "./errors.js"
import type { Faults } from "./faults.js"

/** the empty reply (a read that found nothing, a claim of no ids) */
export const EMPTY: ReadonlyArray<never> = []

/** mstime(): whole milliseconds, never negative */
export const nowOf = (clock: Clock.Clock): number => {
  const t = Math.floor(clock.unsafeCurrentTimeMillis())
  return t > 0 ? t : 0
}

/** the span kinds of the Redis backend's spans (`RedisStreams.<method>`, only when a tracer is installed) */
const spanKind = (method: string): SpanKind => {
  switch (method) {
    case "add":
    case "addMany":
      return "producer"
    case "readGroup":
    case "ack":
    case "ackAndDelete":
    case "claim":
    case "claimJustId":
    case "autoClaim":
      return "consumer"
    default:
      return "client"
  }
}

/** run one engine call (`f`, given the time) as the port method `method` standing for `command` */
export type Run = <A>(
  method: string,
  command: string,
  stream: string,
  group: string | undefined,
  args: ReadonlyArray<unknown>,
  f: (now: number) => A
) => Effect.Effect<A, BackendError>

/** the `Run` of a backend with these fault hooks */
export const makeRun = (faults: Faults): Run => <A>(
  method: string,
  command: string,
  stream: string,
  group: string | undefined,
  args: ReadonlyArray<unknown>,
  f: (now: number) => A
): Effect.Effect<A, BackendError> =>
  Effect.clockWith((clock) =>
    Effect.suspend((): Effect.Effect<A, BackendError> => {
      const fault = faults.take(method, command, stream, group, args)
      if (fault !== undefined && !fault.after) return Effect.fail(fault.error)
      let a: A
      try {
        a = f(nowOf(clock))
      } catch (e) {
        if (e instanceof ReplyError) return Effect.fail(toBackendError(e, stream, group))
        throw e
      }
      return fault === undefined ? Effect.succeed(a) : Effect.fail(fault.error)
    })
  ).pipe((effect) => traced(effect, method, stream, spanKind(method)))

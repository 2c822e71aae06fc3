/**
 * Option validation shared by the components.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { InvalidOptions } from "../StreamsError.js"

const ID = /^\d+(-\d+)?$/

/** a complete or incomplete stream id ("5", "5-1") */
export const validateStreamId = (id: string): boolean => typeof id === "string" && ID.test(id)

/** a non-empty string option */
export const nonEmpty = (option: string, value: unknown): Effect.Effect<string, InvalidOptions> =>
  typeof value === "string" && value.length > 0
    ? Effect.succeed(value)
    : Effect.fail(new InvalidOptions({ option, message: `${option} must be a non-empty string` }))

/** an integer option within [min, max] */
export const integer = (
  option: string,
  value: unknown,
  min: number,
  max: number = Number.MAX_SAFE_INTEGER
): Effect.Effect<number, InvalidOptions> =>
  typeof value === "number" && Number.isInteger(value) && value >= min && value <= max
    ? Effect.succeed(value)
    : Effect.fail(
      new InvalidOptions({
        option,
        message: `${option} must be an integer from ${min}${max === Number.MAX_SAFE_INTEGER ? " up" : ` to ${max}`}, got ${String(value)}`
      })
    )

/** a duration option >= min (ms); returns milliseconds */
export const duration = (
  option: string,
  value: Duration.DurationInput | undefined,
  fallback: Duration.DurationInput,
  minMs = 0
): Effect.Effect<number, InvalidOptions> => {
  if (typeof value === "number" && (value < minMs || Number.isNaN(value))) {
    return Effect.fail(new InvalidOptions({ option, message: `${option} must be at least ${minMs} ms, got ${value}` }))
  }
  const decoded = Duration.decodeUnknown(value ?? fallback)
  if (decoded._tag === "None") {
    return Effect.fail(new InvalidOptions({ option, message: `${option} is not a duration: ${String(value)}` }))
  }
  const ms = Duration.toMillis(decoded.value)
  if (!Number.isFinite(ms) || Number.isNaN(ms) || ms < minMs) {
    return Effect.fail(
      new InvalidOptions({ option, message: `${option} must be a finite duration of at least ${minMs} ms, got ${String(value)}` })
    )
  }
  return Effect.succeed(ms)
}

/** the `encoding` option: absent, "fields" or "json" */
export const encoding = (value: unknown): Effect.Effect<void, InvalidOptions> =>
  value === undefined || value === "fields" || value === "json"
    ? Effect.void
    : Effect.fail(
      new InvalidOptions({ option: "encoding", message: `encoding must be "fields" or "json", got ${JSON.stringify(value)}` })
    )

/**
 * Option validation shared by every component: each failure is an
 * `InvalidOptions` naming the component, the option, the value given and
 * what is accepted.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { InvalidOptions } from "../StreamsError.js"

const show = (u: unknown): string => {
  if (typeof u === "string") return JSON.stringify(u)
  if (typeof u === "number" || typeof u === "boolean" || u === undefined || u === null) return String(u)
  try {
    return JSON.stringify(u) ?? String(u)
  } catch {
    return String(u)
  }
}

/** fail with `InvalidOptions` for `option`, describing what is accepted */
export const invalid = (component: string, option: string, value: unknown, accepted: string): InvalidOptions =>
  new InvalidOptions({
    message: `${component}: invalid option ${option} = ${show(value)}; accepted: ${accepted}`,
    option
  })

/** a non-empty string */
export const nonEmptyString = (
  component: string,
  option: string,
  value: unknown
): Effect.Effect<string, InvalidOptions> =>
  typeof value === "string" && value.length > 0
    ? Effect.succeed(value)
    : Effect.fail(invalid(component, option, value, "a non-empty string"))

/** an optional non-empty string */
export const optionalNonEmptyString = (
  component: string,
  option: string,
  value: unknown
): Effect.Effect<string | undefined, InvalidOptions> =>
  value === undefined ? Effect.succeed(undefined) : nonEmptyString(component, option, value)

/**
 * Whether a duration input is written as a negative amount. `Duration.decode`
 * clamps those to zero, so `"-5 seconds"`, `[-5, 0]` or `-5n` would otherwise
 * pass as 0 ms.
 */
const isNegativeInput = (value: unknown): boolean => {
  if (typeof value === "bigint") return value < 0n
  if (typeof value === "string") return value.trimStart().startsWith("-")
  if (Array.isArray(value)) return value.some((part) => typeof part === "number" && (part < 0 || Object.is(part, -0)))
  return false
}

/** a finite, non-negative duration in milliseconds, `fallback` when absent */
export const durationMs = (
  component: string,
  option: string,
  value: Duration.DurationInput | undefined,
  fallbackMs: number,
  minMs = 0
): Effect.Effect<number, InvalidOptions> => {
  if (value === undefined) return Effect.succeed(fallbackMs)
  const accepted = `a finite Duration.DurationInput >= ${minMs} ms (e.g. "30 seconds" or a number of milliseconds)`
  if ((typeof value === "number" && !(Number.isFinite(value) && value >= minMs)) || isNegativeInput(value)) {
    return Effect.fail(invalid(component, option, value, accepted))
  }
  const decoded = Duration.decodeUnknown(value)
  if (Option.isNone(decoded)) return Effect.fail(invalid(component, option, value, accepted))
  const ms = Duration.toMillis(decoded.value)
  return Number.isFinite(ms) && ms >= minMs
    ? Effect.succeed(ms)
    : Effect.fail(invalid(component, option, value, accepted))
}

/** an integer in `[min, max]`, `fallback` when absent (required when `fallback` is undefined) */
export const integer = (
  component: string,
  option: string,
  value: number | undefined,
  fallback: number | undefined,
  min: number,
  max: number = Number.MAX_SAFE_INTEGER
): Effect.Effect<number, InvalidOptions> => {
  if (value === undefined && fallback !== undefined) return Effect.succeed(fallback)
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max
    ? Effect.succeed(value)
    : Effect.fail(
      invalid(
        component,
        option,
        value,
        max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`
      )
    )
}

/** a finite number in `[min, max]`, `fallback` when absent */
export const number = (
  component: string,
  option: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number
): Effect.Effect<number, InvalidOptions> => {
  if (value === undefined) return Effect.succeed(fallback)
  return typeof value === "number" && Number.isFinite(value) && value >= min && value <= max
    ? Effect.succeed(value)
    : Effect.fail(invalid(component, option, value, `a number from ${min} to ${max}`))
}

const ID = /^\d+(-\d+)?$/

/** a complete or incomplete stream id ("5", "5-1") */
export const isStreamId = (id: unknown): boolean => typeof id === "string" && ID.test(id)

/** the `encoding` option: absent, "fields" or "json" */
export const encoding = (component: string, value: unknown): Effect.Effect<void, InvalidOptions> =>
  value === undefined || value === "fields" || value === "json"
    ? Effect.void
    : Effect.fail(invalid(component, "encoding", value, `"fields" or "json"`))

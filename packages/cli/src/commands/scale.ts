/**
 * `scale <stream> --group G`: the Scaler's figures for one group, from one
 * fresh reading: backlog, pending, active consumers, the seed's rate and
 * IN / OUT / NO_SCALE decision, and the recommended consumer count.
 *
 * One reading has no history, so `arrivalRate` and `ackRate` are `null` and
 * there is no scale-in stabilization (`recommended` is the count the figures
 * call for now). `serve`'s `/scale` keeps both across requests.
 *
 * Never creates the stream or the group: a missing one is an error.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Scaler } from "effect-redis-streams"
import { UsageError } from "../CliError.js"
import * as Flags from "../Flags.js"
import * as Output from "../Output.js"

/**
 * Flags shared with `serve` (thresholds and bounds of the recommendation).
 *
 * @since 0.1.0
 * @category flags
 */
export const scalerFlags = {
  out: Flags.number("out", "scale-out threshold: rate >= this suggests OUT (percent, default 50)", 0, 100).pipe(
    Options.optional
  ),
  in: Flags.number(
    "in",
    "scale-in threshold: rate < this with more than one consumer suggests IN (percent, default 10)",
    0,
    100
  ).pipe(Options.optional),
  target: Flags.positiveNumber(
    "target",
    "outstanding entries (backlog + pending) per consumer the recommendation aims at (default 10)"
  ).pipe(Options.optional),
  min: Flags.integer("min", "fewest consumers to recommend (default 1)", 0).pipe(Options.optional),
  max: Flags.integer("max", "most consumers to recommend (default 100, at least --min)", 1).pipe(Options.optional),
  idleThreshold: Flags.duration(
    "idle-threshold",
    "a consumer idle longer than this does not count as active",
    "30s"
  )
}

/**
 * The values of `scalerFlags`.
 *
 * @since 0.1.0
 * @category flags
 */
export interface ScalerFlags {
  readonly out: Option.Option<number>
  readonly in: Option.Option<number>
  readonly target: Option.Option<number>
  readonly min: Option.Option<number>
  readonly max: Option.Option<number>
  readonly idleThreshold: Duration.Duration
}

/**
 * Scaler options from the shared flags.
 *
 * @since 0.1.0
 * @category flags
 */
export const scalerOptions = (flags: ScalerFlags): Omit<Scaler.Options, "stream" | "group"> => ({
  scaleOutRate: Option.getOrUndefined(flags.out),
  scaleInRate: Option.getOrUndefined(flags.in),
  targetPerConsumer: Option.getOrUndefined(flags.target),
  minConsumers: Option.getOrUndefined(flags.min),
  maxConsumers: Option.getOrUndefined(flags.max),
  idleThreshold: flags.idleThreshold
})

/**
 * Check `--in` against `--out` (the library's defaults for the one not
 * given), naming the flags.
 *
 * @since 0.1.0
 * @category flags
 */
export const checkThresholds = (
  flags: { readonly out: Option.Option<number>; readonly in: Option.Option<number> }
): Effect.Effect<void, UsageError> => {
  const out = Option.getOrElse(flags.out, () => Scaler.defaultThresholds.scaleOutRate)
  const inRate = Option.getOrElse(flags.in, () => Scaler.defaultThresholds.scaleInRate)
  return inRate > out
    ? Effect.fail(
      new UsageError({
        message: `--in (${inRate}${Option.isNone(flags.in) ? ", the default" : ""}) must not exceed --out (${out}${
          Option.isNone(flags.out) ? ", the default" : ""
        })`
      })
    )
    : Effect.void
}

/**
 * The seed's sentence with the right word: the first figure is the group's
 * backlog (entries not yet delivered to it), not the stream's length, e.g.
 * `Consumers should be IN as backlog (11) / pending (83) rate is 13.253%`.
 * (`Scaler.describe` keeps the seed's words, "stream length".)
 *
 * @since 0.1.0
 * @category rendering
 */
export const sentence = (d: Pick<Scaler.Decision, "decision" | "backlog" | "backlogExact" | "pending" | "rate">): string =>
  `Consumers should be ${d.decision} as backlog (${d.backlogExact ? "" : ">="}${d.backlog}) / pending (${d.pending}) rate is ${d.rate}%`

/**
 * The text form.
 *
 * @since 0.1.0
 * @category rendering
 */
export const render = (d: Scaler.Decision): string => {
  const lines = [
    sentence(d),
    Output.pairs([
      ["stream", d.stream],
      ["group", d.group],
      ["backlog", `${d.backlogExact ? "" : ">="}${d.backlog}`],
      ["pending", d.pending],
      ["consumers", `${d.consumers} active (${d.registeredConsumers} registered)`],
      ["rate", `${d.rate}% (out at >= ${d.thresholds.scaleOutRate}, in below ${d.thresholds.scaleInRate})`],
      ["decision", d.decision],
      [
        "recommended",
        `${d.recommended} (by work: ${d.byWork}${d.byRate === null ? "" : `, by rate: ${d.byRate}`})`
      ],
      ["safe to stop", d.safeToStop.length === 0 ? "-" : d.safeToStop.join(", ")]
    ])
  ]
  return lines.join("\n")
}

/**
 * The command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(
  "scale",
  {
    stream: Flags.stream,
    group: Options.text("group").pipe(Options.withAlias("g"), Options.withDescription("the consumer group")),
    ...scalerFlags,
    json: Flags.json(
      "one JSON object (Scaler.toJson): stream, group, at, backlog, pending, consumers, rate, decision (OUT|IN|NO_SCALE), recommended, safeToStop, arrivalRate, ackRate"
    ),
    url: Flags.url
  },
  (flags) =>
    Effect.gen(function*() {
      yield* checkThresholds(flags)
      const decision = yield* Flags.withRedis(
        flags.url,
        Effect.flatMap(
          Scaler.make({
            stream: flags.stream,
            group: flags.group,
            ...scalerOptions(flags),
            // one reading: no history to stabilize a scale-in against
            scaleInStabilization: 1
          }),
          (scaler) => scaler.decide
        ).pipe(Effect.scoped)
      )
      yield* flags.json ? Output.json(Scaler.toJson(decision)) : Output.line(render(decision))
    })
).pipe(
  Command.withDescription(
    "Show the Scaler's figures for a consumer group from one reading: backlog, pending, active consumers, rate = 100 * backlog / pending (clamped to 1..100), decision OUT | IN | NO_SCALE, and the recommended consumer count. Never creates the stream or the group."
  )
)

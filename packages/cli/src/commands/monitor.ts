/**
 * `monitor <stream>`: the Monitor's table (the seed's grid, with a Group
 * column; its header says "Idle time (ms)", or the seed's "Idle time" with
 * `--format seed`) and a summary line per group, or JSON; once, or refreshed with
 * `--watch`. `--cleanup` hands the pending entries of consumers idle beyond
 * `--idle-threshold` to live consumers and deletes them (never losing an
 * entry); `--dry-run` prints that plan without changing anything.
 *
 * Never creates the stream or a group: a missing one is an error.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { Monitor } from "effect-redis-streams"
import * as Flags from "../Flags.js"
import * as Output from "../Output.js"

/**
 * One line per group under the table.
 *
 * @since 0.1.0
 * @category rendering
 */
export const summary = (report: Monitor.Report): string =>
  report.groups.length === 0
    ? `no consumer groups on stream ${Output.safe(report.stream)}`
    : report.groups
      .map((g) =>
        [
          `group ${Output.safe(g.name)}:`,
          `lag ${g.lagExact ? "" : ">="}${g.lag},`,
          `pending ${g.pending},`,
          `consumers ${g.consumers.length},`,
          `oldest pending ${g.oldestPendingAgeMs === null ? "-" : Output.duration(g.oldestPendingAgeMs)},`,
          `max deliveries ${g.maxDeliveries ?? "-"},`,
          `dead letters ${g.deadLetters} (${Output.safe(g.deadLetterStream)})`
        ].join(" ")
      )
      .join("\n")

/**
 * What a cleanup did (or would do), one line per consumer.
 *
 * @since 0.1.0
 * @category rendering
 */
export const renderCleanup = (result: Monitor.CleanupResult, idleThresholdMs: number): string => {
  const title = result.dryRun ? "cleanup plan (dry run, nothing changed)" : "cleanup"
  if (result.consumers.length === 0) {
    return `${title}: no consumer idle longer than ${Output.duration(idleThresholdMs)}`
  }
  const lines = result.consumers.map((c) =>
    `  ${Output.safe(c.group)}/${Output.safe(c.consumer)}: ${c.outcome} (idle ${Output.duration(c.idleMs)}, ${c.pending} pending) - ${c.note}`
  )
  const totals = result.dryRun ? "" : `: moved ${result.claimed} entries, deleted ${result.deleted} consumers`
  return [`${title}${totals}`, ...lines].join("\n")
}

/**
 * The JSON form of `monitor --json`: `Monitor.toJson` (stream, at, groups
 * with name, lag, lagExact, pending, lastDeliveredId, oldestPendingAgeMs,
 * maxDeliveries, deadLetters and consumers with name, idleMs, pending,
 * status), plus `cleanup` (the `Monitor.CleanupResult`) when a cleanup ran.
 *
 * @since 0.1.0
 * @category models
 */
export type MonitorJson = Monitor.ReportJson & { readonly cleanup?: Monitor.CleanupResult }

/**
 * The command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(
  "monitor",
  {
    stream: Flags.stream,
    group: Options.text("group").pipe(
      Options.withAlias("g"),
      Options.withDescription("only this consumer group (default: every group of the stream)"),
      Options.optional
    ),
    idleThreshold: Flags.duration(
      "idle-threshold",
      "a consumer idle longer than this is IDLE, and dead for --cleanup",
      "30s"
    ),
    pendingThreshold: Flags.integer(
      "pending-threshold",
      "a consumer with more pending entries than this is TOO_MANY_PENDING (default 10)",
      0
    ).pipe(Options.optional),
    watch: Flags.optionalDuration("watch", "refresh every interval until Ctrl-C (JSON: one line per refresh)"),
    cleanup: Options.boolean("cleanup").pipe(
      Options.withDescription(
        "before reporting, move the pending entries of consumers idle beyond --idle-threshold to live consumers of the same group, then delete those consumers (only once nothing is pending on them)"
      )
    ),
    dryRun: Options.boolean("dry-run").pipe(
      Options.withDescription("print the cleanup plan without changing anything (implies --cleanup)")
    ),
    format: Options.choice("format", ["table", "seed"]).pipe(
      Options.withDescription(
        "table (default): the grid with the idle time's unit in its header, \"Idle time (ms)\"; seed: the seed's exact header, \"Idle time\""
      ),
      Options.withDefault("table" as const)
    ),
    json: Flags.json(
      "JSON: {stream, at, groups[{name, lag, lagExact, pending, lastDeliveredId, oldestPendingAgeMs, maxDeliveries, deadLetters, consumers[{name, idleMs, pending, status: OK|IDLE|TOO_MANY_PENDING}]}], cleanup?}"
    ),
    url: Flags.url
  },
  (flags) =>
    Flags.withRedis(
      flags.url,
      Effect.gen(function*() {
        const monitor = yield* Monitor.make({
          stream: flags.stream,
          group: Option.getOrUndefined(flags.group),
          idleThreshold: flags.idleThreshold,
          pendingThreshold: Option.getOrUndefined(flags.pendingThreshold)
        })
        const cleanup = flags.cleanup || flags.dryRun
        const watching = Option.isSome(flags.watch)
        const clear = watching && !flags.json && Output.stdoutIsTerminal()
        const tick = Effect.gen(function*() {
          // the outcome is printed: the Monitor's own warnings would repeat it at the default level
          const cleaned = cleanup
            ? yield* monitor.cleanup({ dryRun: flags.dryRun }).pipe(
              Effect.locallyWith(
                FiberRef.currentMinimumLogLevel,
                (level) => (level._tag === "Warning" ? LogLevel.Error : level)
              )
            )
            : undefined
          const report = yield* monitor.report
          if (flags.json) {
            const out: MonitorJson = cleaned === undefined
              ? Monitor.toJson(report)
              : { ...Monitor.toJson(report), cleanup: cleaned }
            return yield* Output.json(out)
          }
          const parts: Array<string> = []
          if (watching) {
            parts.push(
              `${clear ? "\u001b[H\u001b[2J" : ""}stream ${Output.safe(report.stream)} at ${
                new Date(report.at).toISOString()
              } (every ${Duration.format(Option.getOrThrow(flags.watch))}; Ctrl-C to stop)`
            )
          }
          if (cleaned !== undefined) parts.push(renderCleanup(cleaned, report.idleThresholdMs))
          parts.push(
            Monitor.render(report, flags.format === "seed" ? Monitor.tableHeaders : Monitor.tableHeadersWithUnits),
            summary(report)
          )
          yield* Output.line(parts.join("\n"))
        })
        yield* Option.match(flags.watch, {
          onNone: () => tick,
          onSome: (every) => Effect.asVoid(Effect.repeat(tick, Schedule.spaced(every)))
        })
      }).pipe(Effect.scoped)
    )
).pipe(
  Command.withDescription(
    "Show the health of a stream's consumer groups: the seed's table (group, consumer, idle time in ms, pending items, status; --format seed for the seed's exact header) and a line per group (lag, pending, consumers, oldest pending, dead letters), or JSON; once, or every --watch interval. Never creates the stream or a group."
  )
)

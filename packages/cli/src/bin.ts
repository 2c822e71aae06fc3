#!/usr/bin/env node
/**
 * The `redis-streams` executable: runs the command line given to the process
 * and exits with the code `Cli.run` returns (0 ok, 1 failure, 2 usage error;
 * Ctrl-C / SIGTERM stop long-running commands cleanly with 0). When stdout is
 * closed by its reader (`redis-streams tail ... | head -1`), the command is
 * stopped the same way, its finalizers run, and the exit code is 0.
 *
 * @since 0.1.0
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Cli from "./Cli.js"

// a write error on stdout must never crash the process with a stack trace
process.stdout.on("error", () => {})

/** succeeds once stdout's reader has gone away (EPIPE) */
const stdoutClosed: Effect.Effect<void> = Effect.async<void>((resume) => {
  const onError = (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE" || error.code === "ERR_STREAM_DESTROYED") resume(Effect.void)
  }
  process.stdout.on("error", onError)
  return Effect.sync(() => void process.stdout.off("error", onError))
})

Cli.run(process.argv.slice(2)).pipe(
  Effect.raceFirst(Effect.as(stdoutClosed, 0)),
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    disablePrettyLogger: true,
    teardown: (exit, onExit) =>
      onExit(
        Exit.isSuccess(exit)
          ? (typeof exit.value === "number" ? exit.value : 0)
          : Cause.isInterruptedOnly(exit.cause)
          ? 0
          : 1
      )
  })
)

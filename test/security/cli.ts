/**
 * The `redis-streams` command line as a user runs it: bundled from
 * packages/cli/src with esbuild (as its `build` script does) into a temporary
 * directory, then run with `node` in child processes. Every process started
 * here is killed and awaited when its scope closes.
 */
import { Effect, Scope } from "effect"
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const cliDir = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../../packages/cli")

export interface Run {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

export interface Cli {
  /** the bundle's path */
  readonly bundle: string
  /** run a command line to its end (killed after `timeoutMs`, default 30 s) */
  readonly run: (
    args: ReadonlyArray<string>,
    options?: { readonly env?: Record<string, string>; readonly stdin?: string; readonly timeoutMs?: number }
  ) => Effect.Effect<Run>
  /**
   * start a long-running command (serve, tail, monitor --watch); stopped with
   * SIGTERM (then SIGKILL) when the scope closes, or by `stop`
   */
  readonly start: (
    args: ReadonlyArray<string>,
    options?: { readonly env?: Record<string, string> }
  ) => Effect.Effect<Running, never, Scope.Scope>
}

export interface Running {
  readonly process: ChildProcess
  /** stdout and stderr so far */
  readonly output: () => { readonly stdout: string; readonly stderr: string }
  /** wait until stderr or stdout matches `pattern` (fails the test after `timeoutMs`) */
  readonly waitFor: (pattern: RegExp, timeoutMs?: number) => Effect.Effect<RegExpExecArray>
  /** SIGTERM, then SIGKILL after 5 s; resolves with how it ended */
  readonly stop: Effect.Effect<Run>
}

/** the environment of a child: ours without REDIS_URL and NODE_OPTIONS, plus `env` */
const childEnv = (env: Record<string, string> | undefined): NodeJS.ProcessEnv => {
  const out: NodeJS.ProcessEnv = { ...process.env }
  delete out["REDIS_URL"]
  delete out["NODE_OPTIONS"]
  delete out["VITEST"]
  return { ...out, ...env }
}

/** true when packages/cli exists with its sources */
export const cliExists = (): boolean => Fs.existsSync(Path.join(cliDir, "src", "bin.ts"))

/** build the bundle (fails the test with esbuild's output when the CLI does not build) */
export const cli: Effect.Effect<Cli, never, Scope.Scope> = Effect.gen(function*() {
  if (!cliExists()) return yield* Effect.dieMessage(`no CLI at ${cliDir}/src/bin.ts`)
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "ers-cli-"))),
    (d) => Effect.sync(() => Fs.rmSync(d, { recursive: true, force: true }))
  )
  const bundle = Path.join(dir, "redis-streams.cjs")
  const esbuild = Path.join(cliDir, "node_modules", ".bin", "esbuild")
  const built = spawnSync(
    esbuild,
    ["src/bin.ts", "--bundle", "--platform=node", "--target=node20", "--format=cjs", `--outfile=${bundle}`, "--log-level=warning"],
    { cwd: cliDir, encoding: "utf8" }
  )
  if (built.status !== 0) return yield* Effect.dieMessage(`the CLI does not build: ${built.stderr}${built.stdout}`)

  const run: Cli["run"] = (args, options = {}) =>
    Effect.async<Run>((resume) => {
      const child = spawn(process.execPath, [bundle, ...args], { env: childEnv(options.env), stdio: ["pipe", "pipe", "pipe"] })
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")))
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")))
      const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 30_000)
      child.on("close", (code, signal) => {
        clearTimeout(timer)
        resume(Effect.succeed({ code, signal, stdout, stderr }))
      })
      child.stdin.end(options.stdin ?? "")
      return Effect.sync(() => {
        clearTimeout(timer)
        child.kill("SIGKILL")
      })
    })

  const start: Cli["start"] = (args, options = {}) =>
    Effect.acquireRelease(
      Effect.sync(() => {
        const child = spawn(process.execPath, [bundle, ...args], { env: childEnv(options.env), stdio: ["pipe", "pipe", "pipe"] })
        let stdout = ""
        let stderr = ""
        child.stdout!.on("data", (c: Buffer) => (stdout += c.toString("utf8")))
        child.stderr!.on("data", (c: Buffer) => (stderr += c.toString("utf8")))
        const ended = new Promise<Run>((resolve) =>
          child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }))
        )
        const stop = Effect.promise(() => {
          if (child.exitCode === null && child.signalCode === null) {
            child.kill("SIGTERM")
            const hard = setTimeout(() => child.kill("SIGKILL"), 5000)
            return ended.finally(() => clearTimeout(hard))
          }
          return ended
        })
        const waitFor = (pattern: RegExp, timeoutMs = 20_000) =>
          Effect.gen(function*() {
            const until = Date.now() + timeoutMs
            while (true) {
              const m = pattern.exec(stderr) ?? pattern.exec(stdout)
              if (m !== null) return m
              if (child.exitCode !== null || child.signalCode !== null) {
                return yield* Effect.dieMessage(`the CLI exited (${child.exitCode}) before printing ${pattern}:\n${stdout}\n${stderr}`)
              }
              if (Date.now() > until) {
                return yield* Effect.dieMessage(`the CLI did not print ${pattern} within ${timeoutMs} ms:\n${stdout}\n${stderr}`)
              }
              yield* Effect.sleep("50 millis")
            }
          })
        return { process: child, output: () => ({ stdout, stderr }), waitFor, stop } satisfies Running
      }),
      (r) => Effect.asVoid(r.stop)
    )

  return { bundle, run, start }
})

/** `serve`'s address from its "serving ... on <address> (Ctrl-C to stop)" line */
export const servedAddress = /serving [\s\S]* on (\S+) \(Ctrl-C/

/** an HTTP GET on the served address */
export const get = (address: string, path: string) =>
  Effect.promise(async () => {
    const base = address.startsWith("http") ? address : `http://${address}`
    const response = await fetch(new URL(path, base))
    return { status: response.status, body: await response.text() }
  })

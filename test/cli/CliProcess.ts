/**
 * Running the built `redis-streams` CLI as a child process, for the CLI
 * suites.
 *
 * The CLI is built once per test worker with the package's own `build`
 * script (esbuild, one bundled file), into a private temporary directory,
 * then every run is `node <bundle> <args...>`: a real process with real
 * argv, stdin, stdout, stderr and exit code. Every child is bounded by a
 * timeout (then SIGKILL) and killed when its test ends.
 *
 * Also here: a strict parser of the Prometheus text format, used to check
 * `/metrics` line by line.
 */
import { Duration, Effect, Scope } from "effect"
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const cliDir = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../../packages/cli")

let built: string | undefined

/** build the CLI with the package's `build` script into a temporary file (once per worker); its path */
export const cliBundle = (): string => {
  if (built !== undefined) return built
  const pkg = JSON.parse(Fs.readFileSync(Path.join(cliDir, "package.json"), "utf8")) as {
    scripts: Record<string, string>
  }
  const [tool, ...args] = pkg.scripts["build"]!.split(/\s+/)
  if (tool !== "esbuild") throw new Error(`unexpected build script: ${pkg.scripts["build"]}`)
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "ers-cli-"))
  process.once("exit", () => Fs.rmSync(dir, { recursive: true, force: true }))
  const outfile = Path.join(dir, "redis-streams.cjs")
  const result = spawnSync(
    Path.join(cliDir, "node_modules/.bin/esbuild"),
    args.map((a) => (a.startsWith("--outfile=") ? `--outfile=${outfile}` : a)),
    { cwd: cliDir, encoding: "utf8", timeout: 60_000 }
  )
  if (result.status !== 0) throw new Error(`building the CLI failed:\n${result.stderr}`)
  built = outfile
  return outfile
}

/** the environment of a child: this process's, without REDIS_URL, plus `extra` */
const childEnv = (extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env }
  delete env["REDIS_URL"]
  return { ...env, ...extra }
}

export interface CliResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  /** stderr's non-empty lines */
  readonly errLines: ReadonlyArray<string>
  readonly ms: number
}

export interface RunOptions {
  /** written to stdin, then stdin is closed (closed empty when absent) */
  readonly input?: string
  /** extra environment variables (REDIS_URL is never inherited) */
  readonly env?: Readonly<Record<string, string>>
  /** SIGKILL after this long (default 20 s) */
  readonly timeoutMs?: number
}

/** run `redis-streams <args>` to completion */
export const runCli = (args: ReadonlyArray<string>, options: RunOptions = {}): Effect.Effect<CliResult> =>
  Effect.suspend(() => {
    const bin = cliBundle()
    return Effect.async<CliResult>((resume) => {
      const started = performance.now()
      const child = spawn(process.execPath, [bin, ...args], {
        env: childEnv(options.env),
        stdio: ["pipe", "pipe", "pipe"]
      })
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (c: Buffer) => (stdout += c.toString()))
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString()))
      child.stdin.on("error", () => {})
      const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 20_000)
      child.on("close", (code, signal) => {
        clearTimeout(timer)
        resume(Effect.succeed({
          code,
          signal,
          stdout,
          stderr,
          errLines: stderr.split("\n").filter((l) => l.length > 0),
          ms: performance.now() - started
        }))
      })
      child.stdin.end(options.input ?? "")
      return Effect.sync(() => {
        clearTimeout(timer)
        child.kill("SIGKILL")
      })
    })
  })

/** a long-running CLI process (tail, monitor --watch, serve), killed when the scope closes */
export interface CliProcess {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  /** wait until stderr matches, or fail after `ms` */
  readonly waitForStderr: (pattern: RegExp, ms?: number) => Effect.Effect<RegExpMatchArray, Error>
  /** wait until stdout has at least `n` lines, or fail after `ms` */
  readonly waitForLines: (n: number, ms?: number) => Effect.Effect<ReadonlyArray<string>, Error>
  /** send a signal and wait for the exit (SIGKILL after `ms`) */
  readonly stop: (
    signal?: NodeJS.Signals,
    ms?: number
  ) => Effect.Effect<{ readonly code: number | null; readonly signal: NodeJS.Signals | null; readonly ms: number }>
}

const poll = <A>(what: () => A | undefined, ms: number, describe: () => string): Effect.Effect<A, Error> =>
  Effect.gen(function*() {
    const deadline = performance.now() + ms
    while (true) {
      const found = what()
      if (found !== undefined) return found
      if (performance.now() > deadline) return yield* Effect.fail(new Error(`timed out after ${ms} ms: ${describe()}`))
      yield* Effect.sleep(Duration.millis(25))
    }
  })

/** start `redis-streams <args>` in the background; SIGKILLed when the scope closes if still running */
export const startCli = (
  args: ReadonlyArray<string>,
  options: Omit<RunOptions, "timeoutMs"> & { readonly timeoutMs?: number } = {}
): Effect.Effect<CliProcess, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const bin = cliBundle()
      const child = spawn(process.execPath, [bin, ...args], {
        env: childEnv(options.env),
        stdio: ["pipe", "pipe", "pipe"]
      })
      let stdout = ""
      let stderr = ""
      let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined
      child.stdout!.on("data", (c: Buffer) => (stdout += c.toString()))
      child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()))
      child.stdin!.on("error", () => {})
      child.on("exit", (code, signal) => (exit = { code, signal }))
      // a hard bound on every child, whatever the test does
      const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000)
      child.on("exit", () => clearTimeout(timer))
      if (options.input !== undefined) child.stdin!.end(options.input)
      const lines = () => stdout.split("\n").filter((l) => l.length > 0)
      const proc: CliProcess = {
        child,
        stdout: () => stdout,
        stderr: () => stderr,
        waitForStderr: (pattern, ms = 15_000) =>
          poll(
            () => {
              const m = stderr.match(pattern)
              if (m !== null) return m
              return exit !== undefined ? null : undefined
            },
            ms,
            () => `stderr to match ${pattern}; stderr so far: ${stderr}`
          ).pipe(
            Effect.flatMap((m) =>
              m === null
                ? Effect.fail(new Error(`the process exited (${JSON.stringify(exit)}) before stderr matched ${pattern}: ${stderr}`))
                : Effect.succeed(m)
            )
          ),
        waitForLines: (n, ms = 15_000) =>
          poll(
            () => (lines().length >= n ? lines() : undefined),
            ms,
            () => `${n} lines on stdout; got ${lines().length}: ${stdout}; stderr: ${stderr}`
          ),
        stop: (signal = "SIGTERM", ms = 10_000) =>
          Effect.async((resume) => {
            const started = performance.now()
            const done = () => resume(Effect.succeed({ code: exit!.code, signal: exit!.signal, ms: performance.now() - started }))
            if (exit !== undefined) return done()
            const killer = setTimeout(() => child.kill("SIGKILL"), ms)
            child.once("exit", () => {
              clearTimeout(killer)
              done()
            })
            child.kill(signal)
          })
      }
      return proc
    }),
    (proc) => Effect.sync(() => void (proc.child.exitCode === null && proc.child.signalCode === null && proc.child.kill("SIGKILL")))
  )

/** a loopback port nothing listens on (bound, then closed) */
export const closedPort = (): Effect.Effect<number> =>
  Effect.async<number>((resume) => {
    const server = Net.createServer()
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as Net.AddressInfo).port
      server.close(() => resume(Effect.succeed(port)))
    })
  })

/** GET a URL: status, content type and body */
export const httpGet = (url: string) =>
  Effect.tryPromise(async () => {
    const response = await fetch(url, { signal: AbortSignal.timeout(10_000) })
    return { status: response.status, contentType: response.headers.get("content-type"), body: await response.text() }
  })

// -----------------------------------------------------------------------------
// Prometheus text format, parsed strictly
// -----------------------------------------------------------------------------

export interface PromSample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface PromFamily {
  readonly name: string
  help: string | undefined
  type: string | undefined
  readonly samples: Array<PromSample>
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"])

/**
 * Parse the Prometheus text format (0.0.4) line by line; throws on the first
 * line that breaks it, naming the line. Checks: every line is a HELP, a
 * TYPE, or a sample; names are valid; label values are quoted with only
 * `\\`, `\"` and `\n` escapes; HELP and TYPE come once per family and before
 * its samples; a family's samples are contiguous; no sample (name + labels)
 * appears twice; values are numbers, NaN or ±Inf; the text ends with a newline.
 */
export const parsePrometheus = (text: string): Map<string, PromFamily> => {
  if (text.length > 0 && !text.endsWith("\n")) throw new Error("the exposition does not end with a newline")
  const families = new Map<string, PromFamily>()
  const seen = new Set<string>()
  let current: PromFamily | undefined
  const family = (name: string, n: number): PromFamily => {
    let f = families.get(name)
    if (f === undefined) {
      f = { name, help: undefined, type: undefined, samples: [] }
      families.set(name, f)
    } else if (f !== current) {
      throw new Error(`line ${n}: family ${name} appears again after another family`)
    }
    current = f
    return f
  }
  const lines = text.split("\n")
  if (lines[lines.length - 1] === "") lines.pop()
  lines.forEach((line, i) => {
    const n = i + 1
    if (line.startsWith("#")) {
      const help = /^# HELP ([^ ]+) (.*)$/.exec(line)
      const type = /^# TYPE ([^ ]+) ([a-z]+)$/.exec(line)
      if (help !== null) {
        if (!METRIC_NAME.test(help[1]!)) throw new Error(`line ${n}: bad metric name in HELP: ${line}`)
        if (/\\[^\\n]/.test(help[2]!.replace(/\\\\/g, ""))) throw new Error(`line ${n}: bad escape in HELP: ${line}`)
        const f = family(help[1]!, n)
        if (f.help !== undefined) throw new Error(`line ${n}: second HELP for ${f.name}`)
        if (f.samples.length > 0) throw new Error(`line ${n}: HELP after samples of ${f.name}`)
        f.help = help[2]!
        return
      }
      if (type !== null) {
        if (!METRIC_NAME.test(type[1]!)) throw new Error(`line ${n}: bad metric name in TYPE: ${line}`)
        if (!TYPES.has(type[2]!)) throw new Error(`line ${n}: unknown type: ${line}`)
        const f = family(type[1]!, n)
        if (f.type !== undefined) throw new Error(`line ${n}: second TYPE for ${f.name}`)
        if (f.samples.length > 0) throw new Error(`line ${n}: TYPE after samples of ${f.name}`)
        f.type = type[2]!
        return
      }
      if (line.startsWith("# ")) return // a comment
      throw new Error(`line ${n}: malformed comment line: ${line}`)
    }
    // name{labels} value
    const nameMatch = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line)
    if (nameMatch === null) throw new Error(`line ${n}: no metric name: ${line}`)
    const name = nameMatch[1]!
    let pos = name.length
    const labels: Record<string, string> = {}
    if (line[pos] === "{") {
      pos++
      while (line[pos] !== "}") {
        const labelMatch = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(pos))
        if (labelMatch === null || !LABEL_NAME.test(labelMatch[1]!)) throw new Error(`line ${n}: bad label at ${pos}: ${line}`)
        pos += labelMatch[0].length
        let value = ""
        while (true) {
          const c = line[pos]
          if (c === undefined) throw new Error(`line ${n}: unterminated label value: ${line}`)
          if (c === "\"") break
          if (c === "\\") {
            const e = line[pos + 1]
            if (e === "\\") value += "\\"
            else if (e === "\"") value += "\""
            else if (e === "n") value += "\n"
            else throw new Error(`line ${n}: bad escape \\${e} in a label value: ${line}`)
            pos += 2
            continue
          }
          value += c
          pos++
        }
        pos++ // closing quote
        if (labelMatch[1]! in labels) throw new Error(`line ${n}: label ${labelMatch[1]} twice: ${line}`)
        labels[labelMatch[1]!] = value
        if (line[pos] === ",") pos++
        else if (line[pos] !== "}") throw new Error(`line ${n}: expected , or } at ${pos}: ${line}`)
      }
      pos++
    }
    const rest = line.slice(pos)
    const valueMatch = /^ (\S+)( -?\d+)?$/.exec(rest)
    if (valueMatch === null) throw new Error(`line ${n}: bad value part '${rest}': ${line}`)
    const raw = valueMatch[1]!
    const value = raw === "NaN" ? NaN : raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : Number(raw)
    if (!/^(NaN|[+-]Inf|[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)$/.test(raw)) {
      throw new Error(`line ${n}: bad value ${raw}: ${line}`)
    }
    // a histogram's or summary's _bucket / _sum / _count samples belong to its family
    const suffix = /_(bucket|sum|count)$/.exec(name)
    const base = suffix === null ? undefined : name.slice(0, suffix.index)
    const grouped = base !== undefined && current?.name === base &&
      (current.type === "histogram" || (current.type === "summary" && suffix![1] !== "bucket"))
    if (grouped && suffix![1] === "bucket" && labels["le"] === undefined) throw new Error(`line ${n}: a bucket without le: ${line}`)
    const f = grouped ? current! : family(name, n)
    if (f.help === undefined || f.type === undefined) throw new Error(`line ${n}: sample of ${name} before its HELP and TYPE`)
    const key = name + JSON.stringify(Object.entries(labels).sort())
    if (seen.has(key)) throw new Error(`line ${n}: duplicate sample: ${line}`)
    seen.add(key)
    f.samples.push({ name, labels, value })
  })
  return families
}

/** the value of the one sample of `name` whose labels include `labels` */
export const sampleValue = (
  families: Map<string, PromFamily>,
  name: string,
  labels: Readonly<Record<string, string>>
): number | undefined => {
  const matches = (families.get(name)?.samples ?? []).filter((s) =>
    Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  )
  if (matches.length > 1) throw new Error(`${matches.length} samples of ${name} match ${JSON.stringify(labels)}`)
  return matches[0]?.value
}

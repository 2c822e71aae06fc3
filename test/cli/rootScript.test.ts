/**
 * `pnpm redis-streams ...` from the repository root, as the README shows it: it runs the compiled
 * CLI (packages/cli/dist/redis-streams.cjs, built by the package's own `build` script when missing
 * or older than a source), and the exit codes come through pnpm unchanged (2 for usage errors).
 */
import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../..")
const bundle = Path.join(root, "packages/cli/dist/redis-streams.cjs")

const pnpm = (args: ReadonlyArray<string>) => {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" }
  delete env["REDIS_URL"]
  const started = performance.now()
  const r = spawnSync("pnpm", ["-s", "redis-streams", ...args], { cwd: root, env, encoding: "utf8", timeout: 120_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - started }
}

describe("pnpm redis-streams (the root script)", () => {
  it("builds the bundle when it is older than the sources, then runs it; --version and --help", { timeout: 180_000 }, () => {
    if (Fs.existsSync(bundle)) Fs.utimesSync(bundle, new Date(0), new Date(0))
    const first = pnpm(["--version"])
    assert.strictEqual(first.code, 0, first.stderr)
    assert.strictEqual(first.stdout.trim(), "0.1.0")
    assert.match(first.stderr, /building packages\/cli\/dist\/redis-streams\.cjs/)
    assert.isAbove(Fs.statSync(bundle).mtimeMs, 0)
    // up to date now: no build
    const help = pnpm(["--help"])
    assert.strictEqual(help.code, 0, help.stderr)
    assert.notMatch(help.stderr, /building/)
    assert.match(help.stdout, /redis-streams/)
    assert.match(help.stdout, /produce/)
    process.stdout.write(`pnpm redis-streams --help: ${help.ms.toFixed(0)} ms\n`)
  })

  it("usage errors exit 2 through pnpm, other failures 1", { timeout: 120_000 }, () => {
    const usage = pnpm(["produce", "s", "--field", "novalue"])
    assert.strictEqual(usage.code, 2, usage.stderr)
    assert.match(usage.stderr, /^redis-streams: --field expects key=value, got 'novalue'$/m)
    assert.match(usage.stderr, /^usage: redis-streams produce /m)
    const unknown = pnpm(["nosuchcommand"])
    assert.strictEqual(unknown.code, 2, unknown.stderr)
    const unreachable = pnpm(["info", "s", "--url", "redis://127.0.0.1:1"])
    assert.strictEqual(unreachable.code, 1, unreachable.stderr)
    assert.match(unreachable.stderr, /^redis-streams: .*127\.0\.0\.1:1/m)
  })
})

#!/usr/bin/env node
// `pnpm redis-streams ...` from the repository root: run the compiled CLI (dist/redis-streams.cjs),
// building it first with the package's own `build` script when it is missing or older than a source
// file of the CLI or of the library it bundles. The bundle then runs in this process, with this
// process's arguments, and sets the exit code itself (0, 1, or 2 for usage errors).
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const cliDir = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")
const pkg = JSON.parse(Fs.readFileSync(Path.join(cliDir, "package.json"), "utf8"))
const bundle = Path.join(cliDir, pkg.bin["redis-streams"])

/** the newest modification time of the files under `dir` (0 when it does not exist) */
const newest = (dir) => {
  let latest = 0
  let entries
  try {
    entries = Fs.readdirSync(dir, { withFileTypes: true })
  } catch {
    return 0
  }
  for (const entry of entries) {
    const path = Path.join(dir, entry.name)
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : Fs.statSync(path).mtimeMs)
  }
  return latest
}

const inputs = [
  Path.join(cliDir, "src"),
  Path.join(cliDir, "package.json"),
  Path.join(cliDir, "../redis-streams/src"),
  Path.join(cliDir, "../redis-streams/package.json")
]
const builtAt = Fs.existsSync(bundle) ? Fs.statSync(bundle).mtimeMs : -1
const sourcesAt = Math.max(...inputs.map((p) => (Fs.statSync(p, { throwIfNoEntry: false })?.isDirectory() ? newest(p) : Fs.statSync(p, { throwIfNoEntry: false })?.mtimeMs ?? 0)))

if (builtAt < sourcesAt) {
  const [tool, ...args] = pkg.scripts.build.split(/\s+/)
  if (tool !== "esbuild") throw new Error(`unexpected build script: ${pkg.scripts.build}`)
  process.stderr.write(`redis-streams: building ${Path.relative(process.cwd(), bundle)} ...\n`)
  const result = spawnSync(Path.join(cliDir, "node_modules/.bin/esbuild"), args, { cwd: cliDir, stdio: "inherit" })
  if (result.status !== 0) process.exit(result.status ?? 1)
}

createRequire(import.meta.url)(bundle)

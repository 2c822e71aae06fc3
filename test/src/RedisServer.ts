/**
 * Starting private redis-server processes for tests: on a free loopback port,
 * stopped when the scope (or the test run) ends. Plain Node so the vitest
 * global setup can use it too.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"

export const redisServerBin = (): string => process.env["REDIS_SERVER_BIN"] ?? "redis-server"

/** true when a redis-server binary can be run */
export const hasRedisServer = (): boolean => {
  const r = spawnSync(redisServerBin(), ["--version"], { stdio: "ignore" })
  return r.status === 0
}

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = Net.createServer()
    server.unref()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as Net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

export interface RedisServerOptions {
  /** extra redis-server arguments, e.g. ["--appendonly", "yes"] */
  readonly args?: ReadonlyArray<string>
  readonly port?: number
}

/**
 * A redis-server child process. `stop()` kills it (SIGKILL by default, as a
 * crash would), `start()` starts it again on the same port and directory.
 */
export class RedisServerProcess {
  private child: ChildProcess | undefined
  readonly dir: string
  constructor(readonly port: number, readonly args: ReadonlyArray<string>) {
    this.dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "ers-redis-"))
  }
  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
  }
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(
        redisServerBin(),
        [
          "--port", String(this.port),
          "--bind", "127.0.0.1",
          "--save", "",
          "--appendonly", "no",
          "--protected-mode", "no",
          "--dir", this.dir,
          ...this.args
        ],
        { stdio: ["ignore", "pipe", "pipe"] }
      )
      this.child = child
      let out = ""
      const timer = setTimeout(() => {
        child.kill("SIGKILL")
        reject(new Error(`redis-server on port ${this.port} was not ready within 10 s:\n${out}`))
      }, 10_000)
      const onData = (chunk: Buffer) => {
        out += chunk.toString()
        if (out.includes("Ready to accept connections")) {
          clearTimeout(timer)
          child.stdout?.off("data", onData)
          child.stdout?.resume()
          child.stderr?.resume()
          resolve()
        }
      }
      child.stdout?.on("data", onData)
      child.stderr?.on("data", (c: Buffer) => (out += c.toString()))
      child.on("error", (err) => {
        clearTimeout(timer)
        reject(err)
      })
      child.on("exit", (code) => {
        if (!out.includes("Ready to accept connections")) {
          clearTimeout(timer)
          reject(new Error(`redis-server exited with ${code}:\n${out}`))
        }
      })
    })
  }
  stop(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const child = this.child
    if (!child || !this.running) return Promise.resolve()
    return new Promise((resolve) => {
      child.once("exit", () => resolve())
      child.kill(signal)
    })
  }
  async dispose(): Promise<void> {
    await this.stop()
    Fs.rmSync(this.dir, { recursive: true, force: true })
  }
}

/** start a private redis-server on a free loopback port (retries on a port race) */
export const startRedisServerProcess = async (options: RedisServerOptions = {}): Promise<RedisServerProcess> => {
  let lastError: unknown
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = options.port ?? (await freePort())
    const server = new RedisServerProcess(port, options.args ?? [])
    try {
      await server.start()
      return server
    } catch (e) {
      lastError = e
      await server.dispose()
      if (options.port !== undefined) break
    }
  }
  throw lastError
}

/**
 * A Redis Cluster for tests: `masters` (default 3) redis-server processes with
 * `--cluster-enabled yes` on free loopback ports, joined with
 * `redis-cli --cluster create`, stopped (SIGKILL, directories removed) when the
 * scope closes, and also when the test process exits.
 *
 * Also here, shared with RedisSentinel.ts: `spawnRedis` (one redis-server
 * child, killed on scope close or process exit), `keySlot` (the Cluster hash
 * slot of a key, with hash tags), and `clusterLayer` (RedisConnection +
 * RedisBackend over an ioredis Cluster, with the `TestKit` of Harness.ts whose
 * `key()` spreads the keys of a test over all the shards in turn).
 */
import { Context, Duration, Effect, Layer, type Scope } from "effect"
import { RedisBackend, type RedisConnection, type StreamsBackend } from "effect-redis-streams"
import { Cluster, Redis } from "ioredis"
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { randomUUID } from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { TestKit } from "./Harness.js"
import { freePort, redisServerBin } from "./RedisServer.js"

// -----------------------------------------------------------------------------
// availability
// -----------------------------------------------------------------------------

export const redisCliBin = (): string => process.env["REDIS_CLI_BIN"] ?? "redis-cli"

const runs = (bin: string): boolean => spawnSync(bin, ["--version"], { stdio: "ignore" }).status === 0

/**
 * Why the Cluster / Sentinel suites cannot run here, or `undefined` when they
 * can. They need redis-server and redis-cli on PATH (Debian: `apt-get install
 * redis-server redis-tools`).
 */
export const topologyUnavailable = (): string | undefined => {
  const missing = [redisServerBin(), redisCliBin()].filter((bin) => !runs(bin))
  return missing.length === 0
    ? undefined
    : `skipped: ${missing.join(" and ")} not on PATH (apt-get install redis-server redis-tools)`
}

// -----------------------------------------------------------------------------
// processes
// -----------------------------------------------------------------------------

const live = new Set<ChildProcess>()
let exitHookInstalled = false
const installExitHook = () => {
  if (exitHookInstalled) return
  exitHookInstalled = true
  // a test process that ends without closing its scopes (crash, Ctrl-C) leaves no server behind
  process.on("exit", () => {
    for (const child of live) child.kill("SIGKILL")
  })
}

/** one redis-server child process (a node, a replica or a sentinel) */
export class RedisProcess {
  private child: ChildProcess | undefined
  log = ""
  constructor(
    readonly port: number,
    readonly dir: string,
    private readonly args: ReadonlyArray<string>,
    private readonly readyLine: string
  ) {}
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
  }
  get pid(): number | undefined {
    return this.child?.pid
  }
  start(): Promise<void> {
    installExitHook()
    return new Promise((resolve, reject) => {
      const child = spawn(redisServerBin(), [...this.args], { cwd: this.dir, stdio: ["ignore", "pipe", "pipe"] })
      this.child = child
      live.add(child)
      let ready = false
      const timer = setTimeout(() => {
        child.kill("SIGKILL")
        reject(new Error(`redis-server on port ${this.port} was not ready within 10 s:\n${this.log}`))
      }, 10_000)
      const onData = (chunk: Buffer) => {
        // keep the last 20 KB of output for error messages
        this.log = (this.log + chunk.toString()).slice(-20_000)
        if (!ready && this.log.includes(this.readyLine)) {
          ready = true
          clearTimeout(timer)
          resolve()
        }
      }
      child.stdout?.on("data", onData)
      child.stderr?.on("data", onData)
      child.on("error", (err) => {
        clearTimeout(timer)
        reject(err)
      })
      child.on("exit", (code) => {
        live.delete(child)
        if (!ready) {
          clearTimeout(timer)
          reject(new Error(`redis-server on port ${this.port} exited with ${code}:\n${this.log}`))
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
}

/**
 * Start redis-server with `args` (a config file path first, or options) in a
 * fresh directory, on a free port (`port` gives the port to the args);
 * retries on a port race. `readyLine` is what its log prints when it accepts
 * connections.
 */
export const spawnRedis = async (
  makeArgs: (port: number, dir: string) => ReadonlyArray<string>,
  readyLine = "Ready to accept connections"
): Promise<RedisProcess> => {
  let lastError: unknown
  for (let attempt = 0; attempt < 4; attempt++) {
    const port = await freePort()
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "ers-topology-"))
    const server = new RedisProcess(port, dir, makeArgs(port, dir), readyLine)
    try {
      await server.start()
      return server
    } catch (e) {
      lastError = e
      await server.stop()
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  }
  throw lastError
}

export const disposeRedis = async (server: RedisProcess): Promise<void> => {
  await server.stop()
  Fs.rmSync(server.dir, { recursive: true, force: true })
}

/** the options every test server gets: loopback, no persistence */
export const baseArgs = (port: number, dir: string): Array<string> => [
  "--port",
  String(port),
  "--bind",
  "127.0.0.1",
  "--protected-mode",
  "no",
  "--save",
  "",
  "--appendonly",
  "no",
  "--dir",
  dir
]

/** run redis-cli with `args`; resolves with its output, rejects on a non-zero exit or after `timeoutMs` */
export const redisCli = (args: ReadonlyArray<string>, timeoutMs = 30_000): Promise<string> =>
  new Promise((resolve, reject) => {
    const child = spawn(redisCliBin(), [...args], { stdio: ["ignore", "pipe", "pipe"] })
    live.add(child)
    let out = ""
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.stdout.on("data", (c: Buffer) => (out += c.toString()))
    child.stderr.on("data", (c: Buffer) => (out += c.toString()))
    child.on("error", (err) => {
      clearTimeout(timer)
      reject(err)
    })
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      live.delete(child)
      if (code === 0) resolve(out)
      else reject(new Error(`redis-cli ${args.join(" ")} failed (${signal ?? code}):\n${out}`))
    })
  })

/** a plain client on one server, not retrying (for setup and checks); quit with `quitClient` */
export const nodeClient = (port: number): Redis => {
  const client = new Redis({ host: "127.0.0.1", port, maxRetriesPerRequest: 1, retryStrategy: () => null, lazyConnect: false })
  // a failed connect rejects the commands; without a listener ioredis would also print it on stderr
  client.on("error", () => {})
  return client
}

export const quitClient = (client: Redis | Cluster): Promise<void> =>
  client.quit().then(() => undefined, () => client.disconnect())

export const waitFor = async (what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> => {
  const start = Date.now()
  let lastError: unknown
  while (Date.now() - start < timeoutMs) {
    try {
      if (await check()) return
    } catch (e) {
      lastError = e
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`)
}

// -----------------------------------------------------------------------------
// hash slots
// -----------------------------------------------------------------------------

const CRC16_TABLE = (() => {
  const table = new Uint16Array(256)
  for (let i = 0; i < 256; i++) {
    let crc = i << 8
    for (let j = 0; j < 8; j++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
    table[i] = crc
  }
  return table
})()

/** the Cluster hash slot of a key (CRC16-XMODEM of the key, or of its hash tag, mod 16384) */
export const keySlot = (key: string): number => {
  let bytes = Buffer.from(key, "utf8")
  const open = bytes.indexOf(0x7b) // {
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1) // }
    if (close !== -1 && close !== open + 1) bytes = bytes.subarray(open + 1, close)
  }
  let crc = 0
  for (const b of bytes) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ b) & 0xff]!
  return crc % 16384
}

// -----------------------------------------------------------------------------
// the cluster
// -----------------------------------------------------------------------------

export interface SlotRange {
  readonly from: number
  readonly to: number
  readonly port: number
}

export class RedisClusterProcess {
  constructor(readonly nodes: ReadonlyArray<RedisProcess>, readonly slots: ReadonlyArray<SlotRange>) {}
  get ports(): ReadonlyArray<number> {
    return this.nodes.map((n) => n.port)
  }
  get startupNodes(): ReadonlyArray<{ readonly host: string; readonly port: number }> {
    return this.nodes.map((n) => ({ host: "127.0.0.1", port: n.port }))
  }
  /** the port of the master serving `key` */
  portOf(key: string): number {
    const slot = keySlot(key)
    const range = this.slots.find((r) => slot >= r.from && slot <= r.to)
    if (range === undefined) throw new Error(`slot ${slot} is not served`)
    return range.port
  }
  /** the index (0..masters-1) of the shard serving `key` */
  shardOf(key: string): number {
    return this.ports.indexOf(this.portOf(key))
  }
  /** a fresh unique key served by shard `shard` */
  keyOnShard(shard: number, prefix = "t"): string {
    for (;;) {
      const key = `${prefix}-${randomUUID().slice(0, 12)}`
      if (this.shardOf(key) === shard) return key
    }
  }
  async dispose(): Promise<void> {
    await Promise.all(this.nodes.map(disposeRedis))
  }
}

const parseSlots = (reply: unknown): Array<SlotRange> =>
  (reply as Array<[number, number, [string, number, ...Array<unknown>], ...Array<unknown>]>).map((r) => ({
    from: Number(r[0]),
    to: Number(r[1]),
    port: Number(r[2][1])
  })).sort((a, b) => a.from - b.from)

/**
 * Start `masters` nodes, create the cluster with redis-cli, and wait until
 * every node reports `cluster_state:ok` and the same slot map. On failure
 * every node started is stopped.
 */
export const startRedisClusterProcess = async (options: { readonly masters?: number } = {}): Promise<RedisClusterProcess> => {
  const masters = options.masters ?? 3
  const nodes: Array<RedisProcess> = []
  try {
    for (let i = 0; i < masters; i++) {
      const busPort = await freePort()
      nodes.push(
        await spawnRedis((port, dir) => [
          ...baseArgs(port, dir),
          "--cluster-enabled",
          "yes",
          "--cluster-config-file",
          "nodes.conf",
          "--cluster-port",
          String(busPort),
          "--cluster-node-timeout",
          "5000"
        ])
      )
    }
    await redisCli([
      "--cluster",
      "create",
      ...nodes.map((n) => `127.0.0.1:${n.port}`),
      "--cluster-replicas",
      "0",
      "--cluster-yes"
    ])
    let slots: Array<SlotRange> = []
    await waitFor("every node to report cluster_state:ok and the same slots", async () => {
      const views = await Promise.all(nodes.map(async (n) => {
        const client = nodeClient(n.port)
        try {
          const info = String(await client.call("CLUSTER", "INFO"))
          const ranges = parseSlots(await client.call("CLUSTER", "SLOTS"))
          return { ok: info.includes("cluster_state:ok"), ranges }
        } finally {
          await quitClient(client)
        }
      }))
      const first = JSON.stringify(views[0]!.ranges)
      const covered = views[0]!.ranges.reduce((n, r) => n + r.to - r.from + 1, 0) === 16384
      slots = views[0]!.ranges
      return covered && views.every((v) => v.ok && JSON.stringify(v.ranges) === first)
    })
    return new RedisClusterProcess(nodes, slots)
  } catch (e) {
    await Promise.all(nodes.map(disposeRedis))
    throw e
  }
}

/** a cluster for the scope */
export const startRedisCluster = (
  options: { readonly masters?: number } = {}
): Effect.Effect<RedisClusterProcess, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => startRedisClusterProcess(options)),
    (cluster) => Effect.promise(() => cluster.dispose())
  )

// -----------------------------------------------------------------------------
// layer
// -----------------------------------------------------------------------------

/** the cluster of a `clusterLayer`, with helpers for checks on its nodes */
export class TestCluster extends Context.Tag("test/TestCluster")<TestCluster, {
  readonly cluster: RedisClusterProcess
  /** run a command on the node serving `key` (not through the library), e.g. to prove where a key lives */
  readonly onNodeOf: (key: string, command: string, ...args: Array<string | number>) => Effect.Effect<unknown>
  /** run a command on every node, in node order */
  readonly onEveryNode: (command: string, ...args: Array<string | number>) => Effect.Effect<ReadonlyArray<unknown>>
}>() {}

const nodeCall = (port: number, command: string, args: ReadonlyArray<string | number>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => nodeClient(port)),
    (client) => Effect.promise(() => client.call(command, ...args)),
    (client) => Effect.promise(() => quitClient(client))
  )

/**
 * A 3-master cluster for the test file, RedisConnection + RedisBackend on it
 * over an ioredis `Cluster`, a `TestKit` whose `key()` hands out keys on shard
 * 0, 1, 2, 0, ... in turn, and `TestCluster`.
 */
export const clusterLayer = (
  connection: Omit<RedisConnection.Options, "cluster"> = {}
): Layer.Layer<StreamsBackend.StreamsBackend | RedisConnection.RedisConnection | TestKit | TestCluster> =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const cluster = yield* startRedisCluster()
    const raw = yield* Effect.acquireRelease(
      Effect.sync(() => new Cluster(cluster.startupNodes.map((n) => ({ ...n })), { redisOptions: { maxRetriesPerRequest: 1 } })),
      (c) => Effect.promise(() => quitClient(c))
    )
    let next = 0
    const kit = TestKit.of({
      backend: "redis",
      key: (prefix = "t") => cluster.keyOnShard(next++ % cluster.nodes.length, prefix),
      sleep: (ms) => Effect.sleep(Duration.millis(ms)),
      setString: (key, value) => Effect.promise(() => raw.set(key, value)).pipe(Effect.asVoid),
      deleteKey: (key) => Effect.promise(() => raw.del(key)).pipe(Effect.asVoid)
    })
    const info = TestCluster.of({
      cluster,
      onNodeOf: (key, command, ...args) => nodeCall(cluster.portOf(key), command, args),
      onEveryNode: (command, ...args) => Effect.forEach(cluster.ports, (port) => nodeCall(port, command, args))
    })
    return Layer.mergeAll(
      Layer.succeed(TestKit, kit),
      Layer.succeed(TestCluster, info),
      RedisBackend.layerRedis({ ...connection, cluster: { nodes: cluster.startupNodes } })
    )
  })).pipe(Layer.orDie)

/**
 * A Sentinel topology for tests: one master, one replica and one sentinel
 * (`redis-server <conf> --sentinel`, quorum 1) on free loopback ports, stopped
 * (SIGKILL, directories removed) when the scope closes or the test process
 * exits. `failover()` runs SENTINEL FAILOVER and waits until the replica is
 * the master, Sentinel reports it, and the old master replicates from it.
 */
import { Effect, type Scope } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import {
  baseArgs,
  disposeRedis,
  nodeClient,
  quitClient,
  type RedisProcess,
  spawnRedis,
  waitFor
} from "./RedisCluster.js"

export const MASTER_NAME = "mymaster"

const info = async (port: number, section: string): Promise<string> => {
  const client = nodeClient(port)
  try {
    return String(await client.call("INFO", section))
  } finally {
    await quitClient(client)
  }
}

const field = (text: string, name: string): string | undefined =>
  new RegExp(`^${name}:(.*)$`, "m").exec(text)?.[1]?.trim()

export interface Failover {
  readonly from: number
  readonly to: number
  /** SENTINEL FAILOVER sent -> Sentinel names the new master */
  readonly switchedMs: number
  /** SENTINEL FAILOVER sent -> the old master replicates from the new one (link up); only with `waitForOldMaster` */
  readonly settledMs: number | undefined
}

export class RedisSentinelProcess {
  constructor(
    readonly servers: ReadonlyArray<RedisProcess>,
    readonly sentinel: RedisProcess
  ) {}
  readonly name = MASTER_NAME
  get sentinels(): ReadonlyArray<{ readonly host: string; readonly port: number }> {
    return [{ host: "127.0.0.1", port: this.sentinel.port }]
  }
  /** the master's port as Sentinel reports it */
  async masterPort(): Promise<number> {
    const client = nodeClient(this.sentinel.port)
    try {
      const reply = await client.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", this.name) as [string, string]
      return Number(reply[1])
    } finally {
      await quitClient(client)
    }
  }
  /** how many clients are connected to the sentinel (this probe excluded) */
  async sentinelClients(): Promise<number> {
    const client = nodeClient(this.sentinel.port)
    try {
      const list = String(await client.call("CLIENT", "LIST"))
      return list.split("\n").filter((l) => l.trim() !== "").length - 1
    } finally {
      await quitClient(client)
    }
  }
  /** the server (master or replica) on `port` */
  server(port: number): RedisProcess {
    const s = this.servers.find((x) => x.port === port)
    if (s === undefined) throw new Error(`no server on port ${port}`)
    return s
  }
  /**
   * SENTINEL FAILOVER, then wait until Sentinel names the replica as master
   * and it reports role:master; with `waitForOldMaster`, also until the old
   * master replicates from it (Sentinel demotes it 8 s or more later).
   */
  async failover(options: { readonly waitForOldMaster?: boolean } = {}): Promise<Failover> {
    const from = await this.masterPort()
    const to = this.servers.find((s) => s.port !== from)!.port
    const start = Date.now()
    const sentinel = nodeClient(this.sentinel.port)
    try {
      // NOGOODSLAVE until Sentinel has a fresh INFO of the replica: retry briefly
      await waitFor("SENTINEL FAILOVER to be accepted", async () => {
        await sentinel.call("SENTINEL", "FAILOVER", this.name)
        return true
      }, 10_000)
    } finally {
      await quitClient(sentinel)
    }
    await waitFor("Sentinel to name the new master", async () => (await this.masterPort()) === to, 20_000)
    const switchedMs = Date.now() - start
    await waitFor("the new master to report role:master", async () => field(await info(to, "replication"), "role") === "master")
    if (options.waitForOldMaster !== true) return { from, to, switchedMs, settledMs: undefined }
    await waitFor("the old master to replicate from the new one", async () => {
      const r = await info(from, "replication")
      return field(r, "role") === "slave" && field(r, "master_port") === String(to) &&
        field(r, "master_link_status") === "up"
    }, 30_000)
    return { from, to, switchedMs, settledMs: Date.now() - start }
  }
  /**
   * SIGKILL the master; wait until Sentinel names the replica as master.
   * Returns the old and new master ports and when the switch was seen.
   */
  async killMaster(): Promise<{ readonly from: number; readonly to: number; readonly switchedMs: number }> {
    const from = await this.masterPort()
    const to = this.servers.find((s) => s.port !== from)!.port
    const start = Date.now()
    await this.server(from).stop("SIGKILL")
    await waitFor("Sentinel to promote the replica", async () => (await this.masterPort()) === to, 30_000)
    return { from, to, switchedMs: Date.now() - start }
  }
  /**
   * Start a killed server again on its port and wait until it replicates
   * from the current master (Sentinel reconfigures it) and Sentinel lists it
   * as a healthy replica, so that a next failover can promote it.
   */
  async rejoin(port: number): Promise<void> {
    await this.server(port).start()
    const master = await this.masterPort()
    // what Sentinel would do (it waits some seconds before reconfiguring a restarted master)
    await waitFor("REPLICAOF to be accepted", async () => {
      const client = nodeClient(port)
      try {
        await client.call("REPLICAOF", "127.0.0.1", String(master))
        return true
      } finally {
        await quitClient(client)
      }
    })
    await waitFor("the restarted server to replicate from the new master", async () => {
      const r = await info(port, "replication")
      return field(r, "role") === "slave" && field(r, "master_port") === String(master) &&
        field(r, "master_link_status") === "up"
    }, 30_000)
    await waitFor("Sentinel to list it as a healthy replica", async () => {
      const client = nodeClient(this.sentinel.port)
      try {
        const replicas = await client.call("SENTINEL", "REPLICAS", this.name) as Array<Array<string>>
        return replicas.some((r) => r[r.indexOf("port") + 1] === String(port) && r[r.indexOf("flags") + 1] === "slave")
      } finally {
        await quitClient(client)
      }
    }, 30_000)
  }
  async dispose(): Promise<void> {
    await Promise.all([this.sentinel, ...this.servers].map(disposeRedis))
  }
}

export interface SentinelOptions {
  readonly serverArgs?: ReadonlyArray<string>
  /**
   * Sentinel's failover-timeout (default 5000 ms); Sentinel does not start a
   * new failover of the same master within twice this time of the last one
   */
  readonly failoverTimeoutMs?: number
}

/**
 * Start a master, a replica of it, and a sentinel monitoring the master
 * (down-after 1 s, failover-timeout 5 s), and wait until the replica is in
 * sync and Sentinel knows it. On failure every process started is stopped.
 */
export const startRedisSentinelProcess = async (
  options: SentinelOptions = {}
): Promise<RedisSentinelProcess> => {
  const started: Array<RedisProcess> = []
  try {
    const master = await spawnRedis((port, dir) => [...baseArgs(port, dir), ...(options.serverArgs ?? [])])
    started.push(master)
    const replica = await spawnRedis((port, dir) => [
      ...baseArgs(port, dir),
      "--replicaof",
      "127.0.0.1",
      String(master.port),
      ...(options.serverArgs ?? [])
    ])
    started.push(replica)
    await waitFor("the replica to be in sync", async () => {
      const r = await info(replica.port, "replication")
      return field(r, "master_link_status") === "up"
    })
    const sentinel = await spawnRedis((port, dir) => {
      const conf = Path.join(dir, "sentinel.conf")
      Fs.writeFileSync(
        conf,
        [
          `port ${port}`,
          "bind 127.0.0.1",
          "protected-mode no",
          `dir ${dir}`,
          `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${master.port} 1`,
          `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
          `sentinel failover-timeout ${MASTER_NAME} ${options.failoverTimeoutMs ?? 5000}`,
          `sentinel parallel-syncs ${MASTER_NAME} 1`,
          ""
        ].join("\n")
      )
      return [conf, "--sentinel"]
    }, "+monitor master")
    started.push(sentinel)
    const topology = new RedisSentinelProcess([master, replica], sentinel)
    await waitFor("Sentinel to know the replica", async () => {
      const client = nodeClient(sentinel.port)
      try {
        const replicas = await client.call("SENTINEL", "REPLICAS", MASTER_NAME) as Array<Array<string>>
        return replicas.some((r) => {
          const flags = r[r.indexOf("flags") + 1] ?? ""
          return r[r.indexOf("port") + 1] === String(replica.port) && flags === "slave"
        })
      } finally {
        await quitClient(client)
      }
    })
    return topology
  } catch (e) {
    await Promise.all(started.map(disposeRedis))
    throw e
  }
}

/** a Sentinel topology for the scope */
export const startRedisSentinel = (
  options: SentinelOptions = {}
): Effect.Effect<RedisSentinelProcess, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => startRedisSentinelProcess(options)),
    (topology) => Effect.promise(() => topology.dispose())
  )

/**
 * An ended Cluster connection is rebuilt (issue 15): a Consumer on a 3-master
 * Cluster keeps consuming while a node it is connected to restarts and its
 * Cluster client is forced into status "end" (ioredis `disconnect()`):
 * nothing lost, nothing pending, and the connections on every node come back
 * to their count before (no leak from the replacement).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Option, Scope } from "effect"
import type { Cluster } from "ioredis"
import { settlesAt, startConsumerRecovery } from "../src/consumerRecovery.js"
import { nodeClient, quitClient, startRedisCluster, topologyUnavailable } from "../src/RedisCluster.js"

const unavailable = topologyUnavailable()

/** clients named `name` on each of `ports` (CLIENT LIST), summed; a node that does not answer counts -1000 */
const namedClients = (ports: ReadonlyArray<number>, name: string) =>
  Effect.promise(async () => {
    let total = 0
    for (const port of ports) {
      const c = nodeClient(port)
      try {
        const list = String(await c.call("CLIENT", "LIST"))
        total += list.split("\n").filter((l) => l.includes(` name=${name} `)).length
      } catch {
        total -= 1000
      } finally {
        await quitClient(c)
      }
    }
    return total
  })

/** the connections a client holds open: a Cluster client's node connections, or 1 for a plain client that is up */
const openConnections = (client: Cluster | { readonly status: string; readonly isCluster?: boolean }): number =>
  client.isCluster === true
    ? (client as Cluster).nodes().filter((n) => n.status !== "end" && n.status !== "wait" && n.status !== "close").length
    : client.status === "end" || client.status === "wait" || client.status === "close"
    ? 0
    : 1

describe("Redis Cluster: an ended connection is rebuilt", () => {
  if (unavailable !== undefined) {
    it.skip(`Cluster recovery ${unavailable}`, () => {})
    return
  }

  it.scopedLive(
    "a Consumer whose Cluster client ends while a node restarts resumes on a new client: nothing lost, nothing pending, no connection left behind",
    () =>
      Effect.gen(function*() {
        const cluster = yield* startRedisCluster()
        const stream = cluster.keyOnShard(0, "jobs")
        const { connection, consuming, finish, processed, scope, total } = yield* startConsumerRecovery({
          cluster: { nodes: cluster.startupNodes },
          connectionName: "worker",
          commandTimeout: "2 seconds"
        }, stream)

        assert.isTrue(consuming, "consuming")
        const baseline = yield* namedClients(cluster.ports, "worker")
        // a node that does not hold the stream (its data would be gone: no persistence) restarts, and the
        // Cluster client is ended meanwhile
        const other = cluster.nodes[1]!
        yield* Effect.promise(() => other.stop("SIGKILL"))
        const main = (yield* connection.connections).find((c) => c.role === "main")!
        const endedAt = Date.now()
        ;(main.client as Cluster).disconnect()
        yield* Effect.promise(() => other.start())
        const { after, done, exit, pending } = yield* finish
        process.stdout.write(
          `cluster recovery: ${processed.size} of ${total} processed ${Date.now() - endedAt} ms after the client ` +
            `ended; connections: ${after.map((c) => `${c.role} ${c.status} replaced ${c.replacements}x`).join(", ")}\n`
        )
        assert.isTrue(Option.isNone(exit), `the consumer stopped: ${Option.isSome(exit) && Exit.isFailure(exit.value) ? String(exit.value.cause) : ""}`)
        assert.isTrue(done, `all ${total} processed (got ${processed.size})`)
        assert.strictEqual(pending.count, 0, "nothing left pending")
        const info = after.find((c) => c.role === "main")
        assert.strictEqual(info?.replacements, 1, "the main Cluster client was replaced")
        assert.notStrictEqual(info?.client, main.client)
        // no connection left behind: every connection on the nodes is one the live clients (the new main
        // Cluster client, the blocking reader's) hold. How many that is varies: a Cluster client also keeps a
        // connection to the node it last refreshed its slots from, which a restarted node can change, so the
        // count before (${baseline}) is no bound.
        const held = Effect.map(connection.connections, (list) => list.reduce((n, c) => n + openConnections(c.client), 0))
        const expected = yield* held
        const count = yield* settlesAt(namedClients(cluster.ports, "worker"), expected)
        assert.strictEqual(count, expected, `connections on the nodes: ${count}; held by the live clients: ${expected}; ${baseline} before`)
        assert.isAbove(count, 0)
        assert.isTrue(
          (main.client as Cluster).nodes().every((n) => n.status === "end" || n.status === "wait"),
          "the ended client holds no connection"
        )
        yield* Scope.close(scope, Exit.void)
        assert.strictEqual(yield* settlesAt(namedClients(cluster.ports, "worker"), 0), 0, "every connection closed with the scope")
      }),
    { timeout: 60_000 }
  )
})

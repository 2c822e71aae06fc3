/**
 * Ended connections under Sentinel (issue 15). ioredis 5.11's failover
 * detector can leave a client in status "end" for good when Sentinel
 * announces the new master during a reconnection attempt; the library must
 * notice and rebuild it.
 *
 * The race is timing-dependent, so these tests make it happen every time:
 * a test subscriber to Sentinel's `+switch-master` ends chosen clients
 * (ioredis `disconnect()`, which is what the failover detector's race
 * amounts to: the client is left in "end") at the moment Sentinel switches.
 * Without the rebuild these clients never write again.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Layer, Option, Scope } from "effect"
import { Producer, RedisBackend, RedisConnection } from "effect-redis-streams"
import type { Redis } from "ioredis"
import { settlesAt, startConsumerRecovery, waitUntil } from "../src/consumerRecovery.js"
import { nodeClient, quitClient, topologyUnavailable } from "../src/RedisCluster.js"
import { type RedisSentinelProcess, startRedisSentinel } from "../src/RedisSentinel.js"

const unavailable = topologyUnavailable()

/** how many clients on `port` carry a name starting with `prefix` (CLIENT LIST) */
const namedClients = (port: number, prefix: string) =>
  Effect.acquireUseRelease(
    Effect.sync(() => nodeClient(port)),
    (c) =>
      Effect.promise(async () => {
        const list = String(await c.call("CLIENT", "LIST"))
        return list.split("\n").filter((l) => new RegExp(` name=${prefix}`).test(l)).length
      }),
    (c) => Effect.promise(() => quitClient(c))
  )

/**
 * Put a client in the state the failover detector's race leaves it in:
 * status "end", its commands failed with "Connection is closed.". ioredis's
 * `disconnect()` does that for a connected client; for one waiting to
 * reconnect it only cancels the timer (the client would then stay
 * "reconnecting" for ever, another state), so there the end is set the way
 * ioredis's `connect()` sets it when an attempt fails with "Connection is
 * closed." (the race of the issue): `flushQueue` then `setStatus("end")`.
 */
const forceEnd = (client: Redis): void => {
  const waiting = client.status === "reconnecting"
  client.disconnect()
  if (waiting && client.status !== "end") {
    const internal = client as unknown as { flushQueue(e: Error): void; setStatus(s: string): void }
    internal.flushQueue(new Error("Connection is closed."))
    internal.setStatus("end")
  }
}

/** a subscriber to Sentinel's +switch-master that runs `onSwitch` when it is published */
const onSwitchMaster = (topology: RedisSentinelProcess, onSwitch: () => void) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const sub = nodeClient(topology.sentinel.port)
      await sub.subscribe("+switch-master")
      sub.on("message", (channel) => {
        if (channel === "+switch-master") onSwitch()
      })
      return sub
    }),
    (sub) => Effect.promise(() => quitClient(sub))
  )

describe("Redis Sentinel: ended connections are rebuilt", () => {
  if (unavailable !== undefined) {
    it.skip(`Sentinel recovery ${unavailable}`, () => {})
    return
  }

  it.scopedLive(
    "20 Producers with staggered reconnect delays, master SIGKILLed 5 times, some clients ended as Sentinel switches: all 20 write again within 10 s, and no connection is left behind",
    () =>
      Effect.gen(function*() {
        const topology = yield* startRedisSentinel({ failoverTimeoutMs: 2000 })
        const count = 20
        const producers = yield* Effect.forEach(Array.from({ length: count }, (_, i) => i), (i) =>
          Effect.gen(function*() {
            const layer = RedisBackend.layerRedis({
              sentinels: topology.sentinels,
              name: topology.name,
              connectionName: `p${i}`,
              commandTimeout: "2 seconds",
              ioredis: { retryStrategy: () => 40 + 17 * i }
            })
            const context = yield* Layer.build(layer)
            const connection = Context.get(context, RedisConnection.RedisConnection)
            const producer = yield* Producer.make({ stream: `s${i}` }).pipe(Effect.provide(context))
            return { i, connection, producer, lastOk: 0, lastId: "", errors: new Map<string, number>() }
          }), { concurrency: 5 })
        assert.strictEqual(yield* namedClients(yield* Effect.promise(() => topology.masterPort()), "p"), count)

        // every producer writes every 50 ms and remembers its last success
        let stop = false
        const writers = yield* Effect.forEach(producers, (p) =>
          Effect.gen(function*() {
            while (!stop) {
              const r = yield* Effect.either(p.producer.add({ at: String(Date.now()) }))
              if (r._tag === "Right") {
                p.lastOk = Date.now()
                p.lastId = r.right
              } else {
                const key = `${r.left._tag}: ${r.left.message.slice(0, 160)}`
                p.errors.set(key, (p.errors.get(key) ?? 0) + 1)
              }
              yield* Effect.sleep("50 millis")
            }
          }).pipe(Effect.fork))

        // on each switch, end every 4th producer's client (a different set each round)
        let round = 0
        const ended: Array<number> = []
        yield* onSwitchMaster(topology, () => {
          for (const p of producers) {
            if (p.i % 4 === round % 4) {
              ended.push(p.i)
              forceEnd(p.connection.client as Redis)
            }
          }
        })

        // every producer's failover detector subscription and this test's subscriber
        const baselineSentinel = yield* Effect.promise(() => topology.sentinelClients())
        const rounds: Array<string> = []
        for (round = 0; round < 5; round++) {
          ended.length = 0
          assert.isTrue(yield* waitUntil(() => producers.every((p) => Date.now() - p.lastOk < 500), 10_000), "all write before the kill")
          const killedAt = Date.now()
          const kill = yield* Effect.promise(() => topology.killMaster())
          const recovered = yield* waitUntil(() => producers.every((p) => p.lastOk > killedAt + kill.switchedMs), 10_000)
          const slowest = Math.max(...producers.map((p) => p.lastOk - killedAt))
          const stuck = producers.filter((p) => p.lastOk <= killedAt + kill.switchedMs)
          rounds.push(
            `round ${round + 1}: switched after ${kill.switchedMs} ms, ended ${ended.length} clients at the switch ` +
              `(${ended.join(",")}); all 20 wrote again ${slowest} ms after the kill`
          )
          assert.isTrue(
            recovered,
            `round ${round + 1}: producers ${stuck.map((p) => p.i).join(",")} did not write within 10 s of the kill; ` +
              `their errors: ${stuck.map((p) => [...p.errors].map(([k, v]) => `${v}x ${k}`).join("; ")).join(" | ")}`
          )
          assert.isAbove(ended.length, 0, "some clients were ended at the switch")
          // the writes are on the new master, and there is one connection per producer (no leak from replacements)
          const master = nodeClient(kill.to)
          const found = yield* Effect.promise(() =>
            Promise.all(producers.map((p) => master.xrange(`s${p.i}`, p.lastId, p.lastId)))
          ).pipe(Effect.ensuring(Effect.promise(() => quitClient(master))))
          assert.isTrue(found.every((r) => r.length === 1), "every producer's last write is on the new master")
          assert.strictEqual(yield* settlesAt(namedClients(kill.to, "p"), count), count, "connections on the master")
          assert.strictEqual(
            yield* settlesAt(Effect.promise(() => topology.sentinelClients()), baselineSentinel),
            baselineSentinel,
            "connections to the sentinel (failover detectors) back to baseline"
          )
          for (const p of producers.filter((p) => ended.includes(p.i))) {
            const info = (yield* p.connection.connections).find((c) => c.role === "main")!
            assert.isDefined(info.replacedAt, `producer ${p.i}'s ended connection was replaced`)
          }
          // the killed server comes back as a replica, so that the next round has one to promote
          if (round < 4) yield* Effect.promise(() => topology.rejoin(kill.from))
        }
        stop = true
        yield* Effect.forEach(writers, Fiber.join, { discard: true })
        process.stdout.write(`sentinel recovery (20 producers): ${rounds.join("; ")}\n`)
      }),
    { timeout: 180_000 }
  )

  it.scopedLive(
    "a Consumer whose main connection and lane are ended under it resumes on new connections: nothing lost, nothing pending, no connection left behind",
    () =>
      Effect.gen(function*() {
        const topology = yield* startRedisSentinel()
        const master = yield* Effect.promise(() => topology.masterPort())
        const stream = "jobs"
        const { connection, consuming, finish, processed, scope, total } = yield* startConsumerRecovery({
          sentinels: topology.sentinels,
          name: topology.name,
          connectionName: "worker",
          commandTimeout: "2 seconds"
        }, stream)

        assert.isTrue(consuming, "consuming")
        const before = yield* connection.connections
        const roles = before.map((c) => c.role).sort()
        assert.deepStrictEqual(roles, ["blocking reader 1", "lane 1", "main"])
        const baseline = yield* namedClients(master, "worker")
        // end the main connection and the run's lane at once, as the failover detector's race does
        for (const c of before) {
          if (c.role === "main" || c.role.startsWith("lane")) forceEnd(c.client as Redis)
        }
        const endedAt = Date.now()
        const { after, done, exit, pending } = yield* finish
        process.stdout.write(
          `sentinel recovery (consumer): ${processed.size} of ${total} processed ` +
            `${Date.now() - endedAt} ms after main and lane ended; connections: ` +
            `${after.map((c) => `${c.role} ${c.status} replaced ${c.replacements}x`).join(", ")}\n`
        )
        assert.isTrue(Option.isNone(exit), `the consumer stopped: ${Option.isSome(exit) && Exit.isFailure(exit.value) ? String(exit.value.cause) : ""}`)
        assert.isTrue(done, `all ${total} processed (got ${processed.size})`)
        assert.strictEqual(pending.count, 0, "nothing left pending")
        for (const role of ["main", "lane 1"]) {
          const info = after.find((c) => c.role === role)
          assert.isDefined(info?.replacedAt, `${role} was replaced`)
          assert.strictEqual(info?.status, "ready")
        }
        assert.strictEqual(yield* settlesAt(namedClients(master, "worker"), baseline), baseline, "connections back to baseline")
        yield* Scope.close(scope, Exit.void)
        assert.strictEqual(yield* settlesAt(namedClients(master, "worker"), 0), 0, "every connection closed with the scope")
        assert.strictEqual(yield* settlesAt(Effect.promise(() => topology.sentinelClients()), 0), 0, "no sentinel connection left")
      }),
    { timeout: 60_000 }
  )
})

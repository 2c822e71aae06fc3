/**
 * The Producer, Consumer (reclaim, dead letters, shutdown), Monitor and Scaler
 * over an ioredis Cluster connection, on a 3-master Redis Cluster started for
 * this file (test/src/RedisCluster.ts). Every test's keys are spread over the
 * shards (`TestKit.key()` hands out keys on shard 0, 1, 2, 0, ...).
 *
 * Slot safety, as checked here: every command the library sends names one
 * stream (`addMany` sends chunks of XADDs of one stream, a script or a pipeline each; `ackAndDelete` is MULTI
 * XACK XDEL on one stream; `deleteConsumerIfIdle` is a Lua script whose only
 * key is the stream). The one step that touches two keys, moving an entry to
 * the dead-letter stream, is two commands (XADD to the dead-letter stream,
 * then XACK in the source group) that need no atomicity across keys: the
 * default dead-letter stream `{stream}:dlq` is in the stream's slot anyway,
 * and one on another shard works too. `DeadLetter.replay` (the port's
 * `moveEntry`, a Lua script over both keys) runs as one script when the
 * target shares the dead-letter stream's slot, and as XRANGE, XADD, XDEL
 * otherwise.
 */
import { randomUUID } from "node:crypto"
import { assert, describe, it, layer } from "@effect/vitest"
import { Chunk, Effect, Fiber, Schema, Stream } from "effect"
import { Consumer, DeadLetter, Message, Monitor, Producer, Scaler, StreamsBackend } from "effect-redis-streams"
import { testLogLevel, TestKit } from "../src/Harness.js"
import { clusterLayer, keySlot, TestCluster, topologyUnavailable } from "../src/RedisCluster.js"

const unavailable = topologyUnavailable()

const services = Effect.all({
  backend: StreamsBackend.StreamsBackend,
  kit: TestKit,
  topology: TestCluster
})

/** compare two stream ids numerically */
const compareIds = (a: string, b: string): number => {
  const [am, as] = a.split("-").map(BigInt) as [bigint, bigint]
  const [bm, bs] = b.split("-").map(BigInt) as [bigint, bigint]
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1
}

const waitUntil = (condition: () => boolean, timeoutMs: number) =>
  Effect.gen(function*() {
    const start = Date.now()
    while (!condition() && Date.now() - start < timeoutMs) yield* Effect.sleep("20 millis")
    return condition()
  })

/** poll `check` every 25 ms until it is true or `timeoutMs` passed */
const eventually = <E, R>(check: Effect.Effect<boolean, E, R>, timeoutMs: number) =>
  Effect.gen(function*() {
    const start = Date.now()
    while (Date.now() - start < timeoutMs) {
      if (yield* check) return true
      yield* Effect.sleep("25 millis")
    }
    return yield* check
  })

/** INFO commandstats of every node, summed: command -> { calls, rejected } */
const commandStats = Effect.gen(function*() {
  const { topology } = yield* services
  const infos = yield* topology.onEveryNode("INFO", "commandstats")
  const stats = new Map<string, { calls: number; rejected: number }>()
  for (const info of infos) {
    for (const line of String(info).split("\r\n")) {
      const m = /^cmdstat_([^:]+):calls=(\d+).*rejected_calls=(\d+)/.exec(line)
      if (!m) continue
      const s = stats.get(m[1]!) ?? { calls: 0, rejected: 0 }
      s.calls += Number(m[2])
      s.rejected += Number(m[3])
      stats.set(m[1]!, s)
    }
  }
  return stats
})

if (unavailable !== undefined) {
  describe("Redis Cluster suites", () => {
    it.skip(`Redis Cluster suites ${unavailable}`, () => {})
  })
  process.stdout.write(`Redis Cluster suites ${unavailable}\n`)
} else {
  layer(clusterLayer(), { timeout: "60 seconds", excludeTestServices: true })(
    "Redis Cluster (3 masters)",
    (it) => {
      it.effect("the cluster: 3 masters serve all 16384 slots; the test keys land on every shard", () =>
        Effect.gen(function*() {
          const { kit, topology } = yield* services
          const { cluster } = topology
          assert.strictEqual(cluster.nodes.length, 3)
          assert.strictEqual(cluster.slots.reduce((n, r) => n + r.to - r.from + 1, 0), 16384)
          const keys = [kit.key(), kit.key(), kit.key(), "orders", "{orders}:dlq", "{shop}:orders", "a{}b", "é{x}"]
          for (const key of keys) {
            assert.strictEqual(keySlot(key), Number(yield* topology.onNodeOf(key, "CLUSTER", "KEYSLOT", key)), key)
          }
          assert.deepStrictEqual(keys.slice(0, 3).map((k) => cluster.shardOf(k)), [0, 1, 2])
        }).pipe(Effect.provide(testLogLevel)))

      it.scoped("every command goes straight to the node of its key: no MOVED redirection, no slot-map refresh", () =>
        Effect.gen(function*() {
          const { kit, topology } = yield* services
          const streams = [kit.key("route"), kit.key("route"), kit.key("route")]
          yield* topology.onEveryNode("CONFIG", "RESETSTAT")
          for (const stream of streams) {
            const producer = yield* Producer.make({ stream })
            yield* producer.addAll(Array.from({ length: 50 }, (_, i) => ({ n: String(i) })))
            const consumer = yield* Consumer.make({ stream, group: "g", batchSize: 20, maxWait: 0, removeOnShutdown: false })
            yield* consumer.batches.pipe(Stream.take(1), Stream.runDrain)
            const monitor = yield* Monitor.make({ stream, idleThreshold: "1 millis", claimIdle: 0 })
            yield* monitor.report
            yield* monitor.cleanup()
            const scaler = yield* Scaler.make({ stream, group: "g" })
            yield* scaler.decide
          }
          const stats = yield* commandStats
          const rejected = [...stats].filter(([, s]) => s.rejected > 0).map(([c, s]) => `${c}: ${s.rejected}`)
          const slotReads = (stats.get("cluster|slots")?.calls ?? 0) + (stats.get("cluster|shards")?.calls ?? 0)
          process.stdout.write(
            `cluster routing: ${[...stats.values()].reduce((n, s) => n + s.calls, 0)} commands, ` +
              `rejected (MOVED) ${rejected.length === 0 ? "none" : rejected.join(", ")}, slot-map reads ${slotReads}\n`
          )
          assert.deepStrictEqual(rejected, [])
          // the connections of this test's consumers read the slot map when they connect, nothing more
          assert.isAtMost(slotReads, 3 * 2)
        }).pipe(Effect.provide(testLogLevel)))

      // ------------------------------------------------------------------ Producer

      it.scoped("Producer: add and addAll on a stream of every shard, 2,500 entries in one call (10 script chunks), ids in order, stored on the slot's node", () =>
        Effect.gen(function*() {
          const { backend, kit, topology } = yield* services
          for (const stream of [kit.key("p"), kit.key("p"), kit.key("p")]) {
            const producer = yield* Producer.make({ stream })
            const first = yield* producer.add({ n: "first" })
            const ids = yield* producer.addAll(Array.from({ length: 2500 }, (_, i) => ({ n: String(i) })))
            assert.strictEqual(ids.length, 2500)
            assert.isTrue(ids.every((id, i) => i === 0 || compareIds(ids[i - 1]!, id) < 0), "ids in order")
            assert.isBelow(compareIds(first, ids[0]!), 0)
            assert.strictEqual(yield* backend.length(stream), 2501)
            // asked directly, the node that owns the slot has the stream (another node would answer MOVED)
            assert.strictEqual(Number(yield* topology.onNodeOf(stream, "XLEN", stream)), 2501)
            const last = yield* backend.range(stream, { reverse: true, count: 1 })
            assert.deepStrictEqual(last[0]!.fields, ["n", "2499"])
          }
        }).pipe(Effect.provide(testLogLevel)))

      it.scoped("Producer: trimming, noMkStream and typed payloads per shard", () =>
        Effect.gen(function*() {
          const { backend, kit } = yield* services
          const Order = Schema.Struct({ orderId: Schema.String, amount: Schema.NumberFromString })
          for (const stream of [kit.key("p"), kit.key("p"), kit.key("p")]) {
            const missing = yield* Producer.make({ stream, noMkStream: true })
            const error = yield* Effect.flip(missing.add({ n: "1" }))
            assert.strictEqual(error._tag, "StreamNotFound")
            const trimmed = yield* Producer.make({ stream, trim: { maxlen: 100, approximate: false } })
            yield* trimmed.addAll(Array.from({ length: 300 }, (_, i) => ({ n: String(i) })))
            assert.strictEqual(yield* backend.length(stream), 100)
            const typed = yield* Producer.make({ stream: `${stream}-typed`, schema: Order })
            yield* typed.add({ orderId: "o-1", amount: 12.5 })
            const consumer = yield* Consumer.make({ stream: `${stream}-typed`, group: "g", batchSize: 10, maxWait: 0, schema: Order })
            const batch = yield* consumer.batches.pipe(Stream.take(1), Stream.runCollect, Effect.map(Chunk.unsafeHead))
            assert.deepStrictEqual(batch.messages.map((m) => m.body), [{ orderId: "o-1", amount: 12.5 }])
          }
        }).pipe(Effect.provide(testLogLevel)))

      // ------------------------------------------------------------------ Consumer

      it.scoped("Consumer: batches, process and ack on one stream per shard; deleteOnAck (MULTI XACK XDEL on one slot)", () =>
        Effect.gen(function*() {
          const { backend, kit } = yield* services
          for (const stream of [kit.key("c"), kit.key("c"), kit.key("c")]) {
            const producer = yield* Producer.make({ stream })
            const ids = yield* producer.addAll(Array.from({ length: 250 }, (_, i) => ({ n: String(i) })))
            const consumer = yield* Consumer.make({ stream, group: "g", batchSize: 100, maxWait: "50 millis" })
            const batches = yield* consumer.batches.pipe(Stream.take(3), Stream.runCollect)
            assert.deepStrictEqual(Chunk.toReadonlyArray(batches).map((b) => b.messages.length), [100, 100, 50])
            assert.deepStrictEqual(Chunk.toReadonlyArray(batches).flatMap((b) => b.messages.map((m) => m.id)), [...ids])
            yield* Effect.forEach(batches, (b) => b.ack, { discard: true })
            assert.strictEqual((yield* backend.pendingSummary(stream, "g")).count, 0)

            const queue = yield* Consumer.make({ stream, group: "q", batchSize: 300, maxWait: "50 millis", deleteOnAck: true })
            const seen = new Set<string>()
            const fiber = yield* queue.process((m) => Effect.sync(() => seen.add(m.id)), { concurrency: 8 }).pipe(Effect.fork)
            assert.isTrue(yield* waitUntil(() => seen.size === 250, 10_000))
            yield* Fiber.interrupt(fiber)
            assert.strictEqual(yield* backend.length(stream), 0, "deleteOnAck deleted every entry")
            assert.strictEqual((yield* backend.pendingSummary(stream, "q")).count, 0)
          }
        }).pipe(Effect.provide(testLogLevel)))

      it.scoped("Consumer reclaim: the entries of a consumer that stopped are reclaimed by another after claimIdle, on every shard", () =>
        Effect.gen(function*() {
          const { backend, kit } = yield* services
          for (const stream of [kit.key("r"), kit.key("r"), kit.key("r")]) {
            const producer = yield* Producer.make({ stream })
            const ids = yield* producer.addAll(Array.from({ length: 30 }, (_, i) => ({ n: String(i) })))
            // "crashed" takes a batch and never acknowledges it
            const crashed = yield* Consumer.make({ stream, group: "g", consumer: "crashed", batchSize: 30, maxWait: 0, removeOnShutdown: false })
            yield* crashed.batches.pipe(Stream.take(1), Stream.runDrain)
            assert.strictEqual((yield* backend.pendingSummary(stream, "g")).count, 30)
            const survivor = yield* Consumer.make({
              stream,
              group: "g",
              consumer: "survivor",
              batchSize: 10,
              maxWait: "50 millis",
              blockTime: "100 millis",
              reclaim: { idle: "300 millis", interval: "50 millis" }
            })
            const seen: Array<{ id: string; deliveries: number }> = []
            const fiber = yield* survivor.process((m) => Effect.sync(() => seen.push({ id: m.id, deliveries: m.deliveryCount })))
              .pipe(Effect.fork)
            assert.isTrue(yield* waitUntil(() => seen.length >= 30, 10_000), `reclaimed ${seen.length} of 30`)
            yield* Fiber.interrupt(fiber)
            assert.sameMembers(seen.map((s) => s.id), [...ids])
            assert.isTrue(seen.every((s) => s.deliveries === 2), "each was delivered twice: to crashed, then to survivor")
            assert.strictEqual((yield* backend.pendingSummary(stream, "g")).count, 0)
          }
        }).pipe(Effect.provide(testLogLevel)))

      it.scoped("Consumer dead letters (maxDeliveries, Poison): {stream}:dlq is in the stream's slot, on its node", () =>
        Effect.gen(function*() {
          const { backend, kit, topology } = yield* services
          const streams = [kit.key("d"), kit.key("d"), `{${kit.key("shop")}}:orders`]
          for (const stream of streams) {
            const producer = yield* Producer.make({ stream })
            const ids = yield* producer.addAll(Array.from({ length: 10 }, (_, i) => ({ n: String(i) })))
            const consumer = yield* Consumer.make({
              stream,
              group: "g",
              batchSize: 10,
              maxWait: "20 millis",
              blockTime: "100 millis",
              reclaim: { idle: "50 millis", interval: "20 millis" },
              deadLetter: { maxDeliveries: 2 }
            })
            const dlq = consumer.deadLetterStream
            assert.strictEqual(dlq, DeadLetter.defaultStream(stream))
            assert.strictEqual(keySlot(dlq), keySlot(stream), `${dlq} and ${stream} share a slot`)
            const fiber = yield* consumer.process((m) =>
              m.body.n === "3"
                ? Effect.fail(new Error("always fails"))
                : m.body.n === "7"
                ? Effect.fail(new Message.Poison({ reason: "n must not be 7" }))
                : Effect.void
            ).pipe(Effect.fork)
            const settled = yield* eventually(
              Effect.map(
                Effect.all([backend.length(dlq), backend.pendingSummary(stream, "g")]),
                ([dead, pending]) => dead === 2 && pending.count === 0
              ),
              10_000
            )
            yield* Fiber.interrupt(fiber)
            assert.isTrue(settled, "both dead letters moved and nothing pending")
            const dead = (yield* backend.range(dlq)).map(DeadLetter.parse)
            assert.deepStrictEqual(
              dead.map((d) => [d.meta.id, d.meta.stream, d.meta.deliveries > 2 || d.meta.error === "n must not be 7"]).sort(),
              [[ids[3], stream, true], [ids[7], stream, true]].sort()
            )
            // the dead-letter stream lives on the stream's node: asked there directly, it answers
            assert.strictEqual(Number(yield* topology.onNodeOf(stream, "XLEN", dlq)), 2)
          }
          assert.strictEqual(topology.cluster.shardOf(streams[2]!), topology.cluster.shardOf(`${streams[2]!}:dlq`))
        }).pipe(Effect.provide(testLogLevel)))

      it.scoped("Consumer: a dead-letter stream on another shard works too (add, then ack: no cross-slot atomicity needed)", () =>
        Effect.gen(function*() {
          const { backend, kit, topology } = yield* services
          const stream = kit.key("x")
          const shard = topology.cluster.shardOf(stream)
          const dlq = topology.cluster.keyOnShard((shard + 1) % 3, "elsewhere-dlq")
          assert.notStrictEqual(topology.cluster.portOf(dlq), topology.cluster.portOf(stream))
          const producer = yield* Producer.make({ stream })
          const ids = yield* producer.addAll([{ n: "0" }, { n: "1" }])
          const consumer = yield* Consumer.make({ stream, group: "g", batchSize: 10, maxWait: "20 millis", deadLetter: { stream: dlq } })
          const fiber = yield* consumer.process((m) =>
            m.body.n === "1" ? Effect.fail(new Message.Poison({ reason: "bad" })) : Effect.void
          ).pipe(Effect.fork)
          const moved = yield* eventually(
            Effect.map(
              Effect.all([backend.length(dlq), backend.pendingSummary(stream, "g")]),
              ([dead, pending]) => dead === 1 && pending.count === 0
            ),
            10_000
          )
          yield* Fiber.interrupt(fiber)
          assert.isTrue(moved)
          assert.deepStrictEqual((yield* backend.range(dlq)).map((e) => DeadLetter.parse(e).meta.id), [ids[1]])
        }).pipe(Effect.provide(testLogLevel)))

      it.scoped("Consumer shutdown: interrupting a blocked consumer returns promptly; it leaves the group (Lua script keyed by the stream)", () =>
        Effect.gen(function*() {
          const { backend, kit } = yield* services
          for (const stream of [kit.key("s"), kit.key("s"), kit.key("s")]) {
            const seen: Array<string> = []
            const name = `leaver-${stream}`
            yield* Effect.scoped(Effect.gen(function*() {
              const consumer = yield* Consumer.make({ stream, group: "g", consumer: name, batchSize: 10, maxWait: "10 millis", blockTime: "5 seconds" })
              const fiber = yield* consumer.process((m) => Effect.sync(() => seen.push(m.id))).pipe(Effect.fork)
              const producer = yield* Producer.make({ stream })
              yield* producer.add({ n: "1" })
              assert.isTrue(yield* waitUntil(() => seen.length === 1, 5000))
              yield* Effect.sleep("200 millis") // blocked in XREADGROUP BLOCK 5000 now
              const start = Date.now()
              yield* Fiber.interrupt(fiber)
              const took = Date.now() - start
              assert.isBelow(took, 1500, `interrupted in ${took} ms`)
            }))
            const consumers = yield* backend.consumersInfo(stream, "g")
            assert.deepStrictEqual(consumers.map((c) => c.name), [], "the consumer left the group on scope close")
          }
        }).pipe(Effect.provide(testLogLevel)))

      // ------------------------------------------------------------------ Monitor

      it.scoped("Monitor: a report of every group, then a cleanup that moves a dead consumer's entries and deletes it, per shard", () =>
        Effect.gen(function*() {
          const { backend, kit } = yield* services
          for (const stream of [kit.key("m"), kit.key("m"), kit.key("m")]) {
            const ids = yield* backend.addMany(stream, Array.from({ length: 20 }, (_, i) => ["n", String(i)]))
            yield* backend.createGroup(stream, "g1", { id: "0" })
            yield* backend.createGroup(stream, "g2", { id: "0" })
            yield* backend.readGroup({ stream, group: "g1", consumer: "dead", id: ">", count: 12 })
            yield* Effect.sleep("150 millis")
            yield* backend.readGroup({ stream, group: "g1", consumer: "alive", id: ">", count: 3 })
            yield* backend.readGroup({ stream, group: "g2", consumer: "other", id: ">", count: 5 })
            const monitor = yield* Monitor.make({ stream, idleThreshold: "100 millis", claimIdle: "50 millis", batchSize: 100 })
            const report = yield* monitor.report
            assert.deepStrictEqual(report.groups.map((g) => [g.name, g.pending, g.lag]), [["g1", 15, 5], ["g2", 5, 15]])
            const g1 = report.groups.find((g) => g.name === "g1")!
            assert.deepStrictEqual(g1.consumers.map((c) => [c.name, c.status]).sort(), [["alive", "OK"], ["dead", "IDLE"]])
            assert.strictEqual(g1.oldestPendingId, ids[0])
            assert.strictEqual(g1.deadLetterStream, DeadLetter.defaultStream(stream))
            assert.include(Monitor.render(report), "WARNING - idle for long time")
            const result = yield* monitor.cleanup()
            const dead = result.consumers.find((c) => c.consumer === "dead")!
            assert.strictEqual(dead.outcome, "DELETED")
            assert.strictEqual(dead.claimed, 12)
            const owners = yield* backend.pending({ stream, group: "g1", count: 100 })
            assert.strictEqual(owners.length, 15, "nothing was lost")
            assert.isTrue(owners.every((p) => p.consumer === "alive"))
            assert.deepStrictEqual((yield* backend.consumersInfo(stream, "g1")).map((c) => c.name), ["alive"])
          }
        }).pipe(Effect.provide(testLogLevel)))

      // ------------------------------------------------------------------ Scaler

      it.scoped("Scaler: decisions from fresh metrics per shard (OUT with a backlog, IN once idle), in 3 commands", () =>
        Effect.gen(function*() {
          const { backend, kit } = yield* services
          for (const stream of [kit.key("sc"), kit.key("sc"), kit.key("sc")]) {
            yield* backend.addMany(stream, Array.from({ length: 200 }, (_, i) => ["n", String(i)]))
            yield* backend.createGroup(stream, "g", { id: "0" })
            const read = yield* backend.readGroup({ stream, group: "g", consumer: "a", id: ">", count: 10 })
            yield* backend.readGroup({ stream, group: "g", consumer: "b", id: ">", count: 10 })
            const scaler = yield* Scaler.make({ stream, group: "g", scaleOutRate: 60, scaleInRate: 20, targetPerConsumer: 50 })
            const out = yield* scaler.decide
            assert.strictEqual(out.backlog, 180)
            assert.strictEqual(out.pending, 20)
            assert.strictEqual(out.decision, "OUT")
            assert.strictEqual(out.commands, 3)
            assert.strictEqual(out.recommended, 4)
            yield* backend.ack(stream, "g", read.map((e) => e.id))
            yield* backend.readGroup({ stream, group: "g", consumer: "a", id: ">", count: 179 })
            const low = yield* scaler.decide
            assert.strictEqual(low.backlog, 1)
            assert.strictEqual(low.decision, "IN")
          }
        }).pipe(Effect.provide(testLogLevel)))

      // ------------------------------------------------------------------ dead letters

      it.effect("StreamsBackend.scanStreams: SCAN TYPE stream on every master, bounded by the limit", () =>
        Effect.gen(function*() {
          const { backend, kit, topology } = yield* services
          const prefix = `scan${randomUUID().slice(0, 8)}`
          // two streams on each of the 3 shards, and a string key that matches the pattern
          const streams = Array.from({ length: 6 }, () => kit.key(prefix))
          assert.deepStrictEqual(new Set(streams.map((k) => topology.cluster.shardOf(k))).size, 3)
          for (const stream of streams) yield* backend.add(stream, ["n", "1"])
          yield* topology.onNodeOf(`${prefix}-string`, "SET", `${prefix}-string`, "x")
          const all = yield* backend.scanStreams(`${prefix}-*`, { limit: 100 })
          assert.deepStrictEqual(all, { streams: [...streams].sort(), truncated: false })
          const some = yield* backend.scanStreams(`${prefix}-*`, { limit: 4 })
          assert.strictEqual(some.streams.length, 4)
          assert.isTrue(some.truncated)
        }).pipe(Effect.provide(testLogLevel)))

      it.effect("DeadLetter.replay: to the source stream (same slot as {stream}:dlq: one script) and to a stream on another shard (two commands)", () =>
        Effect.gen(function*() {
          const { backend, kit } = yield* services
          const stream = kit.key("dlq-replay")
          const dlq = DeadLetter.defaultStream(stream)
          assert.strictEqual(keySlot(dlq), keySlot(stream))
          const meta = { stream, group: "g", consumer: "c", deliveries: 6, error: "boom", at: 1 }
          const a = yield* backend.add(dlq, DeadLetter.toFields(["n", "1"], { ...meta, id: "1-1" }))
          const b = yield* backend.add(dlq, DeadLetter.toFields(["n", "2"], { ...meta, id: "1-2" }))
          const [first] = yield* DeadLetter.find(dlq, "1-1")
          const home = yield* DeadLetter.replay(dlq, [first!])
          assert.strictEqual(home[0]!.status, "replayed")
          // another shard: the keys hash to different slots, the move runs as XRANGE, XADD, XDEL
          let other = kit.key("dlq-other")
          while (keySlot(other) === keySlot(dlq)) other = kit.key("dlq-other")
          const [second] = yield* DeadLetter.find(dlq, b)
          const away = yield* DeadLetter.replay(dlq, [second!], { to: other })
          assert.strictEqual(away[0]!.status, "replayed")
          assert.deepStrictEqual((yield* backend.range(stream)).map((e) => e.fields), [["n", "1"]])
          assert.deepStrictEqual((yield* backend.range(other)).map((e) => e.fields), [["n", "2"]])
          assert.strictEqual(yield* backend.length(dlq), 0)
          // replayed already: nothing is added again, on either path
          const again = yield* DeadLetter.replay(dlq, [first!, second!], { to: other })
          assert.deepStrictEqual(again.map((r) => r.status), ["missing", "missing"])
          assert.strictEqual(a, first!.id)
          assert.strictEqual(yield* backend.length(other), 1)
        }).pipe(Effect.provide(testLogLevel)))
    }
  )
}

/**
 * Many streams on a Redis Cluster: one process consumes six streams spread
 * over the three shards, each stream with its own group and two consumers,
 * all at once, with producers adding while they consume and handlers failing
 * at random; one Monitor + Scaler view covers every stream and group.
 *
 * The view is the library's per-stream Monitor and Scaler composed: one
 * report per stream (in parallel, on the one shared Cluster connection), the
 * rows put in one table whose Group column reads `stream/group`, and one
 * Scaler decision per (stream, group).
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { Consumer, DeadLetter, Monitor, Producer, Scaler, StreamsBackend } from "effect-redis-streams"
import { testLogLevel, TestKit } from "../src/Harness.js"
import { clusterLayer, TestCluster, topologyUnavailable } from "../src/RedisCluster.js"

const unavailable = topologyUnavailable()

interface Target {
  readonly stream: string
  readonly group: string
}

interface ViewRow {
  readonly stream: string
  readonly group: string
  readonly lag: number
  readonly pending: number
  readonly consumers: number
  readonly decision: Scaler.ScaleDecision
  readonly recommended: number
}

/** one Monitor and one Scaler per (stream, group); `snapshot` reads them all in parallel */
const makeView = (targets: ReadonlyArray<Target>) =>
  Effect.gen(function*() {
    const parts = yield* Effect.forEach(targets, (t) =>
      Effect.all({
        target: Effect.succeed(t),
        monitor: Monitor.make({ stream: t.stream, group: t.group, idleThreshold: "5 seconds", batchSize: 1000 }),
        scaler: Scaler.make({ stream: t.stream, group: t.group, targetPerConsumer: 500, maxConsumers: 10 })
      }))
    const snapshot = Effect.forEach(parts, ({ monitor, scaler, target }) =>
      Effect.all([monitor.report, scaler.decide], { concurrency: 2 }).pipe(
        Effect.map(([report, decision]) => ({ target, report, decision }))
      ), { concurrency: "unbounded" }).pipe(
        Effect.map((all) => ({
          rows: all.map(({ decision, report, target }): ViewRow => ({
            stream: target.stream,
            group: target.group,
            lag: report.groups[0]!.lag,
            pending: report.groups[0]!.pending,
            consumers: report.groups[0]!.consumers.length,
            decision: decision.decision,
            recommended: decision.recommended
          })),
          table: Monitor.render({
            groups: all.flatMap(({ report, target }) =>
              report.groups.map((g) => ({ ...g, name: `${target.stream}/${g.name}` }))
            )
          })
        }))
      )
    return { snapshot }
  })

if (unavailable !== undefined) {
  describe("Redis Cluster: many streams", () => {
    it.skip(`many streams on a Redis Cluster ${unavailable}`, () => {})
  })
  process.stdout.write(`Redis Cluster many-streams test ${unavailable}\n`)
} else {
  layer(clusterLayer(), { timeout: "60 seconds", excludeTestServices: true })("Redis Cluster: many streams", (it) => {
    it.scoped(
      "one process consumes 6 streams over 3 shards (own group each, 2 consumers each) with one Monitor/Scaler view over all",
      () =>
        Effect.gen(function*() {
          const kit = yield* TestKit
          const { cluster } = yield* TestCluster
          const backend = yield* StreamsBackend.StreamsBackend
          const perStream = 2000
          const targets: Array<Target> = Array.from({ length: 6 }, (_, i) => ({ stream: kit.key(`many${i}`), group: `g${i}` }))
          const shards = targets.map((t) => cluster.shardOf(t.stream))
          assert.deepStrictEqual([...new Set(shards)].sort(), [0, 1, 2], "the streams are spread over every shard")

          const processed = new Map<string, Set<string>>(targets.map((t) => [t.stream, new Set<string>()]))
          const produced = new Map<string, Array<string>>(targets.map((t) => [t.stream, []]))
          let failures = 0
          const start = Date.now()

          // two consumers per stream, in this process, at once; 5% of handler calls fail (redelivered after claimIdle)
          const consumerFibers = yield* Effect.forEach(targets, (t) =>
            Effect.forEach([1, 2], (n) =>
              Effect.gen(function*() {
                const consumer = yield* Consumer.make({
                  stream: t.stream,
                  group: t.group,
                  consumer: `${t.group}-c${n}`,
                  batchSize: 50,
                  maxWait: "20 millis",
                  blockTime: "200 millis",
                  reclaim: { idle: "300 millis", interval: "100 millis" },
                  deadLetter: { maxDeliveries: 20 }
                })
                return yield* consumer.process((m) =>
                  Effect.suspend(() => {
                    if (Math.random() < 0.05) {
                      failures++
                      return Effect.fail(new Error("random failure"))
                    }
                    processed.get(t.stream)!.add(m.id)
                    return Effect.void
                  }), { concurrency: 8 }).pipe(Effect.fork)
              })), { concurrency: "unbounded" }).pipe(Effect.map((fs) => fs.flat()))

          // producers: every stream gets 20 chunks of 100, a chunk every 25 ms
          const producerFiber = yield* Effect.forEach(targets, (t) =>
            Effect.gen(function*() {
              const producer = yield* Producer.make({ stream: t.stream })
              for (let chunk = 0; chunk < perStream / 100; chunk++) {
                const ids = yield* producer.addAll(Array.from({ length: 100 }, (_, i) => ({ n: String(chunk * 100 + i) })))
                produced.get(t.stream)!.push(...ids)
                yield* Effect.sleep("25 millis")
              }
            }), { concurrency: "unbounded", discard: true }).pipe(Effect.fork)

          const view = yield* makeView(targets)
          yield* Effect.sleep("150 millis")
          const during = yield* view.snapshot
          yield* Fiber.join(producerFiber)

          const allDone = () =>
            targets.every((t) => produced.get(t.stream)!.every((id) => processed.get(t.stream)!.has(id)))
          const deadline = Date.now() + 30_000
          while (!allDone() && Date.now() < deadline) yield* Effect.sleep("50 millis")
          const elapsed = Date.now() - start
          // the view once everything is processed: failed deliveries still pending are redelivered within claimIdle
          let after = yield* view.snapshot
          for (let i = 0; i < 100 && !after.rows.every((r) => r.pending === 0 && r.lag === 0); i++) {
            yield* Effect.sleep("100 millis")
            after = yield* view.snapshot
          }
          yield* Effect.forEach(consumerFibers, Fiber.interrupt, { discard: true })

          const total = targets.length * perStream
          const processedTotal = [...processed.values()].reduce((n, s) => n + s.size, 0)
          process.stdout.write(
            `many streams: ${targets.length} streams on shards [${shards.join(",")}], ${total} messages, 12 consumers in one process, ` +
              `${failures} handler failures (redelivered), ${processedTotal} processed in ${elapsed} ms\n` +
              `view during the run:\n${
                during.rows.map((r) => `  ${r.stream}/${r.group}: lag ${r.lag}, pending ${r.pending}, ${r.decision} → ${r.recommended}`).join("\n")
              }\nview at the end:\n${after.table}\n`
          )
          assert.isTrue(allDone(), `processed ${processedTotal} of ${total}`)
          for (const t of targets) {
            assert.strictEqual(produced.get(t.stream)!.length, perStream)
            assert.strictEqual(yield* backend.length(t.stream), perStream)
            assert.strictEqual((yield* backend.pendingSummary(t.stream, t.group)).count, 0, `${t.stream} pending`)
            assert.strictEqual(yield* backend.length(DeadLetter.defaultStream(t.stream)), 0, `${t.stream} dead letters`)
          }
          assert.deepStrictEqual(during.rows.map((r) => `${r.stream}/${r.group}`), targets.map((t) => `${t.stream}/${t.group}`))
          assert.isTrue(after.rows.every((r) => r.lag === 0 && r.pending === 0 && r.decision !== "OUT"))
          assert.isTrue(after.rows.every((r) => r.consumers === 2), "two consumers per group, as seen by the view")
          for (const t of targets) assert.include(after.table, `${t.stream}/${t.group}`)
        }).pipe(Effect.provide(testLogLevel))
    )
  })
}

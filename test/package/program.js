// Run by check.sh against the packed package, with plain Node: produce, consume a batch, ack, and
// read the group's table through the Monitor; prints one line and exits non-zero on a mismatch.
import { Chunk, Effect, Stream } from "effect"
import { Consumer, InMemoryBackend, Monitor, Producer } from "effect-redis-streams"

const program = Effect.gen(function*() {
  const producer = yield* Producer.make({ stream: "orders" })
  const ids = yield* producer.addAll([{ n: "1" }, { n: "2" }, { n: "3" }])
  const consumer = yield* Consumer.make({ stream: "orders", group: "billing", consumer: "c1", batchSize: 10, maxWait: 0 })
  const batch = Chunk.unsafeGet(yield* consumer.batches.pipe(Stream.take(1), Stream.runCollect), 0)
  yield* batch.ack
  const monitor = yield* Monitor.make({ stream: "orders", group: "billing" })
  const report = yield* monitor.report
  return { ids, bodies: batch.messages.map((m) => m.body.n), pending: report.groups.map((g) => g.pending) }
})

Effect.runPromise(Effect.scoped(program).pipe(Effect.provide(InMemoryBackend.layer))).then((r) => {
  const ok = r.ids.length === 3 && r.bodies.join(",") === "1,2,3" && r.pending.length === 1 && r.pending[0] === 0
  process.stdout.write(`packed package: ${JSON.stringify(r)}\n`)
  process.exit(ok ? 0 : 1)
}, (e) => {
  process.stderr.write(`packed package failed: ${e}\n`)
  process.exit(1)
})

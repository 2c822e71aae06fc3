// Run by check.sh against the packed packages, with plain Node (no tsx, no TypeScript), on the
// in-memory backend: a producer adds typed orders, a worker (`consumer.process(handler, { concurrency })`)
// handles them until all are done, the Monitor shows nothing pending, and a dead letter is listed and
// replayed through `DeadLetter`. Prints one line; exits non-zero on a mismatch.
import { Deferred, Effect, Fiber, Layer, Ref, Schema } from "effect"
import { Consumer, DeadLetter, InMemoryBackend, Message, Monitor, Producer } from "effect-redis-streams"

const Order = Schema.Struct({ orderId: Schema.String, amount: Schema.NumberFromString })
const ORDERS = 20

const program = Effect.gen(function*() {
  // the producer
  const producer = yield* Producer.make({ stream: "orders", schema: Order })
  const ids = yield* producer.addAll(
    Array.from({ length: ORDERS }, (_, i) => ({ orderId: `o-${i}`, amount: i === 7 ? -1 : i * 10 }))
  )
  // the worker: a handler per message, 4 at a time; a negative amount is poison (dead-lettered)
  const consumer = yield* Consumer.make({ stream: "orders", group: "billing", schema: Order, batchSize: 8, maxWait: 0 })
  const done = yield* Ref.make(0)
  const all = yield* Deferred.make()
  const worker = yield* consumer.process((message) =>
    Effect.gen(function*() {
      const n = yield* Ref.updateAndGet(done, (k) => k + 1)
      if (n === ORDERS) yield* Deferred.succeed(all, undefined)
      if (message.body.amount < 0) return yield* new Message.Poison({ reason: "negative amount" })
    }), { concurrency: 4 }).pipe(Effect.fork)
  yield* Deferred.await(all)
  yield* Effect.sleep("50 millis")
  yield* Fiber.interrupt(worker)
  const report = yield* (yield* Monitor.make({ stream: "orders", group: "billing" })).report
  // the dead letter, through the library's API
  const dlq = DeadLetter.defaultStream("orders")
  const page = yield* DeadLetter.list(dlq)
  const replayed = yield* DeadLetter.replay(dlq, page.deadLetters, { to: "orders-retry" })
  return {
    produced: ids.length,
    handled: yield* Ref.get(done),
    pending: report.groups.map((g) => g.pending),
    deadLetters: page.deadLetters.map((d) => `${d.meta.error}`),
    replayed: replayed.map((r) => r.status)
  }
})

Effect.runPromise(Effect.scoped(program).pipe(Effect.provide(Layer.mergeAll(InMemoryBackend.layer)))).then((r) => {
  const ok = r.produced === ORDERS && r.handled === ORDERS && r.pending.join() === "0" &&
    r.deadLetters.length === 1 && r.replayed.join() === "replayed"
  process.stdout.write(`packed package: ${JSON.stringify(r)}\n`)
  process.exit(ok ? 0 : 1)
}, (e) => {
  process.stderr.write(`packed package failed: ${e}\n`)
  process.exit(1)
})

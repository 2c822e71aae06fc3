import { Effect, Logger, LogLevel, Stream } from "effect"
import { Consumer, Monitor, Producer, RedisBackend, RedisConnection, Scaler, StreamsBackend } from "effect-redis-streams"

const program = Effect.gen(function*() {
  const conn = yield* RedisConnection.RedisConnection
  const client = conn.client
  let moved = 0
  const backend = yield* StreamsBackend.StreamsBackend
  const producer = yield* Producer.make({ stream: "s1" })
  const t0 = Date.now()
  const ids = yield* producer.addAll(Array.from({ length: 1000 }, (_, i) => ({ n: String(i) })))
  console.log("added", ids.length, Date.now() - t0)
  const c = yield* Consumer.make({ stream: "s1", group: "g", batchSize: 100, maxWait: "50 millis", claimIdle: "1 second" })
  const got = yield* c.batches.pipe(Stream.take(3), Stream.runCollect)
  console.log("batches", [...got].map((b) => b.messages.length))
  const m = yield* Monitor.make({ stream: "s1" })
  const t1 = Date.now()
  for (let i = 0; i < 20; i++) yield* m.report
  console.log("20 reports", Date.now() - t1)
  const s = yield* Scaler.make({ stream: "s1", group: "g" })
  const t2 = Date.now()
  for (let i = 0; i < 20; i++) yield* s.decide
  console.log("20 decide", Date.now() - t2, (yield* s.decide).decision)
  console.log(yield* backend.deleteConsumerIfIdle("s1", "g", "nobody"))
})
Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(RedisBackend.layerRedis({ cluster: { nodes: [{ host: "127.0.0.1", port: 17001 }] } })), Effect.provide(Logger.minimumLogLevel(LogLevel.Debug)))).then(() => console.log("done"), (e) => console.error("ERR", e))

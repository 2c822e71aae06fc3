/**
 * pnpm demo: the whole story in about ten seconds, on the in-memory backend
 * (or on a real Redis when REDIS_URL is set).
 *
 * A producer adds typed orders in waves; three consumers (alice, bob, carol)
 * process them in batches; carol crashes mid-batch; the Monitor shows her
 * idle; alice and bob reclaim her messages; a poison order lands in the
 * dead-letter stream after maxDeliveries; the Scaler follows the backlog as it
 * grows and drains. The last line is counted from what happened.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Fiber, Layer, Logger, LogLevel, Redacted, Schema, Stream } from "effect"
import { Consumer, DeadLetter, InMemoryBackend, Monitor, Producer, RedisBackend, Scaler, StreamsBackend } from "effect-redis-streams"

const Order = Schema.Struct({
  orderId: Schema.String,
  customer: Schema.String,
  amount: Schema.NumberFromString
})
type Order = typeof Order.Type

const BATCH_SIZE = 10
const MAX_WAIT = "300 millis"
const CLAIM_IDLE = "2 seconds"
const MAX_DELIVERIES = 3

const redisUrl = process.env["REDIS_URL"]
const backendLayer = redisUrl
  ? RedisBackend.layerRedis({ url: Redacted.make(redisUrl) })
  : InMemoryBackend.layer

const started = Date.now()
const t = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(4)}s`
const say = (line: string) => Console.log(`[${t()}] ${line}`)

/** library logs (reclaims, dead letters) shown as story lines */
const storyLogger = Logger.make(({ logLevel, message }) => {
  const text = Array.isArray(message) ? message.join(" ") : String(message)
  globalThis.console.log(`[${t()}]   ${logLevel.label === "WARN" ? "!" : "·"} ${text}`)
})

const program = Effect.gen(function*() {
  const backend = yield* StreamsBackend.StreamsBackend
  const stream = redisUrl ? `demo:orders:${Date.now()}` : "demo:orders"
  const group = "billing"
  yield* say(`backend: ${backend.kind === "memory" ? "in-memory (set REDIS_URL to use Redis)" : `Redis ${backend.serverVersion}`}`)
  yield* say(`stream "${stream}", group "${group}", batchSize ${BATCH_SIZE}, maxWait ${MAX_WAIT}, claimIdle ${CLAIM_IDLE}, maxDeliveries ${MAX_DELIVERIES}`)

  const producer = yield* Producer.make({ stream, schema: Order })
  const produced: Array<string> = []
  let orderNo = 0
  const wave = (n: number, poisonAt?: number) =>
    Effect.gen(function*() {
      const orders: Array<Order> = Array.from({ length: n }, (_, i) => ({
        orderId: `o-${++orderNo}`,
        customer: ["ada", "bo", "cy", "di"][orderNo % 4]!,
        amount: i === poisonAt ? -1 : 5 + (orderNo % 40)
      }))
      const ids = yield* producer.addAll(orders)
      produced.push(...ids)
      yield* say(`producer added ${n} orders${poisonAt !== undefined ? " (one of them poison: amount -1)" : ""}`)
    })

  const processed = new Set<string>()
  const perConsumer = new Map<string, number>()
  const handle = (who: string) => (m: { readonly id: string; readonly body: Order; readonly deliveryCount: number }) =>
    Effect.gen(function*() {
      if (m.body.amount < 0) {
        return yield* Effect.fail(new Error(`order ${m.body.orderId} has a negative amount`))
      }
      yield* Effect.sleep(`${40 + (m.body.amount % 5) * 10} millis`)
      processed.add(m.id)
      perConsumer.set(who, (perConsumer.get(who) ?? 0) + 1)
    })

  const consumerOptions = {
    stream,
    group,
    schema: Order,
    batchSize: BATCH_SIZE,
    maxWait: MAX_WAIT,
    blockTime: "250 millis",
    reclaim: { idle: CLAIM_IDLE, interval: "250 millis" },
    deadLetter: { maxDeliveries: MAX_DELIVERIES }
  } as const

  yield* wave(60, 17)

  // alice and bob: process with concurrency, every slot busy, successes acknowledged together
  const workers = yield* Effect.forEach(["alice", "bob"], (name) =>
    Effect.gen(function*() {
      const consumer = yield* Consumer.make({ ...consumerOptions, consumer: name })
      return yield* consumer.process(handle(name), { concurrency: 2 }).pipe(Effect.fork)
    }))

  // carol: a hand-written batch loop that crashes in the middle of her third batch
  const carol = yield* Consumer.make({ ...consumerOptions, consumer: "carol", removeOnShutdown: false })
  const carolFiber = yield* carol.batches.pipe(
    Stream.zipWithIndex,
    Stream.runForEach(([batch, i]) =>
      Effect.gen(function*() {
        yield* say(`carol got a batch of ${batch.messages.length}`)
        if (i === 2) {
          yield* say(`carol CRASHES mid-batch: ${batch.messages.length} messages stay pending under her name`)
          return yield* Effect.interrupt
        }
        // acknowledge what was processed; a failure (the poison order, if carol gets it) stays pending
        const done = yield* Effect.filter(batch.messages, (m) => Effect.isSuccess(handle("carol")(m)))
        yield* batch.ackMessages(done)
      })
    ),
    Effect.fork
  )

  const monitor = yield* Monitor.make({ stream, group, idleThreshold: "1 second", batchSize: BATCH_SIZE, claimIdle: CLAIM_IDLE })
  const scaler = yield* Scaler.make({ stream, group, scaleOutRate: 60, scaleInRate: 20, targetPerConsumer: 30, minConsumers: 1, maxConsumers: 6 })

  const showScale = Effect.gen(function*() {
    const s = Scaler.toJson(yield* scaler.decide)
    yield* say(
      `scaler: backlog ${s.backlog}, pending ${s.pending}, rate ${s.rate} -> ${s.decision} (recommended ${s.recommended} consumers)`
    )
  })

  const dlq = DeadLetter.defaultStream(stream)
  const settled = Effect.gen(function*() {
    const dead = yield* backend.length(dlq)
    return processed.size + dead >= produced.length
  })

  const progress = Effect.gen(function*() {
    const info = (yield* backend.groupsInfo(stream)).find((g) => g.name === group)
    const by = [...perConsumer].map(([k, v]) => `${k} ${v}`).join(", ")
    yield* say(`progress: processed ${processed.size}/${produced.length} (${by}), backlog ${info?.lag ?? "?"}, pending ${info?.pending ?? "?"}`)
  })
  const ticker = yield* progress.pipe(Effect.delay("1 second"), Effect.forever, Effect.fork)

  // the timeline
  yield* Effect.sleep("1 second")
  yield* showScale
  yield* wave(150)
  yield* Effect.sleep("100 millis")
  yield* showScale
  yield* Fiber.await(carolFiber)
  yield* Effect.sleep("1200 millis")
  yield* say("monitor: carol has not read for over a second and still holds her batch")
  yield* Console.log(Monitor.render(yield* monitor.report))
  yield* Effect.sleep("1500 millis")
  yield* showScale
  yield* Effect.sleep("1 second")
  yield* wave(30)
  yield* showScale
  for (let i = 0; i < 100 && !(yield* settled); i++) yield* Effect.sleep("100 millis")
  yield* Fiber.interrupt(ticker)
  yield* progress
  yield* showScale
  yield* say("cleanup: consumers idle for more than 1 s are removed once nothing is pending under their name")
  const cleanup = yield* monitor.cleanup()
  for (const c of cleanup.consumers) yield* say(`cleanup: ${c.group}/${c.consumer}: ${c.outcome}`)
  yield* Console.log(Monitor.render(yield* monitor.report))
  yield* Effect.forEach(workers, Fiber.interrupt)

  const deadLetters = (yield* backend.range(dlq)).map(DeadLetter.parse)
  for (const d of deadLetters) {
    yield* say(`dead letter: ${d.meta.id} after ${d.meta.deliveries} deliveries: ${d.meta.error}`)
  }
  const deadIds = new Set(deadLetters.map((d) => d.meta.id))
  const lost = produced.filter((id) => !processed.has(id) && !deadIds.has(id)).length
  const pending = (yield* backend.pendingSummary(stream, group)).count
  yield* say(`group pending at the end: ${pending}`)
  yield* Console.log(`produced=${produced.length} processed=${processed.size} dead-lettered=${deadIds.size} lost=${lost}`)
  if (lost > 0 || pending > 0) return yield* Effect.fail(new Error(`${lost} messages lost, ${pending} pending`))
})

program.pipe(
  Effect.scoped,
  Effect.provide(Layer.mergeAll(backendLayer, Logger.replace(Logger.defaultLogger, storyLogger), Logger.minimumLogLevel(LogLevel.Info))),
  NodeRuntime.runMain({ disablePrettyLogger: true })
)

/**
 * The Producer: one message, many in one round trip, with and without
 * trimming, and typed payloads. The seed's README:
 *
 *   producer = Producer(redis_conn=redis_conn, stream=STREAM)
 *   msg_id = producer.add({"message": "stuff goes here"})
 *   producer_with_trim = Producer(redis_conn=redis_conn, stream=STREAM, maxlen=10000)
 *
 * Run: `pnpm example:producer` (in memory) or `REDIS_URL=redis://localhost:6379 pnpm example:producer`.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Context, Effect, Layer, Schema } from "effect"
import { Producer, StreamsBackend } from "effect-redis-streams"
import { description, ExampleBackend, streamKey } from "./backend.js"

const STREAM = streamKey("orders")
const CAPPED = streamKey("orders-capped")
const EXACT = streamKey("orders-exact")
const TYPED = streamKey("orders-typed")

// A typed producer: declare a tag over `Producer.Service<Order>` and build it with `Producer.layerAs`.
const Order = Schema.Struct({
  id: Schema.String,
  amount: Schema.NumberFromString.pipe(Schema.positive()),
  currency: Schema.Literal("EUR", "USD")
})
type Order = typeof Order.Type

class OrderProducer extends Context.Tag("examples/OrderProducer")<OrderProducer, Producer.Service<Order>>() {}

const program = Effect.gen(function*() {
  yield* Console.log(`Producer example on ${description}`)
  const backend = yield* StreamsBackend.StreamsBackend

  // publish a single message (the default Producer service, from Producer.layer below)
  const producer = yield* Producer.Producer
  const msgId = yield* producer.add({ message: "stuff goes here" })
  yield* Console.log(`Published ${msgId}`)

  // optional: cap the stream length with approximate trimming (the seed's maxlen: MAXLEN ~)
  const withTrim = yield* Producer.make({ stream: CAPPED, trim: { maxlen: 100 } })
  yield* withTrim.add({ message: "older entries will be trimmed" })

  // many messages in one round trip (pipelined), ids in order
  const ids = yield* withTrim.addAll(Array.from({ length: 1_000 }, (_, i) => ({ message: `order ${i}` })))
  yield* Console.log(`Published ${ids.length} messages in one round trip: ${ids[0]} .. ${ids[ids.length - 1]}`)
  // approximate trimming removes whole internal nodes only, so a little more than 100 may remain
  yield* Console.log(`Approximate trimming (maxlen ~100): ${yield* backend.length(CAPPED)} entries kept`)

  // exact trimming: MAXLEN = 100
  const exact = yield* Producer.make({ stream: EXACT, trim: { maxlen: 100, approximate: false } })
  yield* exact.addAll(Array.from({ length: 250 }, (_, i) => ({ message: `order ${i}` })))
  yield* Console.log(`Exact trimming (maxlen =100): ${yield* backend.length(EXACT)} entries kept`)

  // typed payloads: encoded with the Schema, stored field by field (amount as a string)
  const orders = yield* OrderProducer
  const typedId = yield* orders.add({ id: "A-1", amount: 42.5, currency: "EUR" })
  const [stored] = yield* backend.range(TYPED, { start: typedId, end: typedId })
  yield* Console.log(`Typed message ${typedId} stored as fields ${JSON.stringify(stored?.fields)}`)

  // a value that does not encode fails before anything is sent
  const invalid = yield* Effect.flip(orders.add({ id: "A-2", amount: -5, currency: "EUR" }))
  yield* Console.log(`Rejected a negative amount: ${invalid._tag}`)
})

const ProducersLive = Layer.mergeAll(
  Producer.layer({ stream: STREAM }),
  Producer.layerAs(OrderProducer, { stream: TYPED, schema: Order })
)

program.pipe(
  Effect.provide(ProducersLive),
  Effect.provide(ExampleBackend),
  NodeRuntime.runMain
)

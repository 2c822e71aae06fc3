// Type-checked by check.sh against the packed library and the ioredis the README's install line
// installs: a client the application owns, handed to the library (when the library brought its own
// ioredis 5 beside the application's 6, this failed with TS2379 "Property 'connecting' is protected").
import { Effect, Layer } from "effect"
import { Producer, RedisBackend, RedisConnection } from "effect-redis-streams"
import { Redis } from "ioredis"

const client = new Redis("redis://127.0.0.1:6379", { lazyConnect: true })
const backend = RedisBackend.layer.pipe(Layer.provide(RedisConnection.layerFromClient(client)))

export const program = Effect.gen(function*() {
  const producer = yield* Producer.make({ stream: "orders" })
  return yield* producer.add({ orderId: "o-1" })
}).pipe(Effect.scoped, Effect.provide(backend))

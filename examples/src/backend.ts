/**
 * The backend every example runs on: the in-memory backend by default, a real
 * Redis when `REDIS_URL` is set (`REDIS_URL=redis://localhost:6379 pnpm example:producer`).
 *
 * On Redis the examples use keys of their own (`example:<run id>:<name>`) and
 * delete them when they end, so they can run against a shared server.
 */
import { Effect, Layer, Option, Redacted } from "effect"
import { DeadLetter, InMemoryBackend, RedisBackend, RedisConnection, type StreamsBackend, type StreamsError } from "effect-redis-streams"
import { randomUUID } from "node:crypto"

const url = process.env["REDIS_URL"]

/** `true` when the examples run on a real Redis */
export const onRedis: boolean = url !== undefined && url !== ""

/** what the examples run on, for their first line of output */
export const description: string = onRedis ? "Redis (REDIS_URL)" : "the in-memory backend"

const runId = randomUUID().slice(0, 8)
const used = new Set<string>()

/**
 * The key of a stream: `name` on the in-memory backend, `example:<run id>:<name>`
 * on Redis (deleted, with its dead-letter stream, when the example ends).
 */
export const streamKey = (name: string): string => {
  if (!onRedis) return name
  const key = `example:${runId}:${name}`
  used.add(key)
  return key
}

/** on Redis: delete the keys this run created (the streams and their dead-letter streams) */
const cleanup: Layer.Layer<never, never, RedisConnection.RedisConnection> = Layer.scopedDiscard(
  Effect.gen(function*() {
    const connection = yield* RedisConnection.RedisConnection
    yield* Effect.addFinalizer(() =>
      Effect.forEach(
        Array.from(used).flatMap((key) => [key, DeadLetter.defaultStream(key)]),
        (key) => Effect.tryPromise(() => connection.client.del(key)).pipe(Effect.ignore),
        { discard: true }
      )
    )
  })
)

/**
 * `StreamsBackend` for the examples. On Redis it also provides the
 * `RedisConnection` (used by the cleanup above); the examples only need the
 * port.
 */
export const ExampleBackend: Layer.Layer<
  StreamsBackend.StreamsBackend,
  StreamsError.RedisConnectionError | StreamsError.InvalidOptions
> = onRedis
  ? Layer.provideMerge(cleanup, RedisBackend.layerRedis({ url: Redacted.make(url!) }))
  : InMemoryBackend.layer

/**
 * The in-memory store hooks (fault injection...) when the examples run in
 * memory, `None` on Redis.
 */
export const inMemoryStore: Effect.Effect<Option.Option<InMemoryBackend.Store>> = Effect.serviceOption(
  InMemoryBackend.InMemoryStore
)

import { Effect } from "effect"
import { InMemoryBackend, StreamsBackend, StreamsError } from '../../src'

const program = Effect.gen(function*() {
  const backend = yield* StreamsBackend.StreamsBackend
  const store = yield* InMemoryBackend.InMemoryStore
  yield* backend.createGroup("jobs", "workers", { id: "0", mkStream: true })
  yield* backend.add("jobs", ["n", "1"])
  // the next XACK fails as if the connection dropped
  yield* store.failNext(
    (op) => op.command === "XACK",
    new StreamsError.RedisConnectionError({ endpoint: "memory", message: "connection lost" })
  )
}).pipe(Effect.provide(InMemoryBackend.layer))

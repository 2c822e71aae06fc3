/**
 * The `InMemoryStore` hooks of the in-memory backend (what the port does not
 * have): keys of another type, DEL, FLUSHALL, the key list, the fault hooks
 * and the count of blocked readers.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { FaultOptions, Store } from "../../InMemoryBackend.js"
import type { Engine } from "./engine.js"
import type { Faults } from "./faults.js"

export const makeStore = (engine: Engine, faults: Faults): Store => ({
  setString: (key, value) => Effect.sync(() => engine.setString(key, value)),
  deleteKey: (key) => Effect.sync(() => void engine.deleteKey(key)),
  flushAll: Effect.sync(() => engine.flushAll()),
  keys: Effect.sync(() => engine.keys()),
  failNext: (predicate, error, options?: FaultOptions) =>
    Effect.sync(() => {
      faults.add(predicate, error, options)
    }),
  clearFaults: Effect.sync(() => {
    faults.clear()
  }),
  blockedReaders: (stream) => Effect.sync(() => engine.blockedCount(stream))
})

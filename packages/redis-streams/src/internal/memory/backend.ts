/**
 * The port over the in-memory engine, assembled: one engine and one set of
 * fault hooks per backend; the port's commands (`commands.ts`, each one
 * synchronous call of the engine through `run.ts`, with the time read once
 * from the fiber's `Clock` so `TestClock` drives ids, idle times and blocking
 * reads, engine refusals mapped to the port's typed errors, and the fault
 * hooks of `InMemoryStore` checked first), the blocking readers
 * (`blockingReader.ts`) and the store hooks (`store.ts`).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { InMemoryBackend } from "../../InMemoryBackend.js"
import { makeBlockingReader } from "./blockingReader.js"
import { ackCommands, entryCommands, groupCommands, infoCommands, keyCommands, pendingCommands } from "./commands.js"
import { Engine } from "./engine.js"
import { Faults } from "./faults.js"
import { makeRun } from "./run.js"
import { makeStore } from "./store.js"

/** the Redis version the engine emulates */
export const SERVER_VERSION = "7.0.15"

export const makeBackend = (): InMemoryBackend => {
  const engine = new Engine()
  const faults = new Faults()
  const run = makeRun(faults)

  const service: InMemoryBackend = {
    kind: "memory",
    serverVersion: SERVER_VERSION,

    ...entryCommands(engine, run),
    blockingReader: makeBlockingReader(engine, faults),
    // one keyspace, no connections: a lane changes nothing
    lane: Effect.acquireRelease(
      Effect.sync((): { open: boolean } => ({ open: true })),
      (lane) =>
        Effect.sync(() => {
          lane.open = false
        })
    ),

    ...ackCommands(engine, run),
    ackThenRead: (stream, group, ids, read, options) =>
      // the acknowledgement and the read are the two operations they stand for (so faults injected
      // on XACK or XREADGROUP apply to them), one after the other as Redis runs a pipeline
      Effect.flatMap(
        options?.delete === true ? service.ackAndDelete(stream, group, ids) : service.ack(stream, group, ids),
        (acked) => Effect.map(Effect.either(service.readGroup(read)), (result) => ({ acked, read: result }))
      ),

    ...pendingCommands(engine, run),
    ...infoCommands(engine, run),
    ...groupCommands(engine, run),
    ...keyCommands(engine, run),

    // the store
    ...makeStore(engine, faults)
  }
  return service
}

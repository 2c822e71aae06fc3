/**
 * `Consumer.make`: validate, join the group, and assemble the service from
 * its parts (runs of batches, the worker, the batch worker).
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { Message } from "../../Message.js"
import { StreamsBackend } from "../../StreamsBackend.js"
import type { BackendError, InvalidOptions } from "../../StreamsError.js"
import * as Codec from "../codec.js"
import * as O from "../options.js"
import { batches, processBatch } from "./batches.js"
import { Env } from "./env.js"
import { type Input, resolve } from "./options.js"
import * as Worker from "./worker.js"

/** what `make` needs beyond the validated options */
export interface MakeInput extends Input {
  readonly schema?: Schema.Schema<any, any, any> | undefined
  readonly encoding?: "fields" | "json" | undefined
  readonly connection?: {
    readonly shared?: boolean | undefined
    readonly reconnect?: Schedule.Schedule<unknown, BackendError> | undefined
  } | undefined
}

/** the options of `process` */
export interface WorkerInput {
  readonly concurrency?: number | "unbounded" | undefined
  readonly prefetch?: number | undefined
  readonly ackDelay?: Duration.DurationInput | undefined
}

export const defaultReconnect: Schedule.Schedule<unknown, BackendError> = Schedule.exponential(Duration.millis(100)).pipe(
  Schedule.union(Schedule.spaced(Duration.seconds(5)))
)

export const DEFAULT_ACK_DELAY_MS = 20

/** the worker's settings: `"unbounded"` runs as many handlers as a batch holds */
const workerSettings = (batchSize: number, input: WorkerInput | undefined): Effect.Effect<Worker.Settings, InvalidOptions> =>
  Effect.gen(function*() {
    const concurrency = input?.concurrency === "unbounded"
      ? batchSize
      : yield* O.integer("Consumer.process", "concurrency", input?.concurrency, 1, 1, 1_000_000)
    const prefetch = yield* O.integer("Consumer.process", "prefetch", input?.prefetch, batchSize, 0, 1_000_000)
    const ackDelayMs = yield* O.durationMs("Consumer.process", "ackDelay", input?.ackDelay, DEFAULT_ACK_DELAY_MS, 0)
    return { concurrency, prefetch, ackDelayMs }
  })

/** remove the consumer from the group on scope close, if (and only if) it has nothing pending */
const removeOnClose = <A>(env: Env<A>) =>
  Effect.addFinalizer(() =>
    env.backend.deleteConsumerIfIdle(env.o.stream, env.o.group, env.o.name).pipe(
      Effect.flatMap((r) =>
        r.deleted
          ? Effect.logDebug(`removed consumer "${env.o.name}" from group "${env.o.group}"`)
          : env.logInfo(
            `consumer "${env.o.name}" keeps ${r.pending} pending entries in group "${env.o.group}"; not removed (they will be reclaimed)`
          )
      ),
      Effect.catchAll((e) => env.logWarning(`could not check consumer "${env.o.name}" on shutdown: ${e.message}`)),
      Effect.annotateLogs(env.annotations)
    )
  )

/** join the group: create it when missing (MKSTREAM; `startFrom` chooses its first id), register the name */
const join = <A>(env: Env<A>) =>
  Effect.gen(function*() {
    const o = env.o
    if (o.claimIdleMs !== undefined && o.claimIdleMs <= o.maxWaitMs) {
      yield* env.logWarning(
        `claimIdle (${o.claimIdleMs} ms) is not longer than maxWait (${o.maxWaitMs} ms): other consumers may ` +
          `reclaim entries of a batch that is still collecting, and handle them twice; make claimIdle longer ` +
          `than maxWait plus the time a batch takes to process`
      )
    }
    if (yield* env.createGroup()) yield* env.logInfo(`created consumer group "${o.group}" on "${o.stream}" at ${o.startId}`)
    yield* env.backend.createConsumer(o.stream, o.group, o.name)
  })

export const make = (options: MakeInput) =>
  Effect.gen(function*() {
    const o = yield* resolve(options)
    const backend = yield* StreamsBackend
    const codec: Codec.Codec<any> = options.schema === undefined
      ? Codec.recordCodec
      : Codec.make(options.schema as Schema.Schema<any, any, any>, options.encoding, yield* Effect.runtime<any>())
    const env = new Env<any>(o, backend, codec, options.schema === undefined, options.connection?.reconnect ?? defaultReconnect)
    yield* join(env)
    const lock = yield* Effect.makeSemaphore(1)
    const stream = batches(env, lock)
    if (o.removeOnShutdown) yield* removeOnClose(env)
    return {
      name: o.name,
      stream: o.stream,
      group: o.group,
      deadLetterStream: o.deadLetterStream,
      batches: stream,
      process: <E, R>(handler: (message: Message<any>) => Effect.Effect<unknown, E, R>, input?: WorkerInput) =>
        Effect.flatMap(workerSettings(o.batchSize, input), (settings) => Worker.process(env, lock, handler, settings)),
      processBatch: <E, R>(handler: (batch: any) => Effect.Effect<unknown, E, R>) => processBatch(env, stream, handler),
      ack: (ids: Iterable<string>) => env.ackIds(Array.from(ids))
    }
  }) satisfies Effect.Effect<unknown, InvalidOptions | BackendError, StreamsBackend | Scope.Scope>

/**
 * Retries and timeouts around processing and acknowledging, in a service of
 * your own (`Context.Tag` + `Layer`).
 *
 * - Every call to a (simulated) payment gateway is bounded by a timeout, and
 *   transient failures (5xx, timeouts) are retried with exponential backoff,
 *   at most 3 times. A permanent failure (4xx) is not retried: the message goes
 *   to the dead-letter stream.
 * - Acknowledging is retried on lost connections only, and bounded as a whole.
 * - The whole batch is bounded too. A message that still fails is simply not
 *   acknowledged: it stays pending and is delivered again later (after
 *   `claimIdle`, to this consumer or another one).
 *
 * Run: `pnpm example:retries-and-timeouts` (in memory) or with `REDIS_URL=redis://localhost:6379`.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Context, Data, Effect, Either, Layer, Option, Ref, Schedule, Stream } from "effect"
import { Consumer, type Message, Producer, StreamsBackend, StreamsError } from "effect-redis-streams"
import { description, ExampleBackend, inMemoryStore, streamKey } from "./backend.js"

const STREAM = streamKey("payments")
const GROUP = "charger"

// ---------------------------------------------------------------------------
// a downstream service (simulated): o-3 answers 503 twice, o-5 never answers, o-6 is refused
// ---------------------------------------------------------------------------

class GatewayError extends Data.TaggedError("GatewayError")<{ readonly orderId: string; readonly status: number }> {}

class PaymentGateway extends Context.Tag("examples/PaymentGateway")<PaymentGateway, {
  readonly charge: (orderId: string, amount: number) => Effect.Effect<string, GatewayError>
}>() {}

const PaymentGatewaySimulated = Layer.effect(
  PaymentGateway,
  Effect.gen(function*() {
    const calls = yield* Ref.make(new Map<string, number>())
    return PaymentGateway.of({
      charge: (orderId, amount) =>
        Effect.gen(function*() {
          const call = yield* Ref.modify(calls, (m) => {
            const n = (m.get(orderId) ?? 0) + 1
            return [n, new Map(m).set(orderId, n)] as const
          })
          if (amount <= 0) return yield* new GatewayError({ orderId, status: 400 })
          if (orderId === "o-3" && call <= 2) return yield* new GatewayError({ orderId, status: 503 })
          if (orderId === "o-5") yield* Effect.never // hangs: only the timeout ends it
          return `charge-${orderId}`
        })
    })
  })
)

// ---------------------------------------------------------------------------
// the service of this example: handles a batch with retries and timeouts
// ---------------------------------------------------------------------------

interface Outcome {
  readonly acknowledged: ReadonlyArray<string>
  readonly deadLettered: ReadonlyArray<string>
  readonly leftPending: ReadonlyArray<string>
}

class OrderHandler extends Context.Tag("examples/OrderHandler")<OrderHandler, {
  readonly handleBatch: (
    batch: Message.Batch<Record<string, string>>
  ) => Effect.Effect<Outcome, StreamsError.BackendError>
}>() {}

const OrderHandlerLive = Layer.effect(
  OrderHandler,
  Effect.gen(function*() {
    const gateway = yield* PaymentGateway

    // 50 ms, 100 ms, 200 ms (jittered), then give up
    const transientRetries = Schedule.exponential("50 millis").pipe(
      Schedule.jittered,
      Schedule.intersect(Schedule.recurs(3))
    )
    const charge = (message: Message.Message<Record<string, string>>) => {
      const orderId = message.body["order"] ?? message.id
      return gateway.charge(orderId, Number(message.body["amount"])).pipe(
        // each attempt bounded: a timeout counts as a transient failure (504)
        Effect.timeoutFail({ duration: "200 millis", onTimeout: () => new GatewayError({ orderId, status: 504 }) }),
        Effect.tapError((e) => Console.log(`  ${orderId}: attempt failed with ${e.status}`)),
        Effect.retry({ schedule: transientRetries, while: (e) => e.status >= 500 })
      )
    }

    // acknowledging: retried on lost connections only (other errors are bugs), at most 5 s in all
    const connectionRetries = Schedule.exponential("100 millis").pipe(Schedule.intersect(Schedule.recurs(5)))
    const retryingConnection = <A>(effect: Effect.Effect<A, StreamsError.BackendError>) =>
      effect.pipe(
        Effect.tapError((e) => Console.log(`  ${e._tag}: ${e.message}; retrying`)),
        Effect.retry({ schedule: connectionRetries, while: (e) => e._tag === "RedisConnectionError" }),
        Effect.timeoutFail({
          duration: "5 seconds",
          onTimeout: () =>
            new StreamsError.RedisConnectionError({ endpoint: "", message: "acknowledgement timed out" })
        })
      )

    return OrderHandler.of({
      handleBatch: (batch) =>
        Effect.gen(function*() {
          const results = yield* Effect.forEach(
            batch.messages,
            (m) => Effect.map(Effect.either(charge(m)), (result) => ({ m, result })),
            { concurrency: 4 }
          )
          const ok = results.filter((r) => Either.isRight(r.result)).map((r) => r.m)
          const refused = results.flatMap((r) =>
            Either.isLeft(r.result) && r.result.left.status < 500 ? [{ m: r.m, error: r.result.left }] : []
          )
          const failed = results.filter((r) => Either.isLeft(r.result) && r.result.left.status >= 500).map((r) => r.m)

          yield* retryingConnection(batch.ackMessages(ok))
          for (const { error, m } of refused) {
            yield* retryingConnection(m.deadLetter(`refused by the gateway (${error.status})`))
          }
          const name = (m: Message.Message<Record<string, string>>) => m.body["order"] ?? m.id
          return { acknowledged: ok.map(name), deadLettered: refused.map((r) => name(r.m)), leftPending: failed.map(name) }
        })
    })
  })
).pipe(Layer.provide(PaymentGatewaySimulated))

// ---------------------------------------------------------------------------
// the program
// ---------------------------------------------------------------------------

const program = Effect.gen(function*() {
  yield* Console.log(`Retries and timeouts example on ${description}`)
  const backend = yield* StreamsBackend.StreamsBackend
  const handler = yield* OrderHandler
  const producer = yield* Producer.make({ stream: STREAM })
  yield* producer.addAll(
    ["o-1", "o-2", "o-3", "o-4", "o-5", "o-6"].map((order) => ({ order, amount: order === "o-6" ? "-1" : "10" }))
  )

  const consumer = yield* Consumer.make({ stream: STREAM, group: GROUP, consumer: "charger-1", batchSize: 10, maxWait: "300 millis" })

  // on the in-memory backend, make the next XACK fail as if the connection dropped
  const store = yield* inMemoryStore
  if (Option.isSome(store)) {
    yield* store.value.failNext(
      (op) => op.command === "XACK",
      new StreamsError.RedisConnectionError({ endpoint: "memory", message: "connection lost (simulated)" })
    )
  }

  yield* consumer.batches.pipe(
    Stream.take(1),
    Stream.runForEach((batch) =>
      handler.handleBatch(batch).pipe(
        Effect.timeout("10 seconds"), // the whole batch, processing and acknowledging, is bounded too
        Effect.flatMap((outcome) =>
          Console.log(
            `acknowledged: ${outcome.acknowledged.join(", ")}; dead-lettered: ${outcome.deadLettered.join(", ")}; left pending: ${
              outcome.leftPending.join(", ")
            }`
          )
        )
      )
    )
  )

  const pending = yield* backend.pendingSummary(STREAM, GROUP)
  const deadLetters = yield* backend.length(consumer.deadLetterStream)
  yield* Console.log(`pending: ${pending.count}, dead letters in ${consumer.deadLetterStream}: ${deadLetters}`)
}).pipe(Effect.scoped)

program.pipe(Effect.provide(OrderHandlerLive), Effect.provide(ExampleBackend), NodeRuntime.runMain)

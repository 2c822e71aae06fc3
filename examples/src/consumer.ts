/**
 * The Consumer: batches with acknowledgement, then `process`. The seed's README:
 *
 *   consumer = Consumer(redis_conn=redis_conn, stream=STREAM, consumer_group=GROUP,
 *                       batch_size=10, max_wait_time_ms=30000)
 *   while True:
 *       messages = consumer.get_items()
 *       for i, item in enumerate(messages):
 *           process_message(item=item)
 *           consumer.remove_item_from_consumer_group(item_id=item.msgid)
 *
 * Here a batch is emitted when it holds `batchSize` messages or when `maxWait`
 * has passed, and `batch.ack` acknowledges it in one round trip. The loop is
 * bounded (`Stream.take`) so that the example ends.
 *
 * Run: `pnpm example:consumer` (in memory) or `REDIS_URL=redis://localhost:6379 pnpm example:consumer`.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Deferred, Effect, Fiber, Ref, Stream } from "effect"
import { Consumer, type Message, Producer, StreamsBackend } from "effect-redis-streams"
import { description, ExampleBackend, streamKey } from "./backend.js"

const STREAM = streamKey("orders")
const GROUP = "billing"

const processMessage = (item: Message.Message<Record<string, string>>) => Effect.succeed(item.body["message"])

const program = Effect.gen(function*() {
  yield* Console.log(`Consumer example on ${description}`)
  const backend = yield* StreamsBackend.StreamsBackend
  const producer = yield* Producer.make({ stream: STREAM })
  yield* producer.addAll(Array.from({ length: 25 }, (_, i) => ({ message: `order ${i + 1}` })))

  const consumer = yield* Consumer.make({
    stream: STREAM,
    group: GROUP,
    consumer: "worker-1",
    batchSize: 10,
    maxWait: "500 millis" // the seed's max_wait_time_ms; 10 + 10 arrive full, the last 5 after maxWait
  })

  // 1. the seed's loop: get a batch, process each item, acknowledge
  yield* consumer.batches.pipe(
    Stream.take(3),
    Stream.runForEach((batch) =>
      Effect.gen(function*() {
        const total = batch.messages.length
        for (const [i, item] of batch.messages.entries()) {
          yield* processMessage(item)
          if (i === 0 || i === total - 1) {
            yield* Console.log(`Processing ${i + 1}/${total} message: ${item.id} ${JSON.stringify(item.body)}`)
          }
        }
        yield* batch.ack // one XACK for the whole batch
        yield* Console.log(`Acknowledged a batch of ${total}`)
      })
    )
  )

  // 2. `process`: a handler per message, `concurrency` running at all times (across batches); the
  // successes are acknowledged together, failures stay pending and are delivered again.
  // It runs until interrupted; here it is interrupted once 20 more messages are done.
  yield* producer.addAll(Array.from({ length: 20 }, (_, i) => ({ message: `order ${i + 26}` })))
  const handled = yield* Ref.make(0)
  const allDone = yield* Deferred.make<void>()
  const worker = yield* consumer.process(
    (message) =>
      processMessage(message).pipe(
        Effect.zipRight(Ref.updateAndGet(handled, (n) => n + 1)),
        Effect.tap((n) => n === 20 ? Deferred.succeed(allDone, undefined) : Effect.void)
      ),
    { concurrency: 5 }
  ).pipe(Effect.fork)
  yield* Deferred.await(allDone).pipe(Effect.timeout("10 seconds"))
  // interrupting `process` stops reading at once, starts no handler, acknowledges what succeeded and
  // releases what it read and did not start, before it returns
  yield* Fiber.interrupt(worker)
  yield* Console.log(`process handled ${yield* Ref.get(handled)} messages`)

  const pending = yield* backend.pendingSummary(STREAM, GROUP)
  yield* Console.log(`Pending in group ${GROUP}: ${pending.count}`)
}).pipe(Effect.scoped) // the consumer leaves the group (if it has nothing pending) when the scope closes

program.pipe(Effect.provide(ExampleBackend), NodeRuntime.runMain)

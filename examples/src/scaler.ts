/**
 * The Scaler: the seed's IN / OUT / NO_SCALE decision and a recommended
 * consumer count. The seed's README:
 *
 *   scaler = Scaler(redis_conn=Redis(decode_responses=True), stream=STREAM, consumer_group=GROUP)
 *   scaler.collect_metrics()
 *   rate, suggestion = scaler.get_scale_decision(scale_out_rate=60, scale_in_rate=20)
 *   print(f"Consumers should be {suggestion} as stream length ({scaler.stream_lenght}) / "
 *         f"pending ({scaler.stream_pending}) rate is {rate}%")
 *
 *   Consumers should be IN as stream length (11) / pending (83) rate is 13.253%
 *   Consumers should be NO_SCALE as stream length (18) / pending (79) rate is 22.7848%
 *
 * This example builds exactly those two situations and prints the same lines.
 *
 * Run: `pnpm example:scaler` (in memory) or `REDIS_URL=redis://localhost:6379 pnpm example:scaler`.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Schedule, Stream } from "effect"
import { Producer, Scaler, StreamsBackend } from "effect-redis-streams"
import { description, ExampleBackend, streamKey } from "./backend.js"

const STREAM = streamKey("orders")
const GROUP = "billing"

const perSecond = (rate: number | null) => rate === null ? "n/a" : `${rate.toFixed(0)}/s`

const orders = (n: number) => Array.from({ length: n }, (_, i) => ({ message: `order ${i + 1}` }))

const program = Effect.gen(function*() {
  yield* Console.log(`Scaler example on ${description}`)
  const backend = yield* StreamsBackend.StreamsBackend
  const producer = yield* Producer.make({ stream: STREAM })
  yield* backend.createGroup(STREAM, GROUP, { id: "0", mkStream: true })

  // 94 entries; two consumers take 83 of them without acknowledging yet: backlog 11, pending 83
  yield* producer.addAll(orders(94))
  const read = (consumer: string, count: number) =>
    backend.readGroup({ stream: STREAM, group: GROUP, consumer, id: ">", count })
  const first = yield* read("worker-1", 42)
  yield* read("worker-2", 41)

  const scaler = yield* Scaler.make({ stream: STREAM, group: GROUP, scaleOutRate: 60, scaleInRate: 20 })

  const d1 = yield* scaler.decide
  yield* Console.log(Scaler.describe(d1))
  yield* Console.log(
    `  recommended consumers: ${d1.recommended} (by work ${d1.byWork}: (backlog ${d1.backlog} + pending ${d1.pending}) / ${scaler.options.targetPerConsumer} per consumer)`
  )

  // worker-1 acknowledges 4 entries and 7 new ones arrive: backlog 18, pending 79
  yield* backend.ack(STREAM, GROUP, first.slice(0, 4).map((e) => e.id))
  yield* producer.addAll(orders(7))
  const d2 = yield* scaler.decide
  yield* Console.log(Scaler.describe(d2))

  // other thresholds for one decision (validated: scaleInRate <= scaleOutRate, both within 0..100)
  const d3 = yield* scaler.decideWith({ scaleOutRate: 20, scaleInRate: 10 })
  yield* Console.log(`with scaleOutRate 20: ${Scaler.describe(d3)}`)

  // decisions on a schedule, while traffic flows: 5 entries arrive and worker-1 acknowledges 3 every
  // 100 ms. From the second decision on, arrival and ack rates are measured (over `rateWindow`).
  const watcher = yield* Scaler.make({ stream: STREAM, group: GROUP, rateWindow: "2 seconds" })
  const traffic = Effect.gen(function*() {
    yield* producer.addAll(orders(5))
    const got = yield* read("worker-1", 3)
    yield* backend.ack(STREAM, GROUP, got.map((e) => e.id))
  }).pipe(Effect.repeat(Schedule.spaced("100 millis")), Effect.forkScoped)
  yield* traffic
  yield* watcher.decisions({ schedule: Schedule.spaced("400 millis") }).pipe(
    Stream.take(3),
    Stream.runForEach((d) =>
      Console.log(
        `decision ${d.decision} (rate ${d.rate}%), recommended ${d.recommended}, arrival ${perSecond(d.arrivalRate)}, ack ${
          perSecond(d.ackRate)
        }`
      )
    )
  )
  yield* Console.log(`JSON: ${JSON.stringify(Scaler.toJson(yield* watcher.decide))}`)
}).pipe(Effect.scoped)

program.pipe(Effect.provide(ExampleBackend), NodeRuntime.runMain)

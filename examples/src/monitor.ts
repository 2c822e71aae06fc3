/**
 * The Monitor: a report of the group, the seed's table, and a cleanup of dead
 * consumers that moves their pending entries to live ones before deleting
 * them (a dry run first, then for real). The seed's README:
 *
 *   monitor = Monitor(redis_conn=Redis(), stream=STREAM, consumer_group=GROUP, batch_size=10)
 *   monitor.collect_monitoring_data(auto_cleanup=True)
 *   monitor.print_monitoring_data()
 *
 * Three consumers are simulated with plain XREADGROUPs: `worker-crashed` took
 * 5 entries and went silent, `worker-busy` holds more than a batch, and
 * `worker-ok` is fine.
 *
 * Run: `pnpm example:monitor` (in memory) or `REDIS_URL=redis://localhost:6379 pnpm example:monitor`.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { Monitor, Producer, StreamsBackend } from "effect-redis-streams"
import { description, ExampleBackend, streamKey } from "./backend.js"

const STREAM = streamKey("orders")
const GROUP = "billing"

const program = Effect.gen(function*() {
  yield* Console.log(`Monitor example on ${description}`)
  const backend = yield* StreamsBackend.StreamsBackend
  const producer = yield* Producer.make({ stream: STREAM })
  yield* backend.createGroup(STREAM, GROUP, { id: "0", mkStream: true })
  yield* producer.addAll(Array.from({ length: 30 }, (_, i) => ({ message: `order ${i + 1}` })))

  const read = (consumer: string, count: number) =>
    backend.readGroup({ stream: STREAM, group: GROUP, consumer, id: ">", count })
  yield* read("worker-crashed", 5)
  yield* Effect.sleep("2500 millis") // longer than idleThreshold below: worker-crashed now looks dead
  yield* read("worker-busy", 12)
  yield* read("worker-ok", 3)

  const monitor = yield* Monitor.make({
    stream: STREAM,
    group: GROUP,
    batchSize: 10, // batch size has to be the same as for consumers: more pending is TOO_MANY_PENDING
    idleThreshold: "2 seconds", // the seed's inactivity threshold (30 seconds by default)
    claimIdle: "1 second" // cleanup moves only entries idle at least this long
  })

  const report = yield* monitor.report
  yield* Console.log(Monitor.render(report))
  for (const group of report.groups) {
    yield* Console.log(
      `group ${group.name}: lag ${group.lag}, pending ${group.pending}, oldest pending ${group.oldestPendingAgeMs} ms old, dead letters ${group.deadLetters}`
    )
  }

  const plan = yield* monitor.cleanup({ dryRun: true })
  for (const c of plan.consumers) {
    const moves = c.claims.map((claim) => `${claim.ids.length} to ${claim.to}`).join(", ")
    yield* Console.log(`dry run: ${c.consumer}: ${c.outcome} (${c.note}: ${moves})`)
  }

  const done = yield* monitor.cleanup()
  for (const c of done.consumers) {
    yield* Console.log(`cleanup: ${c.consumer}: ${c.outcome} (${c.note})`)
  }
  yield* Console.log(`cleanup moved ${done.claimed} entries and deleted ${done.deleted} consumer(s)`)

  yield* Console.log(Monitor.render(yield* monitor.report))
}).pipe(Effect.scoped)

program.pipe(Effect.provide(ExampleBackend), NodeRuntime.runMain)

/**
 * One round of every component, in steps that can each run on its own
 * connection (its own ACL user, its own TLS options): produce, consume (with
 * a poison message dead-lettered), leave a dead consumer with pending
 * entries, monitor (report and cleanup), scale.
 *
 * Shared by the TLS, ACL and secrets suites.
 */
import { Duration, Effect, Fiber, Layer, Option, Stream } from "effect"
import {
  Consumer,
  DeadLetter,
  Message,
  Monitor,
  Producer,
  type RedisConnection,
  Scaler,
  type StreamsBackend,
  type StreamsError
} from "effect-redis-streams"

export type Backend = Layer.Layer<
  StreamsBackend.StreamsBackend | RedisConnection.RedisConnection,
  StreamsError.RedisConnectionError | StreamsError.InvalidOptions
>

/** poll `check` until it holds, every 20 ms, for at most `timeoutMs` */
export const eventually = <E, R>(
  check: Effect.Effect<boolean, E, R>,
  timeoutMs = 10_000,
  what = "condition"
): Effect.Effect<void, E, R> =>
  Effect.gen(function*() {
    const until = Date.now() + timeoutMs
    while (!(yield* check)) {
      if (Date.now() > until) return yield* Effect.dieMessage(`timed out after ${timeoutMs} ms waiting for ${what}`)
      yield* Effect.sleep(Duration.millis(20))
    }
  })

/** the Producer: `n` messages (one pipelined batch) plus one single add, trimmed approximately */
export const produce = (stream: string, n: number, poisonAt = -1) =>
  Effect.gen(function*() {
    const producer = yield* Producer.make({ stream, trim: { maxlen: 100_000 } })
    const ids = yield* producer.addAll(
      Array.from({ length: n - 1 }, (_, i) => ({ n: String(i), poison: i === poisonAt ? "yes" : "no" }))
    )
    const last = yield* producer.add({ n: String(n - 1), poison: n - 1 === poisonAt ? "yes" : "no" })
    return [...ids, last]
  })

/**
 * The Consumer: process until `expected` messages were handled (a message
 * with `poison=yes` is rejected with `Message.Poison`, so it goes to the
 * dead-letter stream), then interrupt (which unblocks its blocking read and
 * removes it from the group).
 */
export const consume = (stream: string, group: string, expected: number, consumer = "worker") =>
  Effect.scoped(Effect.gen(function*() {
    const c = yield* Consumer.make({
      stream,
      group,
      consumer,
      batchSize: 10,
      maxWait: "50 millis",
      blockTime: "500 millis",
      reclaim: { idle: "5 seconds" }
    })
    const handled = new Set<string>()
    const fiber = yield* c.process((m) =>
      m.fields["poison"] === "yes"
        ? Effect.fail(new Message.Poison({ reason: "poison for the test" }))
        : Effect.sync(() => void handled.add(m.id))
    ).pipe(Effect.fork)
    yield* Effect.raceFirst(
      eventually(Effect.sync(() => handled.size >= expected), 15_000, `${expected} handled messages`),
      Fiber.join(fiber)
    )
    // the process is blocked in XREADGROUP BLOCK by now: interrupting it must come back at once
    yield* Effect.sleep(Duration.millis(100))
    const started = Date.now()
    yield* Fiber.interrupt(fiber)
    return { handled: [...handled], interruptMs: Date.now() - started, deadLetterStream: c.deadLetterStream }
  }))

/** a consumer that takes `n` entries and never acknowledges them (it "crashed"); stays in the group */
export const takeAndDie = (stream: string, group: string, consumer: string, n: number) =>
  Effect.scoped(Effect.gen(function*() {
    const c = yield* Consumer.make({
      stream,
      group,
      consumer,
      batchSize: n,
      maxWait: "200 millis",
      blockTime: "200 millis",
      removeOnShutdown: false,
      reclaim: false
    })
    const batch = yield* c.batches.pipe(Stream.take(1), Stream.runHead)
    return Option.match(batch, { onNone: () => [], onSome: (b) => b.messages.map((m) => m.id) })
  }))

/** a consumer that joins the group now (so it is live for the Monitor) and leaves nothing behind */
export const join = (stream: string, group: string, consumer: string) =>
  Effect.scoped(Effect.asVoid(Consumer.make({
    stream,
    group,
    consumer,
    batchSize: 1,
    maxWait: 0,
    removeOnShutdown: false
  })))

/** the Monitor: a report, then a cleanup (dead consumers: idle longer than `idleThreshold`) */
export const monitor = (stream: string, idleThreshold: Duration.DurationInput) =>
  Effect.scoped(Effect.gen(function*() {
    const m = yield* Monitor.make({ stream, idleThreshold, claimIdle: 0 })
    const report = yield* m.report
    const cleanup = yield* m.cleanup()
    return { report, cleanup, table: Monitor.render(report) }
  }))

/** the Scaler: one decision */
export const scale = (stream: string, group: string) =>
  Effect.scoped(Effect.flatMap(Scaler.make({ stream, group }), (s) => s.decide))

/** the default dead-letter stream of `stream` */
export const dlqOf = (stream: string): string => DeadLetter.defaultStream(stream)

/**
 * Every component in turn, each on the layer `as` gives it: 20 messages (one
 * poison), consumed; 3 more left pending under a consumer that died; the
 * Monitor moves them to a live consumer and deletes the dead one; the Scaler
 * decides. Returns what each step saw.
 */
export const everyComponent = (
  stream: string,
  as: (component: "producer" | "consumer" | "monitor" | "scaler") => Backend
) =>
  Effect.gen(function*() {
    const group = "g"
    const produced = yield* Effect.provide(produce(stream, 20, 7), as("producer"))
    const consumed = yield* Effect.provide(consume(stream, group, 19), as("consumer"))
    const more = yield* Effect.provide(produce(stream, 3), as("producer"))
    const taken = yield* Effect.provide(takeAndDie(stream, group, "crashed", 3), as("consumer"))
    yield* Effect.sleep(Duration.millis(1300))
    yield* Effect.provide(join(stream, group, "alive"), as("consumer"))
    const monitored = yield* Effect.provide(monitor(stream, "1 second"), as("monitor"))
    const decision = yield* Effect.provide(scale(stream, group), as("scaler"))
    return { produced, more, consumed, taken, monitored, decision }
  })

/** the same layer for every component */
export const same = (layer: Backend) => () => layer

/** a layer's construction forced now (a failure is the layer's error) */
export const build = (layer: Backend) => Effect.scoped(Layer.build(layer))

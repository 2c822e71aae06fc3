/**
 * Every invalid option of every component is rejected when the service is
 * built, with `InvalidOptions` naming the option and saying what is accepted,
 * and before anything reaches the backend (no key is created).
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Redacted } from "effect"
import {
  Consumer,
  InMemoryBackend,
  Monitor,
  Producer,
  RedisConnection,
  Scaler,
  StreamsBackend,
  StreamsError
} from "effect-redis-streams"

/** what the message must contain to say what is accepted */
const ACCEPTED = /accepted|must be|must not|must differ|must list|must start|cannot|needs|is required|only|non-empty|from -?\d|at least|>=|integer|number|duration/

const rejects = (
  build: Effect.Effect<unknown, unknown, StreamsBackend.StreamsBackend | import("effect").Scope.Scope>,
  option: string,
  what: string
) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(Effect.scoped(build))
    assert.isTrue(Exit.isFailure(exit), `${what}: must be rejected`)
    if (Exit.isSuccess(exit)) return
    const failure = Cause.failureOption(exit.cause)
    assert.isTrue(failure._tag === "Some", `${what}: a typed failure, not a defect: ${Cause.pretty(exit.cause)}`)
    const error = failure._tag === "Some" ? failure.value : undefined
    assert.instanceOf(error, StreamsError.InvalidOptions, `${what}: ${String(error)}`)
    const e = error as StreamsError.InvalidOptions
    assert.strictEqual(e.option, option, `${what}: ${e.message}`)
    assert.include(e.message, option.split(".").pop()!, `${what}: the message names the option`)
    assert.match(e.message, ACCEPTED, `${what}: the message says what is accepted: ${e.message}`)
    // nothing reached the backend
    const backend = yield* StreamsBackend.StreamsBackend
    assert.strictEqual(yield* backend.length("s"), 0, `${what}: nothing was written`)
  })

type Case<O> = readonly [option: string, patch: Partial<Record<keyof O | string, unknown>>]

const consumerBase: Consumer.Options = { stream: "s", group: "g", batchSize: 10, maxWait: "100 millis" }
const consumerCases: ReadonlyArray<Case<Consumer.Options>> = [
  ["stream", { stream: "" }],
  ["stream", { stream: undefined }],
  ["group", { group: "" }],
  ["consumer", { consumer: "" }],
  ["batchSize", { batchSize: 0 }],
  ["batchSize", { batchSize: -1 }],
  ["batchSize", { batchSize: 1.5 }],
  ["batchSize", { batchSize: Number.NaN }],
  ["batchSize", { batchSize: 10_000_000 }],
  ["maxWait", { maxWait: undefined }],
  ["maxWait", { maxWait: -1 }],
  ["maxWait", { maxWait: Number.POSITIVE_INFINITY }],
  ["maxWait", { maxWait: "forever" }],
  ["blockTime", { blockTime: 0 }],
  ["blockTime", { blockTime: -5 }],
  ["startFrom", { startFrom: "end" }],
  ["startFrom", { startFrom: { id: "yesterday" } }],
  ["startFrom", { startFrom: { id: "" } }],
  ["reclaim.idle", { reclaim: { idle: 0 } }],
  ["reclaim.idle", { reclaim: { idle: -1 } }],
  ["reclaim.interval", { reclaim: { interval: 0 } }],
  ["deadLetter.maxDeliveries", { deadLetter: { maxDeliveries: 0 } }],
  ["deadLetter.maxDeliveries", { deadLetter: { maxDeliveries: -3 } }],
  ["deadLetter.maxDeliveries", { deadLetter: { maxDeliveries: 2.5 } }],
  ["deadLetter.stream", { deadLetter: { stream: "" } }],
  ["deadLetter.stream", { deadLetter: { stream: "s" } }],
  ["shutdownTimeout", { shutdownTimeout: -1 }],
  ["deadLetter.maxEntryBytes", { deadLetter: { maxEntryBytes: 0 } }],
  ["deadLetter.maxEntryBytes", { deadLetter: { maxEntryBytes: -1 } }],
  ["deadLetter.maxEntryBytes", { deadLetter: { maxEntryBytes: 0.5 } }],
  // 0.1.0's flat options name where they moved
  ["claimIdle", { claimIdle: "1 second" }],
  ["maxDeliveries", { maxDeliveries: 3 }],
  ["sharedConnection", { sharedConnection: true }]
]

const producerBase: Producer.Options = { stream: "s" }
const producerCases: ReadonlyArray<Case<Producer.Options>> = [
  ["stream", { stream: "" }],
  ["trim.maxlen", { trim: { maxlen: -1 } }],
  ["trim.maxlen", { trim: { maxlen: 1.5 } }],
  ["trim.maxlen", { trim: { maxlen: Number.NaN } }],
  ["trim.minid", { trim: { minid: "last week" } }],
  ["trim.minid", { trim: { minid: "" } }],
  ["trim.limit", { trim: { maxlen: 10, limit: -1 } }],
  ["trim.limit", { trim: { maxlen: 10, approximate: false, limit: 100 } }]
]

const monitorBase: Monitor.Options = { stream: "s" }
const monitorCases: ReadonlyArray<Case<Monitor.Options>> = [
  ["stream", { stream: "" }],
  ["group", { group: "" }],
  ["idleThreshold", { idleThreshold: -1 }],
  ["idleThreshold", { idleThreshold: Number.POSITIVE_INFINITY }],
  ["idleThreshold", { idleThreshold: "soon" }],
  ["batchSize", { batchSize: 0 }],
  ["pendingThreshold", { pendingThreshold: -1 }],
  ["pendingThreshold", { pendingThreshold: 0.5 }],
  ["claimIdle", { claimIdle: -1 }],
  ["pendingScanLimit", { pendingScanLimit: 0 }],
  ["backlogScanLimit", { backlogScanLimit: 0 }],
  ["deadLetterStream", { deadLetterStream: "" }]
]

const scalerBase: Scaler.Options = { stream: "s", group: "g" }
const scalerCases: ReadonlyArray<Case<Scaler.Options>> = [
  ["stream", { stream: "" }],
  ["group", { group: "" }],
  ["scaleOutRate", { scaleOutRate: 101 }],
  ["scaleOutRate", { scaleOutRate: Number.NaN }],
  ["scaleInRate", { scaleInRate: -1 }],
  ["scaleInRate", { scaleInRate: 60, scaleOutRate: 50 }],
  ["targetPerConsumer", { targetPerConsumer: 0 }],
  ["targetPerConsumer", { targetPerConsumer: -1 }],
  ["minConsumers", { minConsumers: -1 }],
  ["maxConsumers", { maxConsumers: 0 }],
  ["maxConsumers", { minConsumers: 5, maxConsumers: 4 }],
  ["scaleInStabilization", { scaleInStabilization: 0 }],
  ["idleThreshold", { idleThreshold: -1 }],
  ["rateWindow", { rateWindow: 0 }],
  ["backlogScanLimit", { backlogScanLimit: 0 }]
]

const connectionCases: ReadonlyArray<Case<RedisConnection.Options>> = [
  ["url", { url: "localhost:6379" }],
  ["url", { url: Redacted.make("http://localhost:6379") }],
  ["url", { url: "redis://localhost:6379/zero" }],
  ["port", { port: 0 }],
  ["port", { port: 70_000 }],
  ["host", { host: "" }],
  ["db", { db: -1 }],
  ["connectTimeout", { connectTimeout: 0 }],
  ["connectTimeout", { connectTimeout: -1 }],
  ["commandTimeout", { commandTimeout: 0 }],
  ["quitTimeout", { quitTimeout: -1 }],
  ["connectionName", { connectionName: "has spaces" }],
  ["connectionName", { connectionName: "" }],
  ["tls", { tls: "yes" }],
  ["cluster", { sentinels: [{ host: "h", port: 1 }], cluster: { nodes: [{ host: "h", port: 1 }] }, name: "m" }],
  ["sentinels", { sentinels: [], name: "m" }],
  ["name", { sentinels: [{ host: "h", port: 26379 }] }],
  ["url", { url: "redis://h:1", cluster: { nodes: [{ host: "h", port: 1 }] } }],
  ["cluster.nodes", { cluster: { nodes: [] } }],
  ["db", { cluster: { nodes: [{ host: "h", port: 1 }] }, db: 2 }]
]

/** negative durations in every form `Duration.decode` accepts (it clamps them to 0) */
const negativeDurations: ReadonlyArray<unknown> = ["-5 seconds", " -1 millis", [-5, 0], [0, -1], -5n]
const negative = (options: ReadonlyArray<string>) =>
  options.flatMap((option) => negativeDurations.map((value) => [option, { [option]: value }] as const))

describe("invalid options are rejected when the service is built", () => {
  const run = <O>(
    component: string,
    base: O,
    cases: ReadonlyArray<Case<O>>,
    make: (options: O) => Effect.Effect<unknown, unknown, StreamsBackend.StreamsBackend | import("effect").Scope.Scope>
  ) =>
    it.effect(`${component}: ${cases.length} invalid options`, () =>
      Effect.forEach(
        cases,
        ([option, patch]) =>
          rejects(make({ ...base, ...patch } as O), option, `${component} ${option} = ${JSON.stringify(patch, (_, v) => typeof v === "bigint" ? `${v}n` : v)}`),
        { discard: true }
      ).pipe(Effect.provide(InMemoryBackend.layer)))

  run("Consumer", consumerBase, consumerCases, (o) => Consumer.make(o))
  run(
    "Consumer (negative durations)",
    consumerBase,
    [
      ...negative(["maxWait", "blockTime", "shutdownTimeout"]),
      ...negativeDurations.map((value) => ["reclaim.idle", { reclaim: { idle: value } }] as const),
      ...negativeDurations.map((value) => ["reclaim.interval", { reclaim: { interval: value } }] as const)
    ],
    (o) => Consumer.make(o)
  )
  run("Monitor (negative durations)", monitorBase, negative(["idleThreshold", "claimIdle"]), (o) => Monitor.make(o))
  run("Scaler (negative durations)", scalerBase, negative(["idleThreshold", "rateWindow"]), (o) => Scaler.make(o))
  run(
    "RedisConnection (negative durations)",
    {} as RedisConnection.Options,
    negative(["connectTimeout", "commandTimeout", "quitTimeout"]),
    (o) => RedisConnection.make(o)
  )
  run("Producer", producerBase, producerCases, (o) => Producer.make(o))
  run("Monitor", monitorBase, monitorCases, (o) => Monitor.make(o))
  run("Scaler", scalerBase, scalerCases, (o) => Scaler.make(o))
  run("RedisConnection", {} as RedisConnection.Options, connectionCases, (o) => RedisConnection.make(o))

  it.effect("Scaler.decideWith: thresholds outside 0..100 or crossed are InvalidOptions", () =>
    Effect.gen(function*() {
      const scaler = yield* Scaler.make({ stream: "s", group: "g" })
      for (const [option, thresholds] of [
        ["scaleOutRate", { scaleOutRate: 150, scaleInRate: 10 }],
        ["scaleInRate", { scaleOutRate: 50, scaleInRate: -0.5 }],
        ["scaleInRate", { scaleOutRate: 20, scaleInRate: 30 }]
      ] as const) {
        const error = yield* Effect.flip(scaler.decideWith(thresholds))
        assert.instanceOf(error, StreamsError.InvalidOptions)
        assert.strictEqual((error as StreamsError.InvalidOptions).option, option)
        assert.match(error.message, /accepted/)
      }
    }).pipe(Effect.scoped, Effect.provide(InMemoryBackend.layer)))

  // an unknown encoding used to be treated as "json"
  it.effect("an unknown encoding is InvalidOptions (Producer, Consumer)", () =>
    Effect.gen(function*() {
      yield* rejects(Producer.make({ stream: "s", encoding: "xml" as "json" }), "encoding", "Producer encoding")
      yield* rejects(
        Consumer.make({ stream: "s", group: "g", batchSize: 1, maxWait: 0, encoding: "yaml" as "json" }),
        "encoding",
        "Consumer encoding"
      )
    }).pipe(Effect.provide(InMemoryBackend.layer)))
})

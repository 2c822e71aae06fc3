/**
 * Connection recovery and connection diagnostics on a standalone Redis:
 * - an ended main connection is rebuilt; failures name the connection, when
 *   it ended and when it was replaced (issue 15);
 * - a client given to `fromClient` is never rebuilt: once ended, operations
 *   fail with `ConnectionEnded` (not retried by a Consumer), and so does a
 *   connection whose rebuild attempts are used up;
 * - a database the server does not have fails the layer with InvalidOptions
 *   naming it; ioredis's console warnings go to Effect's logger (issue 16).
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Fiber, HashMap, Layer, Logger, Redacted, Scope } from "effect"
import { Consumer, RedisBackend, RedisConnection, StreamsBackend, StreamsError } from "effect-redis-streams"
import { Redis } from "ioredis"
import { rawClient, redisUrl, startRedisServer, testLogLevel, uniqueKey } from "../src/Harness.js"

/** a logger that keeps every message (and its annotations) */
const capture = () => {
  const lines: Array<{ level: string; message: string; annotations: Record<string, unknown> }> = []
  const logger = Logger.make(({ annotations, logLevel, message }) => {
    const text = Array.isArray(message) ? message.map(String).join(" ") : String(message)
    lines.push({ level: logLevel.label, message: text, annotations: Object.fromEntries(HashMap.toEntries(annotations)) })
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

/** run `effect` with console.* and process.stdout/stderr writes recorded (and not printed) */
const silenced = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const written: Array<string> = []
      const saved = {
        log: console.log,
        warn: console.warn,
        error: console.error,
        info: console.info,
        debug: console.debug,
        out: process.stdout.write,
        err: process.stderr.write
      }
      const record = (...args: Array<unknown>) => {
        written.push(args.map(String).join(" "))
      }
      console.log = console.warn = console.error = console.info = console.debug = record
      process.stdout.write = ((chunk: unknown) => (record(chunk), true)) as typeof process.stdout.write
      process.stderr.write = ((chunk: unknown) => (record(chunk), true)) as typeof process.stderr.write
      return { written, saved }
    }),
    ({ written }) => Effect.map(effect, (a) => ({ value: a, written })),
    ({ saved }) =>
      Effect.sync(() => {
        console.log = saved.log
        console.warn = saved.warn
        console.error = saved.error
        console.info = saved.info
        console.debug = saved.debug
        process.stdout.write = saved.out
        process.stderr.write = saved.err
      })
  )

const waitUntil = (condition: () => boolean, timeoutMs: number) =>
  Effect.gen(function*() {
    const start = Date.now()
    while (!condition() && Date.now() - start < timeoutMs) yield* Effect.sleep("10 millis")
    return condition()
  })

/** the backend and connection of `layer`, built in the test's scope (open until the test ends) */
const services = <E>(layer: Layer.Layer<StreamsBackend.StreamsBackend | RedisConnection.RedisConnection, E>) =>
  Effect.map(Layer.build(layer), (context) => ({
    backend: Context.get(context, StreamsBackend.StreamsBackend),
    connection: Context.get(context, RedisConnection.RedisConnection),
    context
  }))

const failureOf = <A, E>(exit: Exit.Exit<A, E>): unknown => Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined

describe("RedisConnection: ended connections", () => {
  it.scopedLive("an ended main connection is rebuilt; an operation meanwhile fails with RedisConnectionError naming the connection, and the next one runs on the new connection", () =>
    Effect.gen(function*() {
      const name = uniqueKey("rebuilt")
      const layer = RedisBackend.layerRedis({ url: Redacted.make(redisUrl()), connectionName: name })
      const { backend, connection } = yield* services(Layer.merge(layer, testLogLevel))
      const stream = uniqueKey("s")
      yield* backend.add(stream, ["n", "1"])
      const first = connection.client
      const endedAt = Date.now()
      first.disconnect() // status "end" once the socket is closed: what the failover detector's race leaves behind
      // sent on the closing client: it fails, naming the connection
      const during = yield* Effect.either(backend.add(stream, ["n", "2"]))
      assert.isTrue(during._tag === "Left" && during.left._tag === "RedisConnectionError", "fails while rebuilding")
      if (during._tag === "Left") {
        assert.include(during.left.message, `on the main connection "${name}"`)
        assert.match(during.left.message, /which ended at .* and is being (rebuilt|replaced)|an earlier client of it/)
      }
      assert.isTrue(yield* waitUntil(() => connection.client !== first && connection.client.status === "ready", 5000))
      const rebuiltMs = Date.now() - endedAt
      yield* backend.add(stream, ["n", "3"])
      // adds made together, bulk adds and SCAN go to the new connection too
      yield* Effect.all([backend.add(stream, ["n", "4"]), backend.add(stream, ["n", "5"])], { concurrency: "unbounded" })
      yield* backend.addMany(stream, [["n", "6"], ["n", "7"]])
      assert.deepStrictEqual((yield* backend.scanStreams(stream, { limit: 10 })).streams, [stream])
      const [info] = yield* connection.connections
      assert.strictEqual(info?.role, "main")
      assert.strictEqual(info?.replacements, 1)
      assert.strictEqual(info?.status, "ready")
      assert.isDefined(info?.replacedAt)
      const entries = yield* backend.range(stream)
      assert.deepStrictEqual(entries.map((e) => e.fields[1]), ["1", "3", "4", "5", "6", "7"])
      process.stdout.write(`recovery (standalone): main connection rebuilt ${rebuiltMs} ms after it ended\n`)
    }))

  it.scopedLive("a connection failure on a replaced connection says which connection and when it was replaced", () =>
    Effect.gen(function*() {
      const server = yield* startRedisServer()
      const name = uniqueKey("named")
      const layer = RedisBackend.layerRedis({ url: Redacted.make(server.url), connectionName: name, commandTimeout: "1 second" })
      const { backend, connection } = yield* services(Layer.merge(layer, testLogLevel))
      const first = connection.client
      first.disconnect()
      assert.isTrue(yield* waitUntil(() => connection.client !== first && connection.client.status === "ready", 5000))
      yield* Effect.promise(() => server.stop())
      const error = yield* Effect.flip(backend.length(uniqueKey("s")))
      assert.strictEqual(error._tag, "RedisConnectionError")
      assert.match(error.message, new RegExp(`\\[on the main connection "${name}", replaced at \\d{4}-\\d\\d-\\d\\dT`))
    }))

  it.scopedLive("a blocking reader whose connection ends fails the read naming it, and reads on a new connection next", () =>
    Effect.gen(function*() {
      const name = uniqueKey("reader")
      const { backend, connection } = yield* services(
        Layer.merge(RedisBackend.layerRedis({ url: Redacted.make(redisUrl()), connectionName: name }), testLogLevel)
      )
      const stream = uniqueKey("s")
      yield* backend.createGroup(stream, "g", { id: "$", mkStream: true })
      const reader = yield* backend.blockingReader
      const read = reader.readGroup({ stream, group: "g", consumer: "c", id: ">", blockMs: 2000 })
      const pending = yield* Effect.fork(Effect.either(read))
      yield* Effect.sleep("100 millis")
      const dedicated = (yield* connection.connections).find((c) => c.role === "blocking reader 1")
      assert.isDefined(dedicated)
      dedicated!.client.disconnect()
      const failed = yield* Fiber.join(pending)
      assert.isTrue(failed._tag === "Left" && failed.left._tag === "RedisConnectionError")
      if (failed._tag === "Left") assert.include(failed.left.message, `[on the blocking reader 1 connection "${name}"`)
      yield* backend.add(stream, ["n", "1"])
      const entries = yield* read
      assert.strictEqual(entries.length, 1)
      const after = (yield* connection.connections).find((c) => c.role === "blocking reader 1")
      assert.strictEqual(after?.replacements, 1)
      assert.notStrictEqual(after?.client, dedicated!.client)
    }))

  it.scopedLive("a client given to fromClient is not rebuilt: once ended, operations fail with ConnectionEnded, and a Consumer's run ends with it instead of retrying", () =>
    Effect.gen(function*() {
      const client = new Redis(redisUrl(), { lazyConnect: true })
      yield* Effect.addFinalizer(() => Effect.sync(() => client.disconnect()))
      yield* Effect.promise(() => client.connect())
      const layer = Layer.provideMerge(RedisBackend.layer, RedisConnection.layerFromClient(client))
      const stream = uniqueKey("s")
      const { backend, connection, context } = yield* services(Layer.merge(layer, testLogLevel))
      // a run on the user's connection (a run with a lane of its own reads and acknowledges on that
      // library-owned connection, which is rebuilt, and does not touch the user's client)
      const consumer = yield* Consumer.make({
        stream,
        group: "g",
        batchSize: 10,
        maxWait: "10 millis",
        blockTime: "200 millis",
        reclaim: { idle: "1 second", interval: "200 millis" },
        connection: { shared: true }
      }).pipe(Effect.provide(context))
      yield* backend.add(stream, ["n", "1"])
      const run = yield* consumer.process(() => Effect.void).pipe(Effect.fork)
      yield* Effect.sleep("300 millis")
      client.disconnect()
      const error = yield* Effect.flip(backend.add(stream, ["n", "2"]))
      assert.instanceOf(error, StreamsError.ConnectionEnded, error.message)
      assert.notInstanceOf(error, StreamsError.RedisConnectionError)
      assert.include(error.message, "fromClient")
      assert.include(error.message, "has ended")
      const exit = yield* Fiber.await(run).pipe(Effect.timeout("5 seconds"))
      assert.isTrue(Exit.isFailure(exit), "the Consumer's run ended")
      const cause = failureOf(exit)
      assert.instanceOf(cause, StreamsError.ConnectionEnded)
      assert.strictEqual((yield* connection.connections).find((c) => c.role === "main")?.status, "end")
    }))

  it.scopedLive("a connection that cannot be rebuilt within rebuildAttempts fails its operations with ConnectionEnded", () =>
    Effect.gen(function*() {
      const server = yield* startRedisServer()
      const { lines, layer: logger } = capture()
      // without reconnection, a lost connection ends (ioredis status "end") by itself
      const layer = RedisBackend.layerRedis({
        url: Redacted.make(server.url),
        rebuildAttempts: 2,
        connectTimeout: "300 millis",
        ioredis: { retryStrategy: () => null }
      })
      const { backend, connection } = yield* services(Layer.provideMerge(layer, logger))
      yield* Effect.promise(() => server.stop())
      assert.isTrue(
        yield* waitUntil(() => lines.some((l) => l.message.includes("could not be rebuilt in 2 attempts")), 5000),
        "the give-up is logged"
      )
      const error = yield* Effect.flip(backend.length(uniqueKey("s")))
      assert.instanceOf(error, StreamsError.ConnectionEnded)
      assert.strictEqual(error.connection, "main connection")
      assert.include(error.message, "could not be rebuilt in 2 attempts")
      assert.strictEqual((yield* connection.connections)[0]?.status, "failed")
      assert.isTrue(lines.some((l) => l.level === "WARN" && l.message.includes("has ended") && l.annotations["connection"] === "main"))
    }))

  it.scopedLive("connections return to their count after replacements, and all close with the scope", () =>
    Effect.gen(function*() {
      const name = uniqueKey("count")
      const raw = yield* rawClient()
      const count = Effect.map(
        Effect.promise(() => raw.client("LIST") as Promise<string>),
        (list) => list.split("\n").filter((l) => l.includes(` name=${name} `)).length
      )
      const scope = yield* Scope.make()
      const backend = yield* Effect.provide(
        StreamsBackend.StreamsBackend,
        yield* Layer.buildWithScope(
          Layer.merge(RedisBackend.layerRedis({ url: Redacted.make(redisUrl()), connectionName: name }), testLogLevel),
          scope
        )
      )
      const connection = yield* Effect.provide(
        RedisConnection.RedisConnection,
        yield* Layer.buildWithScope(RedisConnection.layer({ url: Redacted.make(redisUrl()), connectionName: name }), scope)
      )
      const lane = yield* backend.lane.pipe(Scope.extend(scope))
      void lane
      const settle = (expected: number) =>
        Effect.gen(function*() {
          let n = yield* count
          for (let i = 0; i < 100 && n !== expected; i++) {
            yield* Effect.sleep("20 millis")
            n = yield* count
          }
          return n
        })
      const baseline = yield* settle(3) // a backend's main connection and lane, another layer's main
      assert.strictEqual(baseline, 3)
      for (let i = 0; i < 3; i++) {
        const before = connection.client
        before.disconnect()
        assert.isTrue(yield* waitUntil(() => connection.client !== before && connection.client.status === "ready", 5000))
      }
      assert.strictEqual(yield* settle(3), 3, "no connection left behind by the replacements")
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(yield* settle(0), 0)
    }))
})

describe("RedisConnection: what ioredis would only print or emit", () => {
  it.scopedLive("a database the server does not have fails the layer with InvalidOptions naming it", () =>
    Effect.gen(function*() {
      const exit = yield* Layer.build(RedisBackend.layerRedis({ url: Redacted.make(`${redisUrl()}/99`) })).pipe(
        Effect.scoped,
        Effect.exit
      )
      const error = failureOf(exit)
      assert.instanceOf(error, StreamsError.InvalidOptions)
      if (!(error instanceof StreamsError.InvalidOptions)) return
      assert.strictEqual(error.option, "db")
      assert.include(error.message, "database 99")
      assert.include(error.message, "DB index is out of range")
      // a database it has works
      const ok = yield* Layer.build(RedisConnection.layer({ url: Redacted.make(`${redisUrl()}/3`) })).pipe(Effect.scoped, Effect.exit)
      assert.isTrue(Exit.isSuccess(ok))
    }))

  it.scopedLive("ioredis's console warnings (a password the server does not need, a refused ready check) reach Effect's logger, not stdout/stderr", () =>
    Effect.gen(function*() {
      const { lines, layer: logger } = capture()
      const raw = yield* rawClient()
      const user = uniqueKey("noinfo")
      const password = uniqueKey("pw")
      yield* Effect.promise(() => raw.call("ACL", "SETUSER", user, "on", `>${password}`, "~*", "+@all", "-info"))
      yield* Effect.addFinalizer(() => Effect.promise(() => raw.call("ACL", "DELUSER", user)).pipe(Effect.ignore))
      const { written } = yield* silenced(
        Effect.gen(function*() {
          // the default user needs no password: ioredis prints "[WARN] ... does not require a password"
          const a = yield* RedisConnection.make({ url: Redacted.make(redisUrl()), password: Redacted.make("not-needed") })
          assert.strictEqual(yield* Effect.promise(() => a.client.ping()), "PONG")
          // a user without INFO: ioredis prints "Skipping the ready check ..."
          const b = yield* RedisConnection.make({
            url: Redacted.make(redisUrl()),
            username: user,
            password: Redacted.make(password)
          })
          assert.strictEqual(yield* Effect.promise(() => b.client.ping()), "PONG")
        }).pipe(Effect.provide(logger), Effect.scoped)
      )
      assert.deepStrictEqual(written, [], "nothing written to the console")
      const auth = lines.find((l) => l.message.includes("AUTH on"))
      assert.isDefined(auth, "the AUTH warning reached the logger")
      assert.strictEqual(auth?.level, "WARN")
      assert.include(auth?.message, "does not require a password")
      assert.notInclude(auth?.message, "not-needed")
      const ready = lines.find((l) => l.message.includes("ready check"))
      assert.isDefined(ready, "the ready-check warning reached the logger")
      assert.include(ready?.message, "NOPERM")
      assert.strictEqual(ready?.annotations["module"], "RedisConnection")
    }))
})

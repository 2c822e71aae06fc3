/**
 * What only the Redis backend has to get right (the shared port suite covers
 * the semantics both backends share): blocking reads on a dedicated
 * connection (prompt interruption, release with the scope, lost and stalled
 * connections replaced), lanes (a connection of their own), the command timeout, addMany as one pipelined round
 * trip, the mapping of Redis error replies, reply parsing details and spans.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Context, Effect, Either, Exit, Fiber, Layer, Logger, Option, Scope, Stream, Tracer } from "effect"
import { Consumer, RedisBackend, RedisConnection, StreamsBackend } from "effect-redis-streams"
import type { StreamsError } from "effect-redis-streams"
import { Redis } from "ioredis"
import * as Net from "node:net"
import { TcpProxy } from "../src/TcpProxy.js"
import { rawClient, redisUrl, startRedisServer, uniqueKey } from "../src/Harness.js"

type BackendError = StreamsError.BackendError

const now = Effect.sync(() => performance.now())

/** StreamsBackend + RedisConnection on their own connections, closed with the test's scope */
const build = (options: RedisConnection.Options) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(RedisBackend.layerRedis(options))
    return {
      backend: Context.get(context, StreamsBackend.StreamsBackend),
      connection: Context.get(context, RedisConnection.RedisConnection)
    }
  })

const connectionName = () => uniqueKey("rs").replace(/-/g, "_")

/** connections named `name` in CLIENT LIST */
const countClients = (raw: Redis, name: string) =>
  Effect.promise(() => raw.client("LIST") as Promise<string>).pipe(
    Effect.map((list) => list.split("\n").filter((line) => line.includes(` name=${name} `)).length)
  )

/** the CLIENT ID of the one connection named `name` that is not the main client */
const dedicatedClientId = (raw: Redis, name: string, connection: RedisConnection.Service) =>
  Effect.gen(function*() {
    const mainId = String(yield* Effect.promise(() => connection.client.call("CLIENT", "ID")))
    const list = yield* Effect.promise(() => raw.client("LIST") as Promise<string>)
    const ids = list.split("\n")
      .filter((line) => line.includes(` name=${name} `))
      .map((line) => /(?:^|\s)id=(\d+)/.exec(line)![1]!)
      .filter((id) => id !== mainId)
    assert.strictEqual(ids.length, 1)
    return ids[0]!
  })

const eventually = <A>(self: Effect.Effect<A>, ok: (a: A) => boolean, tries = 40) =>
  Effect.gen(function*() {
    let a = yield* self
    for (let i = 0; i < tries && !ok(a); i++) {
      yield* Effect.sleep("25 millis")
      a = yield* self
    }
    return a
  })

const failure = <A>(self: Effect.Effect<A, BackendError>) =>
  Effect.flatMap(Effect.exit(self), (exit) =>
    Exit.isFailure(exit) && exit.cause._tag === "Fail"
      ? Effect.succeed(exit.cause.error)
      : Effect.dieMessage(`expected a failure, got ${JSON.stringify(exit)}`))

/** a TCP proxy in front of the test Redis (see TcpProxy: `stallExisting` is a network partition of the open connections) */
const proxy = (target: number) =>
  Effect.acquireRelease(Effect.promise(() => TcpProxy.start(target)), (p) => Effect.promise(() => p.close()))

describe("RedisBackend (Redis-specific)", () => {
  // ---------------------------------------------------------------------------
  // blocking reads
  // ---------------------------------------------------------------------------

  it.scopedLive("interrupting a 10 s blocking read returns in < 200 ms and the connection stays usable", () =>
    Effect.gen(function*() {
      const name = connectionName()
      const raw = yield* rawClient()
      const { backend, connection } = yield* build({ url: redisUrl(), connectionName: name })
      const stream = uniqueKey("block")
      yield* backend.createGroup(stream, "g", { id: "$", mkStream: true })
      const reader = yield* backend.blockingReader
      assert.strictEqual(yield* countClients(raw, name), 2) // main + dedicated
      const dedicatedId = yield* dedicatedClientId(raw, name, connection)

      const latencies: Array<number> = []
      for (let i = 0; i < 5; i++) {
        const fiber = yield* Effect.fork(
          reader.readGroup({ stream, group: "g", consumer: "c", id: ">", blockMs: 10_000 })
        )
        // wait until the server has it blocked
        yield* eventually(
          Effect.promise(() => raw.client("LIST") as Promise<string>),
          (list) => list.split("\n").some((l) => l.includes(` name=${name} `) && l.includes("cmd=xreadgroup") && l.includes("flags=b"))
        )
        const start = yield* now
        yield* Fiber.interrupt(fiber)
        latencies.push((yield* now) - start)
      }
      const worst = Math.max(...latencies)
      yield* Effect.log(`interrupt latency ms: ${latencies.map((l) => l.toFixed(1)).join(", ")}`)
      assert.isBelow(worst, 200, `interruption took ${worst.toFixed(0)} ms`)

      // the same dedicated connection serves the next read, which gets a new entry
      const fiber = yield* Effect.fork(reader.readGroup({ stream, group: "g", consumer: "c", id: ">", blockMs: 5_000 }))
      yield* Effect.sleep("50 millis")
      const id = yield* backend.add(stream, ["k", "v"])
      const entries = yield* Fiber.join(fiber)
      assert.deepStrictEqual(entries, [{ id, fields: ["k", "v"] }])
      // CLIENT UNBLOCK, not a reconnection: still the same dedicated connection
      assert.strictEqual(yield* countClients(raw, name), 2)
      assert.strictEqual(yield* dedicatedClientId(raw, name, connection), dedicatedId)
    }))

  it.scopedLive("a blocking read that times out returns [] after about blockMs", () =>
    Effect.gen(function*() {
      const { backend } = yield* build({ url: redisUrl() })
      const stream = uniqueKey("timeout")
      yield* backend.createGroup(stream, "g", { id: "$", mkStream: true })
      const reader = yield* backend.blockingReader
      const start = yield* now
      const entries = yield* reader.readGroup({ stream, group: "g", consumer: "c", id: ">", blockMs: 300 })
      const elapsed = (yield* now) - start
      assert.deepStrictEqual(entries, [])
      assert.isAtLeast(elapsed, 280)
      assert.isBelow(elapsed, 1000)
    }))

  it.scopedLive("the dedicated connection is released with the reader's scope", () =>
    Effect.gen(function*() {
      const name = connectionName()
      const raw = yield* rawClient()
      const { backend } = yield* build({ url: redisUrl(), connectionName: name })
      const stream = uniqueKey("release")
      yield* backend.createGroup(stream, "g", { id: "$", mkStream: true })
      assert.strictEqual(yield* countClients(raw, name), 1)
      const scope = yield* Scope.make()
      const reader = yield* backend.blockingReader.pipe(Scope.extend(scope))
      assert.strictEqual(yield* countClients(raw, name), 2)
      // close while a read is blocked: the fiber is interrupted first, then the connection quits
      const fiber = yield* Effect.fork(reader.readGroup({ stream, group: "g", consumer: "c", id: ">", blockMs: 10_000 }))
      yield* Effect.sleep("100 millis")
      const start = yield* now
      yield* Fiber.interrupt(fiber)
      yield* Scope.close(scope, Exit.void)
      const elapsed = (yield* now) - start
      assert.isBelow(elapsed, 500, `release took ${elapsed.toFixed(0)} ms`)
      assert.strictEqual(yield* eventually(countClients(raw, name), (n) => n === 1), 1)
    }))

  it.scopedLive("a read whose server goes away fails with RedisConnectionError; after a restart the next read works on a fresh connection", () =>
    Effect.gen(function*() {
      const server = yield* startRedisServer()
      const { backend } = yield* build({ url: server.url })
      const stream = uniqueKey("lost")
      yield* backend.createGroup(stream, "g", { id: "$", mkStream: true })
      const reader = yield* backend.blockingReader
      const fiber = yield* Effect.fork(reader.readGroup({ stream, group: "g", consumer: "c", id: ">", blockMs: 5_000 }))
      yield* Effect.sleep("100 millis")
      const start = yield* now
      yield* Effect.promise(() => server.stop())
      const error = yield* failure(Fiber.join(fiber))
      const elapsed = (yield* now) - start
      assert.strictEqual(error._tag, "RedisConnectionError")
      assert.isBelow(elapsed, 1000, `the lost connection was noticed after ${elapsed.toFixed(0)} ms`)
      // while the server is down, a read fails (typed) instead of hanging
      const down = yield* failure(reader.readGroup({ stream, group: "g", consumer: "c", id: ">", blockMs: 100 }))
      assert.strictEqual(down._tag, "RedisConnectionError")

      yield* Effect.promise(() => server.start())
      // no persistence: recreate the group once the main client is back
      yield* eventually(
        backend.createGroup(stream, "g", { id: "$", mkStream: true }).pipe(Effect.option),
        Option.isSome,
        200
      )
      const next = yield* Effect.fork(reader.readGroup({ stream, group: "g", consumer: "c", id: ">", blockMs: 3_000 }))
      yield* Effect.sleep("100 millis")
      const id = yield* backend.add(stream, ["after", "restart"])
      assert.deepStrictEqual(yield* Fiber.join(next), [{ id, fields: ["after", "restart"] }])
    }), { timeout: 30_000 })

  it.scopedLive("a read that stalls (no reply within blockMs + 1 s) fails with RedisConnectionError and the connection is replaced", () =>
    Effect.gen(function*() {
      const name = connectionName()
      const raw = yield* rawClient()
      const target = Number(new URL(redisUrl()).port)
      const p = yield* proxy(target)
      const { backend } = yield* build({ host: "127.0.0.1", port: p.port, connectionName: name })
      const stream = uniqueKey("stall")
      yield* backend.createGroup(stream, "g", { id: "$", mkStream: true })
      const reader = yield* backend.blockingReader
      p.stallExisting()
      const start = yield* now
      const error = yield* failure(reader.readGroup({ stream, group: "g", consumer: "c", id: ">", blockMs: 200 }))
      const elapsed = (yield* now) - start
      assert.strictEqual(error._tag, "RedisConnectionError")
      assert.include(error.message, "stalled")
      assert.isAtLeast(elapsed, 1150)
      assert.isBelow(elapsed, 2500)
      // the next read opens a fresh dedicated connection through the (now passing) proxy
      const fiber = yield* Effect.fork(reader.readGroup({ stream, group: "g", consumer: "c", id: ">", blockMs: 3_000 }))
      yield* Effect.sleep("100 millis")
      const id = yield* Effect.promise(() => raw.xadd(stream, "*", "k", "v"))
      assert.deepStrictEqual(yield* Fiber.join(fiber), [{ id: id!, fields: ["k", "v"] }])
    }), { timeout: 30_000 })

  it.scopedLive("blockMs must be > 0 (BLOCK 0 is not offered)", () =>
    Effect.gen(function*() {
      const { backend } = yield* build({ url: redisUrl() })
      const reader = yield* backend.blockingReader
      const exit = yield* Effect.exit(reader.readGroup({ stream: "s", group: "g", consumer: "c", id: ">", blockMs: 0 }))
      assert.isTrue(Exit.isFailure(exit) && exit.cause._tag === "Die")
    }))

  // ---------------------------------------------------------------------------
  // lanes
  // ---------------------------------------------------------------------------

  it.scopedLive("a lane is a connection of its own: reads, acknowledgements and XPENDING given it go there; once closed, to the main connection", () =>
    Effect.gen(function*() {
      const name = connectionName()
      const raw = yield* rawClient()
      const { backend, connection } = yield* build({ url: redisUrl(), connectionName: name })
      const mainId = String(yield* Effect.promise(() => connection.client.call("CLIENT", "ID")))
      const stream = uniqueKey("lane")
      yield* backend.createGroup(stream, "g", { id: "0", mkStream: true })
      const ids = yield* backend.addMany(stream, [["n", "1"], ["n", "2"], ["n", "3"]])
      /** the connection (main or not) whose last command was `cmd` */
      const lastRanOn = (cmd: string) =>
        Effect.map(Effect.promise(() => raw.client("LIST") as Promise<string>), (list) =>
          list.split("\n")
            .filter((l) => l.includes(` name=${name} `) && l.includes(` cmd=${cmd} `))
            .map((l) => (/ id=(\d+) /.exec(` ${l}`)?.[1] === mainId ? "main" : "other")))

      const scope = yield* Scope.make()
      const lane = yield* Scope.extend(backend.lane, scope)
      assert.isTrue(lane.open)
      assert.strictEqual(yield* countClients(raw, name), 2, "main + lane")
      const read = yield* backend.readGroup({ stream, group: "g", consumer: "c", id: ">", count: 1, lane })
      assert.deepStrictEqual(read.map((e) => e.id), [ids[0]])
      assert.deepStrictEqual(yield* lastRanOn("xreadgroup"), ["other"])
      const pending = yield* backend.pending({ stream, group: "g", count: 10, lane })
      assert.deepStrictEqual(pending.map((p) => p.id), [ids[0]])
      assert.deepStrictEqual(yield* lastRanOn("xpending"), ["other"])
      const both = yield* backend.ackThenRead(stream, "g", [ids[0]!], { stream, group: "g", consumer: "c", id: ">", count: 1 }, {
        lane
      })
      assert.strictEqual(both.acked, 1)
      assert.deepStrictEqual(yield* lastRanOn("xreadgroup"), ["other"])
      assert.strictEqual(yield* backend.ack(stream, "g", [ids[1]!], { lane }), 1)
      assert.deepStrictEqual(yield* lastRanOn("xack"), ["other"])

      yield* Scope.close(scope, Exit.void)
      assert.isFalse(lane.open)
      assert.strictEqual(yield* countClients(raw, name), 1, "the lane's connection is closed with its scope")
      // a closed lane sends on the main connection: nothing given it is lost
      yield* backend.readGroup({ stream, group: "g", consumer: "c", id: ">", count: 1, lane })
      assert.strictEqual(yield* backend.ackAndDelete(stream, "g", [ids[2]!], { lane }), 1)
      assert.deepStrictEqual(yield* lastRanOn("exec"), ["main"])
      assert.strictEqual((yield* backend.pendingSummary(stream, "g")).count, 0)
    }))

  it.scopedLive("a Consumer run reads and acknowledges on a lane, closed with the run; sharedConnection: true opens none", () =>
    Effect.gen(function*() {
      const name = connectionName()
      const raw = yield* rawClient()
      const { backend } = yield* build({ url: redisUrl(), connectionName: name })
      const stream = uniqueKey("lane-consumer")
      const ids = yield* backend.addMany(stream, [["n", "1"], ["n", "2"], ["n", "3"], ["n", "4"], ["n", "5"], ["n", "6"]])
      const take = (consumer: Consumer.Service<Record<string, string>>) =>
        Effect.map(consumer.batches.pipe(Stream.take(1), Stream.runCollect), (c) => Chunk.unsafeGet(c, 0))
      /** the first batch of a run, and how many connections are open while the run is */
      const firstOfRun = (consumer: Consumer.Service<Record<string, string>>) =>
        Effect.scoped(Effect.gen(function*() {
          const pull = yield* Stream.toPull(consumer.batches)
          const batch = Chunk.unsafeGet(yield* pull, 0)
          return [batch, yield* countClients(raw, name)] as const
        }))

      yield* Effect.gen(function*() {
        const own = yield* Consumer.make({ stream, group: "g", consumer: "own", batchSize: 2, maxWait: 0 })
        const shared = yield* Consumer.make({ stream, group: "g", consumer: "shared", batchSize: 2, maxWait: 0, connection: { shared: true } })
        assert.strictEqual(yield* countClients(raw, name), 1, "no connection before a run")
        const [batch, during] = yield* firstOfRun(own)
        assert.strictEqual(during, 3, "main + the run's blocking connection + its lane")
        assert.strictEqual(yield* countClients(raw, name), 1, "both closed with the run")
        // acknowledged after its run ended: on the main connection
        yield* batch.ack
        const [sharedBatch, duringShared] = yield* firstOfRun(shared)
        assert.strictEqual(duringShared, 2, "main + the run's blocking connection")
        yield* sharedBatch.ack
        const rest = yield* take(own)
        yield* rest.ack
        const got = [batch, sharedBatch, rest].flatMap((b) => b.messages.map((m) => m.id))
        assert.sameMembers(got, [...ids])
        assert.strictEqual((yield* backend.pendingSummary(stream, "g")).count, 0)
      }).pipe(Effect.provideService(StreamsBackend.StreamsBackend, backend))
    }))

  it.scopedLive("a lane that cannot be opened (maxclients) leaves the run on the backend's connection, with a warning", () =>
    Effect.gen(function*() {
      const server = yield* startRedisServer()
      const raw = yield* rawClient(server.url)
      const { backend } = yield* build({ url: server.url, connectTimeout: "1 second" })
      const warnings: Array<string> = []
      const recordWarnings = Logger.replace(
        Logger.defaultLogger,
        Logger.make(({ logLevel, message }) => {
          if (logLevel._tag === "Warning") warnings.push(String(Array.isArray(message) ? message[0] : message))
        })
      )
      const stream = uniqueKey("maxclients")
      const ids = yield* backend.addMany(stream, [["n", "1"], ["n", "2"]])
      // this client, the backend's, and the run's blocking connection: no room for a lane
      yield* Effect.promise(() => raw.config("SET", "maxclients", "3"))
      const consumer = yield* Consumer.make({ stream, group: "g", batchSize: 10, maxWait: 0 }).pipe(
        Effect.provideService(StreamsBackend.StreamsBackend, backend)
      )
      const batch = Chunk.unsafeGet(yield* consumer.batches.pipe(Stream.take(1), Stream.runCollect, Effect.provide(recordWarnings)), 0)
      assert.deepStrictEqual(batch.messages.map((m) => m.id), [...ids])
      yield* batch.ack
      assert.strictEqual((yield* backend.pendingSummary(stream, "g")).count, 0)
      assert.isTrue(
        warnings.some((w) => w.includes("could not open a connection of its own")),
        `warnings: ${JSON.stringify(warnings)}`
      )
    }))

  // ---------------------------------------------------------------------------
  // command timeout, pipelining
  // ---------------------------------------------------------------------------

  it.scopedLive("a command that gets no reply fails after commandTimeout with RedisConnectionError", () =>
    Effect.gen(function*() {
      const target = Number(new URL(redisUrl()).port)
      const p = yield* proxy(target)
      const { backend } = yield* build({
        host: "127.0.0.1",
        port: p.port,
        commandTimeout: "300 millis",
        quitTimeout: "100 millis"
      })
      const stream = uniqueKey("ct")
      yield* backend.add(stream, ["a", "1"])
      p.stallExisting()
      const start = yield* now
      const error = yield* failure(backend.length(stream))
      const elapsed = (yield* now) - start
      assert.strictEqual(error._tag, "RedisConnectionError")
      assert.include(error.message, "did not complete within 300 ms")
      assert.include(error.message, `127.0.0.1:${p.port}`)
      assert.isAtLeast(elapsed, 280)
      assert.isBelow(elapsed, 1000)
      // the silent connection was reset: the next commands run on a fresh one
      assert.include(error.message, "the connection was reset")
      const ids = yield* backend.addMany(stream, [["a", "2"], ["a", "3"]]).pipe(Effect.retry({ times: 3 }))
      assert.strictEqual(ids.length, 2)
      assert.strictEqual(yield* backend.length(stream), 3)
    }))

  it.scopedLive("addMany of 5,000 entries is pipelined in chunks with 4 in flight, ids in order", () =>
    Effect.gen(function*() {
      const own = new Redis(redisUrl())
      yield* Effect.addFinalizer(() => Effect.promise(() => own.quit().catch(() => own.disconnect())))
      yield* Effect.promise(() => own.ping())
      const context = yield* Layer.build(
        RedisBackend.layer.pipe(Layer.provideMerge(RedisConnection.layerFromClient(own)))
      )
      const backend = Context.get(context, StreamsBackend.StreamsBackend)
      const stream = uniqueKey("many")
      const entries = Array.from({ length: 5000 }, (_, i) => ["n", String(i), "pad", "x".repeat(20)])

      // record socket writes and replies in order
      const events: Array<"write" | "data"> = []
      const socket = (own as unknown as { stream: Net.Socket }).stream
      const write = socket.write
      socket.write = function(this: Net.Socket, ...args: Array<unknown>) {
        events.push("write")
        return (write as (...a: Array<unknown>) => boolean).apply(this, args)
      } as typeof socket.write
      const onData = () => events.push("data")
      socket.on("data", onData)
      const ids = yield* backend.addMany(stream, entries)
      socket.write = write
      socket.off("data", onData)

      const writes = events.filter((e) => e === "write").length
      const firstData = events.indexOf("data")
      assert.isAtMost(writes, 5, `${writes} socket writes`) // 1,000 XADDs per pipeline write
      // the first 4 chunks go out before any reply; the 5th once the first has been answered
      const writesBeforeFirstReply = events.slice(0, firstData).filter((e) => e === "write").length
      assert.strictEqual(writesBeforeFirstReply, 4, events.join(","))
      yield* Effect.log(`addMany 5000: ${writes} socket writes, ${writesBeforeFirstReply} before the first reply`)

      assert.strictEqual(ids.length, 5000)
      const stored = yield* backend.range(stream)
      assert.deepStrictEqual(ids, stored.map((e) => e.id))
      assert.deepStrictEqual(stored.map((e) => e.fields[1]), entries.map((e) => e[1]))
      assert.strictEqual(yield* backend.addMany(stream, []).pipe(Effect.map((a) => a.length)), 0)
    }))

  it.scopedLive("ackAndDelete is one MULTI/EXEC: acknowledged and deleted together", () =>
    Effect.gen(function*() {
      const { backend } = yield* build({ url: redisUrl() })
      const stream = uniqueKey("ackdel")
      const ids = yield* backend.addMany(stream, [["a", "1"], ["a", "2"], ["a", "3"]])
      yield* backend.createGroup(stream, "g", { id: "0" })
      yield* backend.readGroup({ stream, group: "g", consumer: "c", id: ">", count: 2 })
      // two pending, one never delivered: XACK counts 2, XDEL removes all 3
      assert.strictEqual(yield* backend.ackAndDelete(stream, "g", ids), 2)
      assert.strictEqual(yield* backend.length(stream), 0)
      assert.strictEqual((yield* backend.pendingSummary(stream, "g")).count, 0)
      assert.strictEqual(yield* backend.ackAndDelete(stream, "g", []), 0)
    }))

  it.scopedLive("ackThenRead writes XACK and XREADGROUP to the socket at once (one writev)", () =>
    Effect.gen(function*() {
      const { backend, connection } = yield* build({ url: redisUrl() })
      const stream = uniqueKey("cork")
      yield* backend.createGroup(stream, "g", { id: "0", mkStream: true })
      const ids = yield* backend.addMany(stream, [["n", "1"], ["n", "2"]])
      yield* backend.readGroup({ stream, group: "g", consumer: "c", id: ">", count: 1 })
      // count what reaches the socket's two write paths while ackThenRead runs
      const socket = (connection.client as Redis).stream as unknown as {
        _write: (...args: Array<unknown>) => unknown
        _writev: (...args: Array<unknown>) => unknown
      }
      const writes = { single: 0, vector: 0 }
      const { _write, _writev } = socket
      socket._write = function(this: unknown, ...args) {
        writes.single++
        return _write.apply(this, args)
      }
      socket._writev = function(this: unknown, ...args) {
        writes.vector++
        return _writev.apply(this, args)
      }
      const r = yield* backend.ackThenRead(stream, "g", [ids[0]!], { stream, group: "g", consumer: "c", id: ">", count: 1 }).pipe(
        Effect.ensuring(Effect.sync(() => {
          socket._write = _write
          socket._writev = _writev
        }))
      )
      assert.strictEqual(r.acked, 1)
      assert.deepStrictEqual(Either.getOrThrow(r.read).map((e) => e.id), [ids[1]])
      assert.deepStrictEqual(writes, { single: 0, vector: 1 })
    }))

  // ---------------------------------------------------------------------------
  // error replies -> typed errors
  // ---------------------------------------------------------------------------

  it.scopedLive("Redis error replies map to typed errors naming what failed", () =>
    Effect.gen(function*() {
      const raw = yield* rawClient()
      const { backend } = yield* build({ url: redisUrl() })
      const stream = uniqueKey("errors")
      const str = uniqueKey("string")
      const missing = uniqueKey("missing")
      yield* Effect.promise(() => raw.set(str, "x"))
      const top = yield* backend.add(stream, ["a", "1"], { id: "5-1" })
      assert.strictEqual(top, "5-1")

      // NOGROUP
      for (const op of [
        backend.readGroup({ stream, group: "nope", consumer: "c", id: ">" }),
        backend.pendingSummary(stream, "nope"),
        backend.consumersInfo(stream, "nope"),
        backend.claim({ stream, group: "nope", consumer: "c", minIdleMs: 0, ids: ["5-1"] }),
        backend.autoClaim({ stream, group: "nope", consumer: "c", minIdleMs: 0, start: "0-0" }),
        backend.setGroupId(stream, "nope", "0"),
        backend.createConsumer(stream, "nope", "c"),
        backend.deleteConsumerIfIdle(stream, "nope", "c")
      ] as ReadonlyArray<Effect.Effect<unknown, BackendError>>) {
        const error = yield* failure(op)
        assert.strictEqual(error._tag, "GroupNotFound", error.message)
        if (error._tag === "GroupNotFound") {
          assert.strictEqual(error.stream, stream)
          assert.strictEqual(error.group, "nope")
          assert.include(error.message, stream)
          assert.include(error.message, "nope")
        }
      }

      // WRONGTYPE
      for (const op of [
        backend.add(str, ["a", "1"]),
        backend.addMany(str, [["a", "1"]]),
        backend.length(str),
        backend.range(str),
        backend.ack(str, "g", ["1-1"]),
        backend.ackAndDelete(str, "g", ["1-1"]),
        backend.readGroup({ stream: str, group: "g", consumer: "c", id: ">" }),
        backend.streamInfo(str)
      ] as ReadonlyArray<Effect.Effect<unknown, BackendError>>) {
        const error = yield* failure(op)
        assert.strictEqual(error._tag, "WrongKeyType", error.message)
        if (error._tag === "WrongKeyType") {
          assert.strictEqual(error.key, str)
          assert.include(error.message, str)
        }
      }

      // StreamNotFound: NOMKSTREAM nil, XINFO and XGROUP on a missing key
      for (const op of [
        backend.add(missing, ["a", "1"], { noMkStream: true }),
        backend.addMany(missing, [["a", "1"]], { noMkStream: true }),
        backend.streamInfo(missing),
        backend.groupsInfo(missing),
        backend.consumersInfo(missing, "g"),
        backend.createGroup(missing, "g", { id: "$" }),
        backend.destroyGroup(missing, "g")
      ] as ReadonlyArray<Effect.Effect<unknown, BackendError>>) {
        const error = yield* failure(op)
        assert.strictEqual(error._tag, "StreamNotFound", error.message)
        if (error._tag === "StreamNotFound") {
          assert.strictEqual(error.stream, missing)
          assert.include(error.message, missing)
        }
      }
      assert.strictEqual(yield* backend.length(missing), 0)

      // anything else: RedisCommandError with Redis's own reply
      const tooSmall = yield* failure(backend.add(stream, ["a", "2"], { id: "1-1" }))
      assert.strictEqual(tooSmall._tag, "RedisCommandError")
      if (tooSmall._tag === "RedisCommandError") {
        assert.strictEqual(tooSmall.command, "XADD")
        assert.strictEqual(tooSmall.reply, "ERR The ID specified in XADD is equal or smaller than the target stream top item")
        assert.include(tooSmall.message, "equal or smaller than the target stream top item")
      }
      const syntax = yield* failure(backend.trim(stream, { strategy: "maxlen", threshold: 1, limit: 10 }))
      assert.strictEqual(syntax._tag, "RedisCommandError")
      if (syntax._tag === "RedisCommandError") assert.include(syntax.reply, "LIMIT")

      // BUSYGROUP is not an error
      assert.isTrue(yield* backend.createGroup(stream, "g", { id: "0" }))
      assert.isFalse(yield* backend.createGroup(stream, "g", { id: "0" }))
      // XACK on a missing group is 0, as in Redis
      assert.strictEqual(yield* backend.ack(stream, "nope", ["5-1"]), 0)
    }))

  // ---------------------------------------------------------------------------
  // reply parsing details
  // ---------------------------------------------------------------------------

  it.scopedLive("re-reading own pending entries returns deleted ones with fields: null", () =>
    Effect.gen(function*() {
      const { backend } = yield* build({ url: redisUrl() })
      const stream = uniqueKey("pel")
      const ids = yield* backend.addMany(stream, [["a", "1"], ["a", "2"], ["a", "3"]])
      yield* backend.createGroup(stream, "g", { id: "0" })
      yield* backend.readGroup({ stream, group: "g", consumer: "c", id: ">" })
      assert.strictEqual(yield* backend.delete(stream, [ids[1]!]), 1)
      const pending = yield* backend.readGroup({ stream, group: "g", consumer: "c", id: "0" })
      assert.deepStrictEqual(pending, [
        { id: ids[0]!, fields: ["a", "1"] },
        { id: ids[1]!, fields: null },
        { id: ids[2]!, fields: ["a", "3"] }
      ])
      // XAUTOCLAIM reports the deleted one and drops it from the pending list (Redis 7)
      const claimed = yield* backend.autoClaim({ stream, group: "g", consumer: "d", minIdleMs: 0, start: "0-0" })
      assert.strictEqual(claimed.next, "0-0")
      assert.deepStrictEqual(claimed.entries.map((e) => e.id), [ids[0]!, ids[2]!])
      assert.deepStrictEqual(claimed.deleted, [ids[1]!])
      // nothing new: [] (nil reply)
      assert.deepStrictEqual(yield* backend.readGroup({ stream, group: "g", consumer: "c", id: ">" }), [])
    }))

  it.scopedLive("XINFO: nil first/last entries, nil lag, inactive only from Redis 7.2", () =>
    Effect.gen(function*() {
      const { backend } = yield* build({ url: redisUrl() })
      const stream = uniqueKey("info")
      yield* backend.createGroup(stream, "g", { id: "$", mkStream: true })
      const empty = yield* backend.streamInfo(stream)
      assert.strictEqual(empty.length, 0)
      assert.strictEqual(empty.groups, 1)
      assert.isNull(empty.firstEntry)
      assert.isNull(empty.lastEntry)
      assert.strictEqual(empty.lastGeneratedId, "0-0")

      yield* backend.add(stream, ["a", "1"], { id: "1-0" })
      yield* backend.add(stream, ["a", "2"], { id: "2-0" })
      yield* backend.add(stream, ["a", "3"], { id: "3-0" })
      yield* backend.createGroup(stream, "h", { id: "0" })
      yield* backend.readGroup({ stream, group: "h", consumer: "c", id: ">", count: 1 })
      yield* backend.delete(stream, ["2-0"])
      const info = yield* backend.streamInfo(stream)
      assert.deepStrictEqual(info.firstEntry, { id: "1-0", fields: ["a", "1"] })
      assert.deepStrictEqual(info.lastEntry, { id: "3-0", fields: ["a", "3"] })
      assert.strictEqual(info.maxDeletedEntryId, "2-0")
      assert.strictEqual(info.entriesAdded, 3)
      const h = (yield* backend.groupsInfo(stream)).find((g) => g.name === "h")!
      assert.strictEqual(h.entriesRead, 1)
      assert.isNull(h.lag) // a deletion after last-delivered-id: Redis cannot tell the lag

      const [consumer] = yield* backend.consumersInfo(stream, "h")
      const { connection } = yield* build({ url: redisUrl() })
      const [major, minor] = connection.serverVersion.split(".").map(Number)
      if (major! > 7 || (major === 7 && minor! >= 2)) assert.isNumber(consumer!.inactiveMs)
      else assert.isNull(consumer!.inactiveMs)
      assert.strictEqual(consumer!.pending, 1)
    }))

  // ---------------------------------------------------------------------------
  // spans
  // ---------------------------------------------------------------------------

  it.scopedLive("with a tracer installed every operation runs in a RedisStreams.<op> span", () =>
    Effect.gen(function*() {
      const { backend } = yield* build({ url: redisUrl() })
      const native = yield* Effect.tracer
      const spans: Array<Tracer.Span> = []
      const tracer = Tracer.make({
        span: (...args) => {
          const span = native.span(...args)
          spans.push(span)
          return span
        },
        context: native.context
      })
      const stream = uniqueKey("span")
      yield* Effect.gen(function*() {
        yield* backend.add(stream, ["a", "1"])
        yield* backend.addMany(stream, [["a", "2"]])
        yield* backend.createGroup(stream, "g", { id: "0" })
        yield* backend.readGroup({ stream, group: "g", consumer: "c", id: ">" })
        const reader = yield* backend.blockingReader
        yield* reader.readGroup({ stream, group: "g", consumer: "c", id: ">", blockMs: 10 })
      }).pipe(Effect.withTracer(tracer))
      const names = spans.map((s) => s.name)
      assert.deepStrictEqual(names, [
        "RedisStreams.add",
        "RedisStreams.addMany",
        "RedisStreams.createGroup",
        "RedisStreams.readGroup",
        "RedisStreams.readGroup"
      ])
      for (const span of spans) {
        assert.strictEqual(span.attributes.get("messaging.system"), "redis")
        assert.strictEqual(span.attributes.get("messaging.destination.name"), stream)
        assert.strictEqual(span.status._tag, "Ended")
      }
      assert.strictEqual(spans[0]!.kind, "producer")
      assert.strictEqual(spans[3]!.kind, "consumer")
    }))
})

describe("RedisBackend error replies of a server that cannot serve now", () => {
  it.scopedLive("READONLY from a replica is a RedisConnectionError (retried by consumers), not a command error", () =>
    Effect.gen(function*() {
      // a replica (of an address nobody serves) is read-only
      const replica = yield* startRedisServer({ args: ["--replicaof", "127.0.0.1", "1"] })
      const { backend } = yield* build({ url: replica.url })
      const error = yield* failure(backend.add(uniqueKey("ro"), ["a", "1"]))
      assert.strictEqual(error._tag, "RedisConnectionError")
      assert.include(error.message, "READONLY")
      assert.include(error.message, "cannot be served now")
    }))
})

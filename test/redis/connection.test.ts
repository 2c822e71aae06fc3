/**
 * RedisConnection against real redis-server processes: connecting, failing
 * to connect (fast, typed, without secrets, without a client left retrying),
 * closing every connection with the scope, Config, options validation, a
 * caller-owned client, and surviving a Redis restart.
 */
import { assert, describe, it } from "@effect/vitest"
import { Config, ConfigProvider, Duration, Effect, Exit, Layer, Redacted, Scope } from "effect"
import { RedisConnection, StreamsError } from "effect-redis-streams"
import { Redis } from "ioredis"
import * as Net from "node:net"
import { inspect } from "node:util"
import { rawClient, redisUrl, startRedisServer, uniqueKey } from "../src/Harness.js"
import { freePort } from "../src/RedisServer.js"

const now = Effect.sync(() => performance.now())

/** connections whose CLIENT SETNAME is `name`, seen from a separate raw client */
const countClients = (raw: Redis, name: string) =>
  Effect.promise(() => raw.client("LIST") as Promise<string>).pipe(
    Effect.map((list) => list.split("\n").filter((line) => line.includes(` name=${name} `)).length)
  )

/** a TCP server that accepts connections and never answers; counts connection attempts */
const silentServer = Effect.acquireRelease(
  Effect.async<{ readonly port: number; readonly accepted: () => number }>((resume) => {
    const sockets = new Set<Net.Socket>()
    let accepted = 0
    const server = Net.createServer((socket) => {
      accepted++
      sockets.add(socket)
      socket.on("error", () => {})
      socket.on("close", () => sockets.delete(socket))
    })
    server.listen(0, "127.0.0.1", () =>
      resume(Effect.succeed({
        port: (server.address() as Net.AddressInfo).port,
        accepted: () => accepted,
        close: () => {
          for (const s of sockets) s.destroy()
          server.close()
        }
      })))
  }),
  (s) => Effect.sync(() => (s as unknown as { close: () => void }).close())
)

describe("RedisConnection", () => {
  it.scopedLive("connects when built and reads the server version once", () =>
    Effect.gen(function*() {
      const url = redisUrl()
      const connection = yield* RedisConnection.make({ url: Redacted.make(url) })
      const { hostname, port } = new URL(url)
      assert.strictEqual(connection.endpoint, `${hostname}:${port}`)
      assert.match(connection.serverVersion, /^\d+\.\d+\.\d+/)
      assert.strictEqual(connection.client.status, "ready")
      assert.strictEqual(yield* Effect.promise(() => connection.client.ping()), "PONG")
      assert.strictEqual(Duration.toMillis(connection.commandTimeout), 10_000)
    }))

  it.live("an unreachable port fails the layer fast with RedisConnectionError naming host:port, not the password", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(() => freePort())
      const password = "pw-" + uniqueKey("secret")
      const start = yield* now
      const exit = yield* Layer.build(
        RedisConnection.layer({ host: "127.0.0.1", port, password: Redacted.make(password), connectTimeout: "2 seconds" })
      ).pipe(Effect.scoped, Effect.exit)
      const elapsed = (yield* now) - start
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
      assert.instanceOf(error, StreamsError.RedisConnectionError)
      if (!(error instanceof StreamsError.RedisConnectionError)) return
      assert.include(error.message, `127.0.0.1:${port}`)
      assert.include(error.message, "ECONNREFUSED")
      assert.strictEqual(error.endpoint, `127.0.0.1:${port}`)
      for (const text of [error.message, String(error), inspect(error, { depth: 10 }), JSON.stringify(error)]) {
        assert.notInclude(text, password)
      }
      // refused connections fail at once, well within the connect timeout
      assert.isBelow(elapsed, 1000, `refused connect took ${elapsed.toFixed(0)} ms`)
      yield* Effect.log(`connect refused -> RedisConnectionError in ${elapsed.toFixed(1)} ms`)
    }))

  it.scopedLive("a server that never answers fails within connectTimeout and leaves no client retrying", () =>
    Effect.gen(function*() {
      const server = yield* silentServer
      const password = "pw-" + uniqueKey("secret")
      const start = yield* now
      const exit = yield* RedisConnection.make({
        host: "127.0.0.1",
        port: server.port,
        password: Redacted.make(password),
        connectTimeout: "600 millis"
      }).pipe(Effect.scoped, Effect.exit)
      const elapsed = (yield* now) - start
      const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
      assert.instanceOf(error, StreamsError.RedisConnectionError)
      if (!(error instanceof StreamsError.RedisConnectionError)) return
      assert.include(error.message, `127.0.0.1:${server.port}`)
      assert.notInclude(error.message, password)
      assert.notInclude(inspect(error, { depth: 10 }), password)
      assert.isAtLeast(elapsed, 550)
      assert.isBelow(elapsed, 1600, `connect timeout took ${elapsed.toFixed(0)} ms`)
      yield* Effect.log(`silent server -> RedisConnectionError in ${elapsed.toFixed(1)} ms (connectTimeout 600 ms)`)
      // no reconnection in the background
      const attempts = server.accepted()
      yield* Effect.sleep("700 millis")
      assert.strictEqual(server.accepted(), attempts)
    }))

  it.scopedLive("a wrong password fails with RedisConnectionError that never shows the password", () =>
    Effect.gen(function*() {
      const server = yield* startRedisServer({ args: ["--requirepass", "the-right-password"] })
      const wrong = "wrong-" + uniqueKey("password")
      const exit = yield* RedisConnection.make({
        url: Redacted.make(`redis://:${wrong}@127.0.0.1:${server.port}`),
        connectTimeout: "3 seconds"
      }).pipe(Effect.scoped, Effect.exit)
      const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
      assert.instanceOf(error, StreamsError.RedisConnectionError)
      if (!(error instanceof StreamsError.RedisConnectionError)) return
      assert.include(error.message, `127.0.0.1:${server.port}`)
      assert.match(error.message, /WRONGPASS|invalid password|invalid username-password/i)
      for (const text of [error.message, String(error), inspect(error, { depth: 10 }), JSON.stringify(error)]) {
        assert.notInclude(text, wrong)
      }
      // and the right one, as a Redacted option next to a URL without credentials
      const ok = yield* RedisConnection.make({
        url: `redis://127.0.0.1:${server.port}`,
        password: Redacted.make("the-right-password")
      })
      assert.strictEqual(yield* Effect.promise(() => ok.client.ping()), "PONG")
    }))

  it.scopedLive("closing the scope quits the main and the dedicated connections", () =>
    Effect.gen(function*() {
      const raw = yield* rawClient()
      const name = uniqueKey("conn").replace(/-/g, "_")
      const baseline = yield* countClients(raw, name)
      assert.strictEqual(baseline, 0)
      const scope = yield* Scope.make()
      const connection = yield* RedisConnection.make({ url: redisUrl(), connectionName: name }).pipe(Scope.extend(scope))
      const dedicated = yield* connection.duplicate.pipe(Scope.extend(scope))
      assert.strictEqual(yield* Effect.promise(() => dedicated.ping()), "PONG")
      assert.strictEqual(yield* countClients(raw, name), 2)
      const start = yield* now
      yield* Scope.close(scope, Exit.void)
      const elapsed = (yield* now) - start
      assert.isBelow(elapsed, 1000)
      assert.strictEqual(connection.client.status, "end")
      assert.strictEqual(dedicated.status, "end")
      // the server drops them at once; poll briefly for the CLIENT LIST to catch up
      let left = -1
      for (let i = 0; i < 20 && left !== 0; i++) {
        left = yield* countClients(raw, name)
        if (left !== 0) yield* Effect.sleep("25 millis")
      }
      assert.strictEqual(left, baseline)
    }))

  it.scopedLive("duplicate: a dedicated connection without command timeout and without reconnection", () =>
    Effect.gen(function*() {
      const connection = yield* RedisConnection.make({ url: redisUrl(), commandTimeout: "200 millis" })
      const dedicated = yield* connection.duplicate
      assert.notStrictEqual(dedicated, connection.client)
      // a blocking command longer than commandTimeout is not cut short
      const start = yield* now
      const reply = yield* Effect.promise(() =>
        (dedicated as Redis).call("XREAD", "BLOCK", 400, "STREAMS", uniqueKey("none"), "$")
      )
      assert.isNull(reply)
      assert.isAtLeast((yield* now) - start, 350)
    }))

  it.scopedLive("layerConfig reads the options from Config (a redacted URL)", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(
        RedisConnection.layerConfig({ url: Config.redacted("REDIS_URL") }).pipe(
          Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["REDIS_URL", redisUrl()]]))))
        )
      )
      const connection = yield* Effect.provide(RedisConnection.RedisConnection, context)
      assert.strictEqual(yield* Effect.promise(() => connection.client.ping()), "PONG")
    }))

  it.effect("invalid options fail with InvalidOptions naming the option", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [RedisConnection.Options, string]> = [
        [{ port: 70000 }, "port"],
        [{ host: "" }, "host"],
        [{ url: "http://localhost:6379" }, "url"],
        [{ url: "not a url" }, "url"],
        [{ db: -1 }, "db"],
        [{ connectTimeout: -5 }, "connectTimeout"],
        [{ sentinels: [{ host: "localhost", port: 26379 }] }, "name"],
        [{ sentinels: [], name: "m" }, "sentinels"],
        [{ cluster: { nodes: [] } }, "cluster.nodes"],
        [{ cluster: { nodes: [{ host: "a", port: 1 }] }, sentinels: [{ host: "b", port: 2 }], name: "m" }, "cluster"],
        [{ url: "redis://localhost", cluster: { nodes: [{ host: "a", port: 1 }] } }, "url"],
        [{ connectionName: "has space" }, "connectionName"]
      ]
      for (const [options, option] of cases) {
        const error = yield* Effect.flip(RedisConnection.make(options).pipe(Effect.scoped))
        assert.strictEqual(error._tag, "InvalidOptions", JSON.stringify(options))
        if (error._tag === "InvalidOptions") assert.strictEqual(error.option, option, error.message)
      }
      // the URL is never echoed (it may carry a password)
      const error = yield* Effect.flip(RedisConnection.make({ url: "ftp://user:hunter2-secret@host" }).pipe(Effect.scoped))
      assert.notInclude(error.message, "hunter2-secret")
    }))

  it.scopedLive("fromClient: a caller-owned client is not quit with the scope; duplicate still works", () =>
    Effect.gen(function*() {
      const own = new Redis(redisUrl(), { lazyConnect: true })
      yield* Effect.addFinalizer(() => Effect.sync(() => own.disconnect()))
      const scope = yield* Scope.make()
      const connection = yield* RedisConnection.fromClient(own).pipe(Scope.extend(scope))
      assert.strictEqual(connection.client, own)
      assert.match(connection.serverVersion, /^\d+\.\d+/)
      const dedicated = yield* connection.duplicate.pipe(Scope.extend(scope))
      assert.notStrictEqual(dedicated, own)
      assert.strictEqual(yield* Effect.promise(() => dedicated.ping()), "PONG")
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(dedicated.status, "end")
      assert.strictEqual(own.status, "ready")
      assert.strictEqual(yield* Effect.promise(() => own.ping()), "PONG")
    }))

  it.scopedLive("the main client survives a Redis restart; commands during the outage fail fast, typed", () =>
    Effect.gen(function*() {
      const server = yield* startRedisServer()
      const { RedisBackend, StreamsBackend } = yield* Effect.promise(() => import("effect-redis-streams"))
      const context = yield* Layer.build(RedisBackend.layerRedis({ url: server.url }))
      const backend = Effect.provide(StreamsBackend.StreamsBackend, context)
      const b = yield* backend
      const stream = uniqueKey("restart")
      yield* b.add(stream, ["n", "1"])
      yield* Effect.promise(() => server.stop())
      const start = yield* now
      const error = yield* Effect.flip(b.add(stream, ["n", "2"]))
      const elapsed = (yield* now) - start
      assert.strictEqual(error._tag, "RedisConnectionError")
      assert.isBelow(elapsed, 5000, `a command during the outage took ${elapsed.toFixed(0)} ms to fail`)
      yield* Effect.log(`command during outage -> RedisConnectionError in ${elapsed.toFixed(0)} ms`)
      yield* Effect.promise(() => server.start())
      // the client reconnects by itself (backoff capped at 2 s)
      let length = -1
      for (let i = 0; i < 60 && length < 0; i++) {
        length = yield* b.length(stream).pipe(Effect.orElseSucceed(() => -1))
        if (length < 0) yield* Effect.sleep("100 millis")
      }
      assert.strictEqual(length, 0) // the server had no persistence: the stream is gone, the client is back
      assert.match(yield* b.add(stream, ["n", "3"]), /^\d+-\d+$/)
    }), { timeout: 30_000 })
})

/**
 * Secrets never leak: every component runs with a known password (and, over
 * mutual TLS, a client key encrypted with a known passphrase), on the happy
 * path and on every failure path we can provoke (wrong password, password
 * rotated while connected, unreachable server, invalid URL, wrong CA, refused
 * permission). Everything printed or recorded — logs at every level with
 * their annotations and causes, spans with attributes and exits, metrics,
 * console and stdout/stderr, and every error rendered as String, JSON,
 * util.inspect and Cause.pretty — is scanned for the secrets.
 */
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Redacted } from "effect"
import { Producer, RedisBackend, RedisConnection, StreamsBackend } from "effect-redis-streams"
import { Redis } from "ioredis"
import { randomUUID } from "node:crypto"
import { uniqueKey } from "../src/Harness.js"
import { freePort } from "../src/RedisServer.js"
import { type Certificates, certificates, startTlsRedisServer, type TlsRedisServer } from "../src/Tls.js"
import { findSecret, makeRecorder, metricsSnapshot } from "./recorder.js"
import { build, consume, everyComponent, produce, same } from "./scenario.js"

/** characters that must be URL-encoded, so both forms are scanned */
const PASSWORD = `P@ss:w/rd%-${randomUUID()}`
const WRONG = `Wr0ng-${randomUUID()}`
const ROTATED = `R0tated-${randomUUID()}`

class Env extends Context.Tag("test/SecretsEnv")<Env, {
  readonly certs: Certificates
  readonly server: TlsRedisServer
  readonly admin: Redis
}>() {}

const envLayer = Layer.scoped(
  Env,
  Effect.gen(function*() {
    const certs = yield* certificates
    const server = yield* startTlsRedisServer(certs, { authClients: true })
    const admin = yield* Effect.acquireRelease(
      Effect.sync(() => new Redis(server.plainUrl)),
      (r) => Effect.promise(() => r.quit())
    )
    yield* Effect.promise(() => admin.call("ACL", "SETUSER", "app", "on", `>${PASSWORD}`, "~*", "+@all"))
    return { certs, server, admin }
  })
)

const keyLines = (pem: string): ReadonlyArray<string> =>
  pem.split("\n").filter((l) => l.length > 20 && !l.startsWith("-----"))

layer(envLayer, { excludeTestServices: true, timeout: "120 seconds" })("secrets", (it) => {
  it.scoped("the password, the client key and its passphrase appear nowhere in logs, spans, metrics, output or errors", () =>
    Effect.gen(function*() {
      const { admin, certs, server } = yield* Env
      const recorder = makeRecorder()
      const tls = { ca: certs.ca, cert: certs.clientCert, key: certs.clientKeyEncrypted, passphrase: certs.clientKeyPassphrase }
      const url = (password: string, port = server.tlsPort) =>
        Redacted.make(`rediss://app:${encodeURIComponent(password)}@127.0.0.1:${port}`)
      const backend = RedisBackend.layerRedis({ url: url(PASSWORD), tls, connectTimeout: "3 seconds" })
      const explicit = RedisBackend.layerRedis({
        host: "127.0.0.1",
        port: server.tlsPort,
        username: "app",
        password: Redacted.make(PASSWORD),
        tls,
        connectTimeout: "3 seconds"
      })
      const failed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        Effect.tap(Effect.exit(effect), (exit) =>
          Effect.sync(() => {
            assert.isTrue(Exit.isFailure(exit), "this step must fail")
            recorder.add(exit)
          }))

      const program = Effect.gen(function*() {
        // the happy path, every component, both ways of giving the password
        const stream = uniqueKey("secret")
        recorder.add(yield* everyComponent(stream, same(backend)))
        recorder.add(yield* everyComponent(uniqueKey("secret"), same(explicit)))
        recorder.add(yield* Effect.scoped(Effect.map(Layer.build(backend), (ctx) => {
          const connection = Context.get(ctx, RedisConnection.RedisConnection)
          return { endpoint: connection.endpoint, version: connection.serverVersion, options: connection.client.options }
        })).pipe(Effect.map((x) => ({ endpoint: x.endpoint, version: x.version }))))

        // a wrong password
        yield* failed(build(RedisBackend.layerRedis({ url: url(WRONG), tls, connectTimeout: "3 seconds" })))
        yield* failed(build(RedisBackend.layerRedis({
          host: "127.0.0.1",
          port: server.tlsPort,
          username: "app",
          password: Redacted.make(WRONG),
          tls,
          connectTimeout: "3 seconds"
        })))
        // nobody listening
        const closed = yield* Effect.promise(() => freePort())
        yield* failed(build(RedisBackend.layerRedis({ url: url(PASSWORD, closed), tls, connectTimeout: "1 second" })))
        // invalid URLs carrying the password (unencoded: '@', ':', '/' and '%' break it)
        yield* failed(build(RedisBackend.layerRedis({ url: Redacted.make(`rediss://app:${PASSWORD}@127.0.0.1:${server.tlsPort}`) })))
        yield* failed(build(RedisBackend.layerRedis({ url: Redacted.make(`redis://app:${encodeURIComponent(PASSWORD)}@127.0.0.1:99999`) })))
        yield* failed(build(RedisBackend.layerRedis({ url: Redacted.make(`http://app:${encodeURIComponent(PASSWORD)}@127.0.0.1:1`) })))
        // a wrong CA, with the encrypted key and its passphrase in the options
        yield* failed(build(RedisBackend.layerRedis({ url: url(PASSWORD), tls: { ...tls, ca: certs.otherCa } })))
        // a wrong passphrase
        yield* failed(build(RedisBackend.layerRedis({ url: url(PASSWORD), tls: { ...tls, passphrase: WRONG } })))

        // the password rotated while connected: commands fail with WRONGPASS after the reconnection
        yield* Effect.scoped(Effect.gen(function*() {
          const ctx = yield* Layer.build(backend)
          const b = Context.get(ctx, StreamsBackend.StreamsBackend)
          const rotating = uniqueKey("secret")
          yield* b.add(rotating, ["a", "1"])
          yield* Effect.promise(() => admin.call("ACL", "SETUSER", "app", "resetpass", `>${ROTATED}`))
          yield* Effect.promise(() => admin.call("CLIENT", "KILL", "USER", "app"))
          yield* Effect.sleep("300 millis")
          yield* failed(Effect.provide(produce(rotating, 3), ctx))
          yield* failed(Effect.provide(consume(rotating, "g", 1), ctx))
          yield* failed(Effect.flatMap(Producer.make({ stream: rotating }), (p) => p.add({ a: "2" })).pipe(Effect.provide(ctx)))
        })).pipe(
          Effect.ensuring(Effect.promise(() => admin.call("ACL", "SETUSER", "app", "resetpass", `>${PASSWORD}`)))
        )
        // a permission refused (NOPERM) for a user with the password
        yield* Effect.promise(() => admin.call("ACL", "SETUSER", "limited", "reset", "on", `>${PASSWORD}`, "~nothing", "+xadd"))
        yield* failed(Effect.provide(
          produce(uniqueKey("secret"), 2),
          RedisBackend.layerRedis({ url: Redacted.make(`rediss://limited:${encodeURIComponent(PASSWORD)}@127.0.0.1:${server.tlsPort}`), tls })
        ))
      })

      yield* recorder.capturingOutput(Effect.provide(program, recorder.layer))
      recorder.add(yield* metricsSnapshot)

      const texts = recorder.texts()
      assert.isAbove(recorder.spanCount(), 50, "spans were recorded")
      assert.isAbove(recorder.logCount(), 10, "logs were recorded")
      assert.isAbove(texts.length, 200)
      const secrets: Record<string, string> = {
        password: PASSWORD,
        "url-encoded password": encodeURIComponent(PASSWORD),
        "wrong password": WRONG,
        "rotated password": ROTATED,
        passphrase: certs.clientKeyPassphrase
      }
      keyLines(certs.clientKeyEncrypted).forEach((l, i) => (secrets[`encrypted key line ${i}`] = l))
      keyLines(certs.clientKey).forEach((l, i) => (secrets[`client key line ${i}`] = l))
      const found: Record<string, ReadonlyArray<string>> = {}
      for (const [name, secret] of Object.entries(secrets)) {
        const where = findSecret(texts, secret)
        if (where.length > 0) found[name] = where.slice(0, 3)
      }
      if (process.env["SHOW_ERRORS"]) {
        console.log(`scanned ${texts.length} texts, ${texts.reduce((n, t) => n + t.length, 0)} characters, ${recorder.spanCount()} spans, ${recorder.logCount()} logs`)
      }
      assert.deepStrictEqual(found, {})
    }))
})

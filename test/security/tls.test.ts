/**
 * TLS against real servers started here: a throwaway CA (openssl), a
 * redis-server with `--tls-port` on loopback, once without and once with
 * `--tls-auth-clients yes`. Every component works over `rediss://` and with
 * explicit TLS options (client certificates included); certificate problems
 * fail the connection layer with a `RedisConnectionError` that says so.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Cause, Redacted } from "effect"
import { RedisBackend, RedisConnection, StreamsError } from "effect-redis-streams"
import { Redis } from "ioredis"
import { testLogLevel, uniqueKey } from "../src/Harness.js"
import { type Certificates, certificates, hasOpenssl, startTlsRedisServer, type TlsRedisServer } from "../src/Tls.js"
import { type Backend, build, everyComponent, same } from "./scenario.js"

class Env extends Context.Tag("test/TlsEnv")<Env, {
  readonly certs: Certificates
  /** --tls-auth-clients no */
  readonly open: TlsRedisServer
  /** --tls-auth-clients yes */
  readonly mutual: TlsRedisServer
}>() {}

const envLayer = Layer.scoped(
  Env,
  Effect.gen(function*() {
    if (!hasOpenssl()) return yield* Effect.dieMessage("openssl is needed for the TLS tests (apt-get install -y openssl)")
    const certs = yield* certificates
    const open = yield* startTlsRedisServer(certs)
    const mutual = yield* startTlsRedisServer(certs, { authClients: true })
    return { certs, open, mutual }
  })
)

const tlsLayer = (options: RedisConnection.Options): Backend =>
  RedisBackend.layerRedis({ connectTimeout: "3 seconds", ...options })

/** the connection layer's failure, as a RedisConnectionError */
const connectionFailure = (options: RedisConnection.Options) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(build(tlsLayer(options)))
    assert.isTrue(Exit.isFailure(exit), "the layer must fail")
    const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
    assert.instanceOf(error, StreamsError.RedisConnectionError)
    if (process.env["SHOW_ERRORS"]) console.log((error as Error).message)
    return error as StreamsError.RedisConnectionError
  })

/** what the plain (admin) port says about a stream after the scenario */
const inspect = (server: TlsRedisServer, stream: string, dlq: string) =>
  Effect.acquireUseRelease(
    Effect.sync(() => new Redis(server.plainUrl)),
    (admin) =>
      Effect.promise(async () => ({
        length: await admin.xlen(stream),
        deadLetters: await admin.xlen(dlq),
        tlsClients: String(await admin.call("INFO", "stats")).match(/total_connections_received:(\d+)/)?.[1]
      })),
    (admin) => Effect.promise(() => admin.quit())
  )

const checkScenario = (result: Effect.Effect.Success<ReturnType<typeof everyComponent>>) => {
  assert.strictEqual(result.produced.length, 20)
  // 19 handled, the poison one dead-lettered
  assert.strictEqual(result.consumed.handled.length, 19)
  assert.isBelow(result.consumed.interruptMs, 1500, "interrupting a blocked read over TLS comes back promptly")
  assert.deepStrictEqual(result.taken, result.more)
  const group = result.monitored.report.groups.find((g) => g.name === "g")!
  assert.strictEqual(group.pending, 3)
  assert.strictEqual(group.deadLetters, 1)
  assert.strictEqual(result.monitored.cleanup.claimed, 3)
  assert.strictEqual(result.monitored.cleanup.deleted, 1)
  assert.strictEqual(result.decision.pending, 3)
  assert.strictEqual(result.decision.backlog, 0)
}

layer(Layer.merge(envLayer, testLogLevel), { excludeTestServices: true, timeout: "120 seconds" })("TLS", (it) => {
  describe("server without client authentication", () => {
    it.scoped("every component over rediss:// with the CA given as tls.ca", () =>
      Effect.gen(function*() {
        const { certs, open } = yield* Env
        const stream = uniqueKey("tls")
        const backend = tlsLayer({ url: Redacted.make(open.tlsUrl), tls: { ca: certs.ca } })
        const result = yield* everyComponent(stream, same(backend))
        checkScenario(result)
        const seen = yield* inspect(open, stream, result.consumed.deadLetterStream)
        assert.strictEqual(seen.length, 23)
        assert.strictEqual(seen.deadLetters, 1)
      }))

    it.scoped("every component with explicit options (host, port, tls: { ca, servername }), no URL", () =>
      Effect.gen(function*() {
        const { certs, open } = yield* Env
        const stream = uniqueKey("tls")
        const backend = tlsLayer({ host: "localhost", port: open.tlsPort, tls: { ca: certs.ca, servername: "localhost" } })
        checkScenario(yield* everyComponent(stream, same(backend)))
      }))

    it.scoped("a wrong CA fails the connection layer with a RedisConnectionError saying it is a certificate problem", () =>
      Effect.gen(function*() {
        const { certs, open } = yield* Env
        const error = yield* connectionFailure({ url: Redacted.make(open.tlsUrl), tls: { ca: certs.otherCa } })
        assert.match(error.message, /^Cannot connect to Redis at 127\.0\.0\.1:\d+: TLS certificate problem: /)
        assert.match(error.message, /SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE/)
        assert.match(error.message, /tls\.ca/)
        assert.strictEqual(error.endpoint, `127.0.0.1:${open.tlsPort}`)
      }))

    it.scoped("rediss:// with Node's default CAs (the test CA is not among them) is a certificate problem too", () =>
      Effect.gen(function*() {
        const { open } = yield* Env
        const error = yield* connectionFailure({ url: Redacted.make(open.tlsUrl) })
        assert.match(error.message, /TLS certificate problem: the server's certificate could not be verified/)
      }))

    it.scoped("a certificate that does not name the host is a certificate problem naming servername", () =>
      Effect.gen(function*() {
        const { certs, open } = yield* Env
        const error = yield* connectionFailure({
          host: "127.0.0.1",
          port: open.tlsPort,
          tls: { ca: certs.ca, servername: "wrong.example" }
        })
        assert.match(error.message, /TLS certificate problem: the server's certificate does not name the host/)
        assert.match(error.message, /ERR_TLS_CERT_ALTNAME_INVALID/)
        assert.match(error.message, /tls\.servername/)
      }))

    it.scoped("plain redis:// to the TLS port fails fast with a connection error that says the server may expect TLS (no hang)", () =>
      Effect.gen(function*() {
        const { open } = yield* Env
        const started = Date.now()
        const error = yield* connectionFailure({ url: Redacted.make(`redis://127.0.0.1:${open.tlsPort}`) })
        assert.isBelow(Date.now() - started, 3500)
        assert.match(error.message, /^Cannot connect to Redis at 127\.0\.0\.1:\d+/)
        assert.include(error.message, "the server may expect TLS: use rediss://")
      }))
  })

  describe("server with --tls-auth-clients yes", () => {
    it.scoped("every component with a client certificate (explicit options)", () =>
      Effect.gen(function*() {
        const { certs, mutual } = yield* Env
        const stream = uniqueKey("mtls")
        const backend = tlsLayer({
          host: "127.0.0.1",
          port: mutual.tlsPort,
          tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey }
        })
        const result = yield* everyComponent(stream, same(backend))
        checkScenario(result)
        const seen = yield* inspect(mutual, stream, result.consumed.deadLetterStream)
        assert.strictEqual(seen.length, 23)
      }))

    it.scoped("every component over rediss:// plus the client certificate in tls", () =>
      Effect.gen(function*() {
        const { certs, mutual } = yield* Env
        const stream = uniqueKey("mtls")
        const backend = tlsLayer({
          url: Redacted.make(mutual.tlsUrl),
          tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey }
        })
        checkScenario(yield* everyComponent(stream, same(backend)))
      }))

    it.scoped("without a client certificate the layer fails and the message says one may be required", () =>
      Effect.gen(function*() {
        const { certs, mutual } = yield* Env
        const error = yield* connectionFailure({ url: Redacted.make(mutual.tlsUrl), tls: { ca: certs.ca } })
        assert.match(
          error.message,
          /TLS certificate problem|if it requires client certificates \(tls-auth-clients\), give tls\.cert and tls\.key/
        )
      }))

    it.scoped("a client certificate from another CA is refused; the message points at the client certificate", () =>
      Effect.gen(function*() {
        const { certs, mutual } = yield* Env
        const error = yield* connectionFailure({
          url: Redacted.make(mutual.tlsUrl),
          tls: { ca: certs.ca, cert: certs.otherClientCert, key: certs.otherClientKey }
        })
        assert.match(error.message, /TLS certificate problem|check that it trusts the CA that signed tls\.cert/)
        assert.notInclude(error.message, certs.otherClientKey.split("\n")[1]!)
      }))

    it.scoped("a wrong CA is a certificate problem here too", () =>
      Effect.gen(function*() {
        const { certs, mutual } = yield* Env
        const error = yield* connectionFailure({
          url: Redacted.make(mutual.tlsUrl),
          tls: { ca: certs.otherCa, cert: certs.clientCert, key: certs.clientKey }
        })
        assert.match(error.message, /TLS certificate problem: the server's certificate could not be verified/)
      }))
  })
})

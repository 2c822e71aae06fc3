/**
 * The CLI (packages/cli, bundled and run as a child process):
 * - every command under a user holding exactly its minimal ACL rule (ACL LOG
 *   proves nothing else was needed);
 * - the password (given in --url, in REDIS_URL, wrong, for an unreachable
 *   server, in an invalid URL, with debug logs) never appears in anything it
 *   prints, nor in any --help;
 * - TLS over rediss:// (the CA through NODE_EXTRA_CA_CERTS), and a wrong CA
 *   reported as a certificate problem.
 */
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer, Redacted } from "effect"
import { RedisBackend } from "effect-redis-streams"
import { Redis } from "ioredis"
import { randomUUID } from "node:crypto"
import { startRedisServer, testLogLevel, uniqueKey } from "../src/Harness.js"
import { freePort } from "../src/RedisServer.js"
import { certificates, startTlsRedisServer } from "../src/Tls.js"
import * as Acl from "./acl.js"
import { type Cli, cli, get, type Run, servedAddress } from "./cli.js"
import { findSecret } from "./recorder.js"
import { dlqOf, everyComponent, same } from "./scenario.js"

const PASSWORD = `P@ss:w/rd%-${randomUUID()}`
const WRONG = `Wr0ng-${randomUUID()}`

class Env extends Context.Tag("test/CliEnv")<Env, {
  readonly cli: Cli
  readonly port: number
  readonly admin: Redis
  /** every text the CLI printed, for the secrets scan */
  readonly printed: Array<string>
  /** `redis://<user>:<password>@127.0.0.1:<port>` */
  readonly url: (user: string, password?: string, port?: number) => string
}>() {}

const envLayer = Layer.scoped(
  Env,
  Effect.gen(function*() {
    const built = yield* cli
    const server = yield* startRedisServer()
    const admin = yield* Effect.acquireRelease(
      Effect.sync(() => new Redis(server.url)),
      (r) => Effect.promise(() => r.quit())
    )
    return {
      cli: built,
      port: server.port,
      admin,
      printed: [],
      url: (user: string, password = `pw-${user}`, port = server.port) =>
        `redis://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}`
    }
  })
)

/** run the CLI, keep what it printed */
const run = (args: ReadonlyArray<string>, options?: Parameters<Cli["run"]>[1]) =>
  Effect.gen(function*() {
    const env = yield* Env
    const r = yield* env.cli.run(args, options)
    env.printed.push(r.stdout, r.stderr)
    return r
  })

const ok = (r: Run, what: string) => assert.strictEqual(r.code, 0, `${what}: exit ${r.code}\n${r.stdout}\n${r.stderr}`)

layer(Layer.merge(envLayer, testLogLevel), { excludeTestServices: true, timeout: "240 seconds" })("CLI", (it) => {
  it.scoped("every command under exactly its minimal ACL rule", () =>
    Effect.gen(function*() {
      const env = yield* Env
      const { admin } = env
      const stream = uniqueKey("cli")
      const dlq = dlqOf(stream)
      const users: Record<keyof typeof Acl.cli, string> = {
        info: "", monitor: "", monitorCleanup: "", scale: "", produce: "", tail: "", dlqList: "", dlqReplay: "", dlqPurge: "",
        serve: ""
      }
      for (const command of Object.keys(users) as Array<keyof typeof Acl.cli>) {
        users[command] = uniqueKey(`cli-${command}`)
        yield* Acl.setUser(admin, users[command], `pw-${users[command]}`, Acl.cli[command](stream, dlq))
      }
      // a stream with a group, 3 entries pending on "alive", one dead letter
      const backend = RedisBackend.layerRedis({ url: Redacted.make(env.url("default", "")) })
      yield* everyComponent(stream, same(backend))

      const as = (command: keyof typeof Acl.cli) => ["--url", env.url(users[command])]

      const info = yield* run(["info", stream, "--json", ...as("info")])
      ok(info, "info")
      const infoJson = JSON.parse(info.stdout)
      assert.strictEqual(infoJson.length, 23)
      assert.strictEqual(infoJson.deadLetters, 1)

      const monitor = yield* run(["monitor", stream, ...as("monitor")])
      ok(monitor, "monitor")
      assert.include(monitor.stdout, "alive")

      // cleanup: "alive" is idle beyond 2 s (its entries beyond the Monitor's claimIdle, 1 s); "fresh" joins
      // now (well under 2 s before the CLI's cleanup runs) and takes them
      yield* Effect.sleep("2500 millis")
      yield* Effect.promise(() => admin.call("XGROUP", "CREATECONSUMER", stream, "g", "fresh"))
      const cleanup = yield* run(["monitor", stream, "--cleanup", "--idle-threshold", "2s", "--json", ...as("monitorCleanup")])
      ok(cleanup, "monitor --cleanup")
      const cleaned = JSON.parse(cleanup.stdout)
      assert.strictEqual(cleaned.cleanup.claimed, 3, JSON.stringify(cleaned.cleanup))
      assert.strictEqual(cleaned.cleanup.deleted, 1)

      const scale = yield* run(["scale", stream, "--group", "g", "--json", ...as("scale")])
      ok(scale, "scale")
      assert.strictEqual(JSON.parse(scale.stdout).pending, 3)

      const produce = yield* run(["produce", stream, ...as("produce")], { stdin: `{"a":"1"}\n{"a":"2"}\n` })
      ok(produce, "produce")
      assert.strictEqual(produce.stdout.trim().split("\n").length, 2)

      const tail = yield* run(["tail", stream, "--group", "g", "--count", "2", "--ack", "--json", ...as("tail")])
      ok(tail, "tail")
      assert.deepStrictEqual(tail.stdout.trim().split("\n").map((l) => JSON.parse(l).fields.a), ["1", "2"])

      const list = yield* run(["dlq", "list", stream, "--json", ...as("dlqList")])
      ok(list, "dlq list")
      assert.strictEqual(JSON.parse(list.stdout).length, 1)

      const purgeDry = yield* run(["dlq", "purge", stream, "--json", ...as("dlqPurge")])
      ok(purgeDry, "dlq purge (dry run)")
      const replay = yield* run(["dlq", "replay", stream, "--yes", "--json", ...as("dlqReplay")])
      ok(replay, "dlq replay")
      assert.strictEqual(yield* Effect.promise(() => admin.xlen(dlq)), 0)
      assert.strictEqual(yield* Effect.promise(() => admin.xlen(stream)), 26)

      const served = yield* env.cli.start(["serve", stream, "--group", "g", "--port", "0", "--host", "127.0.0.1", ...as("serve")])
      const address = (yield* served.waitFor(servedAddress))[1]!
      const metrics = yield* get(address, "/metrics")
      assert.strictEqual(metrics.status, 200)
      assert.include(metrics.body, `redis_streams_up{stream="${stream}"} 1`)
      const health = yield* get(address, "/healthz")
      assert.strictEqual(health.status, 200, health.body)
      const scaleReply = yield* get(address, "/scale")
      assert.strictEqual(scaleReply.status, 200, scaleReply.body)
      const stopped = yield* served.stop
      env.printed.push(stopped.stdout, stopped.stderr)
      assert.strictEqual(stopped.code, 0, stopped.stderr)

      for (const [command, user] of Object.entries(users)) {
        const refused = yield* Acl.denials(admin, user)
        assert.deepStrictEqual(Acl.unexpected(refused), [], `${command}: ${JSON.stringify(refused)}`)
      }
    }))

  it.scoped("a refused permission is one line naming the command and the key, exit 1, no retry", () =>
    Effect.gen(function*() {
      const env = yield* Env
      const stream = uniqueKey("cli")
      const user = uniqueKey("cli-scale")
      yield* Acl.setUser(env.admin, user, `pw-${user}`, Acl.scaler(stream).filter((r) => r !== "+xinfo|consumers"))
      yield* Effect.promise(() => env.admin.xgroup("CREATE", stream, "g", "$", "MKSTREAM"))
      const r = yield* run(["scale", stream, "--group", "g", "--url", env.url(user)])
      assert.strictEqual(r.code, 1)
      assert.strictEqual(r.stdout, "")
      // the skipped ready check (INFO is refused to this user) is a warning of its own, through the logger
      const lines = r.stderr.trim().split("\n").filter((l) => !/WARN: the ready check on \S+ was skipped/.test(l))
      assert.strictEqual(lines.length, 1, r.stderr)
      assert.include(lines[0], "XINFO CONSUMERS")
      assert.include(lines[0], `'${stream}'`)
      assert.include(lines[0], "refused by ACL")
    }))

  it.scoped("the password never appears in anything the CLI prints, nor in any --help", () =>
    Effect.gen(function*() {
      const env = yield* Env
      yield* Acl.setUser(env.admin, "app", PASSWORD, ["~*", "+@all"])
      const stream = uniqueKey("cli")
      const good = env.url("app", PASSWORD)
      const fromEnv = { REDIS_URL: good }

      ok(yield* run(["produce", stream, "--field", "a=1", "--url", good]), "produce")
      ok(yield* run(["info", stream], { env: fromEnv }), "info with REDIS_URL")
      ok(yield* run(["info", stream, "--url", good, "--log-level", "debug"]), "info --log-level debug")
      ok(yield* run(["tail", stream, "--group", "g", "--create", "--from-start", "--count", "1", "--url", good]), "tail")
      ok(yield* run(["monitor", stream, "--json", "--log-level", "all"], { env: fromEnv }), "monitor")
      ok(yield* run(["scale", stream, "--group", "g"], { env: fromEnv }), "scale")
      ok(yield* run(["dlq", "list", stream, "--url", good]), "dlq list")

      // failures: wrong password, nobody listening, invalid URLs (the raw password breaks the URL), debug logs
      const closed = yield* Effect.promise(() => freePort())
      const failures = [
        ["info", stream, "--url", env.url("app", WRONG)],
        ["info", stream, "--url", env.url("app", WRONG), "--log-level", "debug"],
        ["info", stream, "--url", env.url("app", PASSWORD, closed), "--log-level", "all"],
        ["info", stream, "--url", `redis://app:${PASSWORD}@127.0.0.1:${env.port}`],
        ["info", stream, "--url", `redis://app:${encodeURIComponent(PASSWORD)}@127.0.0.1:99999`],
        ["info", stream, "--url", `http://app:${encodeURIComponent(PASSWORD)}@127.0.0.1:1`],
        ["scale", stream, "--group", "missing", "--url", good],
        ["info", "--url", good],
        ["info", stream, "--url", good, "--no-such-flag"]
      ]
      for (const args of failures) {
        const r = yield* run(args, { timeoutMs: 20_000 })
        assert.notStrictEqual(r.code, 0, `${args.join(" ")} must fail`)
      }
      yield* run(["info", stream, "--log-level", "debug"], { env: { REDIS_URL: env.url("app", WRONG) } })

      // serve with a password: scrape, then the server goes away (connection errors logged)
      const served = yield* env.cli.start(["serve", stream, "--port", "0", "--host", "127.0.0.1", "--log-level", "debug"], {
        env: fromEnv
      })
      const address = (yield* served.waitFor(servedAddress))[1]!
      const metrics = yield* get(address, "/metrics")
      const health = yield* get(address, "/healthz")
      yield* Acl.setUser(env.admin, "app", WRONG, ["~*", "+@all"])
      yield* Effect.promise(() => env.admin.call("CLIENT", "KILL", "USER", "app"))
      yield* Effect.sleep("500 millis")
      const afterRotation = yield* get(address, "/metrics")
      const healthAfter = yield* get(address, "/healthz")
      const scaleAfter = yield* get(address, "/scale?group=g")
      const stopped = yield* served.stop
      env.printed.push(stopped.stdout, stopped.stderr, metrics.body, health.body, afterRotation.body, healthAfter.body, scaleAfter.body)

      // every --help
      const helps = [
        ["--help"],
        ["--version"],
        ["info", "--help"],
        ["monitor", "--help"],
        ["scale", "--help"],
        ["produce", "--help"],
        ["tail", "--help"],
        ["dlq", "--help"],
        ["dlq", "list", "--help"],
        ["dlq", "replay", "--help"],
        ["dlq", "purge", "--help"],
        ["serve", "--help"],
        ["info", stream, "--url", good, "--help"]
      ]
      for (const args of helps) {
        const r = yield* run(args, { env: fromEnv })
        assert.strictEqual(r.code, 0, `${args.join(" ")}: ${r.stderr}`)
        assert.isAbove(r.stdout.trim().length, 0)
      }

      const found = [PASSWORD, encodeURIComponent(PASSWORD), WRONG].flatMap((s) => findSecret(env.printed, s))
      assert.deepStrictEqual(found, [])
      assert.isAbove(env.printed.join("").length, 5000, "the scan covered real output")
      yield* Acl.setUser(env.admin, "app", PASSWORD, ["~*", "+@all"])
    }))

  it.scoped("over TLS: rediss:// with the CA from NODE_EXTRA_CA_CERTS works; without it, a certificate problem", () =>
    Effect.gen(function*() {
      const certs = yield* certificates
      const server = yield* startTlsRedisServer(certs)
      const stream = uniqueKey("cli")
      const url = `rediss://127.0.0.1:${server.tlsPort}`
      const produce = yield* run(["produce", stream, "--field", "a=1", "--url", url], {
        env: { NODE_EXTRA_CA_CERTS: certs.caFile }
      })
      ok(produce, "produce over TLS")
      const info = yield* run(["info", stream, "--json", "--url", url], { env: { NODE_EXTRA_CA_CERTS: certs.caFile } })
      ok(info, "info over TLS")
      assert.strictEqual(JSON.parse(info.stdout).length, 1)
      const refused = yield* run(["info", stream, "--url", url])
      assert.strictEqual(refused.code, 1)
      assert.include(refused.stderr, "TLS certificate problem")
    }))

  it.scoped("over TLS with --tls-ca, and with a client certificate (--tls-cert, --tls-key) where the server requires one", () =>
    Effect.gen(function*() {
      const certs = yield* certificates
      const server = yield* startTlsRedisServer(certs)
      const stream = uniqueKey("cli")
      const url = `rediss://127.0.0.1:${server.tlsPort}`
      ok(yield* run(["produce", stream, "--field", "a=1", "--url", url, "--tls-ca", certs.caFile]), "produce with --tls-ca")
      const info = yield* run(["info", stream, "--json", "--url", url, "--tls-ca", certs.caFile])
      ok(info, "info with --tls-ca")
      assert.strictEqual(JSON.parse(info.stdout).length, 1)
      // a CA that signed nothing here: a certificate problem, one line, exit 1
      const wrong = yield* run(["info", stream, "--url", url, "--tls-ca", certs.otherCaFile])
      assert.strictEqual(wrong.code, 1)
      assert.include(wrong.stderr, "TLS certificate problem")

      const mutual = yield* startTlsRedisServer(certs, { authClients: true })
      const murl = `rediss://127.0.0.1:${mutual.tlsPort}`
      const withCert = yield* run([
        "produce", stream, "--field", "a=2", "--url", murl,
        "--tls-ca", certs.caFile, "--tls-cert", certs.clientCertFile, "--tls-key", certs.clientKeyFile
      ])
      ok(withCert, "produce with a client certificate")
      const withoutCert = yield* run(["info", stream, "--url", murl, "--tls-ca", certs.caFile])
      assert.strictEqual(withoutCert.code, 1, "refused without a client certificate")
      for (const r of [withCert, withoutCert, wrong]) {
        assert.notInclude(r.stdout + r.stderr, certs.clientKey.split("\n")[1]!, "the client key is never printed")
      }
    }))
})

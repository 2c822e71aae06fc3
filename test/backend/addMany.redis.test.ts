/**
 * The Redis backend's addMany sends each chunk as one EVAL of a Lua script
 * (internal/redisAddMany.ts: chunks of 250, 8 in flight) where the server
 * allows it, else pipelined XADD (chunks of 1,000, 4 in flight).
 * The shared suite (StreamsBackend.test.ts) and the differential test check
 * that the results are those of XADD on both backends; this file checks what
 * only Redis has: one EVAL per chunk, the entries that go in a pipeline
 * instead, and the fallback when scripts are refused (ACL, a server without
 * EVAL, a read-only replica), found once. Each test has a private server, so
 * command statistics and the ACL log are its own.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Logger, Redacted } from "effect"
import { RedisBackend, StreamsBackend, StreamsError } from "effect-redis-streams"
import type { Redis } from "ioredis"
import { rawClient, startRedisServer, uniqueKey } from "../src/Harness.js"

/** a backend on `url` (as `user` when given; password `pw-<user>`), closed with the test's scope */
const build = (url: string, user?: string) =>
  Effect.map(
    Layer.build(
      RedisBackend.layerRedis(
        user === undefined
          ? { url: Redacted.make(url) }
          : { url: Redacted.make(url), username: user, password: Redacted.make(`pw-${user}`) }
      )
    ),
    (context) => Context.get(context, StreamsBackend.StreamsBackend)
  )

/** calls of `command` so far (INFO commandstats; commands run by scripts count too) */
const calls = (raw: Redis, command: string) =>
  Effect.promise(async () => {
    const info = await raw.info("commandstats")
    return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0)
  })

/** how many times Redis refused `user` the command `command` (ACL LOG) */
const refusals = (raw: Redis, user: string, command: string) =>
  Effect.promise(async () => {
    const log = (await raw.call("ACL", "LOG", "128")) as ReadonlyArray<ReadonlyArray<unknown>>
    let count = 0
    for (const entry of log) {
      const m = new Map<string, unknown>()
      for (let i = 0; i + 1 < entry.length; i += 2) m.set(String(entry[i]), entry[i + 1])
      if (m.get("username") === user && m.get("object") === command) count += Number(m.get("count"))
    }
    return count
  })

const setUser = (raw: Redis, user: string, rules: ReadonlyArray<string>) =>
  Effect.promise(() => raw.call("ACL", "SETUSER", user, "reset", "on", `>pw-${user}`, ...rules))

const failure = <A, E>(self: Effect.Effect<A, E>) =>
  Effect.flatMap(Effect.exit(self), (exit) =>
    Exit.isFailure(exit) && exit.cause._tag === "Fail"
      ? Effect.succeed(exit.cause.error)
      : Effect.dieMessage(`expected a failure, got ${JSON.stringify(exit)}`))

/** entries `from`..`from + n - 1`, in order */
const numbered = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ["n", String(from + i)])

/** the `n` field of every entry of `stream`, in stream order, and its ids */
const stored = (backend: StreamsBackend.Service, stream: string) =>
  Effect.map(backend.range(stream), (entries) => ({
    ids: entries.map((e) => e.id),
    n: entries.map((e) => e.fields[1])
  }))

/** warnings logged while `self` runs */
const warningsOf = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const warnings: Array<string> = []
    const logger = Logger.make(({ logLevel, message }) => {
      if (logLevel._tag === "Warning") warnings.push(String(Array.isArray(message) ? message[0] : message))
    })
    const a = yield* self.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
    return [a, warnings] as const
  })

describe("RedisBackend addMany (a script per chunk)", () => {
  it.scopedLive("each chunk of 250 entries is one EVAL; the XADDs run inside it; ids in order", () =>
    Effect.gen(function*() {
      const server = yield* startRedisServer()
      const raw = yield* rawClient(server.url)
      const backend = yield* build(server.url)
      const stream = uniqueKey("script")
      const ids = yield* backend.addMany(stream, numbered(2500), { trim: { strategy: "maxlen", threshold: 2000 } })
      assert.strictEqual(yield* calls(raw, "eval"), 10)
      assert.strictEqual(yield* calls(raw, "xadd"), 2500)
      const s = yield* stored(backend, stream)
      // trimmed after every add, as XADD MAXLEN does
      assert.deepStrictEqual(s.ids, ids.slice(500))
      assert.deepStrictEqual(s.n, numbered(2000, 500).map((f) => f[1]))
    }))

  it.scopedLive("a chunk ends at about 1 MiB of fields (6 entries of 400 KB: chunks of 3)", () =>
    Effect.gen(function*() {
      const server = yield* startRedisServer()
      const raw = yield* rawClient(server.url)
      const backend = yield* build(server.url)
      const stream = uniqueKey("big")
      const entries = Array.from({ length: 6 }, (_, i) => ["n", String(i), "pad", "x".repeat(400_000)])
      const ids = yield* backend.addMany(stream, entries)
      assert.strictEqual(yield* calls(raw, "eval"), 2)
      const s = yield* stored(backend, stream)
      assert.deepStrictEqual(s.ids, ids)
      assert.deepStrictEqual(s.n, ["0", "1", "2", "3", "4", "5"])
    }))

  it.scopedLive("entries a script cannot add as XADD would go in a pipeline: Redis's own arity error, 5,000 fields", () =>
    Effect.gen(function*() {
      const server = yield* startRedisServer()
      const raw = yield* rawClient(server.url)
      const backend = yield* build(server.url)
      const stream = uniqueKey("odd")
      // chunk 1 (250 entries) holds an odd field list (a pipeline), chunk 2 is plain (a script)
      const batch = numbered(500).map((f, i) => i === 10 ? ["lonely"] : f)
      const error = yield* failure(backend.addMany(stream, batch))
      assert.strictEqual(error._tag, "RedisCommandError")
      if (error._tag === "RedisCommandError") {
        assert.strictEqual(error.command, "XADD")
        assert.strictEqual(error.reply, "ERR wrong number of arguments for 'xadd' command")
      }
      assert.strictEqual(yield* calls(raw, "eval"), 1)
      assert.strictEqual(yield* backend.length(stream), 499)
      // more field names and values than Lua's unpack takes: a pipeline, added whole
      const wide = Array.from({ length: 5000 }, (_, i) => String(i))
      const [id] = yield* backend.addMany(stream, [wide])
      assert.deepStrictEqual((yield* backend.range(stream, { start: id!, end: id! }))[0]!.fields, wide)
      assert.strictEqual(yield* calls(raw, "eval"), 1)
    }))

  it.scopedLive("without +eval (ACL): pipelined XADD, the refusal found once and logged once", () =>
    Effect.gen(function*() {
      const server = yield* startRedisServer()
      const raw = yield* rawClient(server.url)
      const user = "producer"
      const stream = uniqueKey("acl")
      yield* setUser(raw, user, [`~${stream}`, "+xadd", "+info"])
      const backend = yield* build(server.url, user)
      const [ids, warnings] = yield* warningsOf(
        Effect.zip(backend.addMany(stream, numbered(2500)), backend.addMany(stream, numbered(2500, 2500)))
      )
      assert.strictEqual(yield* refusals(raw, user, "eval"), 1, "EVAL tried once")
      assert.strictEqual(warnings.length, 1, warnings.join("\n"))
      assert.include(warnings[0], "refuses scripts")
      assert.include(warnings[0], "+eval")
      const all = yield* Effect.promise(() => raw.xrange(stream, "-", "+"))
      assert.deepStrictEqual(all.map((e) => e[0]), [...ids[0], ...ids[1]])
      assert.deepStrictEqual(all.map((e) => e[1][1]), numbered(5000).map((f) => f[1]))
    }))

  it.scopedLive("+eval but not the key, or not +xadd: PermissionDenied naming XADD, as with pipelined XADD; scripts stay on", () =>
    Effect.gen(function*() {
      const server = yield* startRedisServer()
      const raw = yield* rawClient(server.url)
      const stream = uniqueKey("ok")
      const other = uniqueKey("other")
      yield* setUser(raw, "writer", [`~${stream}`, "+xadd", "+eval", "+info"])
      yield* setUser(raw, "scripter", [`~${stream}`, "+eval", "+info"])
      const writer = yield* build(server.url, "writer")
      const key = yield* failure(writer.addMany(other, numbered(3)))
      assert.instanceOf(key, StreamsError.PermissionDenied)
      if (key._tag === "PermissionDenied") {
        assert.deepStrictEqual([key.command, key.key, key.denied], ["XADD", other, "key"])
      }
      // the key's refusal did not turn scripts off
      const before = yield* calls(raw, "eval")
      yield* writer.addMany(stream, numbered(3))
      assert.strictEqual(yield* calls(raw, "eval"), before + 1)

      const scripter = yield* build(server.url, "scripter")
      const command = yield* failure(scripter.addMany(stream, numbered(3)))
      assert.instanceOf(command, StreamsError.PermissionDenied)
      if (command._tag === "PermissionDenied") {
        assert.deepStrictEqual([command.command, command.key, command.denied], ["XADD", stream, "command"])
      }
      assert.strictEqual(yield* backendLength(raw, stream), 3)
    }))

  it.scopedLive("a server without EVAL (renamed away, as behind a proxy without scripting): pipelined XADD", () =>
    Effect.gen(function*() {
      const server = yield* startRedisServer({ args: ["--rename-command", "EVAL", ""] })
      const raw = yield* rawClient(server.url)
      const backend = yield* build(server.url)
      const stream = uniqueKey("noeval")
      const [ids, warnings] = yield* warningsOf(backend.addMany(stream, numbered(4500)))
      assert.strictEqual(warnings.length, 1)
      assert.include(warnings[0], "unknown command")
      const s = yield* stored(backend, stream)
      assert.deepStrictEqual(s.ids, ids)
      assert.deepStrictEqual(s.n, numbered(4500).map((f) => f[1]))
      assert.strictEqual(yield* calls(raw, "xadd"), 4500)
    }))

  it.scopedLive("on a read-only replica addMany fails as pipelined XADD does (READONLY), the same typed error as add", () =>
    Effect.gen(function*() {
      const primary = yield* startRedisServer()
      const replica = yield* startRedisServer({ args: ["--replicaof", "127.0.0.1", String(primary.port)] })
      const backend = yield* build(replica.url)
      const stream = uniqueKey("replica")
      const one = yield* failure(backend.add(stream, ["n", "1"]))
      const many = yield* failure(backend.addMany(stream, numbered(1500)))
      assert.strictEqual(many._tag, one._tag)
      assert.include(many.message, "READONLY")
      // nothing was added
      const raw = yield* rawClient(replica.url)
      assert.strictEqual(yield* backendLength(raw, stream), 0)
    }))
})

const backendLength = (raw: Redis, stream: string) => Effect.promise(() => raw.xlen(stream))

/**
 * `add` (internal/redisAddCoalesce.ts): single adds made in the same tick leave together, as one
 * EVAL of the same script per run of adds with the same stream and options; a lone add is a plain
 * XADD. Each add gets its own id or its own error, in call order.
 */
describe("RedisBackend add (adds made together)", () => {
  it.scopedLive("500 adds made at once: each its own id, in call order, in a few EVALs; a lone add is one XADD", () =>
    Effect.gen(function*() {
      const server = yield* startRedisServer()
      const raw = yield* rawClient(server.url)
      const backend = yield* build(server.url)
      const stream = uniqueKey("together")
      const ids = yield* Effect.forEach(numbered(500), (f) => backend.add(stream, f), { concurrency: "unbounded" })
      const s = yield* stored(backend, stream)
      assert.deepStrictEqual(s.ids, ids)
      assert.deepStrictEqual(s.n, numbered(500).map((f) => f[1]))
      assert.strictEqual(yield* calls(raw, "xadd"), 500)
      const evals = yield* calls(raw, "eval")
      // groups of at most 250 (SCRIPT_CHUNK); how the fibers' starts fall into ticks is the runtime's
      assert.isAtLeast(evals, 2)
      assert.isAtMost(evals, 10)
      // one add at a time: plain XADDs, no script
      for (const f of numbered(3, 500)) yield* backend.add(stream, f)
      assert.strictEqual(yield* calls(raw, "eval"), evals)
      assert.strictEqual(yield* calls(raw, "xadd"), 503)
    }))

  it.scopedLive("one tick, several streams and options: each add its own result; order kept per stream", () =>
    Effect.gen(function*() {
      const server = yield* startRedisServer()
      const backend = yield* build(server.url)
      const stream = uniqueKey("mixed")
      const missing = uniqueKey("missing")
      const adds: ReadonlyArray<Effect.Effect<string, StreamsError.BackendError>> = [
        backend.add(stream, ["n", "0"]),
        backend.add(stream, ["n", "1"]),
        backend.add(missing, ["n", "x"], { noMkStream: true }),
        backend.add(stream, ["n", "2"], { trim: { strategy: "maxlen", threshold: 100 } }),
        backend.add(stream, ["n", "3"], { id: "1-1" }),
        backend.add(stream, ["n", "4"]),
        backend.add(missing, ["n", "y"], { noMkStream: true }),
        backend.add(stream, ["odd"]),
        backend.add(stream, ["n", "5"])
      ]
      const results = yield* Effect.forEach(adds, Effect.either, { concurrency: "unbounded" })
      const tags = results.map((r) => (r._tag === "Right" ? "id" : r.left._tag))
      assert.deepStrictEqual(tags, [
        "id",
        "id",
        "StreamNotFound",
        "id",
        // an id lower than the stream's top: XADD's own error, for this add only
        "RedisCommandError",
        "id",
        "StreamNotFound",
        // an odd field list: Redis's arity error, for this add only
        "RedisCommandError",
        "id"
      ])
      const s = yield* stored(backend, stream)
      assert.deepStrictEqual(s.n, ["0", "1", "2", "4", "5"])
      assert.deepStrictEqual(s.ids, results.flatMap((r) => (r._tag === "Right" ? [r.right] : [])))
      assert.strictEqual(yield* backend.length(missing).pipe(Effect.orElseSucceed(() => 0)), 0)
    }))

  it.scopedLive("without +eval (ACL): adds made together are XADDs, the refusal found once and logged once", () =>
    Effect.gen(function*() {
      const server = yield* startRedisServer()
      const raw = yield* rawClient(server.url)
      const user = "adder"
      const stream = uniqueKey("acl-add")
      yield* setUser(raw, user, [`~${stream}`, "+xadd", "+info"])
      const backend = yield* build(server.url, user)
      const together = (from: number) =>
        Effect.forEach(numbered(300, from), (f) => backend.add(stream, f), { concurrency: "unbounded" })
      const [ids, warnings] = yield* warningsOf(Effect.zip(together(0), together(300)))
      assert.strictEqual(yield* refusals(raw, user, "eval"), 1, "EVAL tried once")
      assert.strictEqual(warnings.length, 1, warnings.join("\n"))
      assert.include(warnings[0], "refuses scripts")
      const all = yield* Effect.promise(() => raw.xrange(stream, "-", "+"))
      assert.deepStrictEqual(all.map((e) => e[0]), [...ids[0], ...ids[1]])
      assert.deepStrictEqual(all.map((e) => e[1][1]), numbered(600).map((f) => f[1]))
    }))
})

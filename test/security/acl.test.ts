/**
 * ACL: each component runs under a user holding exactly the minimal rule
 * documented for it (see ./acl.ts), against a private redis-server; ACL LOG
 * proves that nothing else was needed. A missing permission is a typed
 * `PermissionDenied` naming the command and the key, refused once (ACL LOG
 * count 1), never retried in a loop.
 */
import { assert, layer } from "@effect/vitest"
import { Cause, Context, Duration, Effect, Exit, Layer, Redacted, Stream } from "effect"
import { Consumer, Monitor, Producer, RedisBackend, Scaler, StreamsBackend, StreamsError } from "effect-redis-streams"
import { Redis } from "ioredis"
import { startRedisServer, testLogLevel, uniqueKey } from "../src/Harness.js"
import * as Acl from "./acl.js"
import { type Backend, consume, dlqOf, everyComponent, produce } from "./scenario.js"

class Server extends Context.Tag("test/AclServer")<Server, {
  readonly url: string
  readonly admin: Redis
  /** a backend logged in as `user` (password: `pw-<user>`) */
  readonly as: (user: string) => Backend
  /** create `user` with exactly `rules` */
  readonly user: (user: string, rules: ReadonlyArray<string>) => Effect.Effect<void>
}>() {}

const serverLayer = Layer.scoped(
  Server,
  Effect.gen(function*() {
    const server = yield* startRedisServer()
    const admin = yield* Effect.acquireRelease(
      Effect.sync(() => new Redis(server.url)),
      (r) => Effect.promise(() => r.quit())
    )
    const url = server.url
    return {
      url,
      admin,
      as: (user: string) =>
        RedisBackend.layerRedis({ url: Redacted.make(url), username: user, password: Redacted.make(`pw-${user}`) }),
      user: (user: string, rules: ReadonlyArray<string>) => Effect.asVoid(Acl.setUser(admin, user, `pw-${user}`, rules))
    }
  })
)

/** run `effect` and return its typed failure */
const failureOf = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(effect)
    if (Exit.isSuccess(exit)) return assert.fail("expected a failure")
    const failure = Cause.failureOption(exit.cause)
    if (failure._tag === "None") return assert.fail(`expected a typed failure, got ${Cause.pretty(exit.cause)}`)
    return failure.value
  })

const assertDenied = (
  error: unknown,
  expected: { readonly command: string; readonly key: string; readonly denied: "command" | "key" }
) => {
  assert.instanceOf(error, StreamsError.PermissionDenied)
  const e = error as StreamsError.PermissionDenied
  assert.strictEqual(e.command, expected.command)
  assert.strictEqual(e.key, expected.key)
  assert.strictEqual(e.denied, expected.denied)
  assert.include(e.message, `'${expected.key}'`)
  assert.include(e.message, "refused by ACL")
  return e
}

layer(Layer.merge(serverLayer, testLogLevel), { excludeTestServices: true, timeout: "120 seconds" })("ACL", (it) => {
  it.scoped("every component works under exactly its minimal rule; Redis refused nothing it needed", () =>
    Effect.gen(function*() {
      const { admin, as, user } = yield* Server
      const stream = uniqueKey("acl")
      const dlq = dlqOf(stream)
      const users = {
        producer: uniqueKey("producer"),
        consumer: uniqueKey("consumer"),
        monitor: uniqueKey("monitor"),
        scaler: uniqueKey("scaler")
      }
      yield* user(users.producer, Acl.producer(stream))
      yield* user(users.consumer, Acl.consumer(stream, dlq))
      yield* user(users.monitor, Acl.monitor(stream, dlq))
      yield* user(users.scaler, Acl.scaler(stream))
      const result = yield* everyComponent(stream, (component) => as(users[component]))

      assert.strictEqual(result.consumed.handled.length, 19)
      const group = result.monitored.report.groups[0]!
      // the worker left the group on shutdown (delete-if-idle script under the consumer's user)
      assert.deepStrictEqual(group.consumers.map((c) => c.name).sort(), ["alive", "crashed"])
      assert.strictEqual(group.deadLetters, 1)
      assert.strictEqual(result.monitored.cleanup.claimed, 3)
      assert.strictEqual(result.monitored.cleanup.deleted, 1)
      assert.strictEqual(result.decision.pending, 3)
      assert.strictEqual(yield* Effect.promise(() => admin.xlen(dlq)), 1)

      for (const name of Object.values(users)) {
        const refused = yield* Acl.denials(admin, name)
        if (process.env["SHOW_ERRORS"]) console.log(name, JSON.stringify(refused.map((d) => [d.object, d.count])))
        assert.deepStrictEqual(Acl.unexpected(refused), [], `${name}: ${JSON.stringify(refused)}`)
      }
    }))

  it.scoped("with the optional permissions (+info +client|id +client|unblock +eval) Redis refuses nothing at all", () =>
    Effect.gen(function*() {
      const { admin, as, user } = yield* Server
      const stream = uniqueKey("acl")
      const dlq = dlqOf(stream)
      const users = {
        producer: uniqueKey("producer"),
        consumer: uniqueKey("consumer"),
        monitor: uniqueKey("monitor"),
        scaler: uniqueKey("scaler")
      }
      yield* user(users.producer, [...Acl.producer(stream), ...Acl.optional])
      yield* user(users.consumer, [...Acl.consumer(stream, dlq), ...Acl.optional])
      yield* user(users.monitor, [...Acl.monitor(stream, dlq), ...Acl.optional])
      yield* user(users.scaler, [...Acl.scaler(stream), ...Acl.optional])
      const result = yield* everyComponent(stream, (component) => as(users[component]))
      assert.strictEqual(result.consumed.handled.length, 19)
      assert.isBelow(result.consumed.interruptMs, 1000)
      for (const name of Object.values(users)) {
        assert.deepStrictEqual(yield* Acl.denials(admin, name), [], name)
      }
    }))

  it.scoped("Consumer with deleteOnAck: MULTI, EXEC and XDEL added to its rule", () =>
    Effect.gen(function*() {
      const { admin, as, user } = yield* Server
      const stream = uniqueKey("acl")
      const name = uniqueKey("consumer")
      yield* user(name, Acl.consumer(stream, dlqOf(stream), { deleteOnAck: true }))
      yield* Effect.promise(() => admin.xadd(stream, "*", "n", "1"))
      const got = yield* Effect.scoped(Effect.gen(function*() {
        const c = yield* Consumer.make({ stream, group: "g", batchSize: 5, maxWait: "50 millis", deleteOnAck: true })
        return yield* c.batches.pipe(
          Stream.take(1),
          Stream.mapEffect((b) => Effect.as(b.ack, b.messages.length)),
          Stream.runHead
        )
      })).pipe(Effect.provide(as(name)))
      assert.deepStrictEqual(got._tag === "Some" ? got.value : 0, 1)
      assert.strictEqual(yield* Effect.promise(() => admin.xlen(stream)), 0)
      assert.deepStrictEqual(Acl.unexpected(yield* Acl.denials(admin, name)), [])
    }))

  it.scoped("Monitor with the report-only rule (read-only keys): report works, cleanup is PermissionDenied(XCLAIM)", () =>
    Effect.gen(function*() {
      const { admin, as, user } = yield* Server
      const stream = uniqueKey("acl")
      const name = uniqueKey("monitor")
      yield* user(name, Acl.monitorReport(stream, dlqOf(stream)))
      yield* Effect.promise(() => admin.xgroup("CREATE", stream, "g", "0", "MKSTREAM"))
      yield* Effect.promise(() => admin.xadd(stream, "*", "n", "1"))
      yield* Effect.promise(() => admin.xreadgroup("GROUP", "g", "gone", "COUNT", "1", "STREAMS", stream, ">"))
      yield* Effect.sleep(Duration.millis(600))
      yield* Effect.promise(() => admin.call("XGROUP", "CREATECONSUMER", stream, "g", "alive"))
      yield* Effect.scoped(Effect.gen(function*() {
        const m = yield* Monitor.make({ stream, idleThreshold: "500 millis", claimIdle: 0 })
        const report = yield* m.report
        assert.strictEqual(report.groups[0]!.pending, 1)
        assert.deepStrictEqual((yield* m.cleanup({ dryRun: true })).consumers.map((c) => c.outcome), ["WOULD_DELETE"])
        const error = yield* failureOf(m.cleanup())
        assertDenied(error, { command: "XCLAIM", key: stream, denied: "command" })
      })).pipe(Effect.provide(as(name)))
      // the entry is still pending under "gone"
      const pending = (yield* Effect.promise(() => admin.xpending(stream, "g"))) as [number, ...Array<unknown>]
      assert.strictEqual(pending[0], 1)
    }))

  it.scoped("a Consumer not allowed XACK: PermissionDenied(XACK, stream) once, no retry loop, nothing lost", () =>
    Effect.gen(function*() {
      const { admin, as, user } = yield* Server
      const stream = uniqueKey("acl")
      const name = uniqueKey("consumer")
      yield* user(name, Acl.consumer(stream, dlqOf(stream)).filter((r) => r !== "+xack"))
      yield* Effect.promise(() => admin.xadd(stream, "*", "n", "1"))
      yield* Effect.promise(() => admin.xadd(stream, "*", "n", "2"))
      const started = Date.now()
      const error = yield* failureOf(
        Effect.scoped(Effect.flatMap(
          Consumer.make({ stream, group: "g", consumer: "c", batchSize: 10, maxWait: "50 millis" }),
          (c) => c.process(() => Effect.void)
        )).pipe(Effect.provide(as(name)))
      )
      assert.isBelow(Date.now() - started, 5000)
      const e = assertDenied(error, { command: "XACK", key: stream, denied: "command" })
      assert.include(e.message, "+xack")
      assert.match(e.reply, /^NOPERM/)
      const refused = (yield* Acl.denials(admin, name)).filter((d) => d.object === "xack")
      assert.strictEqual(refused.length, 1)
      assert.strictEqual(refused[0]!.count, 1, "XACK was sent once: a permission error is not retried")
      // both entries stay pending under "c": redelivered once the permission is granted
      const pending = (yield* Effect.promise(() => admin.xpending(stream, "g"))) as [number, ...Array<unknown>]
      assert.strictEqual(pending[0], 2)
    }))

  it.scoped("a Consumer whose user may not write its dead-letter stream: PermissionDenied(XADD, dlq key), entry kept", () =>
    Effect.gen(function*() {
      const { admin, as, user } = yield* Server
      const stream = uniqueKey("acl")
      const dlq = dlqOf(stream)
      const name = uniqueKey("consumer")
      // XADD allowed, but only on the keys of the root rule (the stream), not on the dead-letter stream
      yield* user(name, [...Acl.consumer(stream, dlq).filter((r) => !r.startsWith("(")), "+xadd"])
      const ids = yield* Effect.provide(produce(stream, 3, 1), as("default"))
      const error = yield* failureOf(Effect.provide(consume(stream, "g", 3), as(name)))
      assertDenied(error, { command: "XADD", key: dlq, denied: "key" })
      // process failed with the batch (handlers run one at a time): the first message, handled, was acknowledged;
      // the poison one and the one after it stay pending; nothing is lost
      const pending = (yield* Effect.promise(() => admin.xpending(stream, "g", "-", "+", 10))) as Array<[string, ...Array<unknown>]>
      assert.deepStrictEqual(pending.map((p) => p[0]), ids.slice(1))
      assert.strictEqual(yield* Effect.promise(() => admin.xlen(dlq)), 0)
    }))

  it.scoped("a Producer writing outside its key pattern: PermissionDenied(XADD, key) naming the key", () =>
    Effect.gen(function*() {
      const { as, user } = yield* Server
      const stream = uniqueKey("acl")
      const other = `${stream}:other`
      const name = uniqueKey("producer")
      yield* user(name, Acl.producer(stream))
      const error = yield* failureOf(
        Effect.flatMap(Producer.make({ stream: other }), (p) => p.add({ a: "1" })).pipe(Effect.provide(as(name)))
      )
      const e = assertDenied(error, { command: "XADD", key: other, denied: "key" })
      assert.include(e.message, `~${other}`)
      // and a batch (pipelined) the same way
      const batch = yield* failureOf(
        Effect.flatMap(Producer.make({ stream: other }), (p) => p.addAll([{ a: "1" }, { a: "2" }])).pipe(
          Effect.provide(as(name))
        )
      )
      assertDenied(batch, { command: "XADD", key: other, denied: "key" })
    }))

  it.scoped("a Scaler without XINFO STREAM: PermissionDenied names XINFO STREAM", () =>
    Effect.gen(function*() {
      const { admin, as, user } = yield* Server
      const stream = uniqueKey("acl")
      const name = uniqueKey("scaler")
      yield* user(name, Acl.scaler(stream).filter((r) => r !== "+xinfo|stream"))
      yield* Effect.promise(() => admin.xgroup("CREATE", stream, "g", "$", "MKSTREAM"))
      const error = yield* failureOf(
        Effect.scoped(Effect.flatMap(Scaler.make({ stream, group: "g" }), (s) => s.decide)).pipe(
          Effect.provide(as(name))
        )
      )
      const e = assertDenied(error, { command: "XINFO STREAM", key: stream, denied: "command" })
      assert.include(e.message, "+xinfo|stream")
    }))

  it.scoped("the delete-if-idle script without XGROUP DELCONSUMER: PermissionDenied for the script", () =>
    Effect.gen(function*() {
      const { admin, as, user } = yield* Server
      const stream = uniqueKey("acl")
      const name = uniqueKey("consumer")
      yield* user(name, Acl.consumer(stream, dlqOf(stream)).filter((r) => r !== "+xgroup|delconsumer"))
      yield* Effect.promise(() => admin.xgroup("CREATE", stream, "g", "$", "MKSTREAM"))
      yield* Effect.promise(() => admin.call("XGROUP", "CREATECONSUMER", stream, "g", "c"))
      const error = yield* failureOf(
        Effect.flatMap(StreamsBackend.StreamsBackend, (b) => b.deleteConsumerIfIdle(stream, "g", "c")).pipe(
          Effect.provide(as(name))
        )
      )
      const e = assertDenied(error, { command: "XGROUP DELCONSUMER if idle (script)", key: stream, denied: "command" })
      assert.include(e.message, "one of the commands of the script")
    }))
})

/**
 * Behaviour only the in-memory backend has: time from TestClock (ids, idle
 * times, blocking timeouts), blocking reads woken by adds on the same store,
 * the store hooks and fault injection. Expected values that depend on Redis
 * semantics were checked against redis-server 7.0.15.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Fiber, Layer, Option, Scope, TestClock } from "effect"
import { InMemoryBackend, StreamsBackend, StreamsError } from "effect-redis-streams"
import { randomUUID } from "node:crypto"

const key = (prefix = "s") => `${prefix}-${randomUUID().slice(0, 8)}`

/** wait until `n` readers are blocked on `stream` and their timeouts are registered with the TestClock */
const untilBlocked = (store: InMemoryBackend.Store, stream: string, n = 1) =>
  Effect.gen(function*() {
    for (let i = 0; i < 10_000; i++) {
      const blocked = yield* store.blockedReaders(stream)
      const sleeps = yield* TestClock.sleeps()
      if (blocked >= n && sleeps.length >= n) return
      yield* Effect.yieldNow()
    }
    return yield* Effect.dieMessage(`no reader blocked on ${stream}`)
  })

const settle = Effect.gen(function*() {
  for (let i = 0; i < 20; i++) yield* Effect.yieldNow()
})

const connectionError = (message: string) => new StreamsError.RedisConnectionError({ endpoint: "memory", message })

describe("InMemoryBackend", () => {
  it.effect("reports kind memory and the emulated server version", () =>
    Effect.gen(function*() {
      const backend = yield* InMemoryBackend.make
      assert.strictEqual(backend.kind, "memory")
      assert.strictEqual(backend.serverVersion, "7.0.15")
    }))

  it.effect("layer provides the port and the store over one fresh keyspace per build", () =>
    Effect.gen(function*() {
      const s = key()
      const first = yield* Layer.build(InMemoryBackend.layer)
      const second = yield* Layer.build(InMemoryBackend.layer)
      yield* Context.get(first, StreamsBackend.StreamsBackend).add(s, ["f", "v"])
      assert.deepStrictEqual(yield* Context.get(first, InMemoryBackend.InMemoryStore).keys, [s])
      assert.deepStrictEqual(yield* Context.get(second, InMemoryBackend.InMemoryStore).keys, [])
      assert.strictEqual(yield* Context.get(second, StreamsBackend.StreamsBackend).length(s), 0)
    }).pipe(Effect.scoped))

  describe("time from the Clock", () => {
    it.effect("generated ids take the TestClock's milliseconds", () =>
      Effect.gen(function*() {
        const backend = yield* InMemoryBackend.make
        const s = key()
        // TestClock starts at 0, so the first id is 0-1, as Redis would give at mstime() 0
        assert.strictEqual(yield* backend.add(s, ["n", "1"]), "0-1")
        yield* TestClock.adjust("10 millis")
        assert.strictEqual(yield* backend.add(s, ["n", "2"]), "10-0")
        assert.strictEqual(yield* backend.add(s, ["n", "3"]), "10-1")
        assert.deepStrictEqual(yield* backend.addMany(s, [["n", "4"], ["n", "5"]]), ["10-2", "10-3"])
        yield* TestClock.adjust("1 second")
        assert.strictEqual(yield* backend.add(s, ["n", "6"]), "1010-0")
      }))

    it.effect("a clock that goes back keeps the last millisecond and increments the sequence", () =>
      Effect.gen(function*() {
        const backend = yield* InMemoryBackend.make
        const s = key()
        yield* TestClock.setTime(5000)
        assert.strictEqual(yield* backend.add(s, ["n", "1"]), "5000-0")
        yield* TestClock.setTime(4000)
        assert.strictEqual(yield* backend.add(s, ["n", "2"]), "5000-1")
        assert.strictEqual(yield* backend.add(s, ["n", "3"], { id: "5000-*" }), "5000-2")
        yield* TestClock.setTime(6000)
        assert.strictEqual(yield* backend.add(s, ["n", "4"]), "6000-0")
      }))

    it.effect("idle times and delivery times grow with TestClock.adjust", () =>
      Effect.gen(function*() {
        const backend = yield* InMemoryBackend.make
        const s = key()
        yield* backend.createGroup(s, "g", { id: "0", mkStream: true })
        yield* backend.addMany(s, [["n", "1"], ["n", "2"]])
        const read = yield* backend.readGroup({ stream: s, group: "g", consumer: "c1", id: ">" })
        assert.strictEqual(read.length, 2)
        yield* TestClock.adjust("5 seconds")
        assert.deepStrictEqual(yield* backend.consumersInfo(s, "g"), [
          { name: "c1", pending: 2, idleMs: 5000, inactiveMs: null }
        ])
        assert.deepStrictEqual(
          (yield* backend.pending({ stream: s, group: "g", count: 10 })).map((p) => [p.idleMs, p.deliveries]),
          [[5000, 1], [5000, 1]]
        )
        // Redis 7.0: a ">" read that returns nothing does not refresh the consumer's seen-time
        assert.deepStrictEqual(yield* backend.readGroup({ stream: s, group: "g", consumer: "c1", id: ">" }), [])
        assert.strictEqual((yield* backend.consumersInfo(s, "g"))[0]!.idleMs, 5000)
        // the IDLE filter
        yield* TestClock.adjust("1 second")
        assert.strictEqual((yield* backend.pending({ stream: s, group: "g", count: 10, minIdleMs: 6001 })).length, 0)
        assert.strictEqual((yield* backend.pending({ stream: s, group: "g", count: 10, minIdleMs: 6000 })).length, 2)
        // re-reading its own pending entries refreshes both
        yield* backend.readGroup({ stream: s, group: "g", consumer: "c1", id: "0", count: 1 })
        assert.strictEqual((yield* backend.consumersInfo(s, "g"))[0]!.idleMs, 0)
        assert.deepStrictEqual(
          (yield* backend.pending({ stream: s, group: "g", count: 10 })).map((p) => [p.idleMs, p.deliveries]),
          [[0, 2], [6000, 1]]
        )
        // claiming needs the entry to be idle long enough; a claim of nothing does not create the consumer
        assert.deepStrictEqual(
          yield* backend.claim({ stream: s, group: "g", consumer: "c2", minIdleMs: 7000, ids: ["0-1", "0-2"] }),
          []
        )
        assert.deepStrictEqual((yield* backend.consumersInfo(s, "g")).map((c) => c.name), ["c1"])
        yield* TestClock.adjust("1 second")
        const claimed = yield* backend.autoClaim({ stream: s, group: "g", consumer: "c2", minIdleMs: 7000, start: "0-0" })
        assert.deepStrictEqual(claimed, { next: "0-0", entries: [{ id: "0-2", fields: ["n", "2"] }], deleted: [] })
        assert.deepStrictEqual(yield* backend.consumersInfo(s, "g"), [
          { name: "c1", pending: 1, idleMs: 1000, inactiveMs: null },
          { name: "c2", pending: 1, idleMs: 0, inactiveMs: null }
        ])
        assert.deepStrictEqual(
          (yield* backend.pending({ stream: s, group: "g", count: 10 })).map((p) => [p.id, p.consumer, p.idleMs, p.deliveries]),
          [["0-1", "c1", 1000, 2], ["0-2", "c2", 0, 2]]
        )
      }))

    it.effect("deleteConsumerIfIdle compares the consumer's idle time with the TestClock", () =>
      Effect.gen(function*() {
        const backend = yield* InMemoryBackend.make
        const s = key()
        yield* backend.createGroup(s, "g", { id: "$", mkStream: true })
        yield* backend.createConsumer(s, "g", "c")
        yield* TestClock.adjust("2 seconds")
        assert.deepStrictEqual(yield* backend.deleteConsumerIfIdle(s, "g", "c", { minIdleMs: 3000 }), {
          deleted: false,
          pending: 0,
          idleMs: 2000
        })
        yield* TestClock.adjust("1 second")
        assert.deepStrictEqual(yield* backend.deleteConsumerIfIdle(s, "g", "c", { minIdleMs: 3000 }), {
          deleted: true,
          pending: 0,
          idleMs: 3000
        })
        assert.deepStrictEqual(yield* backend.deleteConsumerIfIdle(s, "g", "c"), {
          deleted: false,
          pending: 0,
          idleMs: null
        })
      }))
  })

  describe("blocking reads", () => {
    it.scoped("are woken by an add on the same store before their timeout", () =>
      Effect.gen(function*() {
        const backend = yield* InMemoryBackend.make
        const s = key()
        yield* backend.createGroup(s, "g", { id: "$", mkStream: true })
        const reader = yield* backend.blockingReader
        const fiber = yield* Effect.fork(
          reader.readGroup({ stream: s, group: "g", consumer: "c", id: ">", blockMs: 5000 })
        )
        yield* untilBlocked(backend, s)
        yield* TestClock.adjust("4999 millis")
        const id = yield* backend.add(s, ["n", "1"])
        assert.deepStrictEqual(yield* Fiber.join(fiber), [{ id, fields: ["n", "1"] }])
        assert.strictEqual(yield* backend.blockedReaders(), 0)
        assert.deepStrictEqual((yield* backend.groupsInfo(s))[0], {
          name: "g",
          consumers: 1,
          pending: 1,
          lastDeliveredId: id,
          entriesRead: 1,
          lag: 0
        })
      }))

    it.scoped("return [] after exactly blockMs of TestClock, without creating the consumer", () =>
      Effect.gen(function*() {
        const backend = yield* InMemoryBackend.make
        const s = key()
        yield* backend.createGroup(s, "g", { id: "$", mkStream: true })
        const reader = yield* backend.blockingReader
        const fiber = yield* Effect.fork(
          reader.readGroup({ stream: s, group: "g", consumer: "c", id: ">", blockMs: 1000 })
        )
        yield* untilBlocked(backend, s)
        yield* TestClock.adjust("999 millis")
        yield* settle
        assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)), "still blocked at 999 ms")
        yield* TestClock.adjust("1 millis")
        assert.deepStrictEqual(yield* Fiber.join(fiber), [])
        assert.strictEqual(yield* backend.blockedReaders(s), 0)
        // as Redis 7.0: a read that timed out did not create its consumer
        assert.deepStrictEqual(yield* backend.consumersInfo(s, "g"), [])
        // an add after the timeout is left for the next read
        yield* backend.add(s, ["n", "1"])
        assert.strictEqual((yield* backend.pendingSummary(s, "g")).count, 0)
      }))

    it.scoped("do not block when there is something to read, nor for an explicit id", () =>
      Effect.gen(function*() {
        const backend = yield* InMemoryBackend.make
        const s = key()
        yield* backend.createGroup(s, "g", { id: "0", mkStream: true })
        const reader = yield* backend.blockingReader
        assert.deepStrictEqual(yield* reader.readGroup({ stream: s, group: "g", consumer: "c", id: "0", blockMs: 1000 }), [])
        const id = yield* backend.add(s, ["n", "1"])
        assert.deepStrictEqual(
          yield* reader.readGroup({ stream: s, group: "g", consumer: "c", id: ">", blockMs: 1000 }),
          [{ id, fields: ["n", "1"] }]
        )
      }))

    it.scoped("blocked readers are served in the order they blocked, one XADD of a batch at a time", () =>
      Effect.gen(function*() {
        const backend = yield* InMemoryBackend.make
        const s = key()
        yield* backend.createGroup(s, "g", { id: "$", mkStream: true })
        const a = yield* backend.blockingReader
        const b = yield* backend.blockingReader
        const fa = yield* Effect.fork(a.readGroup({ stream: s, group: "g", consumer: "a", id: ">", blockMs: 5000, count: 10 }))
        yield* untilBlocked(backend, s, 1)
        const fb = yield* Effect.fork(b.readGroup({ stream: s, group: "g", consumer: "b", id: ">", blockMs: 5000, count: 10 }))
        yield* untilBlocked(backend, s, 2)
        // addMany is a pipeline: Redis serves blocked clients after each XADD of it
        const ids = yield* backend.addMany(s, [["n", "1"], ["n", "2"], ["n", "3"]])
        assert.deepStrictEqual((yield* Fiber.join(fa)).map((e) => e.id), [ids[0]])
        assert.deepStrictEqual((yield* Fiber.join(fb)).map((e) => e.id), [ids[1]])
        assert.strictEqual((yield* backend.groupsInfo(s))[0]!.lastDeliveredId, ids[1])
      }))

    it.scoped("fail like Redis 7.0 when the stream is deleted or replaced, or the group destroyed", () =>
      Effect.gen(function*() {
        const backend = yield* InMemoryBackend.make
        const block = (s: string) =>
          Effect.gen(function*() {
            yield* backend.createGroup(s, "g", { id: "$", mkStream: true })
            const reader = yield* backend.blockingReader
            const fiber = yield* Effect.fork(
              reader.readGroup({ stream: s, group: "g", consumer: "c", id: ">", blockMs: 60_000 })
            )
            yield* untilBlocked(backend, s)
            return fiber
          })

        const deleted = key()
        const f1 = yield* block(deleted)
        yield* backend.deleteKey(deleted)
        const e1 = yield* Fiber.join(f1).pipe(Effect.flip)
        assert.strictEqual(e1._tag, "RedisCommandError")
        assert.strictEqual((e1 as StreamsError.RedisCommandError).reply, "UNBLOCKED the stream key no longer exists")

        const replaced = key()
        const f2 = yield* block(replaced)
        yield* backend.setString(replaced, "x")
        const e2 = yield* Fiber.join(f2).pipe(Effect.flip)
        assert.strictEqual((e2 as StreamsError.RedisCommandError).reply, "UNBLOCKED the stream key no longer exists")

        const destroyed = key()
        const f3 = yield* block(destroyed)
        assert.isTrue(yield* backend.destroyGroup(destroyed, "g"))
        const e3 = yield* Fiber.join(f3).pipe(Effect.flip)
        assert.strictEqual(e3._tag, "GroupNotFound")

        const flushed = key()
        const f4 = yield* block(flushed)
        yield* backend.flushAll
        assert.strictEqual((yield* Fiber.join(f4).pipe(Effect.flip))._tag, "RedisCommandError")
        assert.strictEqual(yield* backend.blockedReaders(), 0)
      }))

    it.scoped("an interrupted read returns at once and leaves nothing behind", () =>
      Effect.gen(function*() {
        const backend = yield* InMemoryBackend.make
        const s = key()
        yield* backend.createGroup(s, "g", { id: "$", mkStream: true })
        const reader = yield* backend.blockingReader
        const fiber = yield* Effect.fork(
          reader.readGroup({ stream: s, group: "g", consumer: "c", id: ">", blockMs: 60_000 })
        )
        yield* untilBlocked(backend, s)
        const exit = yield* Fiber.interrupt(fiber)
        assert.isTrue(Exit.isInterrupted(exit))
        assert.strictEqual(yield* backend.blockedReaders(), 0)
        yield* backend.add(s, ["n", "1"])
        assert.strictEqual((yield* backend.pendingSummary(s, "g")).count, 0)
        // the reader is usable again
        assert.strictEqual(
          (yield* reader.readGroup({ stream: s, group: "g", consumer: "c", id: ">", blockMs: 10 })).length,
          1
        )
      }))

    it.effect("closing the reader's scope fails its blocked read with RedisConnectionError", () =>
      Effect.gen(function*() {
        const backend = yield* InMemoryBackend.make
        const s = key()
        yield* backend.createGroup(s, "g", { id: "$", mkStream: true })
        const scope = yield* Scope.make()
        const reader = yield* backend.blockingReader.pipe(Scope.extend(scope))
        const fiber = yield* Effect.fork(
          reader.readGroup({ stream: s, group: "g", consumer: "c", id: ">", blockMs: 60_000 })
        )
        yield* untilBlocked(backend, s)
        yield* Scope.close(scope, Exit.void)
        assert.strictEqual((yield* Fiber.join(fiber).pipe(Effect.flip))._tag, "RedisConnectionError")
        const after = yield* reader.readGroup({ stream: s, group: "g", consumer: "c", id: ">", blockMs: 10 }).pipe(
          Effect.flip
        )
        assert.strictEqual(after._tag, "RedisConnectionError")
        assert.strictEqual(yield* backend.blockedReaders(), 0)
      }))

    it.scoped("refuse a blockMs that is not > 0, like the Redis blocking reader", () =>
      Effect.gen(function*() {
        const backend = yield* InMemoryBackend.make
        const s = key()
        yield* backend.createGroup(s, "g", { id: "$", mkStream: true })
        const reader = yield* backend.blockingReader
        const exit = yield* Effect.exit(reader.readGroup({ stream: s, group: "g", consumer: "c", id: ">", blockMs: 0 }))
        assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
      }))
  })

  describe("store hooks", () => {
    it.effect("setString makes a key of another type (WRONGTYPE), deleteKey / flushAll / keys", () =>
      Effect.gen(function*() {
        const backend = yield* InMemoryBackend.make
        const s = key("b")
        const str = key("a")
        yield* backend.add(s, ["f", "v"])
        yield* backend.setString(str, "x")
        assert.deepStrictEqual(yield* backend.keys, [str, s])
        const e = yield* backend.add(str, ["f", "v"]).pipe(Effect.flip)
        assert.strictEqual(e._tag, "WrongKeyType")
        assert.strictEqual((yield* backend.length(str).pipe(Effect.flip))._tag, "WrongKeyType")
        yield* backend.deleteKey(str)
        assert.deepStrictEqual(yield* backend.keys, [s])
        yield* backend.flushAll
        assert.deepStrictEqual(yield* backend.keys, [])
        assert.strictEqual((yield* backend.streamInfo(s).pipe(Effect.flip))._tag, "StreamNotFound")
      }))

    it.effect("failNext fails the next matching operation without applying it", () =>
      Effect.gen(function*() {
        const backend = yield* InMemoryBackend.make
        const s = key()
        yield* backend.createGroup(s, "g", { id: "0", mkStream: true })
        yield* backend.addMany(s, [["n", "1"], ["n", "2"]])
        const read = yield* backend.readGroup({ stream: s, group: "g", consumer: "c", id: ">" })
        const ids = read.map((e) => e.id)

        const seen: Array<InMemoryBackend.Operation> = []
        yield* backend.failNext((op) => {
          seen.push(op)
          return op.command === "XACK"
        }, connectionError("connection lost"))
        // other operations pass
        assert.strictEqual(yield* backend.length(s), 2)
        const e = yield* backend.ack(s, "g", ids).pipe(Effect.flip)
        assert.strictEqual(e._tag, "RedisConnectionError")
        assert.strictEqual((yield* backend.pendingSummary(s, "g")).count, 2, "nothing was acknowledged")
        assert.deepStrictEqual(seen.map((op) => [op.method, op.command, op.stream, op.group]), [
          ["length", "XLEN", s, undefined],
          ["ack", "XACK", s, "g"]
        ])
        assert.deepStrictEqual(seen[1]!.args, [s, "g", ids])
        // used up: the next ack goes through
        assert.strictEqual(yield* backend.ack(s, "g", ids), 2)
      }))

    it.effect("failNext with after: the operation is applied, then the caller gets the error", () =>
      Effect.gen(function*() {
        const backend = yield* InMemoryBackend.make
        const s = key()
        yield* backend.failNext((op) => op.method === "add", connectionError("reply lost"), { after: true, times: 2 })
        assert.strictEqual((yield* backend.add(s, ["n", "1"]).pipe(Effect.flip))._tag, "RedisConnectionError")
        assert.strictEqual((yield* backend.add(s, ["n", "2"]).pipe(Effect.flip))._tag, "RedisConnectionError")
        assert.strictEqual(yield* backend.length(s), 2, "both adds were stored")
        yield* backend.add(s, ["n", "3"])
        assert.strictEqual(yield* backend.length(s), 3)
      }))

    it.effect("ackAndDelete reports command XACK; a dead-letter add followed by a failed ack loses nothing", () =>
      Effect.gen(function*() {
        const backend = yield* InMemoryBackend.make
        const s = key()
        const dlq = `${s}:dlq`
        yield* backend.createGroup(s, "g", { id: "0", mkStream: true })
        const id = yield* backend.add(s, ["n", "1"])
        yield* backend.readGroup({ stream: s, group: "g", consumer: "c", id: ">" })
        yield* backend.failNext((op) => op.command === "XACK", connectionError("crash"))
        // the dead-letter copy is written, the ack is lost
        yield* backend.add(dlq, ["id", id, "n", "1"])
        assert.strictEqual((yield* backend.ackAndDelete(s, "g", [id]).pipe(Effect.flip))._tag, "RedisConnectionError")
        assert.strictEqual(yield* backend.length(dlq), 1)
        assert.deepStrictEqual((yield* backend.pending({ stream: s, group: "g", count: 10 })).map((p) => p.id), [id])
        assert.deepStrictEqual((yield* backend.range(s)).map((e) => e.id), [id])
        assert.strictEqual(yield* backend.ackAndDelete(s, "g", [id]), 1)
        assert.strictEqual(yield* backend.length(s), 0)
      }))

    it.scoped("failNext on blocking reads and on acquiring a blocking reader", () =>
      Effect.gen(function*() {
        const backend = yield* InMemoryBackend.make
        const s = key()
        yield* backend.createGroup(s, "g", { id: "0", mkStream: true })
        yield* backend.failNext((op) => op.method === "blockingReader", connectionError("refused"))
        assert.strictEqual((yield* backend.blockingReader.pipe(Effect.flip))._tag, "RedisConnectionError")
        const reader = yield* backend.blockingReader
        yield* backend.failNext((op) => op.method === "blockingReadGroup", connectionError("dropped"))
        assert.strictEqual(
          (yield* reader.readGroup({ stream: s, group: "g", consumer: "c", id: ">", blockMs: 10 }).pipe(Effect.flip))
            ._tag,
          "RedisConnectionError"
        )
        yield* backend.failNext(() => true, connectionError("everything"))
        yield* backend.clearFaults
        assert.strictEqual(yield* backend.length(s), 0)
      }))
  })
})

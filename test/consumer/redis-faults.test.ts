/**
 * Faults that need a real server: Redis restarted under running consumers, a
 * connection that silently stops forwarding, and a long run with handler
 * failures and a consumer killed in the middle.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Logger, LogLevel, Redacted } from "effect"
import { Consumer, DeadLetter, Producer, RedisBackend, RedisConnection, StreamsBackend } from "effect-redis-streams"
import { startRedisServer, testLogLevel } from "../src/Harness.js"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { TcpProxy } from "../src/TcpProxy.js"

const backendOn = (url: string, options: Omit<RedisConnection.Options, "url"> = {}) =>
  Layer.merge(RedisBackend.layerRedis({ ...options, url: Redacted.make(url) }), testLogLevel)

const waitUntil = (condition: () => boolean, timeoutMs: number) =>
  Effect.gen(function*() {
    const start = Date.now()
    while (!condition() && Date.now() - start < timeoutMs) yield* Effect.sleep("20 millis")
    return condition()
  })

describe("Consumer against Redis faults", () => {
  it.scopedLive("Redis restarted while consumers block: they resume by themselves and nothing is lost", () =>
    Effect.gen(function*() {
      const server = yield* startRedisServer({ args: ["--appendonly", "yes", "--appendfsync", "always"] })
      const seen = new Set<string>()
      const produced: Array<string> = []
      yield* Effect.gen(function*() {
        const producer = yield* Producer.make({ stream: "jobs" })
        produced.push(...(yield* producer.addAll(Array.from({ length: 1000 }, (_, i) => ({ n: String(i) })))))
        const consumers = yield* Effect.forEach(["a", "b"], (name) =>
          Consumer.make({ stream: "jobs", group: "g", consumer: name, batchSize: 20, maxWait: "50 millis", blockTime: "500 millis", reclaim: { idle: "2 seconds" } }))
        const fibers = yield* Effect.forEach(consumers, (c) =>
          c.process((m) => Effect.sleep("1 millis").pipe(Effect.zipRight(Effect.sync(() => seen.add(m.id))))).pipe(Effect.fork))
        assert.isTrue(yield* waitUntil(() => seen.size >= 300, 20_000))
        // consumers are mid-run; take the server away, then bring it back on the same port
        yield* Effect.promise(() => server.stop("SIGTERM"))
        yield* Effect.sleep("1 second")
        yield* Effect.promise(() => server.start())
        produced.push(...(yield* producer.addAll(Array.from({ length: 500 }, (_, i) => ({ n: String(1000 + i) }))).pipe(
          Effect.retry({ times: 20 })
        )))
        const all = yield* waitUntil(() => produced.every((id) => seen.has(id)), 30_000)
        yield* Effect.forEach(fibers, Fiber.interrupt)
        assert.isTrue(all, `processed ${seen.size} of ${produced.length}`)
        const backend = yield* StreamsBackend.StreamsBackend
        yield* Effect.sleep("200 millis")
        assert.strictEqual((yield* backend.pendingSummary("jobs", "g")).count, 0)
      }).pipe(Effect.provide(backendOn(server.url)))
    }), { timeout: 90_000 })

  it.scopedLive("a stalled connection is noticed within 2x the block time and the consumer recovers", () =>
    Effect.gen(function*() {
      const server = yield* startRedisServer()
      const proxy = yield* Effect.acquireRelease(Effect.promise(() => TcpProxy.start(server.port)), (p) => Effect.promise(() => p.close()))
      const received: Array<{ readonly n: string; readonly at: number }> = []
      const warnings: Array<{ readonly text: string; readonly at: number }> = []
      const recordWarnings = Logger.replace(
        Logger.defaultLogger,
        Logger.make(({ logLevel, message }) => {
          if (logLevel._tag === "Warning") warnings.push({ text: String(Array.isArray(message) ? message[0] : message), at: Date.now() })
        })
      )
      const blockMs = 1000
      yield* Effect.gen(function*() {
        const producer = yield* Producer.make({ stream: "jobs" })
        const consumer = yield* Consumer.make({ stream: "jobs", group: "g", batchSize: 10, maxWait: "20 millis", blockTime: blockMs })
        const fiber = yield* consumer.process((m) => Effect.sync(() => received.push({ n: m.body.n, at: Date.now() }))).pipe(
          Effect.provide(Layer.merge(recordWarnings, Logger.minimumLogLevel(LogLevel.Warning))),
          Effect.fork
        )
        yield* producer.add({ n: "before" })
        assert.isTrue(yield* waitUntil(() => received.length === 1, 5000))
        yield* Effect.sleep("300 millis") // the consumer is blocked in a read now
        const stalledAt = Date.now()
        assert.isAbove(proxy.stallExisting(), 0, "every open connection (main and blocking) stops forwarding")
        // written straight to the server, not through the stalled connections
        yield* Effect.scoped(Effect.flatMap(Producer.make({ stream: "jobs" }), (p) => p.add({ n: "after" })).pipe(
          Effect.provide(backendOn(server.url))
        ))
        const recovered = yield* waitUntil(() => received.length === 2, 15_000)
        assert.isTrue(recovered, `the consumer recovered; warnings: ${JSON.stringify(warnings.map((w) => [w.at - stalledAt, w.text]))}`)
        const noticed = warnings.find((w) => w.text.includes("stalled"))
        assert.isDefined(noticed, "the stall was logged")
        const noticedIn = noticed!.at - stalledAt
        const recoveredIn = received[1]!.at - stalledAt
        process.stdout.write(`stall: noticed after ${noticedIn} ms, message received after ${recoveredIn} ms\n`)
        assert.isBelow(noticedIn, 2 * blockMs + 100, `noticed in ${noticedIn} ms`)
        assert.isBelow(recoveredIn, 2 * blockMs + 2 * 1000 + 1000, `recovered in ${recoveredIn} ms`)
        yield* Fiber.interrupt(fiber)
      }).pipe(Effect.provide(backendOn(proxy.url, { commandTimeout: "1 second" })))
    }), { timeout: 60_000 })

  it.scopedLive("100,000 messages, 4 consumers, 10% random failures, one consumer SIGKILLed: all processed, dead letters only for the always-failing ids", () =>
    Effect.gen(function*() {
      const server = yield* startRedisServer()
      const total = Number(process.env["FAULT_RUN_MESSAGES"] ?? 100_000)
      const FAIL_EVERY = 10_007
      yield* Effect.gen(function*() {
        const backend = yield* StreamsBackend.StreamsBackend
        const producer = yield* Producer.make({ stream: "run" })
        const ids = yield* producer.addAll(Array.from({ length: total }, (_, i) => ({ n: String(i), pad: "p".repeat(64) })))
        const alwaysFail = new Set(ids.filter((_, i) => i % FAIL_EVERY === 3))
        const processed = new Set<string>()
        let failures = 0
        const options = {
          stream: "run",
          group: "g",
          batchSize: 100,
          maxWait: "20 millis",
          blockTime: "200 millis",
          // 10% random failures: a random id fails 10 times in a row with p = 1e-10, so only the
          // always-failing ids can exhaust maxDeliveries
          deadLetter: { maxDeliveries: 10 },
          reclaim: { idle: "1 second", interval: "200 millis" }
        } as const
        const start = Date.now()
        // w4 runs in a child process, killed with SIGKILL in the middle of the run; it appends the ids it
        // handled to a file, synchronously, before acknowledging them
        const outFile = Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "ers-w4-")), "handled.txt")
        const child = yield* Effect.acquireRelease(
          Effect.sync(() =>
            spawn(process.execPath, ["--import", "tsx", Path.join(import.meta.dirname, "../src/consumerWorker.ts")], {
              env: {
                ...process.env,
                REDIS_URL: server.url,
                STREAM: "run",
                GROUP: "g",
                CONSUMER: "w4",
                FAIL_EVERY: String(FAIL_EVERY),
                FAIL_RATE: "0.1",
                OUT_FILE: outFile
              },
              stdio: ["ignore", "pipe", "inherit"]
            })
          ),
          (c) => Effect.sync(() => c.kill("SIGKILL"))
        )
        let childReady = false
        child.stdout!.on("data", (chunk: Buffer) => {
          if (chunk.toString().includes("ready")) childReady = true
        })
        const childHandled = () =>
          Fs.existsSync(outFile) ? Fs.readFileSync(outFile, "utf8").split("\n").filter((l) => l.length > 0) : []
        assert.isTrue(yield* waitUntil(() => childReady, 30_000), "the child consumer started")
        const handler = (m: { readonly id: string; readonly fields: Readonly<Record<string, string>> }) =>
          Effect.suspend(() => {
            if (Number(m.fields["n"]) % FAIL_EVERY === 3 || Math.random() < 0.1) {
              failures++
              return Effect.fail(new Error("random failure"))
            }
            processed.add(m.id)
            return Effect.void
          })
        const workers = yield* Effect.forEach(["w1", "w2", "w3"], (name) =>
          Effect.flatMap(Consumer.make({ ...options, consumer: name, removeOnShutdown: false }), (c) =>
            c.process(handler, { concurrency: 16 }).pipe(Effect.fork)))
        yield* waitUntil(() => processed.size >= total / 3, 60_000)
        child.kill("SIGKILL")
        yield* Effect.async<void>((resume) => {
          if (child.exitCode !== null || child.signalCode !== null) resume(Effect.void)
          else child.once("exit", () => resume(Effect.void))
        })
        const handledByChild = childHandled()
        for (const id of handledByChild) processed.add(id)
        const killedAfter = handledByChild.length
        const dlq = DeadLetter.defaultStream("run")
        const expectedProcessed = total - alwaysFail.size
        const done = yield* waitUntil(() => processed.size === expectedProcessed, 120_000)
        // let the last dead letters be moved
        const settled = yield* Effect.gen(function*() {
          for (let i = 0; i < 100; i++) {
            if ((yield* backend.pendingSummary("run", "g")).count === 0) return true
            yield* Effect.sleep("100 millis")
          }
          return false
        })
        yield* Effect.forEach(workers, Fiber.interrupt)
        const elapsed = Date.now() - start
        const dead = (yield* backend.range(dlq)).map(DeadLetter.parse)
        const deadIds = new Set(dead.map((d) => d.meta.id))
        process.stdout.write(
          `fault run: ${total} messages, 4 consumers (w4 SIGKILLed after handling ${killedAfter}), ${failures} in-process handler failures, ` +
            `${processed.size} processed, ${deadIds.size} dead-lettered (${dead.length} entries), pending ${settled ? 0 : "> 0"}, ${elapsed} ms\n`
        )
        assert.isTrue(done, `processed ${processed.size} of ${expectedProcessed}`)
        assert.isTrue(settled, "pending reaches 0")
        assert.deepStrictEqual([...deadIds].sort(), [...alwaysFail].sort())
      }).pipe(Effect.provide(backendOn(server.url)))
    }), { timeout: 300_000 })
})

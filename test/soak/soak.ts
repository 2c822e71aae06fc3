/**
 * pnpm soak: a bounded soak run on a real Redis (REDIS_URL, else a redis-server
 * started for the run and stopped at the end).
 *
 * SOAK_MESSAGES messages (default 1,000,000) go through 4 consumers of one
 * group: 3 in this process and 1 in a child process. Handlers fail at random
 * (SOAK_FAIL_RATE, default 5%; failed deliveries are reclaimed after
 * claimIdle). Every SOAK_KILL_EVERY_MS (default 3 s) one consumer is killed
 * and replaced under a new name, in turn: an in-process consumer (its fiber
 * interrupted with shutdownTimeout 0 and its scope closed, leaving its failed
 * and in-flight entries pending) and the child process (SIGKILL: a crash).
 * A Monitor's cleanup runs every second meanwhile (moving the entries of
 * consumers idle beyond 2 s to live ones, then deleting them); the
 * consumers' own reclaim (claimIdle 4 s) retries failed deliveries.
 *
 * At the end it checks: every message processed at least once, pending 0, no
 * dead letter, the stream holds every message (nothing lost); and, once the
 * services' scopes are closed: the Redis connection count back to its
 * baseline, the heap (after GC) back near its baseline, no handle left
 * (sockets, timers). Figures are printed, then one JSON line; the exit code
 * is 0 only if every check passed.
 *
 * Run with `node --expose-gc --import tsx test/soak/soak.ts` (what `pnpm soak` does).
 */
import { Effect, Fiber, Layer, Logger, LogLevel, Redacted } from "effect"
import { Consumer, DeadLetter, Monitor, Producer, RedisBackend, StreamsBackend } from "effect-redis-streams"
import { Redis } from "ioredis"
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { type RedisServerProcess, startRedisServerProcess } from "../src/RedisServer.js"
import { consumerOptions } from "./soakOptions.js"

const TOTAL = Number(process.env["SOAK_MESSAGES"] ?? 1_000_000)
const KILL_EVERY_MS = Number(process.env["SOAK_KILL_EVERY_MS"] ?? 3000)
const FAIL_RATE = Number(process.env["SOAK_FAIL_RATE"] ?? 0.05)
const TIMEOUT_MS = Number(process.env["SOAK_TIMEOUT_MS"] ?? Math.max(180_000, TOTAL * 1.5))
const CHUNK = 1000
/** the producer never runs further ahead of the consumers than this */
const MAX_AHEAD = 200_000
const STREAM = "soak"
const GROUP = "workers"
const IN_PROCESS = 3

const gc = (globalThis as { gc?: () => void }).gc
const mb = (bytes: number) => Math.round(bytes / 1048576 * 10) / 10
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** heap after full collections (finalizers of closed sockets may need a turn of the event loop) */
const settledHeap = async (): Promise<number> => {
  for (let i = 0; i < 4; i++) {
    gc?.()
    await sleep(50)
  }
  return process.memoryUsage().heapUsed
}

const handles = (): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const type of process.getActiveResourcesInfo()) out[type] = (out[type] ?? 0) + 1
  return out
}

const main = async () => {
  if (gc === undefined) process.stdout.write("warning: run with node --expose-gc for a meaningful heap figure\n")
  let server: RedisServerProcess | undefined
  let url = process.env["REDIS_URL"]
  if (url === undefined || url === "") {
    server = await startRedisServerProcess()
    url = server.url
  }
  const probe = new Redis(url, { maxRetriesPerRequest: 1 })
  const connections = async () => {
    const info = String(await probe.info("clients"))
    return Number(/connected_clients:(\d+)/.exec(info)?.[1] ?? -1)
  }
  let child: ChildProcess | undefined
  const outDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "ers-soak-"))
  const tails: Array<{ readonly file: string; offset: number; rest: string }> = []
  try {
    await probe.del(STREAM, DeadLetter.defaultStream(STREAM))
    // bookkeeping allocated before the baseline: how many times each n was processed
    const counts = new Uint8Array(TOTAL)
    let unique = 0
    let deliveries = 0
    let childDeliveries = 0
    let failures = 0
    const mark = (n: number) => {
      deliveries++
      if (counts[n] === 0) unique++
      if (counts[n]! < 255) counts[n]!++
    }
    /** read what the children appended since the last call */
    const drainChildren = () => {
      for (const t of tails) {
        let size: number
        try {
          size = Fs.statSync(t.file).size
        } catch {
          continue // not created yet
        }
        if (size <= t.offset) continue
        const buffer = Buffer.alloc(size - t.offset)
        const fd = Fs.openSync(t.file, "r")
        try {
          Fs.readSync(fd, buffer, 0, buffer.length, t.offset)
        } finally {
          Fs.closeSync(fd)
        }
        t.offset = size
        const lines = (t.rest + buffer.toString("utf8")).split("\n")
        t.rest = lines.pop()!
        for (const line of lines) {
          if (line === "") continue
          childDeliveries++
          mark(Number(line))
        }
      }
    }
    const baseline = { heap: await settledHeap(), connections: await connections(), handles: handles() }
    const peak = { heap: baseline.heap, connections: baseline.connections }
    const start = Date.now()
    let produced = 0
    const kills = { inProcess: 0, child: 0 }
    const cleanup = { rounds: 0, claimed: 0, deleted: 0, failures: 0 }
    const unexpected: Array<string> = []
    let pendingAtEnd = -1
    let dlqAtEnd = -1
    let lengthAtEnd = -1
    let done = false

    const program = Effect.gen(function*() {
      const backend = yield* StreamsBackend.StreamsBackend
      const producer = yield* Producer.make({ stream: STREAM })
      const monitor = yield* Monitor.make({
        stream: STREAM,
        group: GROUP,
        idleThreshold: "2 seconds",
        claimIdle: "1 second",
        pendingThreshold: 10_000
      })
      // the group exists before anyone consumes
      yield* backend.createGroup(STREAM, GROUP, { id: "0", mkStream: true })

      // ------------------------------------------------------------ producer (paced so that kills happen while producing)
      const minProduceMs = 6 * KILL_EVERY_MS
      const producerFiber = yield* Effect.gen(function*() {
        for (let from = 0; from < TOTAL; from += CHUNK) {
          const chunkStart = Date.now()
          while (produced - unique > MAX_AHEAD) yield* Effect.sleep("20 millis")
          const to = Math.min(TOTAL, from + CHUNK)
          const batch = new Array<{ n: string; pad: string }>(to - from)
          for (let i = from; i < to; i++) batch[i - from] = { n: String(i), pad: "p".repeat(48) }
          yield* producer.addAll(batch)
          produced = to
          const wait = minProduceMs / (TOTAL / CHUNK) - (Date.now() - chunkStart)
          if (wait >= 1) yield* Effect.sleep(wait)
        }
      }).pipe(Effect.fork)

      // ------------------------------------------------------------ in-process consumers
      const handler = (m: { readonly fields: Readonly<Record<string, string>> }) =>
        Effect.suspend(() => {
          if (Math.random() < FAIL_RATE) {
            failures++
            return Effect.fail(new Error("random failure"))
          }
          mark(Number(m.fields["n"]))
          return Effect.void
        })
      const runInProcess = (name: string) =>
        Effect.scoped(
          Effect.flatMap(
            Consumer.make({ ...consumerOptions, stream: STREAM, group: GROUP, consumer: name, shutdownTimeout: 0 }),
            (c) => c.process(handler, { concurrency: 16 })
          )
        ).pipe(
          Effect.catchAllCause((cause) => Effect.sync(() => void unexpected.push(`consumer ${name} stopped: ${cause}`)))
        )
      const slots = yield* Effect.forEach(
        Array.from({ length: IN_PROCESS }, (_, i) => `inproc-${i}-0`),
        (name) => Effect.fork(runInProcess(name))
      )

      // ------------------------------------------------------------ the child-process consumer
      // each child appends what it processed to its own file (synchronous writes survive its SIGKILL)
      const spawnChild = (name: string) => {
        const file = Path.join(outDir, `${name}.log`)
        tails.push({ file, offset: 0, rest: "" })
        const c = spawn(process.execPath, ["--import", "tsx", Path.join(import.meta.dirname, "../src/consumerWorker.ts")], {
          env: {
            ...process.env,
            REDIS_URL: url,
            STREAM,
            GROUP,
            CONSUMER: name,
            CONSUMER_OPTIONS: JSON.stringify(consumerOptions),
            FAIL_RATE: String(FAIL_RATE),
            RECORD: "n",
            OUT_FILE: file
          },
          stdio: ["ignore", "ignore", "inherit"]
        })
        c.on("exit", (code, signal) => {
          if (signal !== "SIGKILL") unexpected.push(`child ${name} exited (${signal ?? code})`)
        })
        return c
      }
      child = spawnChild("child-0")

      // ------------------------------------------------------------ kills
      const killer = yield* Effect.gen(function*() {
        let round = 0
        while (unique < TOTAL) {
          yield* Effect.sleep(KILL_EVERY_MS)
          if (unique >= TOTAL) break
          round++
          // the child's turn comes only once it has processed something (it takes a second or two to start)
          const childBusy = (tails[tails.length - 1]?.offset ?? 0) > 0
          if (round % 2 === 1 || !childBusy) {
            const slot = kills.inProcess % IN_PROCESS
            yield* Fiber.interrupt(slots[slot]!)
            slots[slot] = yield* Effect.fork(runInProcess(`inproc-${slot}-${round}`))
            kills.inProcess++
          } else {
            child?.kill("SIGKILL")
            child = spawnChild(`child-${round}`)
            kills.child++
          }
        }
      }).pipe(Effect.fork)

      // ------------------------------------------------------------ the Monitor's cleanup, every second
      const cleaner = yield* Effect.gen(function*() {
        for (;;) {
          yield* Effect.sleep("1 second")
          const r = yield* Effect.either(monitor.cleanup())
          if (r._tag === "Left") {
            cleanup.failures++
            continue
          }
          cleanup.rounds++
          cleanup.claimed += r.right.claimed
          cleanup.deleted += r.right.deleted
        }
      }).pipe(Effect.fork)

      // ------------------------------------------------------------ progress and the end
      let lastPrint = 0
      let quietSince: number | undefined
      for (;;) {
        yield* Effect.sleep("250 millis")
        drainChildren()
        const heap = process.memoryUsage().heapUsed
        const conns = yield* Effect.promise(connections)
        peak.heap = Math.max(peak.heap, heap)
        peak.connections = Math.max(peak.connections, conns)
        const pending = (yield* backend.pendingSummary(STREAM, GROUP)).count
        if (Date.now() - lastPrint > 5000) {
          lastPrint = Date.now()
          process.stdout.write(
            `  ${Math.round((Date.now() - start) / 1000)} s: produced ${produced}, processed ${unique} (${deliveries} successful deliveries), ` +
              `pending ${pending}, kills ${kills.inProcess}+${kills.child}, heap ${mb(heap)} MB, connections ${conns}\n`
          )
        }
        if (produced === TOTAL && unique === TOTAL && pending === 0) {
          done = true
          break
        }
        // everything delivered and acknowledged, yet some ids never processed: nothing will change any more
        if (produced === TOTAL && pending === 0 && (yield* backend.groupsInfo(STREAM))[0]?.lag === 0) {
          quietSince ??= Date.now()
          if (Date.now() - quietSince > 15_000) break
        } else {
          quietSince = undefined
        }
        if (Date.now() - start > TIMEOUT_MS) break
      }
      yield* Fiber.interrupt(killer)
      yield* Fiber.interrupt(cleaner)
      yield* Fiber.interrupt(producerFiber)
      child?.kill("SIGKILL")
      yield* Effect.forEach(slots, Fiber.interrupt, { discard: true })
      drainChildren()
      pendingAtEnd = (yield* backend.pendingSummary(STREAM, GROUP)).count
      dlqAtEnd = yield* backend.length(DeadLetter.defaultStream(STREAM))
      lengthAtEnd = yield* backend.length(STREAM)
    })

    await Effect.runPromise(
      program.pipe(
        Effect.scoped,
        Effect.provide(Layer.merge(RedisBackend.layerRedis({ url: Redacted.make(url) }), Logger.minimumLogLevel(LogLevel.Error)))
      )
    )
    const elapsed = Date.now() - start

    // the services' scopes are closed: connections, heap and handles back to the baseline?
    const closedAt = Date.now()
    let after = await connections()
    while (after !== baseline.connections && Date.now() - closedAt < 5000) {
      await sleep(50)
      after = await connections()
    }
    const connectionsSettledMs = Date.now() - closedAt
    const heapAfter = await settledHeap()
    const handlesAfter = handles()
    const duplicates = counts.reduce((n, c) => n + (c > 1 ? 1 : 0), 0)
    const missing = TOTAL - unique
    const missingSample: Array<number> = []
    for (let n = 0; n < TOTAL && missingSample.length < 10; n++) if (counts[n] === 0) missingSample.push(n)

    const heapGrowth = heapAfter - baseline.heap
    const heapOk = gc === undefined || heapGrowth < Math.max(16 * 1048576, baseline.heap * 0.25)
    const handlesOk = JSON.stringify(handlesAfter) === JSON.stringify(baseline.handles)
    const checks = {
      completed: done,
      everyIdProcessed: missing === 0,
      pendingZero: pendingAtEnd === 0,
      noDeadLetters: dlqAtEnd === 0,
      nothingLost: lengthAtEnd === TOTAL,
      consumersNeverFailed: unexpected.length === 0,
      killsHappened: kills.inProcess >= 1 && kills.child >= 1,
      connectionsBackToBaseline: after === baseline.connections,
      heapBackNearBaseline: heapOk,
      noHandleLeft: handlesOk
    }
    const figures = {
      messages: TOTAL,
      elapsedMs: elapsed,
      messagesPerSecond: Math.round(TOTAL / (elapsed / 1000)),
      successfulDeliveries: deliveries,
      childDeliveries,
      processedMoreThanOnce: duplicates,
      inProcessHandlerFailures: failures,
      kills,
      monitorCleanup: cleanup,
      pendingAtEnd,
      deadLetters: dlqAtEnd,
      streamLength: lengthAtEnd,
      heapMB: { baseline: mb(baseline.heap), peak: mb(peak.heap), afterClose: mb(heapAfter), growth: mb(heapGrowth) },
      connections: { baseline: baseline.connections, peak: peak.connections, afterClose: after, settledMs: connectionsSettledMs },
      handles: { baseline: baseline.handles, afterClose: handlesAfter },
      unexpected
    }
    process.stdout.write(
      `\nsoak: ${TOTAL} messages, 4 consumers (${IN_PROCESS} in-process + 1 child), ${FAIL_RATE * 100}% random handler failures, ` +
        `a consumer killed every ${KILL_EVERY_MS} ms\n` +
        `  time            ${(elapsed / 1000).toFixed(1)} s (${figures.messagesPerSecond} messages/s)\n` +
        `  processed       ${unique} of ${TOTAL} at least once; ${deliveries} successful deliveries (${childDeliveries} by the child processes), ${duplicates} ids processed more than once\n` +
        `  failures        ${failures} in-process handler failures (the child's are not counted), redelivered\n` +
        `  kills           ${kills.inProcess} in-process (interrupted, shutdownTimeout 0), ${kills.child} child SIGKILL\n` +
        `  monitor cleanup ${cleanup.rounds} rounds, ${cleanup.claimed} entries moved, ${cleanup.deleted} dead consumers deleted, ${cleanup.failures} failed rounds\n` +
        `  at the end      pending ${pendingAtEnd}, dead letters ${dlqAtEnd}, stream length ${lengthAtEnd}\n` +
        `  heap            baseline ${mb(baseline.heap)} MB, peak ${mb(peak.heap)} MB, after close ${mb(heapAfter)} MB (${heapGrowth >= 0 ? "+" : ""}${mb(heapGrowth)} MB)\n` +
        `  connections     baseline ${baseline.connections}, peak ${peak.connections}, after close ${after} (after ${connectionsSettledMs} ms)\n` +
        `  handles         baseline ${JSON.stringify(baseline.handles)}, after close ${JSON.stringify(handlesAfter)}\n` +
        (unexpected.length > 0 ? `  unexpected      ${unexpected.slice(0, 5).join("; ")}\n` : "") +
        (missing > 0 ? `  never processed ${missing}, e.g. n = ${missingSample.join(", ")}\n` : "") +
        `  checks          ${Object.entries(checks).map(([k, v]) => `${k}=${v ? "ok" : "FAILED"}`).join(" ")}\n`
    )
    process.stdout.write(`${JSON.stringify({ soak: { ...figures, checks } })}\n`)
    process.exitCode = Object.values(checks).every(Boolean) ? 0 : 1
  } finally {
    child?.kill("SIGKILL")
    await probe.quit().catch(() => probe.disconnect())
    await server?.dispose()
    Fs.rmSync(outDir, { recursive: true, force: true })
  }
}

main().catch(async (e) => {
  process.stderr.write(`soak failed: ${e instanceof Error ? e.stack : String(e)}\n`)
  process.exitCode = 1
})

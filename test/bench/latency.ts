/**
 * The latency works of `pnpm bench`.
 *
 * "latency" (issue 18): a producer adding one message at a time at a fixed rate (10,000 msg/s)
 * and two consumers with `maxWait: 0`; p50 / p99 / max in ms from the `add` call to the start of
 * the handler. The library (`Producer.add`, two `Consumer.process`) against raw ioredis (XADD, two
 * clients each in a loop of XREADGROUP BLOCK + XACK), in the same round. Each message carries the
 * time of its add call (producer and consumers share one process, so one clock). Both producers are
 * driven the same way: every millisecond (a timer), the messages the rate calls for so far. The p99
 * of the first leg (add call to the time in the entry's id, 1 ms resolution) says which side of
 * Redis the tail is on. A third side, "raw ioredis, each XADD in a fiber", is the raw side with
 * every XADD run by `Effect.runFork(Effect.promise(...))`, as the library's producer is driven: what
 * a fiber per add costs in Effect's runtime alone (its allocation, and the young-generation promotion
 * that V8's allocation-site pretenuring makes of it), the floor for any producer called that way.
 *
 * "blocking": what a bulk add costs the server's other clients: a probe (a process of its own:
 * probe.ts) sends PING after PING on its own connection while 100 B entries are added, and reports
 * p50 / p99 / max of its round trips: with nothing else running, during `Producer.addAll` (a
 * script per chunk of 250) and during raw pipelined XADD (chunks of 1,000, 4 in flight, as the
 * library sends where scripts are refused).
 */
import { Deferred, Effect, Fiber } from "effect"
import { Consumer, Producer, StreamsBackend } from "effect-redis-streams"
import { Redis } from "ioredis"
import { spawn } from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const payload = "x".repeat(100)
const now = () => performance.now()
const here = Path.dirname(fileURLToPath(import.meta.url))

export interface Percentiles {
  readonly p50: number
  readonly p99: number
  readonly max: number
}

/** the latency work's figures: add to handler start, and the p99 of its first leg (add call to the entry's id time) */
export interface Latencies extends Percentiles {
  /**
   * p99 of (the entry id's time − the add call's wall-clock time), ms: how long the add took to reach
   * Redis; the rest of the latency is the consumers' side. 1 ms resolution (an id holds whole ms).
   */
  readonly toRedisP99: number
}

/** the add call's leg, ms: from the add (`performance.now()` then) to the time in the entry's id */
const toRedis = (id: string, addedAt: number): number => Number(id.slice(0, id.indexOf("-"))) - (performance.timeOrigin + addedAt)

export const percentiles = (xs: ReadonlyArray<number>): Percentiles => {
  const s = Float64Array.from(xs).sort()
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * (s.length - 1)))] ?? NaN
  return { p50: at(0.5), p99: at(0.99), max: s[s.length - 1] ?? NaN }
}

/** call `send(i)` for i in 0..n-1 at `rate` per second: every millisecond, what is due by then */
const drive = async (n: number, rate: number, send: (i: number) => void): Promise<void> => {
  const start = now()
  let sent = 0
  while (sent < n) {
    const due = Math.min(n, Math.floor(((now() - start) * rate) / 1000) + 1)
    while (sent < due) send(sent++)
    if (sent < n) await new Promise<void>((resolve) => setTimeout(resolve, 1))
  }
}

/** the library: Producer.add at `rate`, two Consumers (`maxWait: 0`) processing; add-to-handler latencies */
export const libLatency = (stream: string, n: number, rate: number) =>
  Effect.scoped(Effect.gen(function*() {
    const backend = yield* StreamsBackend.StreamsBackend
    yield* backend.createGroup(stream, "g", { id: "$", mkStream: true })
    const producer = yield* Producer.make({ stream })
    const latencies: Array<number> = []
    const legs: Array<number> = []
    const all = yield* Deferred.make<void>()
    const fibers = yield* Effect.forEach([0, 1], (k) =>
      Effect.flatMap(
        Consumer.make({ stream, group: "g", consumer: `lib-${k}`, batchSize: 100, maxWait: 0, reclaim: false }),
        (consumer) =>
          Effect.fork(consumer.process((m) =>
            Effect.suspend(() => {
              const t = Number(m.fields["t"])
              latencies.push(now() - t)
              legs.push(toRedis(m.id, t))
              return latencies.length === n ? Deferred.succeed(all, undefined) : Effect.void
            })
          ))
      ))
    // both consumers are reading before the first add
    yield* Effect.sleep("200 millis")
    let failed = 0
    yield* Effect.promise(() =>
      drive(n, rate, () => {
        Effect.runFork(
          producer.add({ payload, t: String(now()) }).pipe(Effect.catchAll(() => Effect.sync(() => failed++)))
        )
      })
    )
    yield* Deferred.await(all)
    yield* Fiber.interruptAll(fibers)
    if (failed > 0) throw new Error(`latency: ${failed} adds failed`)
    return { ...percentiles(latencies), toRedisP99: percentiles(legs).p99 } satisfies Latencies
  }))

/**
 * raw ioredis: XADD at `rate`, two clients in a loop of XREADGROUP BLOCK + XACK; `inFibers`: each
 * XADD is run by a fiber of its own (`Effect.runFork`), as the library's `add` is
 */
export const rawLatency = async (
  url: string,
  stream: string,
  n: number,
  rate: number,
  inFibers = false
): Promise<Latencies> => {
  const producer = new Redis(url)
  const consumers = [new Redis(url), new Redis(url)]
  await producer.xgroup("CREATE", stream, "g", "$", "MKSTREAM")
  await Promise.all(consumers.map((c) => c.ping()))
  const latencies: Array<number> = []
  const legs: Array<number> = []
  let stop = false
  const loops = consumers.map(async (c, k) => {
    while (!stop) {
      const reply = (await c.xreadgroup("GROUP", "g", `raw-${k}`, "COUNT", 100, "BLOCK", 100, "STREAMS", stream, ">")) as
        | Array<[string, Array<[string, Array<string>]>]>
        | null
      const entries = reply?.[0]?.[1] ?? []
      if (entries.length === 0) continue
      for (const [id, fields] of entries) {
        const t = Number(fields[3])
        latencies.push(now() - t)
        legs.push(toRedis(id, t))
      }
      if (latencies.length >= n) stop = true
      await c.xack(stream, "g", ...entries.map((e) => e[0]))
    }
  })
  await new Promise((resolve) => setTimeout(resolve, 200))
  await drive(
    n,
    rate,
    inFibers
      ? () => {
        Effect.runFork(Effect.promise(() => producer.xadd(stream, "*", "payload", payload, "t", String(now()))))
      }
      : () => {
        void producer.xadd(stream, "*", "payload", payload, "t", String(now()))
      }
  )
  await Promise.all(loops)
  await Promise.all([producer, ...consumers].map((c) => c.quit()))
  return { ...percentiles(latencies), toRedisP99: percentiles(legs).p99 }
}

/** a probe process pinging `url` until `stop` is called; its round trips' percentiles in ms */
export const probe = (url: string) =>
  new Promise<{ readonly stop: () => Promise<Percentiles & { readonly count: number }> }>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", Path.join(here, "probe.ts"), url], {
      stdio: ["pipe", "pipe", "inherit"]
    })
    let out = ""
    let onResult: ((r: Percentiles & { count: number }) => void) | undefined
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (chunk: string) => {
      out += chunk
      if (out.includes("ready\n") && onResult === undefined) {
        out = out.slice(out.indexOf("ready\n") + 6)
        onResult = () => {}
        resolve({
          stop: () =>
            new Promise((done) => {
              onResult = done
              child.stdin.end("stop\n")
            })
        })
      }
      const line = out.split("\n").find((l) => l.startsWith("{"))
      if (line !== undefined) onResult?.(JSON.parse(line))
    })
    child.on("error", reject)
  })

/** the probe's round trips while `work` runs */
export const whileProbed = async <A>(url: string, work: () => Promise<A>) => {
  const p = await probe(url)
  // a few pings with nothing else running first
  await new Promise((resolve) => setTimeout(resolve, 50))
  await work()
  return p.stop()
}

/** raw pipelined XADD of `n` entries: chunks of 1,000, 4 in flight */
export const rawPipelined = async (redis: Redis, stream: string, n: number): Promise<void> => {
  const inflight: Array<Promise<unknown>> = []
  for (let i = 0; i < n; i += 1000) {
    const pipeline = redis.pipeline()
    for (let j = i; j < Math.min(n, i + 1000); j++) pipeline.xadd(stream, "*", "payload", payload)
    inflight.push(pipeline.exec())
    if (inflight.length >= 4) await inflight.shift()
  }
  await Promise.all(inflight)
}

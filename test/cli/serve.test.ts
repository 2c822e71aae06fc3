/**
 * `redis-streams serve`, run as a child process against Redis: `/metrics`
 * scraped over HTTP and parsed line by line as the Prometheus text format
 * (figures checked against the data, label escaping on a real consumer name
 * with a quote, a backslash and a newline), `/scale` for KEDA, `/healthz`,
 * Redis going away and coming back, a port in use, and a clean stop.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Schedule } from "effect"
import { DeadLetter } from "effect-redis-streams"
import type { Redis } from "ioredis"
import * as Net from "node:net"
import { rawClient, redisUrl, startRedisServer, uniqueKey } from "../src/Harness.js"
import { freePort } from "../src/RedisServer.js"
import { httpGet, parsePrometheus, runCli, sampleValue, startCli } from "./CliProcess.js"

const call = <A>(f: () => Promise<A>) => Effect.promise(f)

const addEntries = (raw: Redis, stream: string, n: number) =>
  Effect.forEach(
    Array.from({ length: n }, (_, i) => i),
    (i) => call(() => raw.xadd(stream, "*", "n", String(i)) as Promise<string>)
  )

const readAs = (raw: Redis, stream: string, group: string, consumer: string, count: number) =>
  call(() => raw.xreadgroup("GROUP", group, consumer, "COUNT", count, "STREAMS", stream, ">") as Promise<unknown>)

/** start `serve` on a free loopback port; its base URL */
const serve = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const port = yield* call(() => freePort())
    const proc = yield* startCli(["serve", ...args, "--host", "127.0.0.1", "--port", String(port)])
    const m = yield* Effect.orDie(proc.waitForStderr(/serving \/metrics, \/scale and \/healthz for .* on (http:\/\/127\.0\.0\.1:\d+)/))
    assert.strictEqual(m[1], `http://127.0.0.1:${port}`)
    return { proc, base: m[1]! }
  })

const scrape = (base: string) =>
  Effect.gen(function*() {
    const r = yield* Effect.orDie(httpGet(`${base}/metrics`))
    assert.strictEqual(r.status, 200)
    assert.strictEqual(r.contentType, "text/plain; version=0.0.4; charset=utf-8")
    return { text: r.body, families: parsePrometheus(r.body) }
  })

const getJson = (url: string) =>
  Effect.map(Effect.orDie(httpGet(url)), (r) => {
    assert.match(r.contentType ?? "", /^application\/json/)
    return { status: r.status, body: JSON.parse(r.body) }
  })

/** run `effect` every 200 ms until `until` holds (at most 15 s); the value that passed */
const eventually = <A>(effect: Effect.Effect<A>, until: (a: A) => boolean): Effect.Effect<A> =>
  Effect.gen(function*() {
    const deadline = Date.now() + 15_000
    while (true) {
      const a = yield* effect
      if (until(a)) return a
      if (Date.now() > deadline) return yield* Effect.dieMessage("condition not met within 15 s")
      yield* Effect.sleep(Duration.millis(200))
    }
  })

const WEIRD = "we\"ird\\name\nx"

describe("redis-streams serve", () => {
  it.scopedLive("/metrics is valid Prometheus text with the stream's figures; /scale and /healthz answer; SIGTERM stops it", () =>
    Effect.gen(function*() {
      const raw = yield* rawClient()
      const a = uniqueKey("cli-serve-a")
      const missing = uniqueKey("cli-serve-missing")
      yield* addEntries(raw, a, 6)
      yield* call(() => raw.xgroup("CREATE", a, "g", "0"))
      yield* call(() => raw.xgroup("CREATE", a, "g2", "0"))
      yield* readAs(raw, a, "g", "c1", 3)
      yield* readAs(raw, a, "g", WEIRD, 1)
      const dlq = DeadLetter.defaultStream(a)
      yield* call(() => raw.xadd(dlq, "*", "n", "x"))
      yield* call(() => raw.xadd(dlq, "*", "n", "y"))

      const { base, proc } = yield* serve([a, missing, "--url", redisUrl()])

      const first = yield* scrape(base)
      const f = first.families
      for (const family of f.values()) {
        assert.match(family.name, /^redis_streams_/)
        assert.isString(family.help)
        assert.oneOf(family.type, ["gauge", "counter"])
      }
      assert.strictEqual(f.get("redis_streams_stream_entries_added_total")?.type, "counter")
      const v = (name: string, labels: Record<string, string>) => sampleValue(f, name, labels)
      assert.strictEqual(v("redis_streams_up", { stream: a }), 1)
      assert.strictEqual(v("redis_streams_up", { stream: missing }), 0)
      assert.strictEqual(v("redis_streams_stream_length", { stream: a }), 6)
      assert.strictEqual(v("redis_streams_stream_entries_added_total", { stream: a }), 6)
      assert.strictEqual(v("redis_streams_stream_groups", { stream: a }), 2)
      assert.strictEqual(v("redis_streams_group_dead_letters", { stream: a, group: "g", dead_letter_stream: dlq }), 2)
      assert.strictEqual(v("redis_streams_group_dead_letters", { stream: a, group: "g2", dead_letter_stream: dlq }), 2)
      assert.strictEqual(v("redis_streams_group_lag", { stream: a, group: "g" }), 2)
      assert.strictEqual(v("redis_streams_group_lag", { stream: a, group: "g2" }), 6)
      assert.strictEqual(v("redis_streams_group_lag_exact", { stream: a, group: "g" }), 1)
      assert.strictEqual(v("redis_streams_group_pending", { stream: a, group: "g" }), 4)
      assert.strictEqual(v("redis_streams_group_pending", { stream: a, group: "g2" }), 0)
      assert.strictEqual(v("redis_streams_group_consumers", { stream: a, group: "g", status: "OK" }), 2)
      assert.strictEqual(v("redis_streams_group_consumers", { stream: a, group: "g", status: "IDLE" }), 0)
      assert.strictEqual(v("redis_streams_group_consumers", { stream: a, group: "g", status: "TOO_MANY_PENDING" }), 0)
      assert.strictEqual(v("redis_streams_scaler_active_consumers", { stream: a, group: "g" }), 2)
      assert.strictEqual(v("redis_streams_group_max_deliveries", { stream: a, group: "g" }), 1)
      assert.isAbove(v("redis_streams_group_oldest_pending_age_seconds", { stream: a, group: "g" })!, 0)
      assert.strictEqual(v("redis_streams_group_consumer_pending", { stream: a, group: "g", consumer: "c1" }), 3)
      // the name with a quote, a backslash and a newline comes back intact through the escapes
      assert.strictEqual(v("redis_streams_group_consumer_pending", { stream: a, group: "g", consumer: WEIRD }), 1)
      assert.include(first.text, `consumer="we\\"ird\\\\name\\nx"`)
      const idle = v("redis_streams_group_consumer_idle_seconds", { stream: a, group: "g", consumer: "c1" })!
      assert.isAtLeast(idle, 0)
      assert.isBelow(idle, 30)
      // the seed's rate 100 * 2 / 4 = 50 (ratio 0.5) -> OUT at the default 50
      assert.strictEqual(v("redis_streams_scaler_backlog_ratio", { stream: a, group: "g" }), 0.5)
      assert.strictEqual(v("redis_streams_scaler_decision", { stream: a, group: "g", decision: "OUT" }), 1)
      assert.strictEqual(v("redis_streams_scaler_decision", { stream: a, group: "g", decision: "IN" }), 0)
      assert.strictEqual(v("redis_streams_scaler_decision", { stream: a, group: "g", decision: "NO_SCALE" }), 0)
      assert.strictEqual(v("redis_streams_scaler_desired_consumers", { stream: a, group: "g" }), 1)
      // scaling in waits for stabilization: the 2 active consumers are kept
      assert.strictEqual(v("redis_streams_scaler_recommended_consumers", { stream: a, group: "g" }), 2)
      assert.isUndefined(f.get("redis_streams_scaler_arrival_rate"), "no rate before a second reading")
      // the old duplicate families are gone
      for (const old of ["redis_streams_dead_letters", "redis_streams_group_active_consumers", "redis_streams_group_scale_rate", "redis_streams_consumer_status", "redis_streams_consumer_pending"]) {
        assert.isUndefined(f.get(old), old)
      }
      assert.isAtLeast(v("redis_streams_scrape_duration_seconds", {})!, 0)

      // rates from the second scrape on
      yield* addEntries(raw, a, 4)
      yield* Effect.sleep(Duration.millis(500))
      const second = yield* scrape(base)
      const arrival = sampleValue(second.families, "redis_streams_scaler_arrival_rate", { stream: a, group: "g" })
      assert.isDefined(arrival)
      assert.isAbove(arrival!, 0)
      assert.strictEqual(sampleValue(second.families, "redis_streams_scaler_ack_rate", { stream: a, group: "g" }), 0)
      assert.strictEqual(sampleValue(second.families, "redis_streams_stream_length", { stream: a }), 10)

      // /scale
      const scale = yield* getJson(`${base}/scale?stream=${encodeURIComponent(a)}&group=g`)
      assert.strictEqual(scale.status, 200)
      assert.deepStrictEqual(Object.keys(scale.body).sort(), [
        "ackRate",
        "arrivalRate",
        "at",
        "backlog",
        "consumers",
        "decision",
        "group",
        "pending",
        "rate",
        "recommended",
        "safeToStop",
        "stream"
      ])
      assert.deepStrictEqual(
        [scale.body.backlog, scale.body.pending, scale.body.consumers, scale.body.rate, scale.body.decision, scale.body.recommended],
        [6, 4, 2, 100, "OUT", 2]
      )
      // the work calls for 1 consumer, but scaling in waits for 3 consecutive low readings
      assert.deepStrictEqual(scale.body.safeToStop, [])
      const ambiguousStream = yield* getJson(`${base}/scale`)
      assert.strictEqual(ambiguousStream.status, 400)
      assert.match(ambiguousStream.body.error, /several streams are served/)
      const ambiguousGroup = yield* getJson(`${base}/scale?stream=${encodeURIComponent(a)}`)
      assert.strictEqual(ambiguousGroup.status, 400)
      assert.match(ambiguousGroup.body.error, /several groups \(g, g2\)/)
      const noGroup = yield* getJson(`${base}/scale?stream=${encodeURIComponent(a)}&group=typo`)
      assert.strictEqual(noGroup.status, 404)
      assert.strictEqual(noGroup.body.error, `consumer group 'typo' does not exist on stream '${a}'`)
      const noStream = yield* getJson(`${base}/scale?stream=${encodeURIComponent(missing)}&group=g`)
      assert.strictEqual(noStream.status, 404)
      assert.strictEqual(noStream.body.error, `stream '${missing}' does not exist`)
      const notServed = yield* getJson(`${base}/scale?stream=other&group=g`)
      assert.strictEqual(notServed.status, 404)
      assert.match(notServed.body.error, /is not served/)

      const health = yield* getJson(`${base}/healthz`)
      assert.strictEqual(health.status, 200)
      assert.strictEqual(health.body.status, "ok")
      assert.strictEqual((yield* Effect.orDie(httpGet(`${base}/nope`))).status, 404)

      // nothing was created, the missing stream is logged once (not on every scrape)
      assert.strictEqual(yield* call(() => raw.exists(missing)), 0)
      assert.deepStrictEqual((yield* call(() => raw.xinfo("GROUPS", a) as Promise<Array<Array<unknown>>>)).map((g) => g[1]), ["g", "g2"])
      assert.strictEqual(proc.stderr().split("\n").filter((l) => l.includes(`stream '${missing}'`)).length, 1)

      const exit = yield* proc.stop("SIGTERM")
      assert.strictEqual(exit.code, 0)
      assert.isBelow(exit.ms, 5000)
    }))

  it.scopedLive("one stream and --group: /scale needs no parameters, and its rates come from successive requests", () =>
    Effect.gen(function*() {
      const raw = yield* rawClient()
      const stream = uniqueKey("cli-serve-one")
      yield* addEntries(raw, stream, 20)
      yield* call(() => raw.xgroup("CREATE", stream, "g", "0"))
      yield* call(() => raw.xgroup("CREATE", stream, "other", "0"))
      yield* readAs(raw, stream, "g", "c1", 5)
      const { base, proc } = yield* serve([stream, "--group", "g", "--target", "5", "--url", redisUrl()])
      const first = yield* getJson(`${base}/scale`)
      assert.strictEqual(first.status, 200)
      assert.strictEqual(first.body.group, "g")
      assert.strictEqual(first.body.recommended, 4)
      assert.strictEqual(first.body.arrivalRate, null)
      yield* addEntries(raw, stream, 10)
      yield* Effect.sleep(Duration.millis(300))
      const second = yield* getJson(`${base}/scale`)
      assert.isAbove(second.body.arrivalRate, 0)
      assert.strictEqual(second.body.backlog, 25)
      assert.strictEqual(second.body.recommended, 6)
      const other = yield* getJson(`${base}/scale?group=other`)
      assert.strictEqual(other.body.group, "other")
      assert.strictEqual((yield* proc.stop("SIGINT")).code, 0)
    }))

  it.scopedLive("Redis going away: /healthz 503 and redis_streams_up 0; back again once Redis restarts", () =>
    Effect.gen(function*() {
      const server = yield* startRedisServer()
      const raw = yield* rawClient(server.url)
      raw.on("error", () => {}) // it sees the server go away too
      const stream = uniqueKey("cli-serve-down")
      yield* addEntries(raw, stream, 3)
      yield* call(() => raw.xgroup("CREATE", stream, "g", "0"))
      const { base, proc } = yield* serve([stream, "--url", server.url])
      assert.strictEqual(sampleValue((yield* scrape(base)).families, "redis_streams_up", { stream }), 1)

      yield* call(() => server.stop())
      const health = yield* getJson(`${base}/healthz`)
      assert.strictEqual(health.status, 503)
      assert.strictEqual(health.body.status, "unavailable")
      assert.strictEqual(health.body.redis, `127.0.0.1:${server.port}`)
      const down = yield* scrape(base)
      assert.strictEqual(sampleValue(down.families, "redis_streams_up", { stream }), 0)
      assert.isUndefined(down.families.get("redis_streams_group_lag"))
      const scale = yield* getJson(`${base}/scale?group=g`)
      assert.strictEqual(scale.status, 503)

      // a fresh server (no persistence): the stream is gone, then recreated by us
      yield* call(() => server.start())
      yield* eventually(getJson(`${base}/healthz`), (r) => r.status === 200)
      yield* Effect.tryPromise(() => raw.xadd(stream, "*", "n", "again")).pipe(
        Effect.retry({ times: 20, schedule: Schedule.spaced(Duration.millis(200)) }),
        Effect.orDie
      )
      const back = yield* eventually(scrape(base), (s) => sampleValue(s.families, "redis_streams_up", { stream }) === 1)
      assert.strictEqual(sampleValue(back.families, "redis_streams_stream_length", { stream }), 1)
      assert.strictEqual((yield* proc.stop("SIGTERM")).code, 0)
    }))

  it.scopedLive("a port in use: exit 1, one line", () =>
    Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(
        Effect.async<Net.Server>((resume) => {
          const s = Net.createServer()
          s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
        }),
        (s) => Effect.async<void>((resume) => void s.close(() => resume(Effect.void)))
      )
      const port = (server.address() as Net.AddressInfo).port
      const r = yield* runCli(["serve", "s", "--host", "127.0.0.1", "--port", String(port), "--url", redisUrl()])
      assert.strictEqual(r.code, 1, r.stderr)
      assert.strictEqual(r.errLines.length, 1, r.stderr)
      assert.match(r.errLines[0]!, new RegExp(`^redis-streams: cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`))
    }))
})

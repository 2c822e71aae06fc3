/**
 * One harness for the suites that run against both backends.
 *
 * `forEachBackend("Consumer", (it) => { ... })` declares the same cases once
 * for the in-memory backend (with `TestClock`) and once for a real Redis
 * (with real time). Inside, `TestKit` gives what a case needs beyond the port:
 * unique keys, letting time pass, and making keys of another type.
 */
import { layer } from "@effect/vitest"
import type { Vitest } from "@effect/vitest"
import { Context, Duration, Effect, Layer, Logger, LogLevel, Redacted, Scope, TestClock } from "effect"
import { InMemoryBackend, RedisBackend, RedisConnection, StreamsBackend } from "effect-redis-streams"
import { Redis } from "ioredis"
import { randomUUID } from "node:crypto"
import { inject } from "vitest"
import { type RedisServerOptions, type RedisServerProcess, startRedisServerProcess } from "./RedisServer.js"

export type BackendName = "memory" | "redis"

export class TestKit extends Context.Tag("test/TestKit")<TestKit, {
  readonly backend: BackendName
  /** a key no other test uses */
  readonly key: (prefix?: string) => string
  /**
   * let `ms` of time pass: on memory it advances the TestClock (in small steps, yielding so that
   * forked fibers reach their sleeps); on Redis it sleeps for real
   */
  readonly sleep: (ms: number) => Effect.Effect<void>
  /** make `key` a string key (to provoke WRONGTYPE) */
  readonly setString: (key: string, value: string) => Effect.Effect<void>
  /** delete any key */
  readonly deleteKey: (key: string) => Effect.Effect<void>
}>() {}

/** the URL of the test run's Redis (see globalSetup.ts) */
export const redisUrl = (): string => inject("redisUrl")

export const uniqueKey = (prefix = "t"): string => `${prefix}-${randomUUID().slice(0, 12)}`

const advanceTestClock = (ms: number): Effect.Effect<void> =>
  Effect.gen(function*() {
    let left = ms
    yield* Effect.yieldNow()
    while (left > 0) {
      const step = Math.min(left, 5)
      yield* TestClock.adjust(Duration.millis(step))
      for (let i = 0; i < 3; i++) yield* Effect.yieldNow()
      left -= step
    }
  })

/** the in-memory backend with its TestKit */
export const memoryLayer: Layer.Layer<StreamsBackend.StreamsBackend | InMemoryBackend.InMemoryStore | TestKit> = Layer
  .effect(
    TestKit,
    Effect.map(InMemoryBackend.InMemoryStore, (store) =>
      TestKit.of({
        backend: "memory",
        key: uniqueKey,
        sleep: advanceTestClock,
        setString: (key, value) => store.setString(key, value),
        deleteKey: (key) => store.deleteKey(key)
      }))
  ).pipe(Layer.provideMerge(InMemoryBackend.layer))

/** a raw ioredis client on the test Redis, for setup steps the port does not have */
export const rawClient = (url: string = redisUrl()): Effect.Effect<Redis, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => new Redis(url, { maxRetriesPerRequest: 1 })),
    (r) => Effect.promise(() => r.quit().catch(() => r.disconnect()))
  )

/** RedisConnection + RedisBackend on the test run's Redis, with its TestKit */
export const redisLayer: Layer.Layer<StreamsBackend.StreamsBackend | RedisConnection.RedisConnection | TestKit> = Layer
  .scoped(
    TestKit,
    Effect.map(rawClient(), (raw) =>
      TestKit.of({
        backend: "redis",
        key: uniqueKey,
        sleep: (ms) => Effect.sleep(Duration.millis(ms)),
        setString: (key, value) => Effect.promise(() => raw.set(key, value)).pipe(Effect.asVoid),
        deleteKey: (key) => Effect.promise(() => raw.del(key)).pipe(Effect.asVoid)
      }))
  ).pipe(
    Layer.provideMerge(Layer.suspend(() => RedisBackend.layerRedis({ url: Redacted.make(redisUrl()) }))),
    Layer.orDie
  )

type Services = StreamsBackend.StreamsBackend | TestKit

/** library logs in tests: errors only, unless TEST_LOG_LEVEL says otherwise (e.g. "Debug") */
export const testLogLevel: Layer.Layer<never> = Logger.minimumLogLevel(
  LogLevel.fromLiteral((process.env["TEST_LOG_LEVEL"] as LogLevel.Literal | undefined) ?? "Error")
)

/**
 * Declare a suite once, run it on both backends. Memory runs under TestClock
 * (time moves only through `TestKit.sleep`), Redis in real time.
 */
export const forEachBackend = (
  name: string,
  body: (it: Vitest.MethodsNonLive<Services, boolean>, backend: BackendName) => void,
  options: { readonly only?: BackendName; readonly timeout?: Duration.DurationInput } = {}
): void => {
  if (options.only !== "redis") {
    layer(Layer.merge(memoryLayer, testLogLevel), { timeout: options.timeout ?? "60 seconds" })(`${name} [memory]`, (it) =>
      body(it as Vitest.MethodsNonLive<Services, boolean>, "memory"))
  }
  if (options.only !== "memory") {
    layer(Layer.merge(redisLayer, testLogLevel), { timeout: options.timeout ?? "60 seconds", excludeTestServices: true })(
      `${name} [redis]`,
      (it) => body(it as Vitest.MethodsNonLive<Services, boolean>, "redis")
    )
  }
}

/** a private redis-server for tests that stop, restart or isolate their server, stopped with the scope */
export const startRedisServer = (
  options: RedisServerOptions = {}
): Effect.Effect<RedisServerProcess, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => startRedisServerProcess(options)),
    (server) => Effect.promise(() => server.dispose())
  )

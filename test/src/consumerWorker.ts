/**
 * A consumer in its own process, for tests that kill it with SIGKILL.
 *
 * env: REDIS_URL, STREAM, GROUP, CONSUMER, FAIL_EVERY (an entry whose field n is a multiple of
 * FAIL_EVERY plus 3 always fails), FAIL_RATE (random failures, 0..1), OUT_FILE.
 * Prints "ready" once consuming. Appends the id of every message it handled successfully to OUT_FILE,
 * one per line, synchronously and before that message is acknowledged (output to a pipe is buffered
 * and lost on SIGKILL; a synchronous file write is not).
 */
import { Effect, Logger, LogLevel, Redacted } from "effect"
import * as Fs from "node:fs"
import { Consumer, RedisBackend } from "effect-redis-streams"

const env = (name: string): string => {
  const value = process.env[name]
  if (value === undefined) throw new Error(`${name} is not set`)
  return value
}
const failEvery = Number(process.env["FAIL_EVERY"] ?? 0)
const out = Fs.openSync(env("OUT_FILE"), "a")
const failRate = Number(process.env["FAIL_RATE"] ?? 0)

const program = Effect.gen(function*() {
  const consumer = yield* Consumer.make({
    stream: env("STREAM"),
    group: env("GROUP"),
    consumer: env("CONSUMER"),
    batchSize: 100,
    maxWait: "20 millis",
    blockTime: "200 millis",
    claimIdle: "1 second",
    claimInterval: "200 millis",
    maxDeliveries: 10
  })
  process.stdout.write("ready\n")
  yield* consumer.process((m) =>
    Effect.suspend(() => {
      const n = Number(m.fields["n"])
      if ((failEvery > 0 && n % failEvery === 3) || Math.random() < failRate) return Effect.fail(new Error("failure"))
      Fs.writeSync(out, `${m.id}\n`)
      return Effect.void
    }), { concurrency: 16 })
})

Effect.runPromise(
  program.pipe(
    Effect.scoped,
    Effect.provide(RedisBackend.layerRedis({ url: Redacted.make(env("REDIS_URL")) })),
    Effect.provide(Logger.minimumLogLevel(LogLevel.Error))
  )
).catch((e) => {
  process.stderr.write(`worker failed: ${e}\n`)
  process.exit(1)
})

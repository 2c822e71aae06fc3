/**
 * A consumer in its own process, for tests (and the soak) that kill it with SIGKILL: a real crash,
 * nothing acknowledged, nothing cleaned up.
 *
 * env: REDIS_URL, STREAM, GROUP, CONSUMER, OUT_FILE; CONSUMER_OPTIONS (JSON: batchSize, maxWait, …;
 * merged over the defaults below); FAIL_RATE (random handler failures, 0..1); FAIL_EVERY (an entry
 * whose field n is a multiple of FAIL_EVERY plus 3 always fails); RECORD ("id", the default, or "n":
 * what is written per handled message).
 * Prints "ready" once consuming. Appends what it records for every message it handled successfully to
 * OUT_FILE, one per line, with a synchronous write to a regular file, before that message is
 * acknowledged: that survives a SIGKILL (writes to a pipe are buffered in this process and lost with
 * it, hundreds of lines at a time). Exits when its parent is gone.
 */
import { Effect, Logger, LogLevel, Redacted } from "effect"
import { Consumer, RedisBackend } from "effect-redis-streams"
import * as Fs from "node:fs"

const env = (name: string): string => {
  const value = process.env[name]
  if (value === undefined) throw new Error(`${name} is not set`)
  return value
}
const failEvery = Number(process.env["FAIL_EVERY"] ?? 0)
const failRate = Number(process.env["FAIL_RATE"] ?? 0)
const record = process.env["RECORD"] === "n" ? "n" : "id"
const options = JSON.parse(process.env["CONSUMER_OPTIONS"] ?? "{}") as Partial<Consumer.Options>
const out = Fs.openSync(env("OUT_FILE"), "a")

const parent = process.ppid
setInterval(() => {
  if (process.ppid !== parent) process.exit(1)
}, 500).unref()

const program = Effect.gen(function*() {
  const consumer = yield* Consumer.make({
    batchSize: 100,
    maxWait: "20 millis",
    blockTime: "200 millis",
    ...options,
    stream: env("STREAM"),
    group: env("GROUP"),
    consumer: env("CONSUMER"),
    reclaim: { idle: "1 second", interval: "200 millis" },
    deadLetter: { maxDeliveries: 10 }
  })
  process.stdout.write("ready\n")
  yield* consumer.process((m) =>
    Effect.suspend(() => {
      const n = Number(m.fields["n"])
      if ((failEvery > 0 && n % failEvery === 3) || Math.random() < failRate) return Effect.fail(new Error("failure"))
      Fs.writeSync(out, `${record === "n" ? m.fields["n"] : m.id}\n`)
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

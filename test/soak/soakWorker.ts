/**
 * A soak consumer in its own process, so that the soak can kill it with
 * SIGKILL (a real crash: nothing acknowledged, nothing cleaned up).
 *
 * env: REDIS_URL, STREAM, GROUP, CONSUMER, FAIL_RATE (0..1, random handler failures), OUT_FILE.
 * Appends the field `n` of every message it handled successfully to OUT_FILE, one per line, before
 * that message is acknowledged, with a synchronous write to a regular file: what is written there
 * survives a SIGKILL. (Not stdout: writes to a pipe are buffered in this process and lost with it,
 * hundreds of lines at a time, which would count acknowledged messages as never processed.)
 * Exits when its parent is gone.
 */
import { Effect, Logger, LogLevel, Redacted } from "effect"
import { Consumer, RedisBackend } from "effect-redis-streams"
import * as Fs from "node:fs"
import { consumerOptions } from "./soakOptions.js"

const env = (name: string): string => {
  const value = process.env[name]
  if (value === undefined) throw new Error(`${name} is not set`)
  return value
}
const failRate = Number(process.env["FAIL_RATE"] ?? 0)
const out = Fs.openSync(env("OUT_FILE"), "a")
const parent = process.ppid
setInterval(() => {
  if (process.ppid !== parent) process.exit(1)
}, 500).unref()

const program = Effect.gen(function*() {
  const consumer = yield* Consumer.make({
    ...consumerOptions,
    stream: env("STREAM"),
    group: env("GROUP"),
    consumer: env("CONSUMER")
  })
  yield* consumer.process((m) =>
    Effect.suspend(() => {
      if (Math.random() < failRate) return Effect.fail(new Error("random failure"))
      Fs.writeSync(out, `${m.fields["n"]}\n`)
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
  process.stderr.write(`soak worker failed: ${e}\n`)
  process.exit(1)
})

/**
 * Another client of the server, for the "blocking" work of `pnpm bench` (latency.ts):
 *
 *   tsx probe.ts <redis-url>
 *
 * Prints "ready" once connected, then sends PING after PING (each awaited) until a line arrives
 * on stdin, then prints `{"p50":..,"p99":..,"max":..,"count":..}` (round trips in ms) and exits.
 */
import { Redis } from "ioredis"

const redis = new Redis(process.argv[2]!)
await redis.ping()
let running = true
process.stdin.on("data", () => {
  running = false
})
process.stdout.write("ready\n")
const rtts: Array<number> = []
while (running) {
  const t = performance.now()
  await redis.ping()
  rtts.push(performance.now() - t)
  // let stdin's data event in now and then
  if (rtts.length % 64 === 0) await new Promise((resolve) => setImmediate(resolve))
}
const s = Float64Array.from(rtts).sort()
const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * (s.length - 1)))] ?? NaN
process.stdout.write(JSON.stringify({ p50: at(0.5), p99: at(0.99), max: s[s.length - 1] ?? NaN, count: s.length }) + "\n")
await redis.quit()
process.exit(0)

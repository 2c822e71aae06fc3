/**
 * The worker application (src/worker-app.ts), run as a user runs it: it
 * serves, an order posted over HTTP is charged by the worker, and when the
 * consumer group is deleted under it the program ends by itself with exit
 * code 1 and the error in its log (not a server that keeps answering while
 * nobody consumes).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Redis } from "ioredis"
import { spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import { createServer } from "node:net"
import { fileURLToPath } from "node:url"
import { inject } from "vitest"

const examplesDir = fileURLToPath(new URL("..", import.meta.url))

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port
      server.close(() => resolve(port))
    })
  })

describe("worker-app", () => {
  it.live("exits with code 1 and logs GroupNotFound when its group is deleted", () =>
    Effect.promise(async () => {
      const port = await freePort()
      // not under "example:": examples.test.ts asserts that the examples' runs leave no
      // "example:*" key behind, and it may run while this test's stream exists
      const stream = `test:worker-app:${randomUUID().slice(0, 8)}`
      const child = spawn(process.execPath, ["--import", "tsx", "src/worker-app.ts"], {
        cwd: examplesDir,
        env: { ...process.env, REDIS_URL: inject("redisUrl"), PORT: String(port), STREAM: stream },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let output = ""
      child.stdout.on("data", (d) => (output += d))
      child.stderr.on("data", (d) => (output += d))
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
      const until = async (what: string, ms: number) => {
        const end = Date.now() + ms
        while (!output.includes(what) && Date.now() < end) await new Promise((r) => setTimeout(r, 50))
        assert.include(output, what, `waiting for "${what}"`)
      }
      const redis = new Redis(inject("redisUrl"))
      try {
        await until("Listening on", 40_000)
        const response = await fetch(`http://127.0.0.1:${port}/orders`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ orderId: "o-1", amount: 12.5 })
        })
        assert.strictEqual(response.status, 202)
        await until("charged o-1: 12.5", 10_000)
        assert.strictEqual((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200)
        const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
        assert.match(metrics, /redis_streams_producer_messages_added_total\{stream="[^"]+"\} 1/)
        assert.match(metrics, /redis_streams_consumer_messages_processed_total\{[^}]*\} 1/)
        await redis.xgroup("DESTROY", stream, "billing")
        const code = await Promise.race([exited, new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 15_000))])
        assert.strictEqual(code, 1, `the program ended with code 1\n${output}`)
        assert.match(output, /GroupNotFound/)
      } finally {
        child.kill("SIGKILL")
        await redis.del(stream).catch(() => 0)
        redis.disconnect()
      }
    }), { timeout: 90_000 })
})

/**
 * The test harness's last fallback (testcontainers) loads from where the global setup runs: the
 * workspace root, which does not install the test package's dependencies (issue 16: `Cannot find
 * package '@testcontainers/redis'`). A child vitest runs the root's global setup with no REDIS_URL
 * and no redis-server: with a Docker engine it gets a container; without one (this machine) it fails
 * with the one-line how-to holding testcontainers' own "no container runtime" error.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { HOW_TO, loadRedisContainer } from "../src/RedisContainer.js"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../..")

describe("testcontainers fallback", () => {
  it("@testcontainers/redis resolves from the harness", async () => {
    const module = await loadRedisContainer()
    assert.isFunction(module.RedisContainer)
  })

  it("without redis-server the global setup reaches testcontainers", { timeout: 180_000 }, () => {
    const env: NodeJS.ProcessEnv = { ...process.env, REDIS_SERVER_BIN: "/nonexistent/redis-server", NO_COLOR: "1" }
    delete env["REDIS_URL"]
    const child = spawnSync(
      Path.join(root, "node_modules/.bin/vitest"),
      ["run", "--config", "test/harness/fixtures/vitest.config.ts"],
      { cwd: root, env, encoding: "utf8", timeout: 170_000 }
    )
    const output = `${child.stdout}\n${child.stderr}`
    assert.notInclude(output, "Cannot find package")
    if (child.status === 0) {
      // a Docker engine is reachable: the container served the fixture test
      assert.include(output, "1 passed")
    } else {
      const line = output.split("\n").find((l) => l.includes(HOW_TO))
      assert.isDefined(line, output)
      assert.match(line!, /\(testcontainers: .*container runtime/i)
    }
  })
})

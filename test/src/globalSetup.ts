/**
 * How the tests find Redis, once per test run:
 * 1. REDIS_URL when set;
 * 2. else redis-server from PATH (or REDIS_SERVER_BIN), started on a free loopback port and stopped
 *    when the run ends;
 * 3. else a container through testcontainers when Docker is reachable;
 * 4. else the run fails with one line saying how to provide Redis.
 */
import type { TestProject } from "vitest/node"
import { type StartedRedisContainer, startRedisContainer } from "./RedisContainer.js"
import { hasRedisServer, type RedisServerProcess, startRedisServerProcess } from "./RedisServer.js"

declare module "vitest" {
  export interface ProvidedContext {
    redisUrl: string
    redisSource: "env" | "binary" | "container"
  }
}

export default async function setup(project: TestProject) {
  const fromEnv = process.env["REDIS_URL"]
  if (fromEnv !== undefined && fromEnv !== "") {
    project.provide("redisUrl", fromEnv)
    project.provide("redisSource", "env")
    return
  }
  let server: RedisServerProcess | undefined
  if (hasRedisServer()) {
    server = await startRedisServerProcess()
    project.provide("redisUrl", server.url)
    project.provide("redisSource", "binary")
    return async () => {
      await server?.dispose()
    }
  }
  const container: StartedRedisContainer = await startRedisContainer()
  project.provide("redisUrl", container.getConnectionUrl())
  project.provide("redisSource", "container")
  return async () => {
    await container.stop()
  }
}

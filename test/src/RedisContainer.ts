/**
 * The last fallback of the test harness: a Redis container through
 * testcontainers, when a Docker engine is reachable.
 *
 * `@testcontainers/redis` is a dependency of the test package (test/), not of
 * the workspace root. Vitest loads the global setup from the root, and its
 * module runner resolves a bare `import("@testcontainers/redis")` from there,
 * where the package is not installed. So the package is resolved here with
 * Node's own resolver, relative to this file (test/node_modules), and imported
 * by its file URL.
 */
import { createRequire } from "node:module"
import { pathToFileURL } from "node:url"

/** the one-line how-to the test run fails with when no Redis can be found */
export const HOW_TO =
  "No Redis for the tests: set REDIS_URL=redis://host:port, or install redis-server (e.g. `apt-get install redis-server`), or start a Docker engine for testcontainers."

export interface StartedRedisContainer {
  getConnectionUrl(): string
  stop(): Promise<unknown>
}

/** `@testcontainers/redis`, resolved from the test package */
export const loadRedisContainer = async (): Promise<typeof import("@testcontainers/redis")> => {
  const path = createRequire(import.meta.url).resolve("@testcontainers/redis")
  return (await import(pathToFileURL(path).href)) as typeof import("@testcontainers/redis")
}

/**
 * Start `redis:7-alpine`; fails with the how-to, followed by testcontainers'
 * own first line (e.g. "Could not find a working container runtime strategy").
 */
export const startRedisContainer = async (image = "redis:7-alpine"): Promise<StartedRedisContainer> => {
  try {
    const { RedisContainer } = await loadRedisContainer()
    return await new RedisContainer(image).start()
  } catch (cause) {
    throw new Error(`${HOW_TO} (testcontainers: ${cause instanceof Error ? cause.message.split("\n")[0] : String(cause)})`)
  }
}

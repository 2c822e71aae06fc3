import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "examples/test/**/*.test.ts"],
    globalSetup: ["test/src/globalSetup.ts"],
    setupFiles: ["test/src/setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // 2-core machines: two workers keep real-time assertions honest
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    reporters: ["default"]
  }
})

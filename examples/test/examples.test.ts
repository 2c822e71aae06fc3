/**
 * Every example program, run as a child process the way a user runs it
 * (`node --import tsx src/<name>.ts` in examples/): on the in-memory backend,
 * and, for those that use a backend, on the test run's Redis (REDIS_URL).
 * Each must end by itself with exit code 0 and print its key lines.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Redis } from "ioredis"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { inject } from "vitest"

declare module "vitest" {
  // provided by test/src/globalSetup.ts (the root vitest.config.ts runs it for these tests too)
  export interface ProvidedContext {
    redisUrl: string
  }
}

const examplesDir = fileURLToPath(new URL("..", import.meta.url))

/** the longest an example may run before it is killed (they take a few seconds) */
const SPAWN_TIMEOUT_MS = 45_000

interface Run {
  readonly code: number | null
  readonly signal: string | null
  readonly stdout: string
  readonly stderr: string
}

const runExample = (name: string, env: Record<string, string | undefined>): Effect.Effect<Run> =>
  Effect.async<Run>((resume) => {
    const childEnv: Record<string, string> = {}
    for (const [key, value] of Object.entries({ ...process.env, ...env })) {
      if (value !== undefined) childEnv[key] = value
    }
    const child = execFile(
      process.execPath,
      ["--import", "tsx", `src/${name}.ts`],
      { cwd: examplesDir, env: childEnv, timeout: SPAWN_TIMEOUT_MS, killSignal: "SIGKILL", maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : null
        resume(Effect.succeed({ code, signal: error?.signal ?? null, stdout, stderr }))
      }
    )
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const assertRun = (name: string, run: Run, lines: ReadonlyArray<string>) => {
  const output = `--- stdout of ${name}:\n${run.stdout}\n--- stderr:\n${run.stderr}`
  assert.strictEqual(run.signal, null, `${name} did not end within ${SPAWN_TIMEOUT_MS} ms\n${output}`)
  assert.strictEqual(run.code, 0, `${name} exited with ${run.code}\n${output}`)
  for (const line of lines) assert.include(run.stdout, line, output)
}

/** key lines per example; `redis: false` for those that do not use a backend */
const examples: ReadonlyArray<{ readonly name: string; readonly lines: ReadonlyArray<string>; readonly redis: boolean }> = [
  {
    name: "producer",
    redis: true,
    lines: [
      "Published 1000 messages in one round trip",
      "Exact trimming (maxlen =100): 100 entries kept",
      "Typed message",
      "Rejected a negative amount: MessageEncodeError"
    ]
  },
  {
    name: "consumer",
    redis: true,
    lines: ["Acknowledged a batch of 10", "Acknowledged a batch of 5", "process handled 20 messages", "Pending in group billing: 0"]
  },
  {
    name: "monitor",
    redis: true,
    lines: [
      "| Group   | Consumer id    |   Idle time |   Pending items | Status                           |",
      "WARNING - idle for long time",
      "WARNING - too many pending items",
      "dry run: worker-crashed: WOULD_DELETE",
      "cleanup: worker-crashed: DELETED",
      "cleanup moved 5 entries and deleted 1 consumer(s)"
    ]
  },
  {
    name: "scaler",
    redis: true,
    lines: [
      "Consumers should be IN as stream length (11) / pending (83) rate is 13.253%",
      "Consumers should be NO_SCALE as stream length (18) / pending (79) rate is 22.7848%",
      "with scaleOutRate 20: Consumers should be OUT"
    ]
  },
  {
    name: "retries-and-timeouts",
    redis: true,
    lines: [
      "o-3: attempt failed with 503",
      "o-5: attempt failed with 504",
      "acknowledged: o-1, o-2, o-3, o-4; dead-lettered: o-6; left pending: o-5",
      "pending: 1, dead letters in"
    ]
  },
  {
    name: "cluster-and-sentinel",
    redis: false,
    lines: ["Cluster: CLUSTER_NODES is not set; would connect with", "Sentinel: SENTINELS is not set; would connect with"]
  }
]

const noRedis = { REDIS_URL: undefined, CLUSTER_NODES: undefined, SENTINELS: undefined }

describe("examples on the in-memory backend", () => {
  for (const example of examples) {
    it.live(example.name, () =>
      Effect.gen(function*() {
        const run = yield* runExample(example.name, noRedis)
        assertRun(example.name, run, [
          ...example.lines,
          ...(example.redis ? ["on the in-memory backend"] : [])
        ])
        if (example.name === "retries-and-timeouts") {
          assert.include(run.stdout, "RedisConnectionError: connection lost (simulated); retrying")
        }
      }))
  }
})

describe("examples on Redis", () => {
  for (const example of examples.filter((e) => e.redis)) {
    it.live(example.name, () =>
      Effect.gen(function*() {
        const url = inject("redisUrl")
        const run = yield* runExample(example.name, { ...noRedis, REDIS_URL: url })
        assertRun(example.name, run, [...example.lines, "on Redis (REDIS_URL)"])
        // the examples delete the keys they created
        const left = yield* Effect.acquireUseRelease(
          Effect.sync(() => new Redis(url, { maxRetriesPerRequest: 1 })),
          (redis) => Effect.promise(() => redis.keys(`example:*`)),
          (redis) => Effect.promise(() => redis.quit())
        )
        assert.deepStrictEqual(left, [], "keys left behind")
      }))
  }
})

describe("the demo (pnpm demo)", () => {
  const summary = /^produced=(\d+) processed=(\d+) dead-lettered=(\d+) lost=(\d+)$/m
  for (const backend of ["memory", "redis"] as const) {
    it.live(`ends with lost=0 on ${backend}`, () =>
      Effect.gen(function*() {
        const run = yield* runExample("demo", backend === "redis" ? { ...noRedis, REDIS_URL: inject("redisUrl") } : noRedis)
        assertRun("demo", run, ["carol CRASHES mid-batch", "WARNING - idle for long time", "reclaimed", "moved", "scaler:"])
        const match = summary.exec(run.stdout)
        assert.isNotNull(match, run.stdout)
        const [produced, processed, dead, lost] = match!.slice(1).map(Number)
        assert.strictEqual(lost, 0)
        assert.strictEqual(dead, 1)
        assert.strictEqual(processed! + dead!, produced)
      }))
  }
})

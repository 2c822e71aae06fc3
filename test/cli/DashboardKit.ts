/**
 * Helpers of the dashboard suites: `serve` started as a child process, the
 * JSON API called over HTTP, and the scenario (an idle consumer, a busy one
 * kept busy by a background fiber, one with too many pending entries, dead
 * letters) built with plain Redis commands.
 */
import { Duration, Effect, Fiber, type Scope } from "effect"
import { DeadLetter } from "effect-redis-streams"
import type { Redis } from "ioredis"
import { freePort } from "../src/RedisServer.js"
import { type CliProcess, startCli } from "./CliProcess.js"

export const call = <A>(f: () => Promise<A>) => Effect.promise(f)

export interface Served {
  readonly proc: CliProcess
  readonly base: string
}

/** start `serve` on a free loopback port with `args`; its base URL once the dashboard line is out */
export const serve = (
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string>> = {}
): Effect.Effect<Served, never, Scope.Scope> =>
  Effect.gen(function*() {
    const port = yield* call(() => freePort())
    const proc = yield* startCli(["serve", ...args, "--port", String(port)], { env })
    const m = yield* Effect.orDie(proc.waitForStderr(/dashboard at (http:\/\/127\.0\.0\.1:\d+)\//))
    return { proc, base: m[1]! }
  })

export interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly body: any
}

/** GET a JSON endpoint */
export const getJson = (base: string, path: string, params: Record<string, string> = {}): Effect.Effect<Reply> =>
  call(async () => {
    const url = new URL(path, base)
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v)
    const r = await fetch(url, { signal: AbortSignal.timeout(10_000) })
    return { status: r.status, headers: r.headers, body: await r.json() }
  })

/** POST an action */
export const postAction = (
  base: string,
  action: string,
  body: unknown,
  headers: Record<string, string> = {}
): Effect.Effect<Reply> =>
  call(async () => {
    const r = await fetch(new URL(`/api/actions/${action}`, base), {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000)
    })
    return { status: r.status, headers: r.headers, body: await r.json() }
  })

/** add `n` entries */
export const addEntries = (raw: Redis, stream: string, n: number) =>
  call(async () => {
    const p = raw.pipeline()
    for (let i = 0; i < n; i++) p.xadd(stream, "*", "n", String(i))
    await p.exec()
  })

export const readAs = (raw: Redis, stream: string, group: string, consumer: string, count: number) =>
  call(() => raw.xreadgroup("GROUP", group, consumer, "COUNT", count, "STREAMS", stream, ">") as Promise<unknown>)

/** add a dead letter of `stream` (as a Consumer would); its id */
export const addDeadLetter = (raw: Redis, stream: string, originalId: string, error: string) =>
  call(() =>
    raw.xadd(
      DeadLetter.defaultStream(stream),
      "*",
      ...DeadLetter.toFields(["order", originalId], {
        id: originalId,
        stream,
        group: "g",
        consumer: "stuck",
        deliveries: 5,
        error,
        at: Date.now()
      })
    ) as Promise<string>
  )

export interface Scenario {
  readonly stream: string
  readonly deadLetters: ReadonlyArray<string>
}

/**
 * The scenario on `stream`, group `g`: `idle` (2 pending, idle), `stuck`
 * (12 pending: TOO_MANY_PENDING with the default threshold 10), `busy`
 * (reads and acknowledges one entry every 200 ms while the scope is open:
 * OK), three dead letters, one of them with a hostile reason. Waits
 * `idleMs` so that `idle` and `stuck` pass an idle threshold below it.
 */
export const scenario = (
  raw: Redis,
  stream: string,
  idleMs: number
): Effect.Effect<Scenario, never, Scope.Scope> =>
  Effect.gen(function*() {
    yield* addEntries(raw, stream, 20)
    yield* call(() => raw.xgroup("CREATE", stream, "g", "0"))
    yield* readAs(raw, stream, "g", "idle", 2)
    yield* readAs(raw, stream, "g", "stuck", 12)
    const deadLetters: Array<string> = []
    deadLetters.push(yield* addDeadLetter(raw, stream, "1-1", "amount must be positive"))
    deadLetters.push(yield* addDeadLetter(raw, stream, "1-2", "<b>bold</b> \"quoted\" & <script>window.__pwned = 1</script>"))
    deadLetters.push(yield* addDeadLetter(raw, stream, "1-3", "decode failed"))
    yield* Effect.sleep(Duration.millis(idleMs))
    const fiber = yield* Effect.forkScoped(
      Effect.forever(
        Effect.gen(function*() {
          yield* call(() => raw.xadd(stream, "*", "n", "live"))
          const reply = (yield* readAs(raw, stream, "g", "busy", 1)) as
            | Array<[string, Array<[string, Array<string>]>]>
            | null
          const id = reply?.[0]?.[1]?.[0]?.[0]
          if (id !== undefined) yield* call(() => raw.xack(stream, "g", id))
          yield* Effect.sleep(Duration.millis(200))
        })
      )
    )
    yield* Effect.addFinalizer(() => Fiber.interrupt(fiber))
    // let the busy consumer exist before anyone looks
    yield* Effect.sleep(Duration.millis(300))
    return { stream, deadLetters }
  })

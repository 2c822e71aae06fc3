/**
 * The `redis-streams` CLI, run as a child process (the built bundle) against
 * the test run's Redis: `--help` of every command, every command's output
 * (text and JSON), and the error paths: bad flags (exit 2 with the usage),
 * unreachable Redis, missing stream or group (exit 1, one line on stderr,
 * nothing created), and the password never printed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Schedule } from "effect"
import { DeadLetter } from "effect-redis-streams"
import type { Redis } from "ioredis"
import { rawClient, redisUrl, startRedisServer, uniqueKey } from "../src/Harness.js"
import { closedPort, runCli, startCli } from "./CliProcess.js"

/** run with `--url` of the test Redis appended */
const cli = (args: ReadonlyArray<string>, options: { readonly input?: string } = {}) =>
  runCli([...args, "--url", redisUrl()], options)

const call = <A>(f: () => Promise<A>) => Effect.promise(f)

/** add `n` entries `n=<i>` to `stream`; their ids */
const addEntries = (raw: Redis, stream: string, n: number, from = 0) =>
  Effect.forEach(
    Array.from({ length: n }, (_, i) => i + from),
    (i) => call(() => raw.xadd(stream, "*", "n", String(i)) as Promise<string>)
  )

/** let `consumer` read `count` new entries of `group` */
const readAs = (raw: Redis, stream: string, group: string, consumer: string, count: number) =>
  call(() => raw.xreadgroup("GROUP", group, consumer, "COUNT", count, "STREAMS", stream, ">") as Promise<unknown>)

/** refresh a consumer's idle time without delivering anything (reads its own pending list after the highest id) */
const touch = (raw: Redis, stream: string, group: string, consumer: string) =>
  call(() =>
    raw.xreadgroup("GROUP", group, consumer, "COUNT", 1, "STREAMS", stream, "18446744073709551615-18446744073709551614")
  )

const groupNames = (raw: Redis, stream: string) =>
  call(() => raw.xinfo("GROUPS", stream) as Promise<Array<Array<unknown>>>).pipe(
    Effect.map((groups) => groups.map((g) => String(g[1])))
  )

const consumerNames = (raw: Redis, stream: string, group: string) =>
  call(() => raw.xinfo("CONSUMERS", stream, group) as Promise<Array<Array<unknown>>>).pipe(
    Effect.map((cs) => cs.map((c) => String(c[1])))
  )

/** id -> owner of the group's pending entries */
const pendingOwners = (raw: Redis, stream: string, group: string) =>
  call(() => raw.xpending(stream, group, "-", "+", 1000) as Promise<Array<[string, string, number, number]>>).pipe(
    Effect.map((rows) => new Map(rows.map(([id, owner]) => [id, owner])))
  )

const exists = (raw: Redis, key: string) => call(() => raw.exists(key))

/** repeat `effect` until `until` holds (every 50 ms, at most 10 s) */
const eventually = <A>(effect: Effect.Effect<A>, until: (a: A) => boolean) =>
  Effect.repeat(effect, { until, schedule: Schedule.spaced(Duration.millis(50)) }).pipe(
    Effect.timeout(Duration.seconds(10)),
    Effect.orDie
  )

const ANSI = "\u001b["

/** a failure is one line on stderr (plus the usage lines for usage errors), nothing on stdout */
const assertOneLineError = (r: { code: number | null; stdout: string; errLines: ReadonlyArray<string> }, code: number, pattern: RegExp) => {
  assert.strictEqual(r.code, code, `exit code; stderr: ${r.errLines.join("\n")}`)
  assert.strictEqual(r.stdout, "", "nothing on stdout")
  assert.match(r.errLines[0] ?? "", /^redis-streams: /)
  assert.match(r.errLines[0] ?? "", pattern)
  if (code === 1) assert.strictEqual(r.errLines.length, 1, `one line: ${r.errLines.join("\n")}`)
}

describe("redis-streams --help", () => {
  const expected: ReadonlyArray<readonly [ReadonlyArray<string>, ReadonlyArray<string>]> = [
    [[], ["info", "monitor", "scale", "produce", "tail", "dlq list", "dlq replay", "dlq purge", "serve", "REDIS_URL"]],
    [["info"], ["<stream>", "--json", "--url"]],
    [["monitor"], [
      "--group",
      "--idle-threshold",
      "--pending-threshold",
      "--watch",
      "--cleanup",
      "--dry-run",
      "--json",
      "TOO_MANY_PENDING"
    ]],
    [["scale"], ["--group", "--out", "--in", "--target", "--json", "recommended"]],
    [["produce"], ["--field", "key=value", "stdin", "JSON object per line", "--json"]],
    [["tail"], ["--group", "--consumer", "--batch", "--ack", "--count", "--create", "stay pending", "reclaim"]],
    [["dlq"], ["list", "replay", "purge"]],
    [["dlq", "list"], ["<stream>", "--dlq", "--id", "--count", "--json"]],
    [["dlq", "replay"], ["--yes", "source stream", "without --yes"]],
    [["dlq", "purge"], ["--yes", "--id"]],
    [["serve"], ["--port", "--host", "<stream>...", "/metrics", "/scale", "/healthz", "KEDA"]]
  ]
  it.live("every command has --help: exit 0, usage and its flags, plain text when not a terminal", () =>
    Effect.forEach(
      expected,
      ([path, words]) =>
        Effect.gen(function*() {
          const r = yield* runCli([...path, "--help"])
          const what = `redis-streams ${path.join(" ")} --help`
          assert.strictEqual(r.code, 0, `${what}: ${r.stderr}`)
          assert.include(r.stdout, "USAGE", what)
          assert.notInclude(r.stdout, ANSI, `${what}: no ANSI escapes in a pipe`)
          if (path.length > 0) assert.include(r.stdout, `$ ${path[path.length - 1]}`, what)
          for (const w of words) assert.include(r.stdout, w, what)
        }),
      { concurrency: 2, discard: true }
    ))

  it.live("--version prints the version", () =>
    Effect.gen(function*() {
      const r = yield* runCli(["--version"])
      assert.strictEqual(r.code, 0)
      assert.strictEqual(r.stdout.trim(), "0.1.0")
    }))
})

describe("redis-streams errors", () => {
  const usageCases: ReadonlyArray<readonly [ReadonlyArray<string>, RegExp, RegExp]> = [
    [["info", "s", "--bogus"], /unknown argument: '--bogus'/, /^usage: redis-streams info /],
    [["info"], /Missing argument <stream>/, /^usage: redis-streams info /],
    [["scale", "s"], /--group/, /^usage: redis-streams scale /],
    [["monitor", "s", "--idle-threshold", "soon"], /--idle-threshold: 'soon' is not a duration/, /^usage: redis-streams monitor /],
    [["monitor", "s", "--watch", "0s"], /--watch: '0s' is not a positive duration/, /^usage: redis-streams monitor /],
    [["monitor", "s", "--pending-threshold", "x"], /'x' is not a integer/, /^usage: redis-streams monitor /],
    [["scale", "s", "-g", "g", "--in", "60"], /--in \(60\) must not exceed --out \(50, the default\)/, /^usage: redis-streams scale /],
    [["scale", "s", "-g", "g", "--out", "101"], /--out must be between 0 and 100, got 101/, /^usage: redis-streams scale /],
    [["scale", "s", "-g", "g", "--target", "0"], /--target must be greater than 0, got 0/, /^usage: redis-streams scale /],
    [["tail", "s", "-g", "g", "--batch", "0"], /--batch must be between 1 and 10000, got 0/, /^usage: redis-streams tail /],
    [["produce", "s", "--field", "novalue"], /--field expects key=value, got 'novalue'/, /^usage: redis-streams produce /],
    [["dlq", "replay"], /Missing argument <stream>/, /^usage: redis-streams dlq replay /],
    [["dlq"], /missing dlq command/, /^usage: redis-streams dlq <list\|replay\|purge>/],
    [["serve"], /Missing argument <stream>/, /^usage: redis-streams serve /],
    [["serve", "s", "--port", "70000"], /--port must be between 0 and 65535/, /^usage: redis-streams serve /],
    [["frob"], /Invalid subcommand/, /^usage: redis-streams <info\|monitor/],
    [[], /missing command/, /^usage: redis-streams </],
    [["info", "s", "--url", "http://localhost"], /url must start with redis:\/\/ or rediss:\/\//, /^usage: redis-streams info /]
  ]
  it.live("bad flags: exit 2, one line naming the problem, then the command's usage", () =>
    Effect.forEach(
      usageCases,
      ([args, message, usage]) =>
        Effect.gen(function*() {
          const r = yield* runCli(args)
          const what = `redis-streams ${args.join(" ")}`
          assertOneLineError(r, 2, message)
          assert.isTrue(r.errLines.slice(1).some((l) => usage.test(l)), `${what}: usage line in ${r.stderr}`)
          assert.isTrue(r.errLines.some((l) => /^run 'redis-streams .*--help' for details$/.test(l)), what)
          assert.notInclude(r.stderr, ANSI, what)
        }),
      { concurrency: 2, discard: true }
    ))

  it.live("unreachable Redis: exit 1, one line naming host and port, never the password, for every command", () =>
    Effect.gen(function*() {
      const port = yield* closedPort()
      const url = `redis://admin:s3cret-pw@127.0.0.1:${port}`
      const commands: ReadonlyArray<ReadonlyArray<string>> = [
        ["info", "s"],
        ["monitor", "s"],
        ["scale", "s", "-g", "g"],
        ["produce", "s", "-f", "a=1"],
        ["tail", "s", "-g", "g"],
        ["dlq", "list", "s"],
        ["dlq", "replay", "s", "--yes"],
        ["dlq", "purge", "s", "--yes"],
        ["serve", "s", "--host", "127.0.0.1", "--port", "0"]
      ]
      yield* Effect.forEach(
        commands,
        (args) =>
          Effect.gen(function*() {
            const r = yield* runCli([...args, "--url", url])
            assertOneLineError(r, 1, new RegExp(`Cannot connect to Redis at 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`))
            assert.notInclude(r.stderr, "s3cret-pw", args.join(" "))
            assert.isBelow(r.ms, 10_000, "fails fast")
          }),
        { concurrency: 2, discard: true }
      )
      // from REDIS_URL as well
      const fromEnv = yield* runCli(["info", "s"], { env: { REDIS_URL: url } })
      assertOneLineError(fromEnv, 1, /Cannot connect to Redis at 127\.0\.0\.1:/)
      assert.notInclude(fromEnv.stderr, "s3cret-pw")
    }))

  it.scopedLive("REDIS_URL is used when --url is absent, --url wins over it, and a password is never printed", () =>
    Effect.gen(function*() {
      const server = yield* startRedisServer({ args: ["--requirepass", "s3cret-pw"] })
      const stream = uniqueKey("cli-auth")
      const good = `redis://:s3cret-pw@127.0.0.1:${server.port}`
      const bad = `redis://:wr0ng-pw@127.0.0.1:${server.port}`
      // the right password from REDIS_URL: connected (the stream is missing, which is the only complaint)
      const viaEnv = yield* runCli(["info", stream], { env: { REDIS_URL: good } })
      assertOneLineError(viaEnv, 1, new RegExp(`stream '${stream}' does not exist`))
      // produce through REDIS_URL works
      const produced = yield* runCli(["produce", stream, "-f", "a=1"], { env: { REDIS_URL: good } })
      assert.strictEqual(produced.code, 0, produced.stderr)
      // a wrong password: one line, no password in it
      const wrong = yield* runCli(["info", stream], { env: { REDIS_URL: bad } })
      assertOneLineError(wrong, 1, /WRONGPASS|invalid username-password|NOAUTH/i)
      assert.notInclude(wrong.stderr, "wr0ng-pw")
      // --url wins over REDIS_URL
      const override = yield* runCli(["info", stream, "--json", "--url", good], { env: { REDIS_URL: bad } })
      assert.strictEqual(override.code, 0, override.stderr)
      assert.strictEqual(JSON.parse(override.stdout).length, 1)
      for (const r of [viaEnv, produced, wrong, override]) {
        assert.notInclude(r.stdout + r.stderr, "s3cret-pw")
        assert.notInclude(r.stdout + r.stderr, "wr0ng-pw")
      }
    }))
})

describe("redis-streams info", () => {
  it.scopedLive("length, first and last ids, dead letters, groups with lag, pending and consumers; text and JSON", () =>
    Effect.gen(function*() {
      const raw = yield* rawClient()
      const stream = uniqueKey("cli-info")
      const ids = yield* addEntries(raw, stream, 5)
      yield* call(() => raw.xgroup("CREATE", stream, "g1", "0"))
      yield* call(() => raw.xgroup("CREATE", stream, "g2", "0"))
      yield* readAs(raw, stream, "g1", "c1", 2)
      yield* call(() => raw.xadd(DeadLetter.defaultStream(stream), "*", "n", "x"))

      const r = yield* cli(["info", stream, "--json"])
      assert.strictEqual(r.code, 0, r.stderr)
      const info = JSON.parse(r.stdout)
      assert.deepStrictEqual(info, {
        stream,
        length: 5,
        firstId: ids[0],
        lastId: ids[4],
        lastGeneratedId: ids[4],
        entriesAdded: 5,
        deadLetterStream: `{${stream}}:dlq`,
        deadLetters: 1,
        groups: [
          { name: "g1", lag: 3, lagExact: true, pending: 2, consumers: 1, lastDeliveredId: ids[1] },
          { name: "g2", lag: 5, lagExact: true, pending: 0, consumers: 0, lastDeliveredId: "0-0" }
        ]
      })

      const text = yield* cli(["info", stream])
      assert.strictEqual(text.code, 0, text.stderr)
      assert.match(text.stdout, /^length\s+5$/m)
      assert.match(text.stdout, new RegExp(`^first id\\s+${ids[0]}$`, "m"))
      assert.match(text.stdout, new RegExp(`^dead letters\\s+1 \\(\\{${stream}\\}:dlq\\)$`, "m"))
      assert.match(text.stdout, /^GROUP\s+LAG\s+PENDING\s+CONSUMERS\s+LAST DELIVERED ID$/m)
      assert.match(text.stdout, new RegExp(`^g1\\s+3\\s+2\\s+1\\s+${ids[1]}$`, "m"))
      assert.match(text.stdout, /^g2\s+5\s+0\s+0\s+0-0$/m)
    }))

  it.scopedLive("a missing stream: exit 1, one line, and nothing is created", () =>
    Effect.gen(function*() {
      const raw = yield* rawClient()
      const stream = uniqueKey("cli-info-missing")
      const r = yield* cli(["info", stream])
      assertOneLineError(r, 1, new RegExp(`^redis-streams: stream '${stream}' does not exist$`))
      assert.strictEqual(yield* exists(raw, stream), 0)
    }))
})

describe("redis-streams monitor", () => {
  /** busy: 3 pending; ok: 1 pending; spare: 0 pending */
  const setup = (raw: Redis, stream: string) =>
    Effect.gen(function*() {
      yield* addEntries(raw, stream, 6)
      yield* call(() => raw.xgroup("CREATE", stream, "g", "0"))
      yield* readAs(raw, stream, "g", "busy", 3)
      yield* readAs(raw, stream, "g", "ok", 1)
      yield* call(() => raw.xgroup("CREATECONSUMER", stream, "g", "spare"))
    })

  it.scopedLive("the seed's table and a line per group; JSON per group and per consumer with statuses", () =>
    Effect.gen(function*() {
      const raw = yield* rawClient()
      const stream = uniqueKey("cli-monitor")
      yield* setup(raw, stream)

      const text = yield* cli(["monitor", stream, "--pending-threshold", "2"])
      assert.strictEqual(text.code, 0, text.stderr)
      const lines = text.stdout.trimEnd().split("\n")
      assert.match(lines[0]!, /^\+-+\+-+\+-+\+-+\+-+\+$/)
      assert.match(lines[1]!, /^\| Group\s+\| Consumer id\s+\|\s+Idle time \(ms\) \|\s+Pending items \| Status\s+\|$/)
      assert.match(lines[2]!, /^\+=+\+=+\+=+\+=+\+=+\+$/)
      assert.match(text.stdout, /^\| g\s+\| busy\s+\|\s+\d+ \|\s+3 \| WARNING - too many pending items \|$/m)
      assert.match(text.stdout, /^\| g\s+\| ok\s+\|\s+\d+ \|\s+1 \| OK\s+\|$/m)
      assert.match(text.stdout, /^\| g\s+\| spare\s+\|\s+\d+ \|\s+0 \| OK\s+\|$/m)
      assert.match(
        text.stdout,
        new RegExp(`^group g: lag 2, pending 4, consumers 3, oldest pending \\S+, max deliveries 1, dead letters 0 \\(\\{${stream}\\}:dlq\\)$`, "m")
      )

      // --format seed: the seed's header, without the unit
      const seed = yield* cli(["monitor", stream, "--pending-threshold", "2", "--format", "seed"])
      assert.strictEqual(seed.code, 0, seed.stderr)
      assert.match(seed.stdout.split("\n")[1]!, /^\| Group\s+\| Consumer id\s+\|\s+Idle time \|\s+Pending items \| Status\s+\|$/)
      assert.match(seed.stdout, /^\| g\s+\| busy\s+\|\s+\d+ \|\s+3 \| WARNING - too many pending items \|$/m)

      const json = yield* cli(["monitor", stream, "--pending-threshold", "2", "--json"])
      assert.strictEqual(json.code, 0, json.stderr)
      const report = JSON.parse(json.stdout)
      assert.strictEqual(report.stream, stream)
      assert.strictEqual(report.groups.length, 1)
      const g = report.groups[0]
      assert.strictEqual(g.name, "g")
      assert.strictEqual(g.lag, 2)
      assert.strictEqual(g.pending, 4)
      assert.strictEqual(g.deadLetters, 0)
      const byName = new Map<string, { name: string; idleMs: number; pending: number; status: string }>(
        g.consumers.map((c: { name: string }) => [c.name, c])
      )
      for (const c of byName.values()) {
        assert.deepStrictEqual(Object.keys(c).sort(), ["idleMs", "name", "pending", "status"])
        assert.isAtLeast(c.idleMs, 0)
      }
      assert.deepStrictEqual(
        Array.from(byName.values(), (c) => [c.name, c.pending, c.status]).sort(),
        [["busy", 3, "TOO_MANY_PENDING"], ["ok", 1, "OK"], ["spare", 0, "OK"]]
      )

      // idle beyond the threshold: IDLE, but TOO_MANY_PENDING takes precedence
      yield* Effect.sleep(Duration.millis(50))
      const idle = yield* cli(["monitor", stream, "--pending-threshold", "2", "--idle-threshold", "10ms", "--json"])
      assert.strictEqual(idle.code, 0, idle.stderr)
      const statuses = Object.fromEntries(
        JSON.parse(idle.stdout).groups[0].consumers.map((c: { name: string; status: string }) => [c.name, c.status])
      )
      assert.deepStrictEqual(statuses, { busy: "TOO_MANY_PENDING", ok: "IDLE", spare: "IDLE" })
      const idleText = yield* cli(["monitor", stream, "--idle-threshold", "10ms", "-g", "g"])
      assert.match(idleText.stdout, /^\| g\s+\| ok\s+\|\s+\d+ \|\s+1 \| WARNING - idle for long time \|$/m)
    }))

  it.scopedLive("a missing stream or group: exit 1, one line, and nothing is created", () =>
    Effect.gen(function*() {
      const raw = yield* rawClient()
      const missing = uniqueKey("cli-monitor-missing")
      const r = yield* cli(["monitor", missing])
      assertOneLineError(r, 1, new RegExp(`stream '${missing}' does not exist`))
      const r2 = yield* cli(["monitor", missing, "--group", "g", "--cleanup"])
      assertOneLineError(r2, 1, new RegExp(`stream '${missing}' does not exist`))
      assert.strictEqual(yield* exists(raw, missing), 0)

      const stream = uniqueKey("cli-monitor-nogroup")
      yield* setup(raw, stream)
      const r3 = yield* cli(["monitor", stream, "--group", "typo"])
      assertOneLineError(r3, 1, new RegExp(`^redis-streams: consumer group 'typo' does not exist on stream '${stream}'$`))
      assert.deepStrictEqual(yield* groupNames(raw, stream), ["g"])
    }))

  it.scopedLive("--dry-run prints the cleanup plan and changes nothing; --cleanup moves the entries and deletes the dead consumer", () =>
    Effect.gen(function*() {
      const raw = yield* rawClient()
      const stream = uniqueKey("cli-monitor-cleanup")
      yield* addEntries(raw, stream, 3)
      yield* call(() => raw.xgroup("CREATE", stream, "g", "0"))
      yield* readAs(raw, stream, "g", "dead", 2)
      yield* call(() => raw.xgroup("CREATECONSUMER", stream, "g", "live"))
      // dead: idle > 4 s (the threshold) and its entries idle > 1 s (the Monitor's claimIdle); live is
      // touched just before each run, so it stays live even if starting the CLI takes seconds
      yield* Effect.sleep(Duration.millis(4600))
      const before = yield* pendingOwners(raw, stream, "g")
      assert.deepStrictEqual(Array.from(before.values()), ["dead", "dead"])

      yield* touch(raw, stream, "g", "live")
      const plan = yield* cli(["monitor", stream, "--idle-threshold", "4s", "--dry-run"])
      assert.strictEqual(plan.code, 0, plan.stderr)
      assert.match(plan.stdout, /^cleanup plan \(dry run, nothing changed\)$/m)
      assert.match(plan.stdout, /^ {2}g\/dead: WOULD_DELETE \(idle \S+, 2 pending\) - would move 2 entries to 1 consumer\(s\), then delete it$/m)
      assert.deepStrictEqual(yield* pendingOwners(raw, stream, "g"), before)
      assert.deepStrictEqual((yield* consumerNames(raw, stream, "g")).sort(), ["dead", "live"])

      yield* touch(raw, stream, "g", "live")
      const planJson = yield* cli(["monitor", stream, "--idle-threshold", "4s", "--dry-run", "--json"])
      const planned = JSON.parse(planJson.stdout).cleanup
      assert.strictEqual(planned.dryRun, true)
      assert.deepStrictEqual(planned.consumers.map((c: { consumer: string; outcome: string }) => [c.consumer, c.outcome]), [[
        "dead",
        "WOULD_DELETE"
      ]])
      assert.deepStrictEqual(planned.consumers[0].claims, [{ to: "live", ids: Array.from(before.keys()) }])

      yield* touch(raw, stream, "g", "live")
      const done = yield* cli(["monitor", stream, "--idle-threshold", "4s", "--cleanup", "--json"])
      assert.strictEqual(done.code, 0, done.stderr)
      assert.strictEqual(done.stderr, "", "the outcome is printed once, not logged again")
      const result = JSON.parse(done.stdout)
      assert.strictEqual(result.cleanup.dryRun, false)
      assert.strictEqual(result.cleanup.claimed, 2)
      assert.strictEqual(result.cleanup.deleted, 1)
      assert.deepStrictEqual(result.groups[0].consumers.map((c: { name: string }) => c.name), ["live"])
      const after = yield* pendingOwners(raw, stream, "g")
      assert.deepStrictEqual(Array.from(after.keys()), Array.from(before.keys()), "no entry lost")
      assert.deepStrictEqual(Array.from(after.values()), ["live", "live"])
      assert.deepStrictEqual(yield* consumerNames(raw, stream, "g"), ["live"])
    }))

  it.scopedLive("--watch refreshes until SIGINT (one JSON line per refresh), then exits 0", () =>
    Effect.gen(function*() {
      const raw = yield* rawClient()
      const stream = uniqueKey("cli-monitor-watch")
      yield* setup(raw, stream)
      const proc = yield* startCli(["monitor", stream, "--watch", "300ms", "--json", "--url", redisUrl()])
      const lines = yield* proc.waitForLines(3)
      const reports = lines.map((l) => JSON.parse(l))
      for (const r of reports) assert.strictEqual(r.stream, stream)
      assert.isAbove(reports[2].at, reports[0].at)
      const exit = yield* proc.stop("SIGINT")
      assert.strictEqual(exit.code, 0)
      assert.isBelow(exit.ms, 5000)

      const text = yield* startCli(["monitor", stream, "--watch", "300ms", "--url", redisUrl()])
      yield* Effect.orDie(text.waitForLines(12))
      assert.match(text.stdout(), new RegExp(`^stream ${stream} at \\S+ \\(every 300ms; Ctrl-C to stop\\)$`, "m"))
      assert.strictEqual((yield* text.stop("SIGTERM")).code, 0)
    }))
})

describe("redis-streams scale", () => {
  it.scopedLive("the seed's README figures: backlog 11, pending 83, rate 13.253 -> IN at (60, 20); JSON and text", () =>
    Effect.gen(function*() {
      const raw = yield* rawClient()
      const stream = uniqueKey("cli-scale")
      yield* addEntries(raw, stream, 94)
      yield* call(() => raw.xgroup("CREATE", stream, "g", "0"))
      yield* readAs(raw, stream, "g", "c1", 42)
      yield* readAs(raw, stream, "g", "c2", 41)

      const r = yield* cli(["scale", stream, "--group", "g", "--out", "60", "--in", "20", "--json"])
      assert.strictEqual(r.code, 0, r.stderr)
      const d = JSON.parse(r.stdout)
      assert.deepStrictEqual(Object.keys(d).sort(), [
        "ackRate",
        "arrivalRate",
        "at",
        "backlog",
        "consumers",
        "decision",
        "group",
        "pending",
        "rate",
        "recommended",
        "safeToStop",
        "stream"
      ])
      assert.strictEqual(d.stream, stream)
      assert.strictEqual(d.group, "g")
      assert.strictEqual(d.backlog, 11)
      assert.strictEqual(d.pending, 83)
      assert.strictEqual(d.consumers, 2)
      assert.strictEqual(d.rate, 13.253)
      assert.strictEqual(d.decision, "IN")
      // ceil((11 + 83) / 10): the work calls for 10 consumers
      assert.strictEqual(d.recommended, 10)
      assert.strictEqual(d.arrivalRate, null, "one reading has no rate")

      const text = yield* cli(["scale", stream, "-g", "g", "--out", "60", "--in", "20", "--target", "50"])
      assert.strictEqual(text.code, 0, text.stderr)
      const lines = text.stdout.split("\n")
      // the seed's sentence, with the right word for the first figure: the group's backlog
      assert.strictEqual(lines[0], "Consumers should be IN as backlog (11) / pending (83) rate is 13.253%")
      assert.match(text.stdout, /^decision\s+IN$/m)
      assert.match(text.stdout, /^recommended\s+2 \(by work: 2\)$/m)

      // the defaults (50, 10): 13.253 is neither
      const defaults = yield* cli(["scale", stream, "-g", "g", "--json"])
      assert.strictEqual(JSON.parse(defaults.stdout).decision, "NO_SCALE")
    }))

  it.scopedLive("a backlog beyond the pending count: rate 100, OUT", () =>
    Effect.gen(function*() {
      const raw = yield* rawClient()
      const stream = uniqueKey("cli-scale-out")
      yield* addEntries(raw, stream, 10)
      yield* call(() => raw.xgroup("CREATE", stream, "g", "0"))
      yield* readAs(raw, stream, "g", "c1", 4)
      const d = JSON.parse((yield* cli(["scale", stream, "-g", "g", "--json", "--target", "2"])).stdout)
      assert.deepStrictEqual([d.backlog, d.pending, d.consumers, d.rate, d.decision, d.recommended], [6, 4, 1, 100, "OUT", 5])
    }))

  it.scopedLive("a missing stream or group: exit 1, one line, and nothing is created", () =>
    Effect.gen(function*() {
      const raw = yield* rawClient()
      const missing = uniqueKey("cli-scale-missing")
      const r = yield* cli(["scale", missing, "-g", "g", "--json"])
      assertOneLineError(r, 1, new RegExp(`stream '${missing}' does not exist`))
      assert.strictEqual(yield* exists(raw, missing), 0)

      const stream = uniqueKey("cli-scale-nogroup")
      yield* addEntries(raw, stream, 1)
      yield* call(() => raw.xgroup("CREATE", stream, "g", "0"))
      const r2 = yield* cli(["scale", stream, "-g", "typo"])
      assertOneLineError(r2, 1, new RegExp(`consumer group 'typo' does not exist on stream '${stream}'`))
      assert.deepStrictEqual(yield* groupNames(raw, stream), ["g"])
    }))
})

describe("redis-streams produce", () => {
  it.scopedLive("one message from --field flags; its id on stdout", () =>
    Effect.gen(function*() {
      const raw = yield* rawClient()
      const stream = uniqueKey("cli-produce")
      const r = yield* cli(["produce", stream, "--field", "a=1", "-f", "b=x y", "-f", "c=p=q", "-f", "empty="])
      assert.strictEqual(r.code, 0, r.stderr)
      const id = r.stdout.trim()
      assert.match(id, /^\d+-\d+$/)
      const entries = yield* call(() => raw.xrange(stream, "-", "+"))
      assert.deepStrictEqual(entries, [[id, ["a", "1", "b", "x y", "c", "p=q", "empty", ""]]])
    }))

  it.scopedLive("JSON lines from stdin, sent in one batch, ids in order; non-string values stored as JSON", () =>
    Effect.gen(function*() {
      const raw = yield* rawClient()
      const stream = uniqueKey("cli-produce-stdin")
      const input = [
        JSON.stringify({ order: "1", note: "first" }),
        "",
        JSON.stringify({ n: 2, ok: true, none: null }),
        JSON.stringify({ nested: { a: [1, 2] } }),
        ""
      ].join("\n")
      const r = yield* cli(["produce", stream, "--json"], { input })
      assert.strictEqual(r.code, 0, r.stderr)
      const out = JSON.parse(r.stdout)
      assert.strictEqual(out.stream, stream)
      assert.strictEqual(out.count, 3)
      const entries = yield* call(() => raw.xrange(stream, "-", "+"))
      assert.deepStrictEqual(entries.map(([id]) => id), out.ids)
      assert.deepStrictEqual(entries.map(([, fields]) => fields), [
        ["order", "1", "note", "first"],
        ["n", "2", "ok", "true", "none", "null"],
        ["nested", "{\"a\":[1,2]}"]
      ])

      const many = Array.from({ length: 500 }, (_, i) => JSON.stringify({ i: String(i) })).join("\n")
      const r2 = yield* cli(["produce", stream], { input: many })
      assert.strictEqual(r2.code, 0, r2.stderr)
      assert.strictEqual(r2.stdout.trim().split("\n").length, 500)
      assert.strictEqual(yield* call(() => raw.xlen(stream)), 503)
    }))

  it.scopedLive("a bad line: exit 1 naming the line, and nothing is sent; empty stdin sends nothing", () =>
    Effect.gen(function*() {
      const raw = yield* rawClient()
      const stream = uniqueKey("cli-produce-bad")
      const r = yield* cli(["produce", stream], { input: "{\"a\":\"1\"}\n{not json\n{\"b\":\"2\"}\n" })
      assertOneLineError(r, 1, /stdin line 2: not valid JSON .*; nothing was sent$/)
      const r2 = yield* cli(["produce", stream], { input: "{\"a\":\"1\"}\n[1,2]\n" })
      assertOneLineError(r2, 1, /stdin line 2: expected a JSON object/)
      const r3 = yield* cli(["produce", stream], { input: "{}\n" })
      assertOneLineError(r3, 1, /stdin line 1: an empty object has no fields/)
      assert.strictEqual(yield* exists(raw, stream), 0)
      const empty = yield* cli(["produce", stream], { input: "\n\n" })
      assert.strictEqual(empty.code, 0)
      assert.strictEqual(empty.stdout, "")
      assert.match(empty.stderr, /no message sent/)
      assert.strictEqual(yield* exists(raw, stream), 0)
    }))
})

describe("redis-streams tail", () => {
  it.scopedLive("prints messages as a consumer of the group; without --ack they stay pending, with --ack they are acknowledged", () =>
    Effect.gen(function*() {
      const raw = yield* rawClient()
      const stream = uniqueKey("cli-tail")
      const ids = yield* addEntries(raw, stream, 5)
      yield* call(() => raw.xgroup("CREATE", stream, "g", "0"))

      const r = yield* cli(["tail", stream, "-g", "g", "--consumer", "t1", "--count", "3", "--json"])
      assert.strictEqual(r.code, 0, r.stderr)
      const messages = r.stdout.trim().split("\n").map((l) => JSON.parse(l))
      assert.deepStrictEqual(messages, [0, 1, 2].map((i) => ({
        id: ids[i],
        stream,
        group: "g",
        consumer: "t1",
        deliveryCount: 1,
        fields: { n: String(i) }
      })))
      assert.match(r.stderr, /3 messages printed stay pending under consumer 't1' of group 'g'/)
      const owners = yield* pendingOwners(raw, stream, "g")
      assert.deepStrictEqual(Array.from(owners), [[ids[0], "t1"], [ids[1], "t1"], [ids[2], "t1"]])

      // --ack: acknowledged once printed, and the consumer removes itself on exit
      const acked = yield* cli(["tail", stream, "-g", "g", "--consumer", "t2", "--count", "2", "--ack"])
      assert.strictEqual(acked.code, 0, acked.stderr)
      assert.deepStrictEqual(acked.stdout.trim().split("\n"), [`${ids[3]} n=3`, `${ids[4]} n=4`])
      assert.strictEqual(acked.stderr, "")
      assert.strictEqual((yield* pendingOwners(raw, stream, "g")).size, 3)
      assert.deepStrictEqual(yield* consumerNames(raw, stream, "g"), ["t1"])

      // a consumer's own pending entries come first (delivered again)
      const again = yield* cli(["tail", stream, "-g", "g", "--consumer", "t1", "--count", "3", "--ack", "--batch", "2"])
      assert.strictEqual(again.code, 0, again.stderr)
      assert.deepStrictEqual(again.stdout.trim().split("\n"), [0, 1, 2].map((i) => `${ids[i]} n=${i} (delivery 2)`))
      assert.strictEqual((yield* pendingOwners(raw, stream, "g")).size, 0)
      assert.deepStrictEqual(yield* consumerNames(raw, stream, "g"), [])
    }))

  it.scopedLive("follows new messages until SIGINT, then exits 0 promptly", () =>
    Effect.gen(function*() {
      const raw = yield* rawClient()
      const stream = uniqueKey("cli-tail-follow")
      yield* call(() => raw.xgroup("CREATE", stream, "g", "$", "MKSTREAM"))
      const proc = yield* startCli(["tail", stream, "-g", "g", "--ack", "--url", redisUrl()])
      // registered as a consumer once it reads
      yield* eventually(consumerNames(raw, stream, "g"), (names) => names.length === 1)
      const id = yield* call(() => raw.xadd(stream, "*", "msg", "hello world") as Promise<string>)
      const lines = yield* Effect.orDie(proc.waitForLines(1))
      assert.deepStrictEqual(lines, [`${id} msg="hello world"`])
      const exit = yield* proc.stop("SIGINT")
      assert.strictEqual(exit.code, 0)
      assert.isBelow(exit.ms, 5000, "a blocked read is interrupted at once")
      assert.strictEqual((yield* pendingOwners(raw, stream, "g")).size, 0)
    }))

  it.scopedLive("a missing stream or group is an error and nothing is created, unless --create", () =>
    Effect.gen(function*() {
      const raw = yield* rawClient()
      const stream = uniqueKey("cli-tail-missing")
      const r = yield* cli(["tail", stream, "-g", "g", "--count", "1"])
      assertOneLineError(r, 1, new RegExp(`stream '${stream}' does not exist.* \\(--create creates the stream and the group\\)$`))
      assert.strictEqual(yield* exists(raw, stream), 0)

      yield* addEntries(raw, stream, 2)
      const r2 = yield* cli(["tail", stream, "-g", "typo", "--count", "1"])
      assertOneLineError(r2, 1, new RegExp(`consumer group 'typo' does not exist on stream '${stream}' \\(--create creates it`))
      assert.deepStrictEqual(yield* groupNames(raw, stream), [])

      // --create --from-start: the group is created at the first entry
      const created = yield* cli(["tail", stream, "-g", "new", "--create", "--from-start", "--count", "2", "--ack"])
      assert.strictEqual(created.code, 0, created.stderr)
      assert.strictEqual(created.stdout.trim().split("\n").length, 2)
      assert.deepStrictEqual(yield* groupNames(raw, stream), ["new"])
    }))
})

describe("redis-streams dlq", () => {
  const deadLetter = (raw: Redis, stream: string, original: ReadonlyArray<string>, id: string, error: string) =>
    call(() =>
      raw.xadd(
        DeadLetter.defaultStream(stream),
        "*",
        ...DeadLetter.toFields(original, {
          id,
          stream,
          group: "g",
          consumer: "c1",
          deliveries: 6,
          error,
          at: 1_700_000_000_000
        })
      ) as Promise<string>
    )

  it.scopedLive("list, replay (dry run, by id, all) and purge (dry run, --yes)", () =>
    Effect.gen(function*() {
      const raw = yield* rawClient()
      const stream = uniqueKey("cli-dlq")
      const dlq = DeadLetter.defaultStream(stream)
      yield* addEntries(raw, stream, 1)
      const d1 = yield* deadLetter(raw, stream, ["order", "1"], "1-1", "handler failed: \"boom\"")
      const d2 = yield* deadLetter(raw, stream, ["order", "2", "note", "two words"], "1-2", "Poison: negative")
      const d3 = yield* deadLetter(raw, stream, ["order", "3"], "1-3", "cannot decode")

      const list = yield* cli(["dlq", "list", stream, "--json"])
      assert.strictEqual(list.code, 0, list.stderr)
      assert.deepStrictEqual(JSON.parse(list.stdout), {
        deadLetterStream: dlq,
        length: 3,
        deadLetters: [
          { id: d1, originalId: "1-1", stream, group: "g", consumer: "c1", deliveries: 6, error: "handler failed: \"boom\"", at: 1_700_000_000_000, fields: { order: "1" } },
          { id: d2, originalId: "1-2", stream, group: "g", consumer: "c1", deliveries: 6, error: "Poison: negative", at: 1_700_000_000_000, fields: { order: "2", note: "two words" } },
          { id: d3, originalId: "1-3", stream, group: "g", consumer: "c1", deliveries: 6, error: "cannot decode", at: 1_700_000_000_000, fields: { order: "3" } }
        ]
      })
      const text = yield* cli(["dlq", "list", stream, "--count", "2"])
      assert.strictEqual(text.code, 0, text.stderr)
      const lines = text.stdout.trimEnd().split("\n")
      assert.strictEqual(lines[0], `${dlq}: 3 dead letters (showing 2)`)
      assert.match(lines[1]!, new RegExp(`^${d1}  ${stream} 1-1  group g  consumer c1  deliveries 6  at 2023-11-14T22:13:20.000Z  error: handler failed: "boom"$`))
      assert.strictEqual(lines[4], "    order=2 note=\"two words\"")

      // replay without --yes: the plan, nothing changed
      const plan = yield* cli(["dlq", "replay", stream])
      assert.strictEqual(plan.code, 0, plan.stderr)
      assert.include(plan.stdout, `would replay ${d1} -> ${stream} (was 1-1)`)
      assert.include(plan.stdout, "3 dead letters would be replayed")
      assert.include(plan.stdout, "nothing changed (add --yes to do it)")
      assert.strictEqual(yield* call(() => raw.xlen(dlq)), 3)
      assert.strictEqual(yield* call(() => raw.xlen(stream)), 1)

      // one by id
      const one = yield* cli(["dlq", "replay", stream, "--id", d2, "--yes", "--json"])
      assert.strictEqual(one.code, 0, one.stderr)
      const replayed = JSON.parse(one.stdout)
      assert.strictEqual(replayed.dryRun, false)
      assert.strictEqual(replayed.replayed.length, 1)
      assert.strictEqual(replayed.replayed[0].id, d2)
      const added = yield* call(() => raw.xrange(stream, replayed.replayed[0].newId, replayed.replayed[0].newId))
      assert.deepStrictEqual(added[0]![1], ["order", "2", "note", "two words"])
      assert.deepStrictEqual((yield* call(() => raw.xrange(dlq, "-", "+"))).map(([id]) => id), [d1, d3])

      // the rest, oldest first
      const rest = yield* cli(["dlq", "replay", stream, "-y"])
      assert.strictEqual(rest.code, 0, rest.stderr)
      assert.match(rest.stdout, new RegExp(`^replayed ${d1} -> ${stream} \\d+-\\d+ \\(was 1-1\\)$`, "m"))
      assert.match(rest.stdout, /^2 dead letters replayed from /m)
      assert.strictEqual(yield* call(() => raw.xlen(dlq)), 0)
      const source = yield* call(() => raw.xrange(stream, "-", "+"))
      assert.deepStrictEqual(source.slice(1).map(([, f]) => f), [["order", "2", "note", "two words"], ["order", "1"], ["order", "3"]])

      // purge
      const p1 = yield* deadLetter(raw, stream, ["x", "1"], "2-1", "e")
      const p2 = yield* deadLetter(raw, stream, ["x", "2"], "2-2", "e")
      const dry = yield* cli(["dlq", "purge", stream])
      assert.strictEqual(dry.code, 0, dry.stderr)
      assert.deepStrictEqual(dry.stdout.trimEnd().split("\n"), [
        `would delete ${p1}`,
        `would delete ${p2}`,
        `2 dead letters would be deleted from ${dlq}; nothing changed (add --yes to do it)`
      ])
      assert.strictEqual(yield* call(() => raw.xlen(dlq)), 2)
      const purged = yield* cli(["dlq", "purge", stream, "--yes", "--json"])
      assert.deepStrictEqual(JSON.parse(purged.stdout), { deadLetterStream: dlq, dryRun: false, ids: [p1, p2], deleted: 2 })
      assert.strictEqual(yield* call(() => raw.xlen(dlq)), 0)
      const empty = yield* cli(["dlq", "list", stream])
      assert.strictEqual(empty.stdout.trim(), `${dlq}: 0 dead letters`)
    }))

  it.scopedLive("a stream with neither entries nor dead letters: exit 1, one line", () =>
    Effect.gen(function*() {
      const stream = uniqueKey("cli-dlq-missing")
      for (const sub of ["list", "replay", "purge"]) {
        const r = yield* cli(["dlq", sub, stream, "--yes"].filter((a) => sub !== "list" || a !== "--yes"))
        assertOneLineError(r, 1, new RegExp(`stream '${stream}' does not exist`))
      }
    }))
})

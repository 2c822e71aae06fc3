/**
 * Stream, group and consumer names with spaces, unicode, colons, quotes,
 * backslashes, newlines, glob characters and hash tags work everywhere: the
 * Producer, the Consumer (dead letters included, in the same Cluster slot),
 * the Monitor (report, table, cleanup, metrics), the Scaler, and the CLI
 * (arguments, output, Prometheus labels escaped as the text format requires).
 */
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer, Metric, Option, Redacted, Stream } from "effect"
import {
  Consumer,
  DeadLetter,
  Monitor,
  Producer,
  RedisBackend,
  Scaler,
  StreamsBackend
} from "effect-redis-streams"
import { forEachBackend, redisUrl, TestKit, testLogLevel } from "../src/Harness.js"
import { type Cli, cli, get, servedAddress } from "../security/cli.js"

const suffix = () => Math.random().toString(36).slice(2, 8)

/** names as hostile as Redis keys allow; each gets a unique suffix */
const streamNames = (): ReadonlyArray<string> => {
  const s = suffix()
  return [
    `orders with spaces ${s}`,
    `заказы:日本:🚀:${s}`,
    `a:b:c:${s}`,
    `{shop}:orders:${s}`,
    `quote"back\\slash ${s}`,
    `new\nline\ttab ${s}`,
    `*?[glob]^ ${s}`,
    `x}${s}`,
    `{}${s}`
  ]
}
const groupNames = ["group with spaces", "グループ:1", "{tag}", "g\"q\\", "g\nnl"] as const

// -----------------------------------------------------------------------------
// Redis Cluster key slots (CRC16/XMODEM of the hash tag or the whole key)
// -----------------------------------------------------------------------------

const crc16 = (bytes: Uint8Array): number => {
  let crc = 0
  for (const b of bytes) {
    crc ^= b << 8
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  }
  return crc
}

/** the Cluster slot of a key, as Redis computes it */
const slot = (key: string): number => {
  const open = key.indexOf("{")
  if (open !== -1) {
    const close = key.indexOf("}", open + 1)
    if (close !== -1 && close !== open + 1) return crc16(Buffer.from(key.slice(open + 1, close), "utf8")) % 16384
  }
  return crc16(Buffer.from(key, "utf8")) % 16384
}

forEachBackend("hostile names", (it) => {
  it.scoped("every component works with hostile stream, group and consumer names", () =>
    Effect.gen(function*() {
      const kit = yield* TestKit
      const backend = yield* StreamsBackend.StreamsBackend
      for (const [i, stream] of streamNames().entries()) {
        {
          const group = groupNames[i % groupNames.length]!
          const producer = yield* Producer.make({ stream })
          const ids = yield* producer.addAll([{ n: "1" }, { n: "2", poison: "yes" }, { n: "3" }])
          const consumer = yield* Consumer.make({
            stream,
            group,
            consumer: `consumer ${group} ✓`,
            batchSize: 10,
            maxWait: 0,
            emitEmpty: true,
            reclaim: false
          })
          const batch = yield* consumer.batches.pipe(Stream.take(1), Stream.runHead, Effect.map(Option.getOrThrow))
          assert.deepStrictEqual(batch.messages.map((m) => m.id), ids, `${stream} / ${group}`)
          assert.strictEqual(batch.messages[0]!.stream, stream)
          assert.strictEqual(batch.messages[0]!.group, group)
          for (const m of batch.messages) {
            if (m.fields["poison"] === "yes") yield* m.deadLetter("poison")
          }
          yield* batch.ackMessages(batch.messages.filter((m) => m.fields["poison"] !== "yes"))
          const dlq = (yield* backend.range(consumer.deadLetterStream)).map(DeadLetter.parse)
          assert.strictEqual(consumer.deadLetterStream, DeadLetter.defaultStream(stream))
          assert.deepStrictEqual(dlq.map((d) => [d.meta.id, d.meta.stream, d.meta.group]).at(-1), [ids[1], stream, group])

          // a consumer holding an entry, idle: the Monitor reports and cleans it up
          yield* producer.add({ n: "4" })
          yield* backend.readGroup({ stream, group, consumer: "dead one ☠", id: ">", count: 1 })
          yield* kit.sleep(600)
          yield* backend.createConsumer(stream, group, "alive: ✓")
          const monitor = yield* Monitor.make({ stream, group, idleThreshold: "400 millis", claimIdle: 0 })
          const report = yield* monitor.report
          assert.deepStrictEqual(report.groups.map((g) => g.name), [group])
          assert.include(
            report.groups[0]!.consumers.map((c) => c.name),
            "dead one ☠"
          )
          assert.strictEqual(report.groups[0]!.deadLetterStream, DeadLetter.defaultStream(stream))
          const table = Monitor.render(report)
          assert.notInclude(table, "\n" + group.split("\n")[1], "a newline in a name cannot break the table")
          const cleaned = yield* monitor.cleanup()
          const dead = cleaned.consumers.find((c) => c.consumer === "dead one ☠")!
          assert.strictEqual(dead.outcome, "DELETED")
          assert.deepStrictEqual(dead.claims.map((c) => c.to), ["alive: ✓"])

          const scaler = yield* Scaler.make({ stream, group })
          const decision = yield* scaler.decide
          assert.strictEqual(decision.stream, stream)
          assert.strictEqual(decision.group, group)
          assert.strictEqual(decision.pending, 1)
        }
      }
      // the Monitor's gauges carry the names as tags, unchanged
      const snapshot = yield* Metric.snapshot
      const tags = new Set(snapshot.flatMap((pair) => pair.metricKey.tags.map((t) => t.value)))
      for (const group of groupNames) assert.isTrue(tags.has(group), `metric tag ${JSON.stringify(group)}`)
    }), { timeout: 120_000 })

  it.effect("the default dead-letter stream is in the stream's Cluster slot whenever such a name exists", () =>
    Effect.sync(() => {
      const names = [
        "orders",
        "{shop}:orders",
        "заказы",
        "a:b:c",
        "{a}{b}",
        "a{b",
        "a{b}c",
        "with spaces",
        "quote\"q"
      ]
      for (const name of names) {
        assert.strictEqual(slot(DeadLetter.defaultStream(name)), slot(name), `${JSON.stringify(name)} -> ${DeadLetter.defaultStream(name)}`)
      }
      // a "}" outside a valid hash tag cannot be wrapped in one: no same-slot name exists (see the report)
      for (const name of ["x}", "{}orders", "}{"]) {
        assert.notStrictEqual(slot(DeadLetter.defaultStream(name)), slot(name), name)
      }
    }))
})

// -----------------------------------------------------------------------------
// the CLI (Redis)
// -----------------------------------------------------------------------------

class Env extends Context.Tag("test/KeysCliEnv")<Env, { readonly cli: Cli }>() {}

/** parse one sample line of the Prometheus text format, unescaping label values */
const parseSample = (line: string): { readonly name: string; readonly labels: Record<string, string>; readonly value: string } => {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
  if (m === null) throw new Error(`not a sample line: ${JSON.stringify(line)}`)
  const labels: Record<string, string> = {}
  const text = m[2] ?? ""
  let i = 0
  while (i < text.length) {
    const eq = text.indexOf("=\"", i)
    const name = text.slice(i, eq)
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name)) throw new Error(`bad label name ${JSON.stringify(name)} in ${line}`)
    let j = eq + 2
    let value = ""
    while (text[j] !== "\"") {
      if (j >= text.length) throw new Error(`unterminated label value in ${line}`)
      if (text[j] === "\\") {
        const next = text[j + 1]
        if (next === "n") value += "\n"
        else if (next === "\\" || next === "\"") value += next
        else throw new Error(`bad escape \\${next} in ${line}`)
        j += 2
      } else {
        if (text[j] === "\n") throw new Error(`raw newline in ${line}`)
        value += text[j]
        j++
      }
    }
    labels[name] = value
    i = j + 1
    if (text[i] === ",") i++
  }
  return { name: m[1]!, labels, value: m[3]! }
}

layer(Layer.mergeAll(Layer.scoped(Env, Effect.map(cli, (c) => ({ cli: c }))), testLogLevel), {
  excludeTestServices: true,
  timeout: "240 seconds"
})("hostile names in the CLI", (it) => {
  it.scoped("produce, info, tail, monitor, scale, dlq list and serve (Prometheus labels escaped) with hostile names", () =>
    Effect.gen(function*() {
      const { cli: c } = yield* Env
      const url = redisUrl()
      const names = streamNames().filter((n) => !n.startsWith("x}") && !n.startsWith("{}"))
      const group = "g\"q\\ \nグループ {tag}"
      const backend = RedisBackend.layerRedis({ url: Redacted.make(url) })
      for (const stream of names) {
        const produced = yield* c.run(["produce", stream, "--field", "n=1", "--field", "k=v v", "--url", url])
        assert.strictEqual(produced.code, 0, produced.stderr)
        // a group with one pending entry and one dead letter, made by the library
        yield* Effect.scoped(Effect.gen(function*() {
          const p = yield* Producer.make({ stream })
          yield* p.add({ poison: "yes" })
          const consumer = yield* Consumer.make({ stream, group, batchSize: 10, maxWait: 0, emitEmpty: true, reclaim: false })
          const batch = yield* consumer.batches.pipe(Stream.take(1), Stream.runHead, Effect.map(Option.getOrThrow))
          for (const m of batch.messages) if (m.fields["poison"] === "yes") yield* m.deadLetter("poison")
        })).pipe(Effect.provide(backend))

        const info = yield* c.run(["info", stream, "--json", "--url", url])
        assert.strictEqual(info.code, 0, info.stderr)
        const infoJson = JSON.parse(info.stdout)
        assert.strictEqual(infoJson.stream, stream)
        assert.deepStrictEqual(infoJson.groups.map((g: { name: string }) => g.name), [group])
        assert.strictEqual(infoJson.deadLetterStream, DeadLetter.defaultStream(stream))
        assert.strictEqual(infoJson.deadLetters, 1)

        const text = yield* c.run(["info", stream, "--url", url])
        assert.strictEqual(text.code, 0, text.stderr)
        assert.notInclude(text.stdout, "\nline", "control characters are escaped in text output")

        const monitor = yield* c.run(["monitor", stream, "--group", group, "--json", "--url", url])
        assert.strictEqual(monitor.code, 0, monitor.stderr)
        assert.strictEqual(JSON.parse(monitor.stdout).groups[0].name, group)

        const scale = yield* c.run(["scale", stream, "--group", group, "--json", "--url", url])
        assert.strictEqual(scale.code, 0, scale.stderr)
        assert.strictEqual(JSON.parse(scale.stdout).group, group)

        const dlq = yield* c.run(["dlq", "list", stream, "--json", "--url", url])
        assert.strictEqual(dlq.code, 0, dlq.stderr)
        const letter = JSON.parse(dlq.stdout).deadLetters[0]
        assert.strictEqual(letter.stream, stream)
        assert.strictEqual(letter.group, group)

        const tail = yield* c.run(["tail", stream, "--group", `${group} tail`, "--create", "--from-start", "--count", "1", "--json", "--url", url])
        assert.strictEqual(tail.code, 0, tail.stderr)
        assert.deepStrictEqual(JSON.parse(tail.stdout.trim().split("\n")[0]!).fields, { n: "1", k: "v v" })
      }

      // serve every stream at once; every sample line parses, and label values unescape to the names
      const served = yield* c.start(["serve", ...names, "--port", "0", "--host", "127.0.0.1", "--url", url])
      const address = (yield* served.waitFor(servedAddress))[1]!
      const metrics = yield* get(address, "/metrics")
      assert.strictEqual(metrics.status, 200)
      const samples = metrics.body.split("\n").filter((l) => l !== "" && !l.startsWith("#")).map(parseSample)
      for (const stream of names) {
        const up = samples.find((s) => s.name === "redis_streams_up" && s.labels["stream"] === stream)
        assert.strictEqual(up?.value, "1", `redis_streams_up for ${JSON.stringify(stream)}`)
        const pending = samples.find((s) =>
          s.name === "redis_streams_group_pending" && s.labels["stream"] === stream && s.labels["group"] === group
        )
        // the entry the library's consumer read and did not acknowledge
        assert.strictEqual(pending?.value, "1", `pending of ${JSON.stringify(stream)} / ${JSON.stringify(group)}`)
      }
      for (const line of metrics.body.split("\n").filter((l) => l.startsWith("# HELP"))) {
        assert.notInclude(line, "\n")
      }
      const scale = yield* get(
        address,
        `/scale?stream=${encodeURIComponent(names[0]!)}&group=${encodeURIComponent(`${group} tail`)}`
      )
      assert.strictEqual(scale.status, 200, scale.body)
      assert.strictEqual(JSON.parse(scale.body).stream, names[0])
      const stopped = yield* served.stop
      assert.strictEqual(stopped.code, 0, stopped.stderr)
    }), { timeout: 180_000 }) // about 50 CLI processes: 30-60 s on a 2-core machine, more when it is busy
})

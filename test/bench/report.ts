/**
 * What `pnpm bench` prints (bench.ts measures): the tables, the ratio of every round, and the last
 * line, one JSON object.
 *
 * A ratio is the median over the rounds of (library / other side in the same round), over the
 * rounds that measured both sides (the peers run in fewer rounds); msg/s figures are each side's
 * best round; latencies are medians over the rounds.
 */

export type Work = "produce" | "consume1" | "consume4" | "worker" | "latency" | "blocking"
export const works: ReadonlyArray<Work> = ["produce", "consume1", "consume4", "worker", "latency", "blocking"]

/** a round: per work, per side (or side and figure, as `lib50InFlight`, `libP99`) a number */
export type Round = Record<Work, Record<string, number>>

export const empty = (): Round => ({ produce: {}, consume1: {}, consume4: {}, worker: {}, latency: {}, blocking: {} })

export const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  if (s.length === 0) return NaN
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

const r3 = (n: number) => (Number.isFinite(n) ? Number(n.toFixed(3)) : null)
const fmt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "-").padStart(10)
const ms = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "-").padStart(7)

export const report = (rounds: ReadonlyArray<Round>, warmups: ReadonlyArray<Round>, config: {
  readonly messages: number
  readonly batch: number
}): void => {
  const out = (line: string) => process.stdout.write(line + "\n")
  const has = (r: Round, work: Work, side: string) => typeof r[work][side] === "number"
  const value = (r: Round, work: Work, side: string) => r[work][side]!
  /** the rounds that measured `side` */
  const values = (work: Work, side: string) => rounds.filter((r) => has(r, work, side)).map((r) => value(r, work, side))
  const best = (work: Work, side: string) => Math.max(...values(work, side))
  const ratios = (work: Work, side: string, base: string | ((r: Round) => number)) =>
    rounds
      .filter((r) =>
        has(r, work, side) && (typeof base === "string" ? has(r, work, base) : Number.isFinite(base(r)))
      )
      .map((r) => value(r, work, side) / (typeof base === "string" ? value(r, work, base) : base(r)))
  const ratio = (work: Work, side: string, base: string | ((r: Round) => number)) => median(ratios(work, side, base))
  const list = (work: Work, side: string, base: string) => ratios(work, side, base).map((x) => x.toFixed(2)).join(" ")
  const row = (label: string, work: Work, side: string, base = "raw", baseWork: Work = work) =>
    `| ${label.padEnd(68)} |  ${fmt(best(baseWork, base))} | ${fmt(best(work, side))} | ${
      (baseWork === work
        ? ratio(work, side, base)
        : median(rounds.filter((r) => has(r, work, side) && has(r, baseWork, base)).map((r) =>
          value(r, work, side) / value(r, baseWork, base)
        ))).toFixed(2)
    } |`
  // BullMQ's better concurrency in each round (consumeVsBullmq compares with it)
  const bullBest = (r: Round) => Math.max(r.consume1["bullmq1"] ?? NaN, r.consume1["bullmq50"] ?? NaN)

  const { messages, batch } = config
  const peerRounds = values("produce", "bullmq").length
  out(`messages: ${messages} x 100 bytes, batch ${batch}; ${rounds.length} rounds after ${warmups.length} warm-up rounds; one process per work`)
  out(`msg/s: best round; ratio: median over the rounds of (library / the other side in the same round)`)
  out(`| ${"work".padEnd(68)} | other msg/s |  lib msg/s | ratio |`)
  out(`|${"-".repeat(70)}|------------:|-----------:|------:|`)
  out(row("produce (addAll, a script per chunk) vs raw pipelined XADD", "produce", "lib"))
  out(row("consume + ack, 1 consumer vs raw", "consume1", "lib"))
  out(row("consume + ack, 4 consumers, a connection each vs raw", "consume4", "lib"))
  out(row("consume + ack, 4 consumers on one connection vs raw", "consume4", "libShared", "rawShared"))
  out(row("consume + ack, 1 consumer, no read-ahead vs raw", "consume1", "libNoReadAhead"))
  out(row("consume + ack, 4 consumers, a connection each, no read-ahead vs raw", "consume4", "libNoReadAhead"))
  out(`peers (${peerRounds} of the rounds):`)
  out(row("produce vs BullMQ Queue.addBulk", "produce", "lib", "bullmq"))
  if (values("produce", "ceiling").length > 0) {
    out(row("produce vs redis-benchmark XADD -P 16 (the server's ceiling)", "produce", "lib", "ceiling"))
  } else {
    out(`| ${"produce vs redis-benchmark: skipped (not on PATH)".padEnd(68)} |           - |          - |     - |`)
  }
  out(row("consume + ack, 1 consumer vs BullMQ Worker, no-op, concurrency 1", "consume1", "lib", "bullmq1"))
  out(row("consume + ack, 1 consumer vs BullMQ Worker, no-op, concurrency 50", "consume1", "lib", "bullmq50"))

  // worker (issue 14)
  const inFlight = (side: string) => median(values("worker", `${side}InFlight`))
  out(`worker: Consumer.process vs BullMQ Worker, the handler sleeping 1 ms (90%) or 50 ms (10%), or returning at once`)
  out(`| concurrency, handler | BullMQ msg/s |  lib msg/s | ratio | BullMQ in-flight | lib in-flight |`)
  out(`|----------------------|-------------:|-----------:|------:|-----------------:|--------------:|`)
  for (const [label, side] of [["10, sleeps", "10"], ["50, sleeps", "50"], ["50, returns at once", "Fast50"]] as const) {
    const lib = `lib${side}`
    const bull = `bullmq${side}`
    const flight = side === "Fast50"
      ? "               - |             -"
      : `${inFlight(bull).toFixed(2).padStart(16)} | ${inFlight(lib).toFixed(2).padStart(13)}`
    out(`| ${label.padEnd(20)} |   ${fmt(best("worker", bull))} | ${fmt(best("worker", lib))} | ${
      ratio("worker", lib, bull).toFixed(2)
    } | ${flight} |`)
  }

  // latency (issue 18)
  const lat = (side: string, figure: string) => median(values("latency", `${side}${figure}`))
  out(`latency: add call to handler start, producer at 10,000 msg/s, two consumers (maxWait 0); ms, medians over the rounds`)
  out(`| side                           |     p50 |     p99 |     max | p99 of add to Redis (the id's time, 1 ms) |`)
  out(`|--------------------------------|--------:|--------:|--------:|------------------------------------------:|`)
  for (
    const [label, side] of [
      ["raw ioredis                   ", "raw"],
      ["raw ioredis, each XADD a fiber", "rawFibers"],
      ["library                       ", "lib"]
    ] as const
  ) {
    out(`| ${label} | ${ms(lat(side, "P50"))} | ${ms(lat(side, "P99"))} | ${ms(lat(side, "Max"))} | ${
      ms(lat(side, "ToRedisP99")).padStart(41)
    } |`)
  }

  // blocking: another client's round trips during a bulk add
  const blk = (side: string, figure: string) => median(values("blocking", `${side}${figure}`))
  out(`another client's PING round trip (ms, medians over the rounds) while ${messages} entries are added`)
  out(`| during                                  |     p50 |     p99 |     max |`)
  out(`|-----------------------------------------|--------:|--------:|--------:|`)
  for (const [label, side] of [["nothing", "idle"], ["Producer.addAll (a script per chunk)", "script"], [
    "pipelined XADD (chunks of 1,000)",
    "pipelined"
  ]] as const) {
    out(`| ${label.padEnd(39)} | ${ms(blk(side, "P50"))} | ${ms(blk(side, "P99"))} | ${ms(blk(side, "Max"))} |`)
  }

  const chunkMs = median(values("blocking", "scriptChunkMs"))
  out(`the server ran each chunk's script (250 entries of 100 bytes) in ${ms(chunkMs).trim()} ms (INFO commandstats)`)
  out(
    `ratios per round: produce ${list("produce", "lib", "raw")}; consume1 ${list("consume1", "lib", "raw")}; consume4 ${
      list("consume4", "lib", "raw")
    }; consume4 on one connection ${list("consume4", "libShared", "rawShared")}; consume1 no read-ahead ${
      list("consume1", "libNoReadAhead", "raw")
    }; consume4 no read-ahead ${list("consume4", "libNoReadAhead", "raw")}; produce vs BullMQ ${
      list("produce", "lib", "bullmq")
    }; worker 50 vs BullMQ ${list("worker", "lib50", "bullmq50")}; latency p99 ${list("latency", "libP99", "rawP99")}; latency p99 vs raw with a fiber per XADD ${
      list("latency", "libP99", "rawFibersP99")
    }`
  )
  // what the warm-up rounds measured, for the record (the first rounds are the slowest)
  const warm = (work: Work) =>
    warmups.filter((r) => has(r, work, "lib") && has(r, work, "raw")).map((r) => (r[work]["lib"]! / r[work]["raw"]!).toFixed(2))
      .join(" ")
  out(`warm-up rounds (not counted): produce ${warm("produce")}; consume1 ${warm("consume1")}; consume4 ${warm("consume4")}`)

  const consume1 = ratio("consume1", "lib", "raw")
  const consume4 = ratio("consume4", "lib", "raw")
  const consume4One = ratio("consume4", "libShared", "rawShared")
  out(JSON.stringify({
    messages,
    rounds: rounds.length,
    warmup: warmups.length,
    produceRatio: r3(ratio("produce", "lib", "raw")),
    consumeRatio: r3(Math.min(consume1, consume4, consume4One)),
    consumeRatio1: r3(consume1),
    consumeRatio4: r3(consume4),
    consumeRatio4OneConnection: r3(consume4One),
    consumeRatioNoReadAhead: r3(
      Math.min(ratio("consume1", "libNoReadAhead", "raw"), ratio("consume4", "libNoReadAhead", "raw"))
    ),
    consumeRatio1NoReadAhead: r3(ratio("consume1", "libNoReadAhead", "raw")),
    consumeRatio4NoReadAhead: r3(ratio("consume4", "libNoReadAhead", "raw")),
    produceVsServerCeiling: r3(ratio("produce", "lib", "ceiling")),
    produceVsBullmq: r3(ratio("produce", "lib", "bullmq")),
    consumeVsBullmq: r3(ratio("consume1", "lib", bullBest)),
    workerVsBullmq10: r3(ratio("worker", "lib10", "bullmq10")),
    workerVsBullmq50: r3(ratio("worker", "lib50", "bullmq50")),
    workerFastVsBullmq50: r3(ratio("worker", "libFast50", "bullmqFast50")),
    workerInFlight10: r3(inFlight("lib10")),
    workerInFlight50: r3(inFlight("lib50")),
    bullmqInFlight50: r3(inFlight("bullmq50")),
    latencyP99Ratio: r3(ratio("latency", "libP99", "rawP99")),
    latencyLibP50Ms: r3(lat("lib", "P50")),
    latencyLibP99Ms: r3(lat("lib", "P99")),
    latencyRawP50Ms: r3(lat("raw", "P50")),
    latencyRawP99Ms: r3(lat("raw", "P99")),
    latencyLibToRedisP99Ms: r3(lat("lib", "ToRedisP99")),
    latencyRawToRedisP99Ms: r3(lat("raw", "ToRedisP99")),
    // the raw side with each XADD in a fiber of its own (Effect.runFork), as the library's add is driven
    latencyP99VsRawFibers: r3(ratio("latency", "libP99", "rawFibersP99")),
    latencyRawFibersP99Ms: r3(lat("rawFibers", "P99")),
    scriptChunkMs: r3(chunkMs),
    otherClientP99Ms: { idle: r3(blk("idle", "P99")), addAll: r3(blk("script", "P99")), pipelined: r3(blk("pipelined", "P99")) },
    rawProduce: Math.round(best("produce", "raw")),
    libProduce: Math.round(best("produce", "lib")),
    bullmqProduce: Math.round(best("produce", "bullmq")),
    serverCeiling: values("produce", "ceiling").length > 0 ? Math.round(best("produce", "ceiling")) : null,
    raw1: Math.round(best("consume1", "raw")),
    lib1: Math.round(best("consume1", "lib")),
    bullmq1: Math.round(best("consume1", "bullmq1")),
    bullmq50: Math.round(best("consume1", "bullmq50")),
    raw4: Math.round(best("consume4", "raw")),
    lib4: Math.round(best("consume4", "lib")),
    raw4OneConnection: Math.round(best("consume4", "rawShared")),
    lib4OneConnection: Math.round(best("consume4", "libShared"))
  }))
}

/**
 * The operations of the Redis backend on a stream's entries and on the
 * keyspace: `delete` (XDEL), `trim` (XTRIM), `length` (XLEN), `range`
 * (XRANGE / XREVRANGE), `moveEntry` (a script, or its steps across Cluster
 * slots) and `scanStreams` (SCAN on each master).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { Cluster, Redis } from "ioredis"
import { createHash } from "node:crypto"
import type { MoveEntryOptions, Service, Trim } from "../../StreamsBackend.js"
import type { BackendError } from "../../StreamsError.js"
import type { Client } from "../redisConnection.js"
import { traced } from "../redisTracing.js"
import * as Replies from "../replies.js"
import { type makeAdds, pushTrim } from "./adds.js"
import type { Arg, Requests } from "./request.js"

/** SCAN's COUNT hint and the default bound on SCAN calls of `scanStreams` */
const SCAN_COUNT = 1000
const SCAN_MAX_ROUNDS = 1000

/**
 * `moveEntry`: KEYS[1] from, KEYS[2] to, ARGV[1] the id, ARGV[2..] the new
 * entry's fields. Adds and deletes only if the id is still in KEYS[1];
 * returns the new id, or nil. An error of XADD (WRONGTYPE) aborts before the
 * XDEL: nothing changes.
 */
export const MOVE_ENTRY = `if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 0 then return false end
local id = redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2))
redis.call('XDEL', KEYS[1], ARGV[1])
return id`

const MOVE_LABEL = Replies.MOVE_ENTRY_LABEL

const MOVE_ENTRY_SHA = createHash("sha1").update(MOVE_ENTRY).digest("hex")

/** `Service.scanStreams`: SCAN MATCH pattern TYPE stream on each master, bounded */
const makeScanStreams = (requests: Requests): Service["scanStreams"] => {
  const scanNode = (
    node: Redis | Client,
    pattern: string,
    found: Set<string>,
    budget: { rounds: number; readonly limit: number }
  ): Effect.Effect<boolean, BackendError> =>
    Effect.gen(function*() {
      let cursor = "0"
      do {
        if (found.size >= budget.limit || budget.rounds <= 0) return true
        budget.rounds--
        const at = cursor
        const round = yield* requests.run(
          () => node.call("scan", [at, "MATCH", pattern, "COUNT", SCAN_COUNT, "TYPE", "stream"]),
          Replies.parseScan,
          "SCAN",
          pattern,
          undefined
        )
        for (const key of round.keys) if (found.size < budget.limit || found.has(key)) found.add(key)
        // a key past the limit means more may match
        if (round.keys.some((k) => !found.has(k))) return true
        cursor = round.cursor
      } while (cursor !== "0")
      return false
    })

  return (pattern, options) =>
    Effect.suspend(() => {
      const found = new Set<string>()
      const budget = { rounds: Math.max(1, options.maxRounds ?? SCAN_MAX_ROUNDS), limit: Math.max(1, options.limit) }
      // the current client (a rebuilt connection's new one)
      const client = requests.client
      const nodes: ReadonlyArray<Redis | Client> = client.isCluster ? (client as Cluster).nodes("master") : [client]
      return Effect.map(
        Effect.forEach(nodes, (node) => scanNode(node, pattern, found, budget)),
        (stopped) => ({ streams: Array.from(found).sort(), truncated: stopped.some((s) => s) })
      )
    }).pipe((effect) => traced(effect, "scanStreams", pattern))
}

const parseMoved = (reply: unknown): string | null =>
  reply === null || reply === undefined ? null : Replies.parseAddedId(reply, "", "EVALSHA")

/**
 * `delete`, `trim`, `length`, `range`, `moveEntry` and `scanStreams` through
 * `requests`; `moveEntry` adds with `add` when it goes in steps
 */
export const makeEntries = (requests: Requests, add: ReturnType<typeof makeAdds>["add"]) => {
  const del = (stream: string, ids: ReadonlyArray<string>) => {
    if (ids.length === 0) return Effect.succeed(0)
    const args: Array<Arg> = [stream]
    for (let i = 0; i < ids.length; i++) args.push(ids[i]!)
    return traced(requests.send("XDEL", args, Replies.toInt, stream), "delete", stream)
  }

  const trim = (stream: string, trim: Trim) => {
    const args: Array<Arg> = [stream]
    pushTrim(args, trim)
    return traced(requests.send("XTRIM", args, Replies.toInt, stream), "trim", stream)
  }

  const length = (stream: string) => traced(requests.send("XLEN", [stream], Replies.toInt, stream), "length", stream)

  const range: Service["range"] = (stream, options) => {
    const low = options?.start ?? "-"
    const high = options?.end ?? "+"
    const reverse = options?.reverse === true
    const args: Array<Arg> = reverse ? [stream, high, low] : [stream, low, high]
    if (options?.count !== undefined) args.push("COUNT", options.count)
    return traced(requests.send(reverse ? "XREVRANGE" : "XRANGE", args, Replies.parseEntries, stream), "range", stream)
  }

  /** the same steps without a script, for two keys in different Cluster slots (not atomic) */
  const moveInSteps = (o: MoveEntryOptions): Effect.Effect<string | null, BackendError> =>
    Effect.flatMap(range(o.from, { start: o.id, end: o.id, count: 1 }), (found) =>
      found.length === 0
        ? Effect.succeed(null)
        : Effect.flatMap(add(o.to, o.fields), (id) => Effect.as(del(o.from, [o.id]), id)))

  const moveEntry = (o: MoveEntryOptions) => {
    const argv: Array<Arg> = [2, o.from, o.to, o.id]
    for (let i = 0; i < o.fields.length; i++) argv.push(o.fields[i]!)
    const script = requests.send("EVALSHA", [MOVE_ENTRY_SHA, ...argv], parseMoved, o.from, undefined, MOVE_LABEL).pipe(
      Effect.catchIf(
        (e) => e._tag === "RedisCommandError" && e.reply.startsWith("NOSCRIPT"),
        () => requests.send("EVAL", [MOVE_ENTRY, ...argv], parseMoved, o.from, undefined, MOVE_LABEL)
      )
    )
    return traced(
      (requests.client.isCluster
        ? Effect.catchIf(
          script,
          (e) => e._tag === "RedisCommandError" && e.reply.startsWith("CROSSSLOT"),
          () => moveInSteps(o)
        )
        : script).pipe(Effect.mapError((e) => Replies.moveEntryError(e, o.from, o.to))),
      "moveEntry",
      o.from
    )
  }

  return { delete: del, trim, length, range, moveEntry, scanStreams: makeScanStreams(requests) }
}

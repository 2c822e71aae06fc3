/**
 * `addMany` of the Redis backend: the entries go in chunks, each chunk as one
 * EVAL of a small Lua script that runs its XADDs (with `redis.pcall`, so one
 * failing XADD does not stop the others, as in a pipeline), or, where the
 * server refuses scripts, as a pipeline of XADDs. Same results either way: ids
 * in order, trimming per XADD, NOMKSTREAM's nil -> `StreamNotFound`, the first
 * failing entry reported and the others applied.
 *
 * Why a script: ioredis spends about 8 µs of Node CPU per pipelined XADD (a
 * Command, a promise, its reply) against about 2 µs in Redis; one EVAL per
 * 250 entries costs Node one command per chunk.
 *
 * EVAL and not EVALSHA: the body (under 1 KB) travels with each chunk of about
 * 30 KB, and Redis hashes it (a few µs per chunk) to find the compiled script
 * in its cache. In exchange there is never a NOSCRIPT: with EVALSHA, a chunk
 * refused with NOSCRIPT (a flushed script cache, a failover to a server that
 * never saw the script) while later chunks of the same call, already written,
 * run (because another client loaded the script in between) would have to be
 * sent again after them, and the call's entries would no longer be in order.
 *
 * @internal
 */
import type { Fields } from "../StreamsBackend.js"
import type { Client } from "./redisConnection.js"
import * as Replies from "./replies.js"

type Arg = string | number

/**
 * Entries per script chunk, and script chunks in flight at once (so up to 2,000 entries take one
 * round trip). While a script runs the server runs nothing else: a chunk of 250 entries of 100
 * bytes held it 0.5-1.2 ms on a busy 2-core machine (1,000 entries: about 4 ms, with no more
 * throughput), measured by `pnpm bench` (INFO commandstats, another client's PING p99).
 */
export const SCRIPT_CHUNK = { entries: 250, window: 8 } as const

/**
 * Entries per pipeline chunk (where scripts are refused), and pipelines in flight at once: beyond
 * that, writing everything at once is slower (the pending commands and their promises weigh on the
 * GC) than keeping a few chunks in flight. Redis serves other clients between the parts of a
 * pipeline it reads (16 KB at a time), so a pipeline holds the server less than a script of the
 * same size.
 */
export const PIPELINE_CHUNK = { entries: 1000, window: 4 } as const

/**
 * a chunk also ends once its field names and values reach this many characters (about 1 MiB): a
 * script's arguments arrive whole before it runs (Redis's client query buffer holds them) and the
 * server runs nothing else while a chunk runs
 */
export const CHUNK_CHARS = 1 << 20

/**
 * Entries with more field names and values than this go in a pipeline: the script passes an
 * entry's fields to XADD with `unpack`, which Lua limits to about 8,000 values.
 */
export const SCRIPT_MAX_FIELDS = 4096

/**
 * KEYS[1] the stream; ARGV[1] the number of XADD options that follow (NOMKSTREAM, trimming, `*`),
 * then per entry its number of field names and values, then those. Returns, per entry, its id,
 * `nil` (NOMKSTREAM on a missing stream) or the entry's error (a nested error reply).
 */
export const ADD_MANY = `local nopts = tonumber(ARGV[1])
local args = {KEYS[1]}
for i = 1, nopts do args[i + 1] = ARGV[i + 1] end
local base = nopts + 1
local out = {}
local n = 0
local i = nopts + 2
local argc = #ARGV
while i <= argc do
  local count = tonumber(ARGV[i])
  for j = 1, count do args[base + j] = ARGV[i + j] end
  n = n + 1
  out[n] = redis.pcall('XADD', unpack(args, 1, base + count))
  i = i + count + 1
end
return out`

/** EVAL refused as a command (ACL, a proxy or a server without scripting): pipelines from then on */
const REFUSED = /^NOPERM .*'eval'|unknown command|unsupported command|not supported|command not allowed|disabled/i

/** a script's XADD refused by ACL (the same for every entry of the chunk: nothing was added) */
const SCRIPT_DENIED = /^ERR The user executing the script can't/

/** why a chunk goes in a pipeline after all */
class SendAsPipeline {
  constructor(readonly refused: string | undefined) {}
}

/**
 * Holds whether scripts are refused on this connection (found once: the first refusal switches
 * every later chunk to pipelines) and runs `addMany`'s requests.
 */
export interface AddMany {
  readonly start: (stream: string, prefix: ReadonlyArray<Arg>, entries: ReadonlyArray<Fields>) => Promise<Array<string>>
  /**
   * Entries `from` to `to` as one script chunk (a pipeline where scripts are refused): per entry its
   * reply or its error. While `scriptsKnown` is false the caller sends one such chunk at a time.
   */
  readonly chunk: (prefix: ReadonlyArray<Arg>, entries: ReadonlyArray<Fields>, from: number, to: number) => Promise<ReadonlyArray<unknown>>
  /** whether a script chunk could still be refused as a command (none has been answered yet) */
  readonly scriptsUnknown: () => boolean
  /** whether scripts are refused on this connection */
  readonly scriptsRefused: () => boolean
  /** whether scripts were found refused and that is not yet taken (`takeRefusal`) */
  readonly refusalPending: () => boolean
  /** the reason scripts were found refused, once (then undefined again), to log it */
  readonly takeRefusal: () => string | undefined
}

/** can the script add this entry exactly as XADD would (else Redis's own arity error comes from a pipeline) */
export const scriptable = (fields: Fields): boolean =>
  fields.length > 0 && fields.length % 2 === 0 && fields.length <= SCRIPT_MAX_FIELDS

/** the end of the chunk starting at `from`, and whether the script can add all of it */
const chunkEnd = (
  entries: ReadonlyArray<Fields>,
  from: number,
  size: number
): { readonly to: number; readonly script: boolean } => {
  const last = Math.min(from + size, entries.length)
  let chars = 0
  let script = true
  let to = from
  while (to < last && chars < CHUNK_CHARS) {
    const fields = entries[to++]!
    if (!scriptable(fields)) script = false
    for (let k = 0; k < fields.length; k++) chars += fields[k]!.length
  }
  return { to, script }
}

/** a chunk as pipelined XADDs: per entry its reply or its error */
const sendPipeline = (
  client: Client,
  prefix: ReadonlyArray<Arg>,
  entries: ReadonlyArray<Fields>,
  from: number,
  to: number
): Promise<ReadonlyArray<unknown>> => {
  const p = client.pipeline()
  // ioredis flattens one level of nested arguments (its typings do not say so): no concatenated
  // copy of the arguments per entry
  const xadd = p.call as unknown as (command: string, ...args: Array<ReadonlyArray<Arg>>) => unknown
  for (let i = from; i < to; i++) xadd.call(p, "xadd", prefix, entries[i]!)
  return p.exec().then((replies) => {
    if (replies === null) throw new Replies.UnexpectedReply("the pipeline was aborted")
    const out = new Array<unknown>(replies.length)
    for (let i = 0; i < replies.length; i++) {
      const [error, reply] = replies[i]!
      out[i] = error ?? reply
    }
    return out
  })
}

/**
 * a chunk as one EVAL of the script: per entry its reply or its error; fails with `SendAsPipeline`
 * when the chunk must go as a pipeline instead
 */
const sendScript = (
  client: Client,
  prefix: ReadonlyArray<Arg>,
  entries: ReadonlyArray<Fields>,
  from: number,
  to: number
): Promise<ReadonlyArray<unknown>> => {
  // [body, numkeys, stream, number of options, options..., then count, fields per entry]: flattened
  // one level by ioredis
  const args: Array<Arg | Fields> = [ADD_MANY, 1, prefix[0]!, prefix.length - 1]
  for (let k = 1; k < prefix.length; k++) args.push(prefix[k]!)
  for (let i = from; i < to; i++) {
    const fields = entries[i]!
    args.push(fields.length, fields)
  }
  return (client.call as unknown as (command: string, ...args: Array<Arg | Fields>) => Promise<unknown>)(
    "eval",
    ...args
  ).then(
    (reply) => {
      const out = Replies.parseAddManyScript(reply, to - from)
      const first = out[0]
      if (first instanceof Error && SCRIPT_DENIED.test(first.message)) throw new SendAsPipeline(undefined)
      return out
    },
    (cause: unknown) => {
      const message = cause instanceof Error ? cause.message : String(cause)
      if (REFUSED.test(message)) throw new SendAsPipeline(message)
      // ACL refused the key (NOPERM): the pipeline's XADD reports it as it always has
      if (message.startsWith("NOPERM")) throw new SendAsPipeline(undefined)
      throw cause
    }
  )
}

/** @internal */
export const make = (client: () => Client): AddMany => {
  /** whether the server runs the script: unknown until a first chunk's reply says */
  let scripts: "unknown" | "yes" | "refused" = "unknown"
  let refused: string | undefined
  let announced = false

  const pipeline = (prefix: ReadonlyArray<Arg>, entries: ReadonlyArray<Fields>, from: number, to: number) =>
    sendPipeline(client(), prefix, entries, from, to)

  const script = (prefix: ReadonlyArray<Arg>, entries: ReadonlyArray<Fields>, from: number, to: number) =>
    sendScript(client(), prefix, entries, from, to).then(
      (out) => {
        scripts = "yes"
        return out
      },
      (cause: unknown) => {
        if (!(cause instanceof SendAsPipeline)) throw cause
        if (cause.refused !== undefined && refused === undefined) {
          scripts = "refused"
          refused = cause.refused
        }
        return pipeline(prefix, entries, from, to)
      }
    )

  const start = async (stream: string, prefix: ReadonlyArray<Arg>, entries: ReadonlyArray<Fields>) => {
    // chunks, a few in flight (SCRIPT_CHUNK, PIPELINE_CHUNK); each chunk's replies become ids as
    // they arrive
    const ids = new Array<string>(entries.length)
    // the first failure in entry order (a chunk sent again as a pipeline completes after the ones
    // written behind it); the other XADDs still apply, as Redis runs them
    let failure: { readonly index: number; readonly cause: unknown } | undefined
    const fail = (index: number, cause: unknown) => {
      if (failure === undefined || index < failure.index) failure = { index, cause }
    }
    const inflight: Array<Promise<void>> = []
    for (let from = 0; from < entries.length;) {
      const limits = scripts === "refused" ? PIPELINE_CHUNK : SCRIPT_CHUNK
      const chunk = chunkEnd(entries, from, limits.entries)
      const offset = from
      const probe = chunk.script && scripts === "unknown"
      const sent = chunk.script && scripts !== "refused"
        ? script(prefix, entries, from, chunk.to)
        : pipeline(prefix, entries, from, chunk.to)
      const done = sent.then((replies) => {
        if (failure !== undefined && failure.index < offset) return
        for (let i = 0; i < replies.length; i++) {
          const reply = replies[i]
          try {
            if (reply instanceof Error) throw reply
            ids[offset + i] = Replies.parseAddedId(reply, stream)
          } catch (cause) {
            return fail(offset + i, cause)
          }
        }
      }, (cause: unknown) => fail(offset, cause))
      inflight.push(done)
      // the first script chunk on this connection goes alone: if the server refuses scripts, that
      // is found once (one refusal in the ACL log), not once per chunk in flight
      if (probe) await done
      if (inflight.length >= limits.window) await inflight.shift()
      from = chunk.to
    }
    await Promise.all(inflight)
    if (failure !== undefined) throw failure.cause
    return ids
  }

  return {
    start,
    chunk: (prefix, entries, from, to) =>
      scripts === "refused" ? pipeline(prefix, entries, from, to) : script(prefix, entries, from, to),
    scriptsUnknown: () => scripts === "unknown",
    scriptsRefused: () => scripts === "refused",
    refusalPending: () => refused !== undefined && !announced,
    takeRefusal: () => {
      if (refused === undefined || announced) return undefined
      announced = true
      return refused
    }
  }
}

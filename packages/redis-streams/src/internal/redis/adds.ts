/**
 * The adds of the Redis backend: `add` (adds made in the same tick leave
 * together, see redisAddCoalesce.ts) and `addMany` (chunks of scripts or
 * pipelined XADD, see redisAddMany.ts), and the XADD/XTRIM trimming arguments.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { AddOptions, Fields, Trim } from "../../StreamsBackend.js"
import { Coalescer } from "../redisAddCoalesce.js"
import * as AddMany from "../redisAddMany.js"
import { traced } from "../redisTracing.js"
import * as Replies from "../replies.js"
import { type Arg, EMPTY, type Requests } from "./request.js"

/** the trimming arguments of XADD and XTRIM */
export const pushTrim = (args: Array<Arg>, trim: Trim): void => {
  args.push(trim.strategy === "maxlen" ? "MAXLEN" : "MINID", trim.approximate === true ? "~" : "=", trim.threshold)
  if (trim.limit !== undefined) args.push("LIMIT", trim.limit)
}

/**
 * `add` and `addMany` through `requests`; the coalescer and the bulk sender
 * send on the client `requests` holds at the time (a rebuilt connection's new
 * client); whether scripts are refused, once found, holds for the new client too
 */
export const makeAdds = (requests: Requests) => {
  const current = () => requests.client
  const bulk = AddMany.make(current)
  const coalescer = new Coalescer(current, bulk)

  /** scripts found refused (once per connection): say so, once */
  const announce = Effect.suspend(() => {
    const refused = bulk.takeRefusal()
    return refused === undefined ? Effect.void : Effect.logWarning(
      `the server refuses scripts (${refused}); adds are sent as XADD from now on ` +
        `(grant +eval to send adds made together as one script, about twice as fast)`
    )
  })

  // adds made in the same tick leave together (redisAddCoalesce.ts)
  const add = (stream: string, fields: Fields, options?: AddOptions) => {
    const prefix: Array<Arg> = [stream]
    if (options !== undefined) {
      if (options.noMkStream === true) prefix.push("NOMKSTREAM")
      if (options.trim !== undefined) pushTrim(prefix, options.trim)
    }
    prefix.push(options?.id ?? "*")
    const effect = requests.run(
      () => coalescer.add(prefix, fields),
      (r) => Replies.parseAddedId(r, stream),
      "XADD",
      stream,
      undefined
    )
    const announced = Effect.flatMap(effect, (id) => bulk.refusalPending() ? Effect.as(announce, id) : Effect.succeed(id))
    return traced(announced, "add", stream, "producer")
  }

  const addMany = (stream: string, entries: ReadonlyArray<Fields>, options?: Omit<AddOptions, "id">) => {
    if (entries.length === 0) return Effect.succeed(EMPTY as ReadonlyArray<string>)
    const prefix: Array<Arg> = [stream]
    if (options !== undefined) {
      if (options.noMkStream === true) prefix.push("NOMKSTREAM")
      if (options.trim !== undefined) pushTrim(prefix, options.trim)
    }
    prefix.push("*")
    const parse = (reply: unknown): ReadonlyArray<string> => reply as ReadonlyArray<string>
    const effect = requests.run(() => bulk.start(stream, prefix, entries), parse, "XADD", stream, undefined)
    return traced(Effect.ensuring(effect, announce), "addMany", stream, "producer")
  }

  return { add, addMany }
}

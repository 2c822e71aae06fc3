/**
 * The information and administration operations of the Redis backend:
 * XINFO (`streamInfo`, `groupsInfo`, `consumersInfo`), XGROUP (create,
 * destroy, set the id of a group; create, delete a consumer) and the script
 * that deletes a consumer only when it is idle.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { createHash } from "node:crypto"
import { traced } from "../redisTracing.js"
import * as Replies from "../replies.js"
import type { Arg, Requests } from "./request.js"

/**
 * Delete a consumer only if it has no pending entries and has been idle for at
 * least ARGV[3] ms. Returns `{deleted, pending, idle}` (`idle` -1 when the
 * consumer does not exist). Errors (NOGROUP, no such key, WRONGTYPE) propagate.
 */
export const DELETE_CONSUMER_IF_IDLE = `local list = redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
for i = 1, #list do
  local c = list[i]
  local name, pending, idle
  for j = 1, #c, 2 do
    local k = c[j]
    if k == 'name' then name = c[j + 1]
    elseif k == 'pending' then pending = c[j + 1]
    elseif k == 'idle' then idle = c[j + 1] end
  end
  if name == ARGV[2] then
    if pending == 0 and idle >= tonumber(ARGV[3]) then
      redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
      return {1, 0, idle}
    end
    return {0, pending, idle}
  end
end
return {0, 0, -1}`

const SCRIPT_LABEL = "XGROUP DELCONSUMER if idle (script)"

const DELETE_CONSUMER_IF_IDLE_SHA = createHash("sha1").update(DELETE_CONSUMER_IF_IDLE).digest("hex")

/** `streamInfo`, `groupsInfo` and `consumersInfo` through `requests` */
export const makeInfo = (requests: Requests) => {
  const streamInfo = (stream: string) =>
    traced(
      requests.send("XINFO", ["STREAM", stream], Replies.parseStreamInfo, stream, undefined, "XINFO STREAM"),
      "streamInfo",
      stream
    )

  const groupsInfo = (stream: string) =>
    traced(
      requests.send("XINFO", ["GROUPS", stream], Replies.parseGroupsInfo, stream, undefined, "XINFO GROUPS"),
      "groupsInfo",
      stream
    )

  const consumersInfo = (stream: string, group: string) =>
    traced(
      requests.send(
        "XINFO",
        ["CONSUMERS", stream, group],
        Replies.parseConsumersInfo,
        stream,
        group,
        "XINFO CONSUMERS"
      ),
      "consumersInfo",
      stream
    )

  return { streamInfo, groupsInfo, consumersInfo }
}

/** `deleteConsumerIfIdle`: the script by its SHA1, sent whole when the server does not have it */
const makeDeleteConsumerIfIdle = (requests: Requests) => {
  const deleteConsumerIfIdle = (
    stream: string,
    group: string,
    consumer: string,
    options?: { readonly minIdleMs?: number | undefined }
  ) => {
    const argv: Array<Arg> = [1, stream, group, consumer, options?.minIdleMs ?? 0]
    return traced(
      requests.send(
        "EVALSHA",
        [DELETE_CONSUMER_IF_IDLE_SHA, ...argv],
        Replies.parseDeleteConsumerIfIdle,
        stream,
        group,
        SCRIPT_LABEL
      ).pipe(
        Effect.catchIf(
          (e) => e._tag === "RedisCommandError" && e.reply.startsWith("NOSCRIPT"),
          () =>
            requests.send(
              "EVAL",
              [DELETE_CONSUMER_IF_IDLE, ...argv],
              Replies.parseDeleteConsumerIfIdle,
              stream,
              group,
              SCRIPT_LABEL
            )
        )
      ),
      "deleteConsumerIfIdle",
      stream
    )
  }
  return deleteConsumerIfIdle
}

/** the XGROUP operations on groups and consumers through `requests` */
export const makeGroups = (requests: Requests) => {
  const createGroup = (
    stream: string,
    group: string,
    options: { readonly id: string; readonly mkStream?: boolean | undefined; readonly entriesRead?: number | undefined }
  ) => {
    const args: Array<Arg> = ["CREATE", stream, group, options.id]
    if (options.mkStream === true) args.push("MKSTREAM")
    if (options.entriesRead !== undefined) args.push("ENTRIESREAD", options.entriesRead)
    return traced(
      requests.send("XGROUP", args, () => true, stream, group, "XGROUP CREATE").pipe(
        Effect.catchIf(
          (e) => e._tag === "RedisCommandError" && e.reply.startsWith("BUSYGROUP"),
          () => Effect.succeed(false)
        )
      ),
      "createGroup",
      stream
    )
  }

  const destroyGroup = (stream: string, group: string) =>
    traced(
      requests.send("XGROUP", ["DESTROY", stream, group], Replies.toBool, stream, group, "XGROUP DESTROY"),
      "destroyGroup",
      stream
    )

  const createConsumer = (stream: string, group: string, consumer: string) =>
    traced(
      requests.send(
        "XGROUP",
        ["CREATECONSUMER", stream, group, consumer],
        Replies.toBool,
        stream,
        group,
        "XGROUP CREATECONSUMER"
      ),
      "createConsumer",
      stream
    )

  const deleteConsumer = (stream: string, group: string, consumer: string) =>
    traced(
      requests.send(
        "XGROUP",
        ["DELCONSUMER", stream, group, consumer],
        Replies.toInt,
        stream,
        group,
        "XGROUP DELCONSUMER"
      ),
      "deleteConsumer",
      stream
    )

  const setGroupId = (
    stream: string,
    group: string,
    id: string,
    options?: { readonly entriesRead?: number | undefined }
  ) => {
    const args: Array<Arg> = ["SETID", stream, group, id]
    if (options?.entriesRead !== undefined) args.push("ENTRIESREAD", options.entriesRead)
    return traced(
      requests.send("XGROUP", args, () => undefined, stream, group, "XGROUP SETID"),
      "setGroupId",
      stream
    )
  }

  return {
    createGroup,
    destroyGroup,
    createConsumer,
    deleteConsumer,
    deleteConsumerIfIdle: makeDeleteConsumerIfIdle(requests),
    setGroupId
  }
}

/**
 * The StreamsBackend port over ioredis. Commands go out through
 * `client.call`, replies are parsed by `replies.ts` inside the promise
 * callback (one Effect per operation, none per entry).
 *
 * `make` assembles the Service from the parts under `redis/`, which share one
 * `Requests` object (the current client, the command timeout, `run`, `send`):
 * - `redis/request.ts`: the request machinery (deadlines, error mapping,
 *   lower-case command names, XINFO/XGROUP routing on a Cluster)
 * - `redis/adds.ts`: `add`, `addMany`
 * - `redis/reads.ts`: `readGroup`, the blocking reader, `ack`,
 *   `ackAndDelete`, `ackThenRead`, `withBytes`
 * - `redis/claims.ts`: `pendingSummary`, `pending`, `claim`, `claimJustId`,
 *   `autoClaim`
 * - `redis/admin.ts`: XINFO and XGROUP operations, `deleteConsumerIfIdle`
 * - `redis/entries.ts`: `delete`, `trim`, `length`, `range`, `moveEntry`,
 *   `scanStreams`
 * Lanes (a sibling connection per lane) are routed here.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { Service as Connection } from "../RedisConnection.js"
import type { Lane, Service } from "../StreamsBackend.js"
import { makeGroups, makeInfo } from "./redis/admin.js"
import { makeAdds } from "./redis/adds.js"
import { makeClaims } from "./redis/claims.js"
import { makeEntries } from "./redis/entries.js"
import { blockingReader, makeReads } from "./redis/reads.js"
import { Requests } from "./redis/request.js"

export { DELETE_CONSUMER_IF_IDLE } from "./redis/admin.js"
export { MOVE_ENTRY } from "./redis/entries.js"

/**
 * A lane of a Redis backend: the same backend over a sibling connection
 * (`backend` undefined on a Cluster, where lanes use the Cluster client), used
 * while open, by the backend that made it (`owner`) only.
 */
class RedisLane implements Lane {
  open = true
  constructor(
    readonly owner: object,
    readonly backend: Service | undefined
  ) {}
}

/** @internal */
export const make = (connection: Connection): Service => {
  const requests = new Requests(connection)
  const { add, addMany } = makeAdds(requests)
  const { ack, ackAndDelete, ackThenRead, readGroup } = makeReads(requests)
  const { autoClaim, claim, claimJustId, pending, pendingSummary } = makeClaims(requests)
  const { consumersInfo, groupsInfo, streamInfo } = makeInfo(requests)
  const groups = makeGroups(requests)
  const entries = makeEntries(requests, add)

  /** this backend, as the owner of its lanes */
  const self = {}
  /**
   * The lane's backend while it is open (its operations see a lane that is not theirs and send on
   * their own connection), else undefined: this backend's own operation runs.
   */
  const onLane = (lane: Lane | undefined): Service | undefined =>
    lane instanceof RedisLane && lane.open && lane.owner === self ? lane.backend : undefined
  const lane: Service["lane"] = requests.client.isCluster
    ? Effect.sync(() => new RedisLane(self, undefined))
    : Effect.gen(function*() {
      const sibling = yield* connection.sibling
      const lane = new RedisLane(self, make(sibling))
      // closed before its connection is quit (finalizers run in reverse order): later operations
      // given it go to the main connection
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          lane.open = false
        })
      )
      return lane
    })

  return {
    kind: "redis",
    serverVersion: connection.serverVersion,
    add: (stream, fields, options) => (onLane(options?.lane)?.add ?? add)(stream, fields, options),
    addMany,
    readGroup: (options) => (onLane(options.lane)?.readGroup ?? readGroup)(options),
    lane,
    blockingReader: blockingReader(requests),
    ack: (stream, group, ids, options) => (onLane(options?.lane)?.ack ?? ack)(stream, group, ids),
    ackAndDelete: (stream, group, ids, options) =>
      (onLane(options?.lane)?.ackAndDelete ?? ackAndDelete)(stream, group, ids),
    ackThenRead: (stream, group, ids, read, options) =>
      (onLane(options?.lane)?.ackThenRead ?? ackThenRead)(stream, group, ids, read, options),
    pendingSummary,
    pending: (options) => (onLane(options.lane)?.pending ?? pending)(options),
    claim: (options) => (onLane(options.lane)?.claim ?? claim)(options),
    claimJustId: (options) => (onLane(options.lane)?.claimJustId ?? claimJustId)(options),
    autoClaim: (options) => (onLane(options.lane)?.autoClaim ?? autoClaim)(options),
    streamInfo,
    groupsInfo,
    consumersInfo,
    createGroup: groups.createGroup,
    destroyGroup: groups.destroyGroup,
    createConsumer: groups.createConsumer,
    deleteConsumer: groups.deleteConsumer,
    deleteConsumerIfIdle: groups.deleteConsumerIfIdle,
    setGroupId: groups.setGroupId,
    delete: entries.delete,
    trim: entries.trim,
    length: entries.length,
    range: entries.range,
    moveEntry: entries.moveEntry,
    scanStreams: entries.scanStreams
  }
}

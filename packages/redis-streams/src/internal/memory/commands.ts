/**
 * The port's commands of the in-memory backend: each method is one engine
 * call through `Run`, named by the Redis command it stands for (the
 * `Operation` the fault hooks see), grouped as the port groups them.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { Service, StreamEntry } from "../../StreamsBackend.js"
import { moveEntryError } from "../replies.js"
import { type Engine, NOTHING } from "./engine.js"
import { EMPTY, type Run } from "./run.js"

/** XADD, and the non-blocking XREADGROUP */
export const entryCommands = (engine: Engine, run: Run): Pick<Service, "add" | "addMany" | "readGroup"> => ({
  add: (stream, fields, options) =>
    run("add", "XADD", stream, undefined, [stream, fields, options], (now) =>
      engine.xadd(stream, fields, options, now)),
  addMany: (stream, entries, options) =>
    run("addMany", "XADD", stream, undefined, [stream, entries, options], (now) =>
      engine.xaddMany(stream, entries, options, now)),

  readGroup: (o) =>
    run("readGroup", "XREADGROUP", o.stream, o.group, [o], (now) => {
      const { count } = engine.parseReadOptions(o.count, undefined)
      const r = engine.xreadgroup(o, count, now)
      return r === NOTHING ? EMPTY : r
    })
})

/** XACK, alone or with XDEL */
export const ackCommands = (engine: Engine, run: Run): Pick<Service, "ack" | "ackAndDelete"> => ({
  ack: (stream, group, ids) =>
    run("ack", "XACK", stream, group, [stream, group, ids], () => ids.length === 0 ? 0 : engine.xack(stream, group, ids)),
  ackAndDelete: (stream, group, ids) =>
    run(
      "ackAndDelete",
      "XACK",
      stream,
      group,
      [stream, group, ids],
      () => ids.length === 0 ? 0 : engine.ackAndDelete(stream, group, ids)
    )
})

/** XPENDING, XCLAIM, XAUTOCLAIM */
export const pendingCommands = (
  engine: Engine,
  run: Run
): Pick<Service, "pendingSummary" | "pending" | "claim" | "claimJustId" | "autoClaim"> => ({
  pendingSummary: (stream, group) =>
    run("pendingSummary", "XPENDING", stream, group, [stream, group], () => engine.xpendingSummary(stream, group)),
  pending: (o) => run("pending", "XPENDING", o.stream, o.group, [o], (now) => engine.xpending(o, now)),

  claim: (o) =>
    run("claim", "XCLAIM", o.stream, o.group, [o], (now) =>
      o.ids.length === 0 ? EMPTY : engine.xclaim(o, false, now) as ReadonlyArray<StreamEntry>),
  claimJustId: (o) =>
    run("claimJustId", "XCLAIM", o.stream, o.group, [o], (now) =>
      o.ids.length === 0 ? EMPTY : engine.xclaim(o, true, now) as ReadonlyArray<string>),
  autoClaim: (o) =>
    run("autoClaim", "XAUTOCLAIM", o.stream, o.group, [o], (now) => {
      const r = engine.xautoclaim(o, false, now)
      return { next: r.next, entries: r.entries, deleted: r.deleted }
    })
})

/** XINFO */
export const infoCommands = (
  engine: Engine,
  run: Run
): Pick<Service, "streamInfo" | "groupsInfo" | "consumersInfo"> => ({
  streamInfo: (stream) => run("streamInfo", "XINFO STREAM", stream, undefined, [stream], () => engine.xinfoStream(stream)),
  groupsInfo: (stream) => run("groupsInfo", "XINFO GROUPS", stream, undefined, [stream], () => engine.xinfoGroups(stream)),
  consumersInfo: (stream, group) =>
    run("consumersInfo", "XINFO CONSUMERS", stream, group, [stream, group], (now) =>
      engine.xinfoConsumers(stream, group, now))
})

/** XGROUP */
export const groupCommands = (
  engine: Engine,
  run: Run
): Pick<
  Service,
  "createGroup" | "destroyGroup" | "createConsumer" | "deleteConsumer" | "deleteConsumerIfIdle" | "setGroupId"
> => ({
  createGroup: (stream, group, options) =>
    run("createGroup", "XGROUP CREATE", stream, group, [stream, group, options], () =>
      engine.xgroupCreate(stream, group, options)),
  destroyGroup: (stream, group) =>
    run("destroyGroup", "XGROUP DESTROY", stream, group, [stream, group], (now) =>
      engine.xgroupDestroy(stream, group, now)),
  createConsumer: (stream, group, consumer) =>
    run("createConsumer", "XGROUP CREATECONSUMER", stream, group, [stream, group, consumer], (now) =>
      engine.xgroupCreateConsumer(stream, group, consumer, now)),
  deleteConsumer: (stream, group, consumer) =>
    run("deleteConsumer", "XGROUP DELCONSUMER", stream, group, [stream, group, consumer], () =>
      engine.xgroupDelConsumer(stream, group, consumer)),
  deleteConsumerIfIdle: (stream, group, consumer, options) =>
    run("deleteConsumerIfIdle", "XGROUP DELCONSUMER", stream, group, [stream, group, consumer, options], (now) =>
      engine.deleteConsumerIfIdle(stream, group, consumer, options?.minIdleMs ?? 0, now)),
  setGroupId: (stream, group, id, options) =>
    run("setGroupId", "XGROUP SETID", stream, group, [stream, group, id, options], () =>
      engine.xgroupSetId(stream, group, id, options?.entriesRead))
})

/** XDEL, XTRIM, XLEN, the move script, SCAN, XRANGE / XREVRANGE */
export const keyCommands = (
  engine: Engine,
  run: Run
): Pick<Service, "delete" | "trim" | "length" | "moveEntry" | "scanStreams" | "range"> => ({
  delete: (stream, ids) =>
    run("delete", "XDEL", stream, undefined, [stream, ids], () => ids.length === 0 ? 0 : engine.xdel(stream, ids)),
  trim: (stream, trim) => run("trim", "XTRIM", stream, undefined, [stream, trim], () => engine.xtrim(stream, trim)),
  length: (stream) => run("length", "XLEN", stream, undefined, [stream], () => engine.xlen(stream)),
  moveEntry: (o) =>
    run("moveEntry", "EVALSHA", o.from, undefined, [o], (now) => engine.moveEntry(o.from, o.id, o.to, o.fields, now))
      .pipe(Effect.mapError((e) => moveEntryError(e, o.from, o.to))),
  scanStreams: (pattern, options) =>
    run("scanStreams", "SCAN", pattern, undefined, [pattern, options], () => engine.scanStreams(pattern, options.limit)),
  range: (stream, options) =>
    run(
      "range",
      options?.reverse === true ? "XREVRANGE" : "XRANGE",
      stream,
      undefined,
      [stream, options],
      () =>
        engine.xrange(stream, options?.start ?? "-", options?.end ?? "+", options?.count, options?.reverse === true)
    )
})

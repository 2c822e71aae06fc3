/**
 * Differential property test: random sequences of port operations applied to
 * a real Redis (through RedisBackend) and to the in-memory backend must give
 * equal replies, operation by operation, and leave equal state.
 *
 * Ids are explicit and far in the future (ms >= 9e12), so generated ids (`*`,
 * `addMany`) are deterministic on both sides: Redis takes the top id's
 * millisecond and the next sequence number when its clock is behind.
 * Only what legitimately depends on time is normalized away: idle times.
 * Errors compare by tag and message.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Context, Effect, Either, Exit, FastCheck as fc, Layer, Option, Redacted } from "effect"
import type { StreamsError } from "effect-redis-streams"
import { InMemoryBackend, RedisBackend, StreamsBackend } from "effect-redis-streams"
import { rawClient, redisUrl, uniqueKey } from "../src/Harness.js"

type Service = StreamsBackend.Service
type BackendError = StreamsError.BackendError

// -----------------------------------------------------------------------------
// the operations, as data
// -----------------------------------------------------------------------------

type Target = "main" | "other" | "str"
type Group = "ga" | "gb"
type Consumer = "c1" | "c2" | "c3"
/** an index into the ids seen so far (plus two ids that never exist) */
type IdRef = number
type TrimSpec =
  | { readonly strategy: "maxlen"; readonly threshold: number; readonly limit?: number | undefined }
  | { readonly strategy: "minid"; readonly ref: IdRef; readonly limit?: number | undefined }
type Bound =
  | { readonly kind: "default" }
  | { readonly kind: "extreme" }
  | { readonly kind: "id"; readonly ref: IdRef; readonly exclusive: boolean; readonly incomplete: boolean }
  | { readonly kind: "bad" }
type StartId = { readonly kind: "0" } | { readonly kind: "$" } | { readonly kind: "id"; readonly ref: IdRef }

type Op =
  | {
    readonly op: "add"
    readonly target: Target
    readonly id: "next" | "sameMs" | "star" | "dup" | "lower" | "zero" | "bad"
    readonly step: number
    readonly fields: number
    readonly trim: TrimSpec | undefined
    readonly noMkStream: boolean
  }
  | {
    readonly op: "addMany"
    readonly target: Target
    readonly count: number
    readonly trim: TrimSpec | undefined
    readonly noMkStream: boolean
  }
  | {
    readonly op: "readGroup"
    readonly target: Target
    readonly group: Group
    readonly consumer: Consumer
    readonly from: ">" | "0" | IdRef
    readonly count: number | undefined
    readonly noAck: boolean
  }
  | { readonly op: "ack" | "ackAndDelete"; readonly target: Target; readonly group: Group; readonly ids: ReadonlyArray<IdRef> }
  | {
    readonly op: "ackThenRead"
    readonly target: Target
    readonly group: Group
    readonly consumer: Consumer
    readonly ids: ReadonlyArray<IdRef>
    readonly count: number | undefined
    readonly remove: boolean
  }
  | {
    readonly op: "claim"
    readonly target: Target
    readonly group: Group
    readonly consumer: Consumer
    readonly ids: ReadonlyArray<IdRef>
    readonly justId: boolean
    readonly retryCount: number | undefined
  }
  | {
    readonly op: "autoClaim"
    readonly target: Target
    readonly group: Group
    readonly consumer: Consumer
    readonly start: IdRef | "0-0"
    readonly count: number | undefined
  }
  | { readonly op: "pendingSummary"; readonly target: Target; readonly group: Group }
  | {
    readonly op: "pending"
    readonly target: Target
    readonly group: Group
    readonly start: Bound
    readonly end: Bound
    readonly count: number
    readonly consumer: Consumer | undefined
  }
  | { readonly op: "delete"; readonly target: Target; readonly ids: ReadonlyArray<IdRef> }
  | { readonly op: "trim"; readonly target: Target; readonly trim: TrimSpec }
  | { readonly op: "groupsInfo" | "streamInfo" | "length"; readonly target: Target }
  | { readonly op: "consumersInfo" | "destroyGroup"; readonly target: Target; readonly group: Group }
  | {
    readonly op: "createGroup"
    readonly target: Target
    readonly group: Group
    readonly id: StartId
    readonly mkStream: boolean
    readonly entriesRead: number | undefined
  }
  | {
    readonly op: "createConsumer" | "deleteConsumer" | "deleteConsumerIfIdle"
    readonly target: Target
    readonly group: Group
    readonly consumer: Consumer
  }
  | {
    readonly op: "setGroupId"
    readonly target: Target
    readonly group: Group
    readonly id: StartId
    readonly entriesRead: number | undefined
  }
  | { readonly op: "moveEntry"; readonly target: Target; readonly to: Target; readonly id: IdRef; readonly fields: number }
  | {
    readonly op: "range"
    readonly target: Target
    readonly start: Bound
    readonly end: Bound
    readonly count: number | undefined
    readonly reverse: boolean
  }

// -----------------------------------------------------------------------------
// arbitraries
// -----------------------------------------------------------------------------

const target: fc.Arbitrary<Target> = fc.oneof(
  { arbitrary: fc.constant("main" as const), weight: 24 },
  { arbitrary: fc.constant("other" as const), weight: 1 },
  { arbitrary: fc.constant("str" as const), weight: 1 }
)
const group: fc.Arbitrary<Group> = fc.oneof(
  { arbitrary: fc.constant("ga" as const), weight: 6 },
  { arbitrary: fc.constant("gb" as const), weight: 1 }
)
const consumer: fc.Arbitrary<Consumer> = fc.constantFrom("c1", "c2", "c3")
const idRef: fc.Arbitrary<IdRef> = fc.nat(60)
const ids = fc.oneof(
  { arbitrary: fc.array(idRef, { minLength: 1, maxLength: 4 }), weight: 12 },
  { arbitrary: fc.constant([] as Array<IdRef>), weight: 1 }
)
/** `arb` once in `1 + absentWeight` draws, else undefined */
const sometimes = <A>(arb: fc.Arbitrary<A>, absentWeight: number): fc.Arbitrary<A | undefined> =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: absentWeight }, { arbitrary: arb, weight: 1 })
const optionalCount = (max: number) => sometimes(fc.integer({ min: 1, max }), 2)
/** LIMIT without ~ is refused by Redis: rarely, to compare that error */
const limit = sometimes(fc.integer({ min: 1, max: 5 }), 15)
const trimSpec: fc.Arbitrary<TrimSpec> = fc.oneof(
  fc.record({ strategy: fc.constant("maxlen" as const), threshold: fc.nat(8), limit }),
  fc.record({ strategy: fc.constant("minid" as const), ref: idRef, limit })
)
const bound: fc.Arbitrary<Bound> = fc.oneof(
  { arbitrary: fc.constant({ kind: "default" as const }), weight: 6 },
  { arbitrary: fc.constant({ kind: "extreme" as const }), weight: 1 },
  {
    arbitrary: fc.record({
      kind: fc.constant("id" as const),
      ref: idRef,
      exclusive: fc.boolean(),
      incomplete: fc.boolean()
    }),
    weight: 6
  },
  { arbitrary: fc.constant({ kind: "bad" as const }), weight: 1 }
)
const startId: fc.Arbitrary<StartId> = fc.oneof(
  { arbitrary: fc.constant({ kind: "0" as const }), weight: 3 },
  { arbitrary: fc.constant({ kind: "$" as const }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant("id" as const), ref: idRef }), weight: 2 }
)
const entriesRead = sometimes(fc.nat(8), 2)

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 14,
    arbitrary: fc.record({
      op: fc.constant("add" as const),
      target,
      id: fc.oneof(
        { arbitrary: fc.constant("next" as const), weight: 10 },
        { arbitrary: fc.constant("sameMs" as const), weight: 3 },
        { arbitrary: fc.constant("star" as const), weight: 4 },
        { arbitrary: fc.constantFrom("dup" as const, "lower" as const, "zero" as const, "bad" as const), weight: 2 }
      ),
      step: fc.integer({ min: 1, max: 3 }),
      fields: fc.integer({ min: 1, max: 3 }),
      trim: sometimes(trimSpec, 7),
      noMkStream: fc.oneof({ arbitrary: fc.constant(false), weight: 4 }, { arbitrary: fc.constant(true), weight: 1 })
    })
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("addMany" as const),
      target,
      count: fc.integer({ min: 0, max: 4 }),
      trim: sometimes(trimSpec, 5),
      noMkStream: fc.oneof({ arbitrary: fc.constant(false), weight: 4 }, { arbitrary: fc.constant(true), weight: 1 })
    })
  },
  {
    weight: 12,
    arbitrary: fc.record({
      op: fc.constant("readGroup" as const),
      target,
      group,
      consumer,
      from: fc.oneof(
        { arbitrary: fc.constant(">" as const), weight: 6 },
        { arbitrary: fc.constant("0" as const), weight: 3 },
        { arbitrary: idRef, weight: 1 }
      ),
      count: optionalCount(4),
      noAck: fc.oneof({ arbitrary: fc.constant(false), weight: 6 }, { arbitrary: fc.constant(true), weight: 1 })
    })
  },
  { weight: 5, arbitrary: fc.record({ op: fc.constant("ack" as const), target, group, ids }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("ackAndDelete" as const), target, group, ids }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("ackThenRead" as const),
      target,
      group,
      consumer,
      ids,
      count: optionalCount(4),
      remove: fc.boolean()
    })
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("claim" as const),
      target,
      group,
      consumer,
      ids,
      justId: fc.boolean(),
      retryCount: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined })
    })
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("autoClaim" as const),
      target,
      group,
      consumer,
      start: fc.oneof({ arbitrary: fc.constant("0-0" as const), weight: 2 }, { arbitrary: idRef, weight: 1 }),
      count: optionalCount(4)
    })
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("pendingSummary" as const), target, group }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("pending" as const),
      target,
      group,
      start: bound,
      end: bound,
      count: fc.integer({ min: 0, max: 6 }),
      consumer: fc.option(consumer, { nil: undefined })
    })
  },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("delete" as const), target, ids }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("trim" as const), target, trim: trimSpec }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("groupsInfo" as const), target }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("streamInfo" as const), target }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("length" as const), target }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("consumersInfo" as const), target, group }) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("createGroup" as const),
      target,
      group,
      id: startId,
      mkStream: fc.boolean(),
      entriesRead
    })
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("destroyGroup" as const), target, group }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("createConsumer" as const), target, group, consumer }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("deleteConsumer" as const), target, group, consumer }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("deleteConsumerIfIdle" as const), target, group, consumer }) },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant("setGroupId" as const), target, group, id: startId, entriesRead })
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("moveEntry" as const),
      target,
      to: target,
      id: idRef,
      fields: fc.integer({ min: 1, max: 3 })
    })
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("range" as const),
      target,
      start: bound,
      end: bound,
      count: optionalCount(5),
      reverse: fc.boolean()
    })
  }
)

/** every sequence starts with two entries and a group on the main stream, so the interesting paths are reached */
const sequenceArb: fc.Arbitrary<ReadonlyArray<Op>> = fc.array(opArb, { minLength: 24, maxLength: 48 }).map((ops) => [
  { op: "add", target: "main", id: "next", step: 1, fields: 1, trim: undefined, noMkStream: false } as const,
  { op: "add", target: "main", id: "next", step: 1, fields: 2, trim: undefined, noMkStream: false } as const,
  { op: "createGroup", target: "main", group: "ga", id: { kind: "0" }, mkStream: false, entriesRead: undefined } as const,
  ...ops
])

// -----------------------------------------------------------------------------
// running a sequence on both backends
// -----------------------------------------------------------------------------

/** far in the future, so the servers' clocks never decide an id */
const BASE_MS = 9_000_000_000_000n
const NEVER_LOW = "1-0"
const NEVER_HIGH = "99999999999999-0"

interface IdState {
  readonly ms: bigint
  readonly seq: bigint
}

const parseId = (id: string): IdState => {
  const [ms, seq] = id.split("-")
  return { ms: BigInt(ms!), seq: BigInt(seq ?? "0") }
}

class Sequence {
  /** every id seen or tried, in order of first appearance */
  readonly known: Array<string> = []
  /** the top id per target as far as successful adds tell */
  readonly top = new Map<Target, IdState>()
  constructor(readonly keys: Record<Target, string>) {}

  remember(id: string): void {
    if (/^\d+-\d+$/.test(id) && !this.known.includes(id)) this.known.push(id)
  }
  ref(i: IdRef): string {
    const n = this.known.length + 2
    const k = i % n
    if (k === this.known.length) return NEVER_LOW
    if (k === this.known.length + 1) return NEVER_HIGH
    return this.known[k]!
  }
  bound(b: Bound, side: "start" | "end"): string | undefined {
    switch (b.kind) {
      case "default":
        return undefined
      case "extreme":
        return side === "start" ? "-" : "+"
      case "bad":
        return "zz"
      case "id": {
        const id = this.ref(b.ref)
        const text = b.incomplete ? id.split("-")[0]! : id
        return b.exclusive ? `(${text}` : text
      }
    }
  }
  startId(s: StartId): string {
    return s.kind === "id" ? this.ref(s.ref) : s.kind
  }
  trim(t: TrimSpec): StreamsBackend.Trim {
    return t.strategy === "maxlen"
      ? { strategy: "maxlen", threshold: t.threshold, limit: t.limit }
      : { strategy: "minid", threshold: this.ref(t.ref), limit: t.limit }
  }
  nextId(op: Extract<Op, { op: "add" }>): string | undefined {
    const top = this.top.get(op.target)
    const topMs = top === undefined || top.ms < BASE_MS ? BASE_MS : top.ms
    switch (op.id) {
      case "next":
        return `${topMs + BigInt(op.step)}-${op.fields - 1}`
      case "sameMs":
        return `${topMs}-*`
      case "star":
        // a generated id is only deterministic once the stream's top is far in the future
        return top !== undefined && top.ms >= BASE_MS ? undefined : `${topMs + BigInt(op.step)}-0`
      case "dup":
        return top === undefined ? `${BASE_MS}-0` : `${top.ms}-${top.seq}`
      case "lower":
        return top === undefined ? "0-0" : `${top.ms - 1n}-${top.seq + 7n}`
      case "zero":
        return "0-0"
      case "bad":
        return "12-ab"
    }
  }
  /** a generated id is deterministic only in a stream whose top is far in the future: else the move goes to main */
  moveTarget(op: Extract<Op, { op: "moveEntry" }>): Target {
    if (op.to === "str") return "str"
    const top = this.top.get(op.to)
    return top !== undefined && top.ms >= BASE_MS ? op.to : "main"
  }
  sawAdded(t: Target, id: string): void {
    this.remember(id)
    const p = parseId(id)
    const top = this.top.get(t)
    if (top === undefined || p.ms > top.ms || (p.ms === top.ms && p.seq > top.seq)) this.top.set(t, p)
  }
}

const fieldsOf = (n: number, tag: string): Array<string> => {
  const out: Array<string> = []
  for (let i = 0; i < n; i++) out.push(i === 1 ? "f0" : `f${i}`, `${tag}.${i}`)
  return out
}

/** the effect of one operation on one backend, and a normalized reply */
const run = (backend: Service, seq: Sequence, op: Op, index: number): Effect.Effect<unknown, BackendError> => {
  const key = seq.keys[op.target]
  switch (op.op) {
    case "add": {
      const id = seq.nextId(op)
      return backend.add(key, fieldsOf(op.fields, `e${index}`), {
        id,
        trim: op.trim && seq.trim(op.trim),
        noMkStream: op.noMkStream
      })
    }
    case "addMany": {
      const top = seq.top.get(op.target)
      // generated ids: only once the top is far in the future (see BASE_MS); else one explicit add
      if (top === undefined || top.ms < BASE_MS) {
        return backend.add(key, ["m", `${index}`], {
          id: `${BASE_MS + 1n}-0`,
          trim: op.trim && seq.trim(op.trim),
          noMkStream: op.noMkStream
        })
      }
      return backend.addMany(
        key,
        Array.from({ length: op.count }, (_, i) => fieldsOf(1 + (i % 2), `m${index}.${i}`)),
        { trim: op.trim && seq.trim(op.trim), noMkStream: op.noMkStream }
      )
    }
    case "readGroup":
      return backend.readGroup({
        stream: key,
        group: op.group,
        consumer: op.consumer,
        id: typeof op.from === "number" ? seq.ref(op.from) : op.from,
        count: op.count,
        noAck: op.noAck
      })
    case "ack":
      return backend.ack(key, op.group, op.ids.map((i) => seq.ref(i)))
    case "ackAndDelete":
      return backend.ackAndDelete(key, op.group, op.ids.map((i) => seq.ref(i)))
    case "ackThenRead":
      return backend.ackThenRead(
        key,
        op.group,
        op.ids.map((i) => seq.ref(i)),
        { stream: key, group: op.group, consumer: op.consumer, id: ">", count: op.count },
        { delete: op.remove }
      ).pipe(Effect.map((r) => ({
        acked: r.acked,
        read: Either.isRight(r.read) ? r.read.right : { error: r.read.left._tag, message: r.read.left.message }
      })))
    case "claim": {
      const options = {
        stream: key,
        group: op.group,
        consumer: op.consumer,
        minIdleMs: 0,
        ids: op.ids.map((i) => seq.ref(i)),
        retryCount: op.retryCount
      }
      return op.justId ? backend.claimJustId(options) : backend.claim(options)
    }
    case "autoClaim":
      return backend.autoClaim({
        stream: key,
        group: op.group,
        consumer: op.consumer,
        minIdleMs: 0,
        start: op.start === "0-0" ? "0-0" : seq.ref(op.start),
        count: op.count
      })
    case "pendingSummary":
      return backend.pendingSummary(key, op.group)
    case "pending":
      return backend.pending({
        stream: key,
        group: op.group,
        start: seq.bound(op.start, "start"),
        end: seq.bound(op.end, "end"),
        count: op.count,
        consumer: op.consumer
      }).pipe(Effect.map((ps) => ps.map(({ idleMs: _idle, ...rest }) => rest)))
    case "delete":
      return backend.delete(key, op.ids.map((i) => seq.ref(i)))
    case "trim":
      return backend.trim(key, seq.trim(op.trim))
    case "groupsInfo":
      return backend.groupsInfo(key)
    case "streamInfo":
      return backend.streamInfo(key)
    case "length":
      return backend.length(key)
    case "consumersInfo":
      return backend.consumersInfo(key, op.group).pipe(
        Effect.map((cs) => cs.map((c) => ({ name: c.name, pending: c.pending })))
      )
    case "destroyGroup":
      return backend.destroyGroup(key, op.group)
    case "createGroup":
      return backend.createGroup(key, op.group, {
        id: seq.startId(op.id),
        mkStream: op.mkStream,
        entriesRead: op.entriesRead
      })
    case "createConsumer":
      return backend.createConsumer(key, op.group, op.consumer)
    case "deleteConsumer":
      return backend.deleteConsumer(key, op.group, op.consumer)
    case "deleteConsumerIfIdle":
      return backend.deleteConsumerIfIdle(key, op.group, op.consumer).pipe(
        Effect.map((r) => ({ deleted: r.deleted, pending: r.pending, exists: r.idleMs !== null }))
      )
    case "setGroupId":
      return backend.setGroupId(key, op.group, seq.startId(op.id), { entriesRead: op.entriesRead })
    case "moveEntry":
      return backend.moveEntry({
        from: key,
        id: seq.ref(op.id),
        to: seq.keys[seq.moveTarget(op)],
        fields: fieldsOf(op.fields, `v${index}`)
      })
    case "range":
      return backend.range(key, {
        start: seq.bound(op.start, "start"),
        end: seq.bound(op.end, "end"),
        count: op.count,
        reverse: op.reverse
      })
  }
}

type Outcome =
  | { readonly ok: unknown }
  | { readonly error: { readonly _tag: string; readonly message: string } }
  | { readonly defect: string }

const outcome = (exit: Exit.Exit<unknown, BackendError>): Outcome => {
  if (Exit.isSuccess(exit)) return { ok: exit.value === undefined ? null : exit.value }
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) return { error: { _tag: failure.value._tag, message: failure.value.message } }
  return { defect: Cause.pretty(exit.cause) }
}

/** the state both backends must agree on at the end of a sequence */
const snapshot = (backend: Service, seq: Sequence) =>
  Effect.gen(function*() {
    const key = seq.keys.main
    const out: Record<string, Outcome> = {}
    const take = (name: string, e: Effect.Effect<unknown, BackendError>) =>
      Effect.exit(e).pipe(Effect.map((exit) => (out[name] = outcome(exit))))
    yield* take("range", backend.range(key))
    yield* take("streamInfo", backend.streamInfo(key))
    yield* take("groupsInfo", backend.groupsInfo(key))
    for (const g of ["ga", "gb"] as const) {
      yield* take(`pending ${g}`, backend.pending({ stream: key, group: g, count: 1000 }).pipe(
        Effect.map((ps) => ps.map(({ idleMs: _idle, ...rest }) => rest))
      ))
      yield* take(`consumers ${g}`, backend.consumersInfo(key, g).pipe(
        Effect.map((cs) => cs.map((c) => ({ name: c.name, pending: c.pending })))
      ))
    }
    yield* take("other", backend.streamInfo(seq.keys.other))
    return out
  })

interface Stats {
  sequences: number
  operations: number
  errors: number
  nonEmptyReads: number
  byOp: Record<string, number>
  byError: Record<string, number>
}

const emptyStats = (): Stats => ({ sequences: 0, operations: 0, errors: 0, nonEmptyReads: 0, byOp: {}, byError: {} })

/** the first point where memory and Redis disagree in a sequence */
interface Mismatch {
  /** what kind of disagreement: the operation and the two outcomes' kinds */
  readonly signature: string
  readonly index: number
  readonly operation: string
  readonly redis: unknown
  readonly memory: unknown
  /** the operations up to the mismatch with Redis's replies */
  readonly log: ReadonlyArray<string>
}

const kindOf = (o: Outcome): string => "ok" in o ? "ok" : "error" in o ? o.error._tag : "defect"

const signatureOf = (name: string, redis: Outcome, memory: Outcome): string => {
  const r = kindOf(redis)
  const m = kindOf(memory)
  if (r !== m) return `${name}: Redis ${r}, memory ${m}`
  if ("error" in redis) return `${name}: ${r} with another message`
  return `${name}: ${r} with another value`
}

const describeOp = (seq: Sequence, op: Op): string =>
  JSON.stringify(op) + (op.op === "add" ? ` (id ${seq.nextId(op) ?? "*"})` : "")

interface Env {
  readonly redis: Service
  readonly memory: Service
  readonly prepare: (keys: Record<Target, string>) => Effect.Effect<void>
  readonly cleanup: (keys: Record<Target, string>) => Effect.Effect<void>
}

/** run `ops` on both backends (fresh keys); the first mismatch, if any */
const runSequence = (env: Env, ops: ReadonlyArray<Op>, stats: Stats): Effect.Effect<Mismatch | undefined> =>
  Effect.gen(function*() {
    const prefix = uniqueKey("diff")
    const seq = new Sequence({ main: `${prefix}:main`, other: `${prefix}:other`, str: `${prefix}:str` })
    yield* env.prepare(seq.keys)
    const log: Array<string> = []
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!
      const description = describeOp(seq, op)
      const fromRedis = outcome(yield* Effect.exit(run(env.redis, seq, op, i)))
      const fromMemory = outcome(yield* Effect.exit(run(env.memory, seq, op, i)))
      log.push(`#${i} ${description} -> ${JSON.stringify(fromRedis)}`)
      stats.operations++
      stats.byOp[op.op] = (stats.byOp[op.op] ?? 0) + 1
      if ("error" in fromRedis) {
        stats.errors++
        const what = `${op.op}:${fromRedis.error._tag}`
        stats.byError[what] = (stats.byError[what] ?? 0) + 1
      }
      if (op.op === "readGroup" && "ok" in fromRedis && Array.isArray(fromRedis.ok) && fromRedis.ok.length > 0) {
        stats.nonEmptyReads++
      }
      if (!deepEqual(fromMemory, fromRedis)) {
        return {
          signature: signatureOf(op.op, fromRedis, fromMemory),
          index: i,
          operation: description,
          redis: fromRedis,
          memory: fromMemory,
          log
        }
      }
      // follow the ids Redis handed out (the memory reply is equal by now)
      if ("ok" in fromRedis) {
        if (op.op === "add" && typeof fromRedis.ok === "string") seq.sawAdded(op.target, fromRedis.ok)
        if (op.op === "moveEntry" && typeof fromRedis.ok === "string") seq.sawAdded(seq.moveTarget(op), fromRedis.ok)
        if (op.op === "addMany") {
          const added = Array.isArray(fromRedis.ok) ? fromRedis.ok as Array<string> : [fromRedis.ok as string]
          for (const id of added) seq.sawAdded(op.target, id)
        }
      } else if (op.op === "add") {
        const tried = seq.nextId(op)
        if (tried !== undefined) seq.remember(tried.replace("*", "0"))
      }
    }
    const endRedis = yield* snapshot(env.redis, seq)
    const endMemory = yield* snapshot(env.memory, seq)
    yield* env.cleanup(seq.keys)
    for (const name of Object.keys(endRedis)) {
      if (!deepEqual(endMemory[name], endRedis[name])) {
        return {
          signature: signatureOf(`final ${name}`, endRedis[name]!, endMemory[name]!),
          index: ops.length,
          operation: `final state: ${name}`,
          redis: endRedis[name],
          memory: endMemory[name],
          log
        }
      }
    }
    stats.sequences++
    return undefined
  })

/** JSON with object keys sorted: replies compare by content, not by key order */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v)

/** structural equality of plain JSON-like values */
const deepEqual = (a: unknown, b: unknown): boolean => canonical(a) === canonical(b)

/** drop operations one by one while the same kind of mismatch still shows */
const minimize = (env: Env, ops: ReadonlyArray<Op>, mismatch: Mismatch) =>
  Effect.gen(function*() {
    let current = ops.slice(0, mismatch.index + 1)
    let best = mismatch
    let changed = true
    while (changed) {
      changed = false
      for (let i = current.length - 1; i >= 0; i--) {
        const candidate = [...current.slice(0, i), ...current.slice(i + 1)]
        const m = yield* runSequence(env, candidate, emptyStats())
        if (m !== undefined && m.signature === best.signature) {
          current = candidate.slice(0, m.index + 1)
          best = m
          changed = true
        }
      }
    }
    return best
  })

const report = (m: Mismatch): string =>
  [
    `* ${m.signature}`,
    `  at ${m.operation}`,
    `  Redis:  ${JSON.stringify(m.redis)}`,
    `  memory: ${JSON.stringify(m.memory)}`,
    `  minimal sequence:`,
    ...m.log.map((line) => `    ${line}`)
  ].join("\n")

// -----------------------------------------------------------------------------
// the test
// -----------------------------------------------------------------------------

/** DIFF_RUNS for a longer exploration, DIFF_SEED to replay a reported run */
const NUM_RUNS = Number(process.env["DIFF_RUNS"] ?? 250)
const SEED = process.env["DIFF_SEED"] === undefined ? Date.now() | 0 : Number(process.env["DIFF_SEED"])

describe("StreamsBackend differential: memory vs Redis", () => {
  it.live(`${NUM_RUNS} random sequences give equal replies`, () =>
    Effect.gen(function*() {
      const redisContext = yield* Layer.build(RedisBackend.layerRedis({ url: Redacted.make(redisUrl()) }))
      const memoryContext = yield* Layer.build(InMemoryBackend.layer)
      const store = Context.get(memoryContext, InMemoryBackend.InMemoryStore)
      const raw = yield* rawClient()
      const env: Env = {
        redis: Context.get(redisContext, StreamsBackend.StreamsBackend),
        memory: Context.get(memoryContext, StreamsBackend.StreamsBackend),
        prepare: (keys) =>
          Effect.all([
            Effect.promise(() => raw.set(keys.str, "a string")),
            store.setString(keys.str, "a string")
          ], { discard: true }),
        cleanup: (keys) =>
          Effect.all([
            Effect.promise(() => raw.del(keys.main, keys.other, keys.str)),
            store.deleteKey(keys.main),
            store.deleteKey(keys.other),
            store.deleteKey(keys.str)
          ], { discard: true })
      }

      const stats = emptyStats()
      /** the first failing sequence of each kind of mismatch */
      const found = new Map<string, { readonly ops: ReadonlyArray<Op>; readonly mismatch: Mismatch }>()
      let failing = 0
      const seed = SEED
      const started = Date.now()
      // every sequence runs (no early stop), so one run reports every kind of mismatch
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(sequenceArb, async (ops) => {
            const mismatch = await Effect.runPromise(runSequence(env, ops, stats))
            if (mismatch !== undefined) {
              failing++
              if (!found.has(mismatch.signature)) found.set(mismatch.signature, { ops, mismatch })
            }
            return true
          }),
          { numRuns: NUM_RUNS, seed }
        )
      )
      const seconds = (Date.now() - started) / 1000
      // the size and time of the run, for the record
      console.log(
        `differential (seed ${seed}): ${NUM_RUNS} sequences, ${stats.operations} operations ` +
          `(${stats.errors} error replies, ${stats.nonEmptyReads} non-empty group reads) in ${seconds.toFixed(1)} s; ` +
          `${failing} sequences disagreed\nper operation: ${JSON.stringify(stats.byOp)}\n` +
          `error replies: ${JSON.stringify(stats.byError)}`
      )
      if (found.size > 0) {
        const minimal: Array<string> = []
        for (const { mismatch, ops } of found.values()) minimal.push(report(yield* minimize(env, ops, mismatch)))
        assert.fail(
          `${failing} of ${NUM_RUNS} sequences (seed ${seed}) gave different replies on memory and Redis, ` +
            `${found.size} kind(s):\n${minimal.join("\n")}`
        )
      }
      assert.strictEqual(stats.sequences, NUM_RUNS)
      assert.isAtLeast(stats.operations, NUM_RUNS * 20)
    }).pipe(Effect.scoped), { timeout: Math.max(120_000, NUM_RUNS * 1_000) })
})

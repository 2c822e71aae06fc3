/**
 * Blocking XREADGROUP on a dedicated connection.
 *
 * - The connection comes from `RedisConnection.duplicate` (no command timeout,
 *   no reconnection) and its `CLIENT ID` is read once when it is opened.
 * - Reads are serialized (one blocking command per connection at a time).
 * - Interrupting a read sends `CLIENT UNBLOCK <id>` from the main connection
 *   (after the read, in its caller's `ensuring`: see `endRead`)
 *   and waits only for the nil reply that follows (one round trip); when that
 *   is not possible (Cluster, CLIENT refused by ACL, the main connection is not
 *   ready or does not answer within 500 ms, the command was not blocked yet)
 *   the dedicated connection is dropped instead. Either way the interruption
 *   returns promptly and the next read has a clean connection.
 * - A read that does not settle within `blockMs + max(1 s, blockMs / 2)` is a
 *   dead connection: the read fails with `RedisConnectionError` and the
 *   connection is replaced. So does a read whose connection is lost.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type { Service as Connection } from "../RedisConnection.js"
import type { BlockingReader, BlockingReadGroupOptions, ReadEntry } from "../StreamsBackend.js"
import { type BackendError, RedisConnectionError } from "../StreamsError.js"
import { isReplyError, parseReadGroupBytes, toBackendError, toStr } from "./replies.js"
import type { Client } from "./redisConnection.js"
import * as Recovery from "./redisRecovery.js"
import { traced } from "./redisTracing.js"

/** how long an interruption waits for CLIENT UNBLOCK and the nil reply before dropping the connection */
const UNBLOCK_TIMEOUT_MS = 500

/** the stall margin added to BLOCK */
export const stallMarginMs = (blockMs: number): number => Math.max(1000, Math.ceil(blockMs / 2))

interface Dedicated {
  readonly client: Client
  readonly scope: Scope.CloseableScope
  /** CLIENT ID, or null when CLIENT UNBLOCK cannot be used */
  readonly id: string | null
  dead: boolean
  /** the read in progress, until its caller has seen it end */
  reading: Reading | undefined
}

/** a read in progress on a dedicated connection: what ends it early (an interruption) needs */
class Reading {
  /** its reply, its failure, its stall limit or an interruption has been dealt with */
  private settled = false
  timer: ReturnType<typeof setTimeout> | undefined = undefined
  pending: Promise<unknown> | undefined = undefined
  /** the first of those to come deals with it (true) and stops the stall timer; the others do nothing */
  settle(): boolean {
    if (this.settled) return false
    this.settled = true
    clearTimeout(this.timer)
    return true
  }
}

/** @internal */
export const make = (connection: Connection): Effect.Effect<BlockingReader, RedisConnectionError, Scope.Scope> =>
  Effect.gen(function*() {
    const readerScope = yield* Effect.scope
    const semaphore = yield* Effect.makeSemaphore(1)
    const endpoint = connection.endpoint
    const commandTimeoutMs = Duration.toMillis(connection.commandTimeout)
    let current: Dedicated | undefined
    // listed among the connection's connections while the reader lives; its client is replaced by `open`
    let entry: Recovery.Entry | undefined

    // a connection that fails (or is interrupted) half-way is closed at once, not left to the reader's scope
    const open: Effect.Effect<Dedicated, RedisConnectionError> = Effect.flatMap(
      Scope.fork(readerScope, ExecutionStrategy.sequential),
      (scope) =>
        Effect.gen(function*() {
          const client = yield* Scope.extend(connection.duplicate, scope)
          const id = client.isCluster ? null : yield* clientId(client, endpoint, commandTimeoutMs)
          const dedicated: Dedicated = { client, scope, id, dead: false, reading: undefined }
          const markDead = () => {
            dedicated.dead = true
          }
          client.once("close", markDead)
          client.once("end", () => {
            markDead()
            Recovery.readerEnded(entry, client)
          })
          current = dedicated
          Recovery.readerReplaced(entry, client)
          return dedicated
        }).pipe(Effect.onError(() => Scope.close(scope, Exit.void)))
    )

    const discard = (d: Dedicated): Effect.Effect<void> =>
      Effect.suspend(() => {
        d.dead = true
        if (current === d) current = undefined
        d.client.disconnect()
        return Scope.close(d.scope, Exit.void)
      })

    const get: Effect.Effect<Dedicated, RedisConnectionError> = Effect.suspend(() => {
      const d = current
      if (d !== undefined && !d.dead && d.client.status === "ready") return Effect.succeed(d)
      return d === undefined ? open : Effect.zipRight(discard(d), open)
    })

    // the first connection is opened now, so a reader that cannot connect fails here
    entry = yield* Recovery.readerEntry(Recovery.linkOf(connection), (yield* open).client, endpoint)
    /** a connection failure names the reader's connection */
    const onConnection = (error: BackendError, used: Client): BackendError => Recovery.onConnection(entry, error, used)


    const readGroup = (options: BlockingReadGroupOptions): Effect.Effect<ReadonlyArray<ReadEntry>, BackendError> => {
      const blockMs = Math.ceil(options.blockMs)
      if (!(blockMs > 0) || !Number.isFinite(blockMs)) {
        return Effect.dieMessage(
          `BlockingReader.readGroup: blockMs must be a finite number > 0, got ${options.blockMs}`
        )
      }
      return semaphore.withPermits(1)(
        Effect.flatMap(get, (d) =>
          Effect.ensuring(
            read(d, options, blockMs, endpoint, onConnection),
            Effect.suspend(() => Effect.zipRight(endRead(connection.client, d), d.dead ? discard(d) : Effect.void))
          ))
      ).pipe((effect) => traced(effect, "readGroup", options.stream, "consumer"))
    }

    return { readGroup }
  })

/**
 * End a blocked read: CLIENT UNBLOCK from the main connection, then wait for
 * the nil reply; else drop the dedicated connection.
 */
const unblock = (main: Client, d: Dedicated, pending: Promise<unknown>): Effect.Effect<void> => {
  // without a CLIENT ID, or with the main connection down (a queued CLIENT UNBLOCK could reach a
  // restarted server where the id names another client), the dedicated connection is dropped
  if (d.id === null || main.status !== "ready") {
    return Effect.sync(() => {
      d.dead = true
      d.client.disconnect()
    })
  }
  const id = d.id
  return Effect.async<void>((resume) => {
    let done = false
    const finish = (drop: boolean) => {
      if (done) return
      done = true
      clearTimeout(timer)
      if (drop) {
        d.dead = true
        d.client.disconnect()
      }
      resume(Effect.void)
    }
    const timer = setTimeout(() => finish(true), UNBLOCK_TIMEOUT_MS)
    main.call("CLIENT", "UNBLOCK", id).then(
      (unblocked) => {
        if (unblocked === 1 || unblocked === "1") {
          // the blocked XREADGROUP now replies nil: wait for it so the connection is clean
          pending.then(() => finish(false), () => finish(true))
        } else {
          // not blocked (yet): its reply may still come at any time, so the connection is dropped
          finish(true)
        }
      },
      () => finish(true)
    )
  })
}

/**
 * After a read, whatever ended it: one interrupted before its reply is unblocked (`unblock`, from
 * the main connection). This runs in the caller's `Effect.ensuring` rather than as the read's
 * canceler: an `Effect.async` with a canceler runs inside an interruption region, and that made
 * V8 promote about 1.2 MB of young objects per young-generation GC with two consumers at 10,000
 * msg/s (--trace-gc-nvp; 0.3 MB without it), which lengthened every scavenge.
 */
const endRead = (main: Client, d: Dedicated): Effect.Effect<void> => {
  const r = d.reading
  d.reading = undefined
  if (r === undefined || !r.settle() || r.pending === undefined) return Effect.void
  return unblock(main, d, r.pending)
}

/**
 * One blocking XREADGROUP on `d`, bounded by the stall limit. It has no canceler: an interrupted
 * read is ended by `endRead`, which its caller runs after it (the reply, if one comes, is ignored).
 */
const read = (
  d: Dedicated,
  options: BlockingReadGroupOptions,
  blockMs: number,
  endpoint: string,
  onConnection: (error: BackendError, used: Client) => BackendError
) =>
  Effect.async<ReadonlyArray<ReadEntry>, BackendError>((resume) => {
    const r = new Reading()
    d.reading = r
    const args: Array<string | number> = ["GROUP", options.group, options.consumer]
    if (options.count !== undefined) args.push("COUNT", options.count)
    if (options.noAck === true) args.push("NOACK")
    args.push("BLOCK", blockMs, "STREAMS", options.stream, options.id)
    const limit = blockMs + stallMarginMs(blockMs)
    r.timer = setTimeout(() => {
      if (!r.settle()) return
      d.dead = true
      d.client.disconnect()
      resume(Effect.fail(onConnection(
        new RedisConnectionError({
          endpoint,
          message: `XREADGROUP ${options.stream} BLOCK ${blockMs} on ${endpoint} stalled: ` +
            `no reply within ${limit} ms; the dedicated connection was dropped and the next read opens a new one`
        }),
        d.client
      )))
    }, limit)
    let pending: Promise<unknown>
    try {
      // as bytes: see `parseReadGroupBytes`; lower case: see `lowerCase` in redis/request.ts
      pending = d.client.callBuffer("xreadgroup", args)
    } catch (err) {
      r.settle()
      resume(Effect.fail(onConnection(toBackendError(err, "XREADGROUP", options.stream, options.group, endpoint), d.client)))
      return
    }
    r.pending = pending
    pending.then(
      (reply) => {
        if (!r.settle()) return
        let entries: ReadonlyArray<ReadEntry>
        try {
          entries = parseReadGroupBytes(reply)
        } catch (err) {
          resume(Effect.fail(toBackendError(err, "XREADGROUP", options.stream, options.group, endpoint)))
          return
        }
        resume(Effect.succeed(entries))
      },
      (err: unknown) => {
        if (!r.settle()) return
        const error = toBackendError(err, "XREADGROUP", options.stream, options.group, endpoint)
        if (error._tag === "RedisConnectionError") d.dead = true
        resume(Effect.fail(onConnection(error, d.client)))
      }
    )
  })

const clientId = (
  client: Client,
  endpoint: string,
  timeoutMs: number
): Effect.Effect<string | null, RedisConnectionError> =>
  Effect.async<string | null, RedisConnectionError>((resume) => {
    let done = false
    const fail = (message: string, cause?: unknown) => {
      if (done) return
      done = true
      clearTimeout(timer)
      resume(Effect.fail(
        new RedisConnectionError({
          endpoint,
          message: `CLIENT ID on a new connection to ${endpoint} failed: ${message}`,
          ...(cause !== undefined ? { cause } : {})
        })
      ))
    }
    const bound = Number.isFinite(timeoutMs) ? timeoutMs : 2 ** 31 - 1
    const timer = setTimeout(() => fail(`no reply within ${timeoutMs} ms`), bound)
    client.call("CLIENT", "ID").then(
      (id) => {
        if (done) return
        done = true
        clearTimeout(timer)
        resume(Effect.succeed(toStr(id)))
      },
      (err: unknown) => {
        if (isReplyError(err)) {
          // refused (ACL): interruption falls back to dropping the connection
          if (done) return
          done = true
          clearTimeout(timer)
          resume(Effect.succeed(null))
        } else {
          fail(errorText(err), err)
        }
      }
    )
    return Effect.sync(() => {
      done = true
      clearTimeout(timer)
    })
  })

const errorText = (err: unknown): string => err instanceof Error ? err.message : String(err)

/**
 * The request machinery of the Redis backend, shared by its operations: the
 * connection's current client (replaced on reconnection), the command timeout
 * with its sweeper of deadlines, `run` (starts a request, parses its reply in
 * the promise callback, maps failures to the port's errors) and `send` (one
 * command through `client.call`).
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { Command } from "ioredis"
import type { Service as Connection } from "../../RedisConnection.js"
import { type BackendError, RedisConnectionError } from "../../StreamsError.js"
import type { Client } from "../redisConnection.js"
import * as Recovery from "../redisRecovery.js"
import * as Replies from "../replies.js"

/** an argument of a command */
export type Arg = string | number

/** the empty reply of an operation given nothing to do */
export const EMPTY: ReadonlyArray<never> = []

/**
 * XINFO and XGROUP name their key after a subcommand, where ioredis's Cluster
 * client does not look for it: sent with `call`, they go to a random node,
 * which answers MOVED, and every MOVED makes the client re-read the slot map
 * (CLUSTER SLOTS). This command names its key (the argument after the
 * subcommand) so the Cluster client sends it to the key's node at once.
 */
class SubcommandKeyCommand extends Command {
  override getKeys(): Array<string | Buffer> {
    const key = this.args[1]
    return typeof key === "string" || Buffer.isBuffer(key) ? [key] : []
  }
}

const SUBCOMMAND_KEY = new Set(["XINFO", "XGROUP"])

/**
 * Command names go to ioredis in lower case: it looks each one up in its flag tables several
 * times per command (subscriber mode, blocking, ...) after `toLowerCase()`, which allocates a
 * new string for an upper-case name every time. (Redis itself does not care.)
 */
const lowerCaseNames = new Map<string, string>()
const lowerCase = (command: string): string => {
  let lower = lowerCaseNames.get(command)
  if (lower === undefined) {
    lower = command.toLowerCase()
    lowerCaseNames.set(command, lower)
  }
  return lower
}

/** an operation in flight: its deadline, and what to do when it passes */
interface InFlight {
  readonly deadline: number
  /** fail it for its deadline; like any settling, this takes it out of `inflight` */
  expire(): void
}

/**
 * One operation of `Requests.run` in flight: its state in one place, settled once (its reply, its
 * failure, or its deadline), which drops the operation's references to the waiting fiber and to the
 * reply's parser.
 *
 * Why the references are dropped: an operation object can end up in the old generation (the
 * `{ deadline, expire }` literal this replaced, kept in the long-lived `inflight` set, was
 * pretenured by V8; one in flight across two scavenges is promoted). An old object that still
 * pointed at the fiber's young objects after it ended kept them alive through every
 * young-generation GC until the next full one: they were promoted. With a producer adding 10,000
 * messages a second from a fiber each, that was about 0.7 MB of the 2.1 MB promoted per
 * young-generation GC (measured with --trace-gc-nvp; GC pauses are the latency tail).
 */
class Operation<A> implements InFlight {
  private resume: ((effect: Effect.Effect<A, BackendError>) => void) | undefined
  private parse: ((reply: unknown) => A) | undefined
  readonly deadline: number

  constructor(
    private readonly requests: Requests,
    private readonly used: Client,
    resume: (effect: Effect.Effect<A, BackendError>) => void,
    parse: (reply: unknown) => A,
    private readonly label: string,
    private readonly stream: string,
    private readonly group: string | undefined
  ) {
    this.resume = resume
    this.parse = parse
    this.deadline = requests.timeoutMs === undefined ? Infinity : Date.now() + requests.timeoutMs
  }

  /** the fiber's resume if the operation was not settled yet; it is settled from now on */
  private settle(): ((effect: Effect.Effect<A, BackendError>) => void) | undefined {
    const resume = this.resume
    this.resume = undefined
    this.parse = undefined
    if (resume !== undefined) this.requests.untrack(this)
    return resume
  }

  readonly onReply = (reply: unknown): void => {
    const parse = this.parse
    const resume = this.settle()
    if (resume === undefined || parse === undefined) return
    let value: A
    try {
      value = parse(reply)
    } catch (cause) {
      resume(Effect.fail(Replies.toBackendError(cause, this.label, this.stream, this.group, this.requests.endpoint)))
      return
    }
    resume(Effect.succeed(value))
  }

  readonly onFailure = (cause: unknown): void => {
    const resume = this.settle()
    if (resume === undefined) return
    const error = Replies.toBackendError(cause, this.label, this.stream, this.group, this.requests.endpoint)
    resume(Effect.fail(this.requests.onConnection(error, this.used)))
  }

  expire(): void {
    const resume = this.settle()
    if (resume === undefined) return
    const { endpoint, timeoutMs } = this.requests
    this.requests.resetStalled()
    resume(Effect.fail(this.requests.onConnection(
      new RedisConnectionError({
        endpoint,
        message: `${this.label} ${this.stream} on ${endpoint} did not complete within ${timeoutMs} ms; ` +
          `the connection was reset`
      }),
      this.used
    )))
  }
}

/** the requests of one backend over one connection */
export class Requests {
  /** the connection's current client: replaced when the connection is rebuilt (see redisRecovery.ts) */
  client: Client
  readonly entry: Recovery.Entry | undefined
  readonly endpoint: string
  readonly timeoutMs: number | undefined

  /**
   * Deadlines of the operations in flight, checked by one sweeper interval
   * (every timeout / 4, between 10 ms and 1 s) instead of a timer per
   * operation: a Node timer per command measurably cut the Consumer's
   * throughput (setTimeout + clearTimeout twice per batch). The sweeper runs
   * only while operations are in flight (it stops at the first sweep that
   * finds none) and never keeps the process alive.
   */
  private readonly inflight = new Set<InFlight>()
  private readonly sweepMs: number
  private sweeper: ReturnType<typeof setInterval> | undefined = undefined

  constructor(readonly connection: Connection) {
    this.client = connection.client
    this.entry = Recovery.linkOf(connection)?.entry
    this.entry?.replacedListeners.push((next) => {
      this.client = next
    })
    this.endpoint = connection.endpoint
    const commandTimeoutMs = Duration.toMillis(connection.commandTimeout)
    this.timeoutMs = Number.isFinite(commandTimeoutMs) ? commandTimeoutMs : undefined
    this.sweepMs = this.timeoutMs === undefined ? 0 : Math.max(10, Math.min(1000, Math.floor(this.timeoutMs / 4)))
  }

  /** a connection failure names the connection it happened on (role, name, when it ended / was replaced) */
  onConnection(error: BackendError, used: Client): BackendError {
    return Recovery.onConnection(this.entry, error, used)
  }

  /**
   * A command that got no reply within the command timeout means a dead or
   * stalled connection (a silent network drop leaves the socket open): drop it
   * and let ioredis reconnect, so the commands after it do not wait behind it.
   * The other commands in flight on it fail with a connection error, which
   * callers retry. A user-owned client is left alone; so is a Cluster client,
   * which manages its node connections itself.
   */
  resetStalled(): void {
    const client = this.client
    if (this.connection.owned && !client.isCluster && client.status === "ready") client.disconnect(true)
  }

  private readonly sweep = (): void => {
    const now = Date.now()
    for (const op of this.inflight) {
      // expiring settles it, which takes it out of the set
      if (op.deadline <= now) op.expire()
    }
    if (this.inflight.size === 0 && this.sweeper !== undefined) {
      clearInterval(this.sweeper)
      this.sweeper = undefined
    }
  }

  /** an operation settled (its reply, its failure or its deadline) */
  untrack(op: InFlight): void {
    this.inflight.delete(op)
  }

  private track(op: InFlight): void {
    this.inflight.add(op)
    if (this.sweeper === undefined) {
      this.sweeper = setInterval(this.sweep, this.sweepMs)
      this.sweeper.unref()
    }
  }

  /**
   * Start a request, parse its reply in the promise callback, map failures to
   * the port's errors; bounded by the connection's command timeout (one
   * deadline per operation, also for a pipelined batch).
   */
  run<A>(
    start: () => Promise<unknown>,
    parse: (reply: unknown) => A,
    label: string,
    stream: string,
    group: string | undefined
  ): Effect.Effect<A, BackendError> {
    return Effect.async<A, BackendError>((resume) => {
      const used = this.client
      const entry = this.entry
      // "end" is emitted on the next tick: the status says it first
      if (entry !== undefined && (entry.endedAt !== undefined || used.status === "end")) {
        resume(Effect.fail(Recovery.endedError(entry, label, stream)))
        return
      }
      const op = new Operation(this, used, resume, parse, label, stream, group)
      let promise: Promise<unknown>
      try {
        promise = start()
      } catch (cause) {
        op.onFailure(cause)
        return
      }
      if (this.timeoutMs !== undefined) this.track(op)
      promise.then(op.onReply, op.onFailure)
      // No canceler is returned, on purpose: an `Effect.async` with a canceler runs inside an
      // `onInterrupt` region, and that made about 3 MB of short-lived objects per young-generation
      // GC survive into the old generation (measured with --trace-gc-nvp: the Consumer's GC time
      // went up ten times). An interrupted operation needs no canceler here: its reply (or its
      // deadline) still arrives, settles it, and the resumption is ignored by the fiber, which has
      // moved on.
    })
  }

  /** one command through `client.call` */
  send<A>(
    command: string,
    args: Array<Arg>,
    parse: (reply: unknown) => A,
    stream: string,
    group?: string,
    label: string = command
  ): Effect.Effect<A, BackendError> {
    return this.run(
      this.client.isCluster && SUBCOMMAND_KEY.has(command)
        ? () => {
          const routed = new SubcommandKeyCommand(command, args, { replyEncoding: "utf8" })
          this.client.sendCommand(routed)
          return routed.promise
        }
        : () => this.client.call(lowerCase(command), args),
      parse,
      label,
      stream,
      group
    )
  }
}

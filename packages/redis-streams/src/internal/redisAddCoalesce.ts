/**
 * `add` of the Redis backend: single adds made in the same tick (many fibers
 * each calling `Producer.add`, a request handler per message) leave together.
 * Consecutive adds with the same stream and XADD options form a group, sent as
 * one EVAL of the add-many script (redisAddMany.ts) once the tick's work is
 * done (a microtask); a group of one, an entry the script cannot take, or a
 * connection that refuses scripts goes as a plain XADD. Each add still gets
 * its own id or its own error, and the adds reach the server in call order.
 *
 * Why: ioredis spends several µs of Node CPU per command (a Command, a
 * promise, one socket write each), which at 10,000 single adds a second was
 * about half of the library's cost per add; one script per tick pays it once.
 * What changes for a user: adds of one tick are applied atomically together.
 *
 * @internal
 */
import type { Fields } from "../StreamsBackend.js"
import { type AddMany, CHUNK_CHARS, SCRIPT_CHUNK, scriptable } from "./redisAddMany.js"
import type { Client } from "./redisConnection.js"

type Arg = string | number

/** adds with the same prefix (stream, XADD options, id), in call order */
class Group {
  readonly entries: Array<Fields> = []
  readonly resolves: Array<(reply: unknown) => void> = []
  readonly rejects: Array<(cause: unknown) => void> = []
  chars = 0
  constructor(readonly prefix: ReadonlyArray<Arg>, readonly scriptable: boolean) {}

  /** whether `fields` can join this group's script */
  accepts(prefix: ReadonlyArray<Arg>, fields: Fields): boolean {
    if (!this.scriptable || !scriptable(fields)) return false
    if (this.entries.length >= SCRIPT_CHUNK.entries || this.chars >= CHUNK_CHARS) return false
    if (prefix.length !== this.prefix.length) return false
    for (let i = 0; i < prefix.length; i++) if (prefix[i] !== this.prefix[i]) return false
    return true
  }

  push(fields: Fields, resolve: (reply: unknown) => void, reject: (cause: unknown) => void): void {
    this.entries.push(fields)
    this.resolves.push(resolve)
    this.rejects.push(reject)
    for (let k = 0; k < fields.length; k++) this.chars += fields[k]!.length
  }
}

/** the adds of one connection waiting for the end of the tick */
export class Coalescer {
  private groups: Array<Group> = []
  private scheduled = false
  /** the connection's first script is in flight: later groups wait for its answer (it may be refused and sent again) */
  private probing = false

  /** `client`: the connection's current client (it is replaced when the connection is rebuilt) */
  constructor(private readonly client: () => Client, private readonly bulk: AddMany) {}

  /** add one entry: resolves with XADD's reply (an id, or null for NOMKSTREAM), rejects with its error */
  add(prefix: ReadonlyArray<Arg>, fields: Fields): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const last = this.groups[this.groups.length - 1]
      const group = last !== undefined && last.accepts(prefix, fields) ? last : this.open(prefix, fields)
      group.push(fields, resolve, reject)
      this.schedule()
    })
  }

  private open(prefix: ReadonlyArray<Arg>, fields: Fields): Group {
    const group = new Group(prefix, scriptable(fields))
    this.groups.push(group)
    return group
  }

  private schedule(): void {
    if (this.scheduled || this.probing) return
    this.scheduled = true
    queueMicrotask(this.flush)
  }

  private readonly flush = (): void => {
    this.scheduled = false
    const groups = this.groups
    let i = 0
    while (i < groups.length && !this.probing) this.send(groups[i++]!)
    this.groups = i === groups.length ? [] : groups.slice(i)
  }

  private send(group: Group): void {
    const { entries, prefix, resolves, rejects } = group
    if (entries.length === 1 || !group.scriptable || this.bulk.scriptsRefused()) {
      // ioredis flattens one level of nested arguments
      const client = this.client()
      const xadd = client.call as unknown as (command: string, ...args: Array<ReadonlyArray<Arg>>) => Promise<unknown>
      for (let i = 0; i < entries.length; i++) xadd.call(client, "xadd", prefix, entries[i]!).then(resolves[i], rejects[i])
      return
    }
    const probe = this.bulk.scriptsUnknown()
    if (probe) this.probing = true
    const sent = this.bulk.chunk(prefix, entries, 0, entries.length).then(
      (replies) => {
        for (let i = 0; i < replies.length; i++) {
          const reply = replies[i]
          if (reply instanceof Error) rejects[i]!(reply)
          else resolves[i]!(reply)
        }
      },
      (cause: unknown) => {
        for (let i = 0; i < rejects.length; i++) rejects[i]!(cause)
      }
    )
    if (!probe) return
    void sent.finally(() => {
      this.probing = false
      if (this.groups.length > 0) this.schedule()
    })
  }
}

/**
 * The reads and acknowledgements of the Redis backend: `readGroup`, the
 * blocking reader, `ack`, `ackAndDelete` and `ackThenRead` (acknowledgement
 * and next read in one round trip), and `withBytes`, which reads again as
 * bytes the entries that are not valid UTF-8.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { Redis } from "ioredis"
import { isUtf8 } from "node:buffer"
import type {
  AckThenReadResult,
  ReadEntry,
  ReadGroupOptions,
  Service
} from "../../StreamsBackend.js"
import type { BackendError } from "../../StreamsError.js"
import * as BlockingReaderImpl from "../redisBlockingReader.js"
import type { Client } from "../redisConnection.js"
import { traced } from "../redisTracing.js"
import * as Replies from "../replies.js"
import type { Arg, Requests } from "./request.js"

/** the socket of a standalone or Sentinel client that is ready (commands are written at once), to cork */
const corkable = (client: Client): { cork(): void; uncork(): void } | undefined => {
  if (client.isCluster || client.status !== "ready") return undefined
  const socket = (client as Redis).stream as { cork?: () => void; uncork?: () => void; writable?: boolean } | undefined
  return socket !== undefined && socket.writable === true && typeof socket.cork === "function" &&
      typeof socket.uncork === "function"
    ? (socket as { cork(): void; uncork(): void })
    : undefined
}

/**
 * ioredis decodes replies as UTF-8 text, replacing what is not valid UTF-8
 * with U+FFFD. Entries whose text holds U+FFFD are read again as bytes (one
 * XRANGE each, only for them) and carry `bytes` when they really are not
 * valid UTF-8, so no byte is lost on the way to the handler.
 */
export const withBytes = <E extends ReadEntry>(
  requests: Requests,
  stream: string,
  entries: ReadonlyArray<E>
): Effect.Effect<ReadonlyArray<E>, BackendError> => {
  let suspect = false
  for (let i = 0; i < entries.length; i++) {
    if (Replies.mayHoldBinary(entries[i]!.fields)) {
      suspect = true
      break
    }
  }
  if (!suspect) return Effect.succeed(entries)
  return Effect.forEach(entries, (e) =>
    Replies.mayHoldBinary(e.fields)
      ? Effect.map(
        requests.run(
          () => requests.client.callBuffer("XRANGE", stream, e.id, e.id),
          Replies.parseBytesEntry,
          "XRANGE",
          stream,
          undefined
        ),
        (bytes) => bytes !== null && bytes.some((b) => !isUtf8(b)) ? { ...e, bytes } : e
      )
      : Effect.succeed(e))
}

const readGroupArgs = (options: ReadGroupOptions): Array<Arg> => {
  const args: Array<Arg> = ["GROUP", options.group, options.consumer]
  if (options.count !== undefined) args.push("COUNT", options.count)
  if (options.noAck === true) args.push("NOACK")
  args.push("STREAMS", options.stream, options.id)
  return args
}

/** XACK's arguments: the stream, the group, the ids */
const ackArgs = (stream: string, group: string, ids: ReadonlyArray<string>): Array<Arg> => {
  const args = new Array<Arg>(ids.length + 2)
  args[0] = stream
  args[1] = group
  for (let i = 0; i < ids.length; i++) args[i + 2] = ids[i]!
  return args
}

/** MULTI XACK XDEL EXEC: its reply is parsed by `Replies.parseAckAndDelete` */
const startAckAndDelete = (client: Client, stream: string, group: string, ids: ReadonlyArray<string>) =>
  client.multi().call("xack", ackArgs(stream, group, ids)).call("xdel", [stream, ...ids]).exec()

/** the blocking reader of `requests`' connection (its replies are read as bytes: see `Replies.parseReadGroupBytes`) */
export const blockingReader = (requests: Requests): Service["blockingReader"] =>
  BlockingReaderImpl.make(requests.connection)

/** `ackThenRead`: the acknowledgement and the next read written together, each with its own reply */
const makeAckThenRead = (requests: Requests) => {
  const ackThenRead = (
    stream: string,
    group: string,
    ids: ReadonlyArray<string>,
    read: ReadGroupOptions,
    options?: { readonly delete?: boolean | undefined }
  ) => {
    const readArgs = readGroupArgs(read)
    const remove = options?.delete === true
    // both commands are written in the same tick, so they share a round trip; each keeps its own
    // reply (a failed read does not fail the acknowledgement)
    const start = () => {
      const client = requests.client
      // and in one write: corked, the socket sends both with one writev instead of one system call
      // each (on loopback a write costs tens of microseconds: the receiver's work is done in it)
      const socket = corkable(client)
      socket?.cork()
      let acked: Promise<unknown>
      let next: Promise<Either.Either<unknown, unknown>>
      try {
        acked = ids.length === 0
          ? Promise.resolve(null)
          : remove
          ? startAckAndDelete(client, stream, group, ids)
          : client.call("xack", ackArgs(stream, group, ids))
        next = client.callBuffer("xreadgroup", readArgs).then(
          (reply) => Either.right(reply),
          (cause: unknown) => Either.left(cause)
        )
      } finally {
        socket?.uncork()
      }
      return Promise.all([acked, next])
    }
    const parse = (reply: unknown): AckThenReadResult => {
      const [ackReply, readReply] = reply as [unknown, Either.Either<unknown, unknown>]
      const acked = ids.length === 0 ? 0 : remove ? Replies.parseAckAndDelete(ackReply) : Replies.toInt(ackReply)
      let result: Either.Either<ReadonlyArray<ReadEntry>, BackendError>
      try {
        if (Either.isLeft(readReply)) throw readReply.left
        result = Either.right(Replies.parseReadGroupBytes(readReply.right))
      } catch (cause) {
        result = Either.left(Replies.toBackendError(cause, "XREADGROUP", read.stream, read.group, requests.endpoint))
      }
      return { acked, read: result }
    }
    return traced(requests.run(start, parse, remove ? "MULTI XACK XDEL EXEC" : "XACK", stream, group), "ackThenRead", stream, "consumer")
  }
  return ackThenRead
}

/** `readGroup`, `ack`, `ackAndDelete` and `ackThenRead` through `requests` */
export const makeReads = (requests: Requests) => {
  const readGroup = (options: ReadGroupOptions) => {
    const args = readGroupArgs(options)
    const effect = requests.run(
      () => requests.client.callBuffer("xreadgroup", args),
      Replies.parseReadGroupBytes,
      "XREADGROUP",
      options.stream,
      options.group
    )
    return traced(effect, "readGroup", options.stream, "consumer")
  }

  const ack = (stream: string, group: string, ids: ReadonlyArray<string>) => {
    if (ids.length === 0) return Effect.succeed(0)
    return traced(
      requests.send("XACK", ackArgs(stream, group, ids), Replies.toInt, stream, group),
      "ack",
      stream,
      "consumer"
    )
  }

  const ackAndDelete = (stream: string, group: string, ids: ReadonlyArray<string>) => {
    if (ids.length === 0) return Effect.succeed(0)
    const effect = requests.run(
      () => startAckAndDelete(requests.client, stream, group, ids),
      Replies.parseAckAndDelete,
      "MULTI XACK XDEL EXEC",
      stream,
      group
    )
    return traced(effect, "ackAndDelete", stream, "consumer")
  }

  return { readGroup, ack, ackAndDelete, ackThenRead: makeAckThenRead(requests) }
}

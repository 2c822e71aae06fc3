/**
 * Errors of the in-memory engine. The engine throws a `ReplyError` carrying
 * the exact error reply Redis 7.0 sends; the backend maps it to the port's
 * typed errors the same way the Redis backend maps ioredis replies
 * (`internal/replies.ts`): NOGROUP -> GroupNotFound, WRONGTYPE ->
 * WrongKeyType, "no such key" / "requires the key to exist" / a NOMKSTREAM
 * nil -> StreamNotFound, anything else -> RedisCommandError with the raw reply.
 *
 * @internal
 */
import { type BackendError, RedisConnectionError } from "../../StreamsError.js"
import { fromReply, streamNotFound } from "../replies.js"

/** the endpoint named by connection errors of the in-memory backend */
export const ENDPOINT = "memory"

/** an error reply of the emulated server (`reply` is the text after `-`), or the nil of XADD NOMKSTREAM */
export class ReplyError extends Error {
  override readonly name = "ReplyError"
  constructor(
    readonly command: string,
    readonly reply: string,
    readonly nil = false
  ) {
    super(reply)
  }
}

export const WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"

export const wrongType = (command: string): ReplyError => new ReplyError(command, WRONGTYPE)

export const notInteger = (command: string): ReplyError =>
  new ReplyError(command, "ERR value is not an integer or out of range")

/** the nil reply of XADD NOMKSTREAM on a missing key */
export const nomkstreamNil = (command: string): ReplyError => new ReplyError(command, "", true)

/** map an engine error to the port's typed error, as the Redis backend maps the same reply */
export const toBackendError = (
  err: ReplyError,
  stream: string,
  group: string | undefined
): BackendError =>
  err.nil ? streamNotFound(stream, err.command) : fromReply(err.reply, err.command, stream, group, ENDPOINT)

/** the error of a call on a blocking reader whose scope was closed */
export const readerClosed = (command: string, stream: string): RedisConnectionError =>
  new RedisConnectionError({
    endpoint: ENDPOINT,
    message: `${command} ${stream} on ${ENDPOINT} failed: the blocking reader's connection is closed`
  })

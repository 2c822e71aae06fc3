/**
 * Typed failures of every component, one class per failure a user can act on.
 *
 * Every error carries a human readable `message` that names what failed (the
 * command, the stream, the group, the host and port) and never a password.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The server could not be reached, the connection was lost, or a command did
 * not settle in time. Names host and port, never credentials.
 *
 * @since 0.1.0
 * @category errors
 */
export class RedisConnectionError extends Schema.TaggedError<RedisConnectionError>(
  "effect-redis-streams/RedisConnectionError"
)("RedisConnectionError", {
  message: Schema.String,
  /** "host:port" or a description of the endpoints (cluster, sentinel) */
  endpoint: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/**
 * A connection has ended for good and will not come back: a client given to
 * `RedisConnection.fromClient` whose status is `"end"` (the library never
 * rebuilds a client it does not own), or a connection of the library that
 * could not be rebuilt within its `rebuildAttempts`. Unlike
 * `RedisConnectionError` it is not retried by a Consumer's reconnect policy:
 * retrying on a dead client would never succeed. Build a new layer (with a
 * new client) instead.
 *
 * @since 0.2.0
 * @category errors
 */
export class ConnectionEnded extends Schema.TaggedError<ConnectionEnded>(
  "effect-redis-streams/ConnectionEnded"
)("ConnectionEnded", {
  message: Schema.String,
  /** "host:port" or a description of the endpoints (cluster, sentinel) */
  endpoint: Schema.String,
  /** which connection: "main", "lane 2", "blocking reader 1", with its connection name when it has one */
  connection: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/**
 * A Redis command failed with an error reply that has no more specific class
 * (for example "ERR The ID specified in XADD is equal or smaller than the
 * target stream top item").
 *
 * @since 0.1.0
 * @category errors
 */
export class RedisCommandError extends Schema.TaggedError<RedisCommandError>(
  "effect-redis-streams/RedisCommandError"
)("RedisCommandError", {
  message: Schema.String,
  command: Schema.String,
  /** the raw error reply of the server */
  reply: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/**
 * The consumer group (or its stream) does not exist: Redis's NOGROUP reply.
 *
 * @since 0.1.0
 * @category errors
 */
export class GroupNotFound extends Schema.TaggedError<GroupNotFound>(
  "effect-redis-streams/GroupNotFound"
)("GroupNotFound", {
  message: Schema.String,
  stream: Schema.String,
  group: Schema.String,
  command: Schema.String
}) {}

/**
 * The key exists but holds another type than a stream: Redis's WRONGTYPE reply.
 *
 * @since 0.1.0
 * @category errors
 */
export class WrongKeyType extends Schema.TaggedError<WrongKeyType>(
  "effect-redis-streams/WrongKeyType"
)("WrongKeyType", {
  message: Schema.String,
  key: Schema.String,
  command: Schema.String
}) {}

/**
 * The stream does not exist and the operation does not create it (XINFO on a
 * missing key, XADD with NOMKSTREAM, XGROUP CREATE without MKSTREAM).
 *
 * @since 0.1.0
 * @category errors
 */
export class StreamNotFound extends Schema.TaggedError<StreamNotFound>(
  "effect-redis-streams/StreamNotFound"
)("StreamNotFound", {
  message: Schema.String,
  stream: Schema.String,
  command: Schema.String
}) {}

/**
 * The Redis user (ACL) may not run a command, or may not touch a key: Redis's
 * NOPERM reply, also inside a Lua script. Not retried: grant the permission
 * (`ACL SETUSER <user> +<command> ~<key>`) or use another user.
 *
 * `command` names the command that was refused as Redis names it when it
 * does (`XACK`, `XINFO STREAM`), else the operation that was sent; `key` is
 * the key the operation was on; `denied` says whether the command or the key
 * was refused.
 *
 * @since 0.1.0
 * @category errors
 */
export class PermissionDenied extends Schema.TaggedError<PermissionDenied>(
  "effect-redis-streams/PermissionDenied"
)("PermissionDenied", {
  message: Schema.String,
  command: Schema.String,
  key: Schema.String,
  denied: Schema.Literal("command", "key"),
  /** the raw error reply of the server */
  reply: Schema.String
}) {}

/**
 * An option given to a constructor is out of range. Names the option and the
 * accepted range.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidOptions extends Schema.TaggedError<InvalidOptions>(
  "effect-redis-streams/InvalidOptions"
)("InvalidOptions", {
  message: Schema.String,
  option: Schema.String
}) {}

/**
 * A message body could not be encoded with the producer's Schema. Nothing was
 * sent.
 *
 * @since 0.1.0
 * @category errors
 */
export class MessageEncodeError extends Schema.TaggedError<MessageEncodeError>(
  "effect-redis-streams/MessageEncodeError"
)("MessageEncodeError", {
  message: Schema.String,
  stream: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/**
 * An entry's fields could not be decoded with the consumer's Schema.
 *
 * @since 0.1.0
 * @category errors
 */
export class MessageDecodeError extends Schema.TaggedError<MessageDecodeError>(
  "effect-redis-streams/MessageDecodeError"
)("MessageDecodeError", {
  message: Schema.String,
  stream: Schema.String,
  id: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/**
 * Any failure of a streams backend operation.
 *
 * @since 0.1.0
 * @category errors
 */
export type BackendError =
  | RedisConnectionError
  | ConnectionEnded
  | RedisCommandError
  | GroupNotFound
  | WrongKeyType
  | StreamNotFound
  | PermissionDenied

/**
 * Every failure the library can report.
 *
 * @since 0.1.0
 * @category errors
 */
export type RedisStreamsError =
  | BackendError
  | InvalidOptions
  | MessageEncodeError
  | MessageDecodeError

/**
 * `tail <stream> --group G`: read the group's messages as one of its
 * consumers and print them, one per line, until Ctrl-C or `--count`.
 *
 * It is a real member of the group (a Consumer): each message it prints is
 * delivered to it and not to the group's other consumers. It first gets its
 * own pending entries (when `--consumer` names a consumer that has some),
 * then new ones. It never reclaims other consumers' entries and never moves
 * anything to the dead-letter stream.
 *
 * - With `--ack` each message is acknowledged once printed: the group is
 *   drained (use it to empty a queue, or a dead consumer's pending list with
 *   `--consumer <its name>`). On exit the tail consumer removes itself.
 * - Without `--ack` the messages stay pending under the tail consumer: they
 *   are not lost, the group's consumers reclaim them once idle for their
 *   `reclaim.idle` (30 s by default), but they are delayed until then.
 *
 * Never creates the stream or the group unless `--create` is given.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import { Consumer, StreamsBackend } from "effect-redis-streams"
import type { Message } from "effect-redis-streams"
import * as Os from "node:os"
import { CommandFailed } from "../CliError.js"
import * as Flags from "../Flags.js"
import * as Output from "../Output.js"

/**
 * The JSON form of one message (`tail --json`, one line each).
 *
 * @since 0.1.0
 * @category models
 */
export interface MessageJson {
  readonly id: string
  readonly stream: string
  readonly group: string
  readonly consumer: string
  /** deliveries to the group so far, this one included */
  readonly deliveryCount: number
  /** the fields (a repeated field name keeps its last value) */
  readonly fields: Readonly<Record<string, string>>
}

/**
 * The text form of one message: `<id> key=value ...`, plus the delivery
 * count when it was delivered before.
 *
 * @since 0.1.0
 * @category rendering
 */
export const render = (m: Message.Message<Record<string, string>>): string =>
  `${m.id} ${Output.fields(m.rawFields)}${m.deliveryCount > 1 ? ` (delivery ${m.deliveryCount})` : ""}`

/**
 * The default consumer name: `redis-streams-tail-<host>-<pid>`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultConsumer = (): string => `redis-streams-tail-${Os.hostname()}-${process.pid}`

/**
 * The command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(
  "tail",
  {
    stream: Flags.stream,
    group: Options.text("group").pipe(Options.withAlias("g"), Options.withDescription("the consumer group to read as")),
    consumer: Options.text("consumer").pipe(
      Options.withAlias("c"),
      Options.withDescription(
        "consumer name to read as (default redis-streams-tail-<host>-<pid>); its own pending entries come first"
      ),
      Options.optional
    ),
    batch: Flags.integer("batch", "read up to N messages per round trip (default 10)", 1, 10_000).pipe(
      Options.withDefault(10)
    ),
    ack: Options.boolean("ack").pipe(
      Options.withDescription(
        "acknowledge each message once printed (drains the group). Without it messages stay pending under this consumer until the group's consumers reclaim them"
      )
    ),
    count: Flags.integer("count", "stop after N messages (default: run until Ctrl-C)", 1).pipe(Options.optional),
    create: Options.boolean("create").pipe(
      Options.withDescription(
        "create the group (and the stream) if missing, reading from new entries on; by default a missing stream or group is an error"
      )
    ),
    fromStart: Options.boolean("from-start").pipe(
      Options.withDescription("with --create: a created group starts at the first entry of the stream instead")
    ),
    json: Flags.json("one JSON object per message: {id, stream, group, consumer, deliveryCount, fields}"),
    url: Flags.url
  },
  (flags) =>
    Flags.withRedis(
      flags.url,
      Effect.gen(function*() {
        const backend = yield* StreamsBackend.StreamsBackend
        if (!flags.create) {
          // the hint names the flag that creates what is missing
          const groups = yield* backend.groupsInfo(flags.stream).pipe(
            Effect.catchTag("StreamNotFound", () =>
              Effect.fail(
                new CommandFailed({
                  message: `stream '${flags.stream}' does not exist (--create creates the stream and the group)`
                })
              ))
          )
          if (!groups.some((g) => g.name === flags.group)) {
            return yield* new CommandFailed({
              message:
                `consumer group '${flags.group}' does not exist on stream '${flags.stream}' (--create creates it, at the end of the stream; add --from-start to read from the first entry)`
            })
          }
        }
        const limit = Option.getOrUndefined(flags.count)
        const consumer = yield* Consumer.make({
          stream: flags.stream,
          group: flags.group,
          consumer: Option.getOrElse(flags.consumer, defaultConsumer),
          batchSize: limit === undefined ? flags.batch : Math.min(flags.batch, limit),
          maxWait: "100 millis",
          startFrom: flags.fromStart ? "beginning" : "new",
          // an observer: never take other consumers' entries, never dead-letter
          reclaim: false,
          deadLetter: { maxDeliveries: Number.MAX_SAFE_INTEGER }
        })
        const printed = yield* Ref.make(0)
        const unprinted = yield* Ref.make(0)
        yield* consumer.batches.pipe(
          Stream.mapEffect((batch) =>
            Effect.gen(function*() {
              const done = yield* Ref.get(printed)
              const room = limit === undefined ? batch.messages.length : Math.max(0, limit - done)
              const shown = batch.messages.slice(0, room)
              yield* Ref.update(unprinted, (n) => n + batch.messages.length - shown.length)
              for (const m of shown) {
                yield* flags.json
                  ? Output.json(
                    {
                      id: m.id,
                      stream: m.stream,
                      group: m.group,
                      consumer: m.consumer,
                      deliveryCount: m.deliveryCount,
                      fields: m.fields
                    } satisfies MessageJson
                  )
                  : Output.line(render(m))
              }
              if (flags.ack) yield* batch.ackMessages(shown)
              return yield* Ref.updateAndGet(printed, (n) => n + shown.length)
            })
          ),
          Stream.takeUntil((n) => limit !== undefined && n >= limit),
          Stream.runDrain,
          Effect.ensuring(
            Effect.gen(function*() {
              const n = yield* Ref.get(printed)
              const extra = yield* Ref.get(unprinted)
              if (!flags.ack && n > 0) {
                yield* Output.note(
                  `${n} messages printed stay pending under consumer '${consumer.name}' of group '${flags.group}' (not acknowledged; --ack acknowledges them)`
                )
              }
              if (extra > 0) {
                yield* Output.note(
                  `${extra} more messages were delivered to consumer '${consumer.name}' past --count; they stay pending there for the group's consumers to reclaim`
                )
              }
            })
          )
        )
      }).pipe(Effect.scoped)
    )
).pipe(
  Command.withDescription(
    "Read a consumer group's messages as one of its consumers and print them (id and fields, or JSON lines) until Ctrl-C or --count. With --ack each message is acknowledged once printed (drains the group); without it, printed messages stay pending under the tail consumer and the group's consumers reclaim them after their claim-idle time (30s by default). Never creates the stream or group unless --create."
  )
)

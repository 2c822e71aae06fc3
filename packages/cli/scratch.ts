import { Args, Command, Options } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Option } from "effect"

const stream = Args.text({ name: "stream" }).pipe(Args.withDescription("the stream key"))
const group = Options.text("group").pipe(Options.withAlias("g"), Options.optional, Options.withDescription("the group"))
const json = Options.boolean("json").pipe(Options.withDescription("JSON output"))
const field = Options.text("field").pipe(Options.repeated, Options.withDescription("k=v"))
const url = Options.redacted("url").pipe(Options.optional)
const info = Command.make("info", { stream, group, json, field, url }, (a) => Console.log(JSON.stringify({ ...a, url: Option.isSome(a.url) })))
const streams = Args.text({ name: "stream" }).pipe(Args.atLeast(1))
const serve = Command.make("serve", { streams, port: Options.integer("port").pipe(Options.withDefault(9464)) }, (a) => Console.log(JSON.stringify(a)))
const dlqList = Command.make("list", { stream }, (a) => Console.log("list", a.stream))
const dlq = Command.make("dlq").pipe(Command.withSubcommands([dlqList]))
const root = Command.make("redis-streams").pipe(Command.withSubcommands([info, serve, dlq]))
const cli = Command.run(root, { name: "redis-streams", version: "0.1.0" })
cli(process.argv).pipe(Effect.provide(NodeContext.layer), Effect.tapErrorCause((c) => Console.error("FAILED", c.toString().slice(0, 200))), NodeRuntime.runMain({ disableErrorReporting: true }))

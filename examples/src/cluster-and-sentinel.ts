/**
 * Connecting to a Redis Cluster and through Redis Sentinel: `RedisConnection`
 * options for both (with ACL user, password and TLS when needed).
 *
 * Without environment variables this example only prints what it would
 * connect to, and exits. To connect for real:
 *
 *   CLUSTER_NODES=10.0.0.1:7000,10.0.0.2:7000 pnpm example:cluster-and-sentinel
 *   SENTINELS=10.0.0.1:26379,10.0.0.2:26379 SENTINEL_NAME=mymaster pnpm example:cluster-and-sentinel
 *
 * Optional: REDIS_USERNAME, REDIS_PASSWORD (the data nodes), SENTINEL_PASSWORD,
 * REDIS_TLS=true.
 *
 * Cluster and keys: a stream and its dead-letter stream must live in the same
 * hash slot. `DeadLetter.defaultStream` keeps that rule (`orders` ->
 * `{orders}:dlq`, `{shop}:orders` -> `{shop}:orders:dlq`), so the default is
 * safe; give your streams a hash tag when several keys must share a slot.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Config, Console, Effect, Option, Redacted, Stream } from "effect"
import {
  Consumer,
  DeadLetter,
  Producer,
  RedisBackend,
  RedisConnection,
  StreamsBackend
} from "effect-redis-streams"
import { randomUUID } from "node:crypto"

const parseNodes = (value: string): Array<RedisConnection.HostAndPort> =>
  value.split(",").map((s) => s.trim()).filter((s) => s.length > 0).map((s) => {
    const i = s.lastIndexOf(":")
    return i === -1 ? { host: s, port: 6379 } : { host: s.slice(0, i), port: Number(s.slice(i + 1)) }
  })

/** what both connections share: ACL user, password and TLS of the data nodes */
const common = Config.all({
  username: Config.option(Config.string("REDIS_USERNAME")),
  password: Config.option(Config.redacted("REDIS_PASSWORD")),
  tls: Config.boolean("REDIS_TLS").pipe(Config.withDefault(false))
}).pipe(Config.map(({ password, tls, username }) => ({
  username: Option.getOrUndefined(username),
  password: Option.getOrUndefined(password),
  tls
})))

/** a Redis Cluster: startup nodes; the rest of the topology is discovered */
const clusterOptions = (
  nodes: ReadonlyArray<RedisConnection.HostAndPort>,
  auth: Config.Config.Success<typeof common>
): RedisConnection.Options => ({
  ...auth,
  cluster: {
    nodes,
    // ioredis cluster options, e.g. read from masters only (consumer groups are written there anyway);
    // `natMap` maps the addresses the cluster announces when they are not reachable as such (NAT, Docker)
    options: { scaleReads: "master" }
  },
  connectTimeout: "5 seconds",
  connectionName: "effect-redis-streams-example"
})

/** a master found through Sentinel: the sentinels, the master group name, and their own password */
const sentinelOptions = (
  sentinels: ReadonlyArray<RedisConnection.HostAndPort>,
  name: string,
  sentinelPassword: Option.Option<Redacted.Redacted<string>>,
  auth: Config.Config.Success<typeof common>
): RedisConnection.Options => ({
  ...auth,
  sentinels,
  name,
  sentinelPassword: Option.getOrUndefined(sentinelPassword),
  connectTimeout: "5 seconds",
  connectionName: "effect-redis-streams-example"
})

const describe = (options: RedisConnection.Options): string =>
  JSON.stringify(
    options,
    (_key, value) => Redacted.isRedacted(value) ? "<redacted>" : value
  )

/** connect, add a message, read it back through a consumer group, clean up */
const roundTrip = (options: RedisConnection.Options) =>
  Effect.gen(function*() {
    const connection = yield* RedisConnection.RedisConnection
    yield* Console.log(`  connected to ${connection.endpoint}, Redis ${connection.serverVersion}`)
    const backend = yield* StreamsBackend.StreamsBackend
    // a hash tag: the stream and its dead-letter stream hash to the same slot
    const stream = `{example-${randomUUID().slice(0, 8)}}:orders`
    yield* Effect.addFinalizer(() =>
      Effect.forEach(
        [stream, DeadLetter.defaultStream(stream)],
        (key) => Effect.tryPromise(() => connection.client.del(key)).pipe(Effect.ignore),
        { discard: true }
      )
    )
    const producer = yield* Producer.make({ stream })
    const id = yield* producer.add({ message: "hello from effect-redis-streams" })
    const consumer = yield* Consumer.make({ stream, group: "example", batchSize: 10, maxWait: "1 second" })
    const batch = yield* consumer.batches.pipe(Stream.take(1), Stream.runHead)
    yield* Effect.forEach(Option.toArray(batch), (b) => b.ack)
    yield* Console.log(`  added ${id} to ${stream}; read back ${Option.match(batch, { onNone: () => 0, onSome: (b) => b.messages.length })} message(s); ${backend.kind} backend`)
  }).pipe(Effect.scoped, Effect.provide(RedisBackend.layerRedis(options)))

const program = Effect.gen(function*() {
  const auth = yield* common

  const clusterNodes = yield* Config.option(Config.string("CLUSTER_NODES"))
  const cluster = clusterOptions(
    Option.match(clusterNodes, {
      onNone: () => [{ host: "127.0.0.1", port: 7000 }, { host: "127.0.0.1", port: 7001 }, { host: "127.0.0.1", port: 7002 }],
      onSome: parseNodes
    }),
    auth
  )
  if (Option.isNone(clusterNodes)) {
    yield* Console.log(`Cluster: CLUSTER_NODES is not set; would connect with ${describe(cluster)}`)
  } else {
    yield* Console.log(`Cluster: connecting with ${describe(cluster)}`)
    yield* roundTrip(cluster)
  }

  const sentinelNodes = yield* Config.option(Config.string("SENTINELS"))
  const sentinel = sentinelOptions(
    Option.match(sentinelNodes, {
      onNone: () => [{ host: "127.0.0.1", port: 26379 }, { host: "127.0.0.1", port: 26380 }, { host: "127.0.0.1", port: 26381 }],
      onSome: parseNodes
    }),
    yield* Config.string("SENTINEL_NAME").pipe(Config.withDefault("mymaster")),
    yield* Config.option(Config.redacted("SENTINEL_PASSWORD")),
    auth
  )
  if (Option.isNone(sentinelNodes)) {
    yield* Console.log(`Sentinel: SENTINELS is not set; would connect with ${describe(sentinel)}`)
  } else {
    yield* Console.log(`Sentinel: connecting with ${describe(sentinel)}`)
    yield* roundTrip(sentinel)
  }
})

program.pipe(NodeRuntime.runMain)

/**
 * @since 0.1.0
 */

/**
 * Typed failures of every component.
 *
 * @since 0.1.0
 */
export * as StreamsError from "./StreamsError.js"

/**
 * The port: typed stream operations, implemented over Redis and in memory.
 *
 * @since 0.1.0
 */
export * as StreamsBackend from "./StreamsBackend.js"

/**
 * The connection to Redis (standalone, Sentinel, Cluster; TLS and ACL): a scoped ioredis client, connected when built.
 *
 * @since 0.1.0
 */
export * as RedisConnection from "./RedisConnection.js"

/**
 * The StreamsBackend port over Redis, on a RedisConnection.
 *
 * @since 0.1.0
 */
export * as RedisBackend from "./RedisBackend.js"

/**
 * The StreamsBackend port in memory, behaving like Redis 7.0, with time from
 * Effect's Clock (TestClock-friendly), plus test hooks (wrong-type keys,
 * deleting keys, fault injection).
 *
 * @since 0.1.0
 */
export * as InMemoryBackend from "./InMemoryBackend.js"

/**
 * Messages and batches handed out by a Consumer, with their acknowledgement.
 *
 * @since 0.1.0
 */
export * as Message from "./Message.js"

/**
 * Dead letters: naming and entry format; list, find, replay (atomic per entry) and purge.
 *
 * @since 0.1.0
 */
export * as DeadLetter from "./DeadLetter.js"

/**
 * The Producer service: add messages, one or many in one round trip, with trimming.
 *
 * @since 0.1.0
 */
export * as Producer from "./Producer.js"

/**
 * The Consumer service: batches as a Stream, acknowledgement as an Effect, reclaim and dead letters.
 *
 * @since 0.1.0
 */
export * as Consumer from "./Consumer.js"

/**
 * The Monitor service: group and consumer health report, the seed's table, lossless cleanup of dead consumers, gauges.
 *
 * @since 0.1.0
 */
export * as Monitor from "./Monitor.js"

/**
 * The Scaler service: fresh group metrics, the seed's IN/OUT/NO_SCALE rule, a recommended consumer count.
 *
 * @since 0.1.0
 */
export * as Scaler from "./Scaler.js"

/**
 * Every metric of the library (Consumer, Producer, Monitor, Scaler, serve) as Effect `Metric`s, and the Prometheus formatter.
 *
 * @since 0.1.0
 */
export * as Metrics from "./Metrics.js"

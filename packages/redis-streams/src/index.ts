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

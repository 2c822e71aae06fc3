/**
 * Everything a program prints or records, kept for scanning: Effect logs
 * (message, annotations, cause), spans (name, attributes, events, exit),
 * metrics, and whatever reaches the console or the process's stdout/stderr.
 */
import { Cause, Effect, Exit, HashMap, Layer, List, Logger, LogLevel, Metric, Tracer } from "effect"
import * as Util from "node:util"

export interface Recorder {
  /** every text recorded so far */
  readonly texts: () => ReadonlyArray<string>
  /** add a value (an error, an exit, a result) rendered every way a user might print it */
  readonly add: (value: unknown) => void
  /** the layer: a logger at level All and a recording tracer */
  readonly layer: Layer.Layer<never>
  /** spans recorded */
  readonly spanCount: () => number
  readonly logCount: () => number
  /** capture console.* and process.stdout/stderr writes while `effect` runs (they still go through) */
  readonly capturingOutput: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

/** a value as text, every way: String, JSON, util.inspect (deep, hidden fields too), Cause.pretty */
export const renderings = (value: unknown): ReadonlyArray<string> => {
  const out: Array<string> = []
  try {
    out.push(String(value))
  } catch {
    // a value without toString
  }
  try {
    out.push(JSON.stringify(value) ?? "")
  } catch {
    // circular
  }
  out.push(Util.inspect(value, { depth: Infinity, showHidden: true, getters: true }))
  if (Exit.isExit(value) && Exit.isFailure(value)) out.push(Cause.pretty(value.cause, { renderErrorCause: true }))
  if (Cause.isCause(value)) out.push(Cause.pretty(value, { renderErrorCause: true }))
  if (value instanceof Error) out.push(value.stack ?? "")
  return out
}

export const makeRecorder = (): Recorder => {
  const texts: Array<string> = []
  let spans = 0
  let logs = 0
  const add = (value: unknown) => texts.push(...renderings(value))

  const logger = Logger.make(({ annotations, cause, logLevel, message, spans: logSpans }) => {
    logs++
    texts.push(`${logLevel.label} ${Util.inspect(message, { depth: Infinity })}`)
    for (const [k, v] of HashMap.toEntries(annotations)) texts.push(`${k}=${Util.inspect(v, { depth: Infinity })}`)
    for (const s of List.toArray(logSpans)) texts.push(s.label)
    if (!Cause.isEmpty(cause)) add(cause)
  })

  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind) => {
      spans++
      texts.push(`span ${name}`)
      const attributes = new Map<string, unknown>()
      let status: Tracer.SpanStatus = { _tag: "Started", startTime }
      const span: Tracer.Span = {
        _tag: "Span",
        name,
        spanId: String(spans),
        traceId: "trace",
        parent,
        context,
        get status() {
          return status
        },
        attributes,
        links,
        sampled: true,
        kind,
        end: (endTime, exit) => {
          status = { _tag: "Ended", startTime, endTime, exit }
          texts.push(`span ${name} attributes ${Util.inspect(attributes, { depth: Infinity })}`)
          add(exit)
        },
        attribute: (key, value) => {
          attributes.set(key, value)
          texts.push(`span ${name} attribute ${key}=${Util.inspect(value, { depth: Infinity })}`)
        },
        event: (eventName, _time, eventAttributes) => {
          texts.push(`span ${name} event ${eventName} ${Util.inspect(eventAttributes, { depth: Infinity })}`)
        },
        addLinks: () => {}
      }
      return span
    },
    context: (f) => f()
  })

  const capturingOutput = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.acquireUseRelease(
      Effect.sync(() => {
        const originals = {
          stdout: process.stdout.write,
          stderr: process.stderr.write,
          log: console.log,
          warn: console.warn,
          error: console.error,
          info: console.info,
          debug: console.debug
        }
        const wrapWrite = (original: typeof process.stdout.write) =>
          function(this: unknown, chunk: unknown, ...rest: Array<unknown>) {
            texts.push(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8"))
            return (original as (...args: Array<unknown>) => boolean).call(this, chunk, ...rest)
          } as typeof process.stdout.write
        process.stdout.write = wrapWrite(originals.stdout)
        process.stderr.write = wrapWrite(originals.stderr)
        for (const level of ["log", "warn", "error", "info", "debug"] as const) {
          const original = originals[level]
          console[level] = (...args: Array<unknown>) => {
            texts.push(Util.format(...args))
            original.apply(console, args)
          }
        }
        return originals
      }),
      () => effect,
      (o) =>
        Effect.sync(() => {
          process.stdout.write = o.stdout
          process.stderr.write = o.stderr
          console.log = o.log
          console.warn = o.warn
          console.error = o.error
          console.info = o.info
          console.debug = o.debug
        })
    )

  return {
    texts: () => texts,
    add,
    spanCount: () => spans,
    logCount: () => logs,
    capturingOutput,
    layer: Layer.mergeAll(
      Logger.replace(Logger.defaultLogger, logger),
      Logger.minimumLogLevel(LogLevel.All),
      Layer.setTracer(tracer)
    )
  }
}

/** every metric's current state, as text (tags included) */
export const metricsSnapshot: Effect.Effect<string> = Effect.map(
  Metric.snapshot,
  (pairs) => Util.inspect(pairs, { depth: Infinity })
)

/** where `secret` occurs in the recorded texts (first 200 characters around it) */
export const findSecret = (texts: ReadonlyArray<string>, secret: string): ReadonlyArray<string> =>
  texts.filter((t) => t.includes(secret)).map((t) => {
    const i = t.indexOf(secret)
    return t.slice(Math.max(0, i - 100), i + secret.length + 100)
  })

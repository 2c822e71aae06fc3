/**
 * How message bodies become stream fields and back.
 *
 * - No schema: the body is a field map (`{ message: "stuff goes here" }`),
 *   stored as the entry's fields, readable by any Redis client.
 * - A schema whose encoded side is a struct of string properties
 *   (`Schema.Struct({ orderId: Schema.String, amount: Schema.NumberFromString })`):
 *   encoded, then stored field by field.
 * - Any other schema: encoded, then stored as JSON in one field, `data`.
 *
 * `encoding: "fields" | "json"` overrides the choice.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Runtime from "effect/Runtime"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"
import type { Fields } from "../StreamsBackend.js"

/** @internal */
export type Encoding = "fields" | "json"

/** @internal */
export const JSON_FIELD = "data"

/** @internal */
export interface Codec<A> {
  readonly encoding: Encoding
  /** Right(fields) or Left(reason) */
  readonly encode: (value: A) => Either.Either<Fields, string>
  /** Right(value) or Left(reason) */
  readonly decode: (fields: Fields) => Either.Either<A, string>
}

const isStringLike = (ast: AST.AST): boolean => {
  switch (ast._tag) {
    case "StringKeyword":
    case "TemplateLiteral":
      return true
    case "Literal":
      return typeof ast.literal === "string"
    case "Union":
      return ast.types.every(isStringLike)
    case "Refinement":
      return isStringLike(ast.from)
    case "Suspend":
      return false
    default:
      return false
  }
}

/** @internal */
export const fieldsEncodable = (ast: AST.AST): boolean => {
  const encoded = AST.encodedAST(ast)
  const target = encoded._tag === "Refinement" ? encoded.from : encoded
  if (target._tag !== "TypeLiteral") return false
  if (target.indexSignatures.length > 0) return false
  return target.propertySignatures.every((ps) => typeof ps.name === "string" && isStringLike(ps.type))
}

/**
 * Fields reserved for the trace context (`traceparent`, `tracestate`, see
 * traceContext.ts): written by the Producer beside the message's own fields,
 * skipped when decoding into a body or `message.fields`.
 */
export const RESERVED_FIELDS: ReadonlyArray<string> = ["traceparent", "tracestate"]

/** one of `RESERVED_FIELDS` (lengths first: most keys differ there, and that costs no string compare) */
const isReserved = (key: string): boolean =>
  (key.length === 11 && key === "traceparent") || (key.length === 10 && key === "tracestate")

/**
 * flat fields -> object (the last value wins for a repeated field, as most
 * clients do); a field named `__proto__` is kept as an own property; the
 * reserved trace fields are skipped
 */
export const fieldsToRecord = (fields: Fields): Record<string, string> => {
  const out: Record<string, string> = {}
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const key = fields[i]!
    if (isReserved(key)) continue
    if (key === "__proto__") {
      Object.defineProperty(out, key, { value: fields[i + 1]!, enumerable: true, writable: true, configurable: true })
    } else out[key] = fields[i + 1]!
  }
  return out
}

/** a schema whose decoding throws (a stack overflow on deeply nested input) is a decode failure, not a crash */
const guarded = <A>(decode: () => Either.Either<A, string>): Either.Either<A, string> => {
  try {
    return decode()
  } catch (e) {
    return Either.left(`decoding threw: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`)
  }
}

/** object -> flat fields */
export const recordToFields = (record: Readonly<Record<string, string>>): Array<string> => {
  const out: Array<string> = []
  for (const key in record) {
    const value = record[key]
    if (value !== undefined) out.push(key, value)
  }
  return out
}

const formatError = (e: ParseResult.ParseError): string => ParseResult.TreeFormatter.formatErrorSync(e)

/** the codec of plain field maps (no schema) */
export const recordCodec: Codec<Record<string, string>> = {
  encoding: "fields",
  encode: (value) => {
    if (value === null || typeof value !== "object") return Either.left("a message must be an object of string fields")
    // two passes, so the array has its exact size: pushing into an empty array gives it room for
    // 17 elements, and a Producer's addAll keeps every message's array until it is sent
    let n = 0
    for (const key in value) {
      const v = value[key]
      if (v === undefined) continue
      if (typeof v !== "string") return Either.left(`field "${key}" must be a string, got ${typeof v}`)
      n++
    }
    if (n === 0) return Either.left("a stream entry needs at least one field")
    const out = new Array<string>(2 * n)
    let i = 0
    for (const key in value) {
      const v = value[key]
      if (v === undefined) continue
      out[i++] = key
      out[i++] = v
    }
    // a getter or a proxy may answer differently the second time
    if (i !== out.length) return Either.left("the message's fields changed while it was encoded")
    return Either.right(out)
  },
  decode: (fields) => Either.right(fieldsToRecord(fields))
}

/**
 * Run a Schema's decoding or encoding synchronously in `runtime` (which holds the services the
 * schema requires, if any). For a schema without requirements this costs what
 * `Schema.decodeUnknownEither` does (measured: the same ~0.25 µs per small struct); a
 * transformation that is asynchronous cannot be run here and is a failure naming that.
 */
const inRuntime = <X, Y, R>(
  runtime: Runtime.Runtime<R>,
  parse: (input: X) => import("effect/Effect").Effect<Y, ParseResult.ParseError, R>
): (input: X) => Either.Either<Y, ParseResult.ParseError | string> => {
  const run = Runtime.runSyncExit(runtime)
  return (input) => {
    const exit = run(parse(input))
    if (Exit.isSuccess(exit)) return Either.right(exit.value)
    const failure = Cause.failureOption(exit.cause)
    if (failure._tag === "Some") return Either.left(failure.value)
    return Either.left(`the schema could not run synchronously: ${Cause.pretty(exit.cause).split("\n")[0]}`)
  }
}

const describe = (e: ParseResult.ParseError | string): string => typeof e === "string" ? e : formatError(e)

/** @internal */
export const make = <A, I, R>(
  schema: Schema.Schema<A, I, R>,
  encoding: Encoding | undefined,
  runtime: Runtime.Runtime<R>
): Codec<A> => {
  const mode: Encoding = encoding ?? (fieldsEncodable(schema.ast) ? "fields" : "json")
  const encodeSync = inRuntime(runtime, Schema.encode(schema))
  const decodeSync = inRuntime(runtime, Schema.decodeUnknown(schema))
  if (mode === "fields") {
    return {
      encoding: mode,
      encode: (value) => {
        const r = encodeSync(value)
        if (Either.isLeft(r)) return Either.left(describe(r.left))
        const enc = r.right as unknown
        if (enc === null || typeof enc !== "object") return Either.left("the schema did not encode to an object of string fields")
        const out = recordToFields(enc as Record<string, string>)
        if (out.length === 0) return Either.left("a stream entry needs at least one field")
        return Either.right(out)
      },
      decode: (fields) =>
        guarded(() => {
          const r = decodeSync(fieldsToRecord(fields))
          return Either.isLeft(r) ? Either.left(describe(r.left)) : Either.right(r.right)
        })
    }
  }
  return {
    encoding: mode,
    encode: (value) => {
      const r = encodeSync(value)
      if (Either.isLeft(r)) return Either.left(describe(r.left))
      let json: string | undefined
      try {
        json = JSON.stringify(r.right)
      } catch (e) {
        return Either.left(`the encoded value is not JSON serializable: ${String(e)}`)
      }
      if (json === undefined) return Either.left("the encoded value is not JSON serializable")
      return Either.right([JSON_FIELD, json])
    },
    decode: (fields) => guarded(() => decodeJson(fields))
  }
  function decodeJson(fields: Fields): Either.Either<A, string> {
      let raw: string | undefined
      for (let i = 0; i + 1 < fields.length; i += 2) {
        if (fields[i] === JSON_FIELD) raw = fields[i + 1]
      }
      if (raw === undefined) return Either.left(`the entry has no "${JSON_FIELD}" field`)
      let parsed: unknown
      try {
        parsed = JSON.parse(raw)
      } catch (e) {
        return Either.left(`the "${JSON_FIELD}" field is not valid JSON: ${(e as Error).message}`)
      }
      const r = decodeSync(parsed)
      return Either.isLeft(r) ? Either.left(describe(r.left)) : Either.right(r.right)
  }
}

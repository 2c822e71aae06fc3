/**
 * The dashboard's actions, `POST /api/actions/<name>` with a JSON body:
 *
 * - `replay` `{stream, ids}`: the dead letters the ids name (a dead letter's
 *   id or the original entry's id) go back to `stream` as new entries, each
 *   deleted in the same atomic step (`DeadLetter.replay`);
 * - `purge` `{stream, ids}`: delete those dead letters (`DeadLetter.purge`);
 * - `cleanup` `{stream, group, dryRun?}`: the Monitor's cleanup of the
 *   group's dead consumers (`Monitor.Service.cleanup`: their pending entries
 *   move to live consumers; a consumer is deleted only once it has nothing
 *   pending).
 *
 * They are off unless `serve` runs with `--allow-actions`; then each request
 * must carry `Authorization: Bearer <token>` (the token given at start,
 * compared in constant time), `Content-Type: application/json`, and no
 * foreign `Origin` (nor `Sec-Fetch-Site` other than `same-origin`): a page
 * of another site can neither send the header nor read the reply. Every
 * action and every refusal is logged (never the token).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import { DeadLetter, Monitor, StreamsBackend } from "effect-redis-streams"
import { createHash, timingSafeEqual } from "node:crypto"
import { failed, refuse } from "./Dashboard.js"
import type { JsonReply } from "./Http.js"
import type * as Watched from "./Watched.js"

/**
 * Options of the actions.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly allowActions: boolean
  readonly token: Redacted.Redacted | undefined
}

/**
 * An action request, as the router sees it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Request {
  readonly action: string
  readonly headers: Readonly<Record<string, string | undefined>>
  readonly body: string
  readonly remote: string
}

const MAX_BODY = 64 * 1024
const MAX_IDS = 1000
const ID = /^\d+-\d+$/

const digest = (text: string) => createHash("sha256").update(text, "utf8").digest()

/** constant-time token check */
const tokenMatches = (expected: Redacted.Redacted, header: string | undefined): boolean => {
  const given = header !== undefined && header.startsWith("Bearer ") ? header.slice(7) : ""
  return given !== "" && timingSafeEqual(digest(given), digest(Redacted.value(expected)))
}

/** why a request is refused, before its body is looked at, or undefined */
const checkRequest = (options: Options, request: Request): JsonReply | undefined => {
  if (!options.allowActions || options.token === undefined) {
    return refuse(403, "actions are off: start serve with --allow-actions and a token")
  }
  const h = request.headers
  const origin = h["origin"]
  // the page's own origin: this host, over http or (behind a TLS proxy) https
  const host = h["host"] ?? ""
  if (origin !== undefined && (host === "" || (origin !== `http://${host}` && origin !== `https://${host}`))) {
    return refuse(403, "cross-origin request refused")
  }
  const site = h["sec-fetch-site"]
  if (site !== undefined && site !== "same-origin" && site !== "none") {
    return refuse(403, "cross-site request refused")
  }
  if (!(h["content-type"] ?? "").toLowerCase().startsWith("application/json")) {
    return refuse(415, "the body must be JSON (Content-Type: application/json)")
  }
  if (!tokenMatches(options.token, h["authorization"])) {
    return refuse(401, "missing or wrong token (Authorization: Bearer <token>)")
  }
  if (request.body.length > MAX_BODY) return refuse(413, "body too large")
  return undefined
}

interface Body {
  readonly stream: string
  readonly group: string | undefined
  readonly ids: ReadonlyArray<string>
  readonly dryRun: boolean
}

/** the JSON body, or why it is refused */
const parseBody = (text: string): Body | string => {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return "the body is not valid JSON"
  }
  if (typeof value !== "object" || value === null) return "the body must be a JSON object"
  const o = value as Record<string, unknown>
  if (typeof o["stream"] !== "string" || o["stream"] === "") return "stream must be a non-empty string"
  if (o["group"] !== undefined && typeof o["group"] !== "string") return "group must be a string"
  const ids = o["ids"] ?? []
  if (!Array.isArray(ids) || ids.length > MAX_IDS || !ids.every((i) => typeof i === "string" && ID.test(i))) {
    return `ids must be an array of at most ${MAX_IDS} stream ids`
  }
  if (o["dryRun"] !== undefined && typeof o["dryRun"] !== "boolean") return "dryRun must be a boolean"
  return { stream: o["stream"], group: o["group"] as string | undefined, ids, dryRun: o["dryRun"] === true }
}

/** log at Info even when the CLI shows only warnings: actions are always on record */
const logAction = (message: string) =>
  Effect.logInfo(message).pipe(
    Logger.withMinimumLogLevel(LogLevel.Info),
    Effect.annotateLogs({ module: "dashboard" })
  )

const replay = (body: Body) =>
  Effect.gen(function*() {
    const dlq = DeadLetter.defaultStream(body.stream)
    const seen = new Set<string>()
    const letters: Array<DeadLetter.DeadLetter> = []
    const notFound: Array<string> = []
    for (const id of body.ids) {
      const found = yield* DeadLetter.find(dlq, id)
      if (found.length === 0) notFound.push(id)
      for (const d of found) if (!seen.has(d.id)) seen.add(d.id), letters.push(d)
    }
    const results = yield* DeadLetter.replay(dlq, letters, { to: body.stream })
    const replayed = results.flatMap((r) => r.status === "replayed" ? [{ id: r.id, originalId: r.originalId, newId: r.newId }] : [])
    const skipped = results.flatMap((r) =>
      r.status === "replayed" ? [] : [{ id: r.id, error: r.status === "missing" ? "no longer there" : r.reason }]
    )
    return {
      summary: `replayed ${replayed.length} of ${body.ids.length} from '${dlq}' to '${body.stream}'`,
      body: { deadLetterStream: dlq, replayed, skipped, notFound }
    }
  })

const purge = (body: Body) =>
  Effect.map(DeadLetter.purge(DeadLetter.defaultStream(body.stream), body.ids), (deleted) => ({
    summary: `purged ${deleted} of ${body.ids.length} from '${DeadLetter.defaultStream(body.stream)}'`,
    body: { deadLetterStream: DeadLetter.defaultStream(body.stream), deleted }
  }))

const cleanup = (watched: Watched.Watched, body: Body) =>
  Effect.gen(function*() {
    const monitor = yield* Monitor.make({
      stream: body.stream,
      group: body.group,
      idleThreshold: watched.options.idleThreshold,
      pendingThreshold: watched.options.pendingThreshold
    })
    const result = yield* monitor.cleanup({ dryRun: body.dryRun })
    return {
      summary: `cleanup${body.dryRun ? " (dry run)" : ""} of group '${body.group}': ${result.deleted} consumers deleted, ${result.claimed} entries moved`,
      body: result
    }
  }).pipe(Effect.scoped)

/**
 * Run an action request: checks, then the library call, then a log line.
 *
 * @since 0.1.0
 * @category actions
 */
export const run = (
  watched: Watched.Watched,
  options: Options,
  request: Request
): Effect.Effect<JsonReply, never, StreamsBackend.StreamsBackend> =>
  Effect.gen(function*() {
    const refused = checkRequest(options, request)
    if (refused !== undefined) {
      yield* Effect.logWarning(
        `dashboard: action '${request.action}' from ${request.remote} refused (${refused.status})`
      )
      return refused
    }
    const body = parseBody(request.body)
    if (typeof body === "string") return refuse(400, body)
    if (!(yield* watched.has(body.stream))) return refuse(404, `stream '${body.stream}' is not served`)
    const done = request.action === "replay"
      ? yield* replay(body)
      : request.action === "purge"
      ? yield* purge(body)
      : request.action === "cleanup" && body.group !== undefined && body.group !== ""
      ? yield* cleanup(watched, body)
      : undefined
    if (done === undefined) {
      return request.action === "cleanup"
        ? refuse(400, "cleanup needs a group")
        : refuse(404, `no action '${request.action}' (replay, purge, cleanup)`)
    }
    yield* logAction(`dashboard: ${request.action} on stream '${body.stream}' from ${request.remote}: ${done.summary}`)
    return { status: 200, body: done.body }
  }).pipe(Effect.catchAll((e) => Effect.succeed(failed(e))))

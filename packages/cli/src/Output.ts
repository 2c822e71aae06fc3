/**
 * Writing results: stdout for results (text or JSON), stderr for notes,
 * warnings and errors, plus the small text formatters the commands share.
 *
 * Output goes straight to the process streams (synchronous for files and
 * pipes on Linux), so a line is out before the next one is computed and
 * nothing is lost when the process exits with an error code.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"

/**
 * Write a line to stdout.
 *
 * @since 0.1.0
 * @category output
 */
export const line = (text: string): Effect.Effect<void> => Effect.sync(() => void process.stdout.write(text + "\n"))

/**
 * Write a value as one line of JSON to stdout.
 *
 * @since 0.1.0
 * @category output
 */
export const json = (value: unknown): Effect.Effect<void> => line(JSON.stringify(value))

/**
 * Write a line to stderr, prefixed with the program name.
 *
 * @since 0.1.0
 * @category output
 */
export const note = (text: string): Effect.Effect<void> =>
  Effect.sync(() => void process.stderr.write(`redis-streams: ${text}\n`))

/**
 * Whether stdout is a terminal (then the `--watch` views clear the screen).
 *
 * @since 0.1.0
 * @category output
 */
export const stdoutIsTerminal = (): boolean => process.stdout.isTTY === true

const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]/g

/**
 * Remove ANSI escape sequences (colours, bold) from a text.
 *
 * @since 0.1.0
 * @category formatting
 */
export const stripAnsi = (text: string): string => text.replace(ANSI, "")

/**
 * Collapse a multi-line message into one line.
 *
 * @since 0.1.0
 * @category formatting
 */
export const oneLine = (text: string): string => stripAnsi(text).replace(/\s*\n\s*/g, " ").trim()

const CONTROL = /[\u0000-\u001f\u007f]/g

/**
 * A name or value made safe for a terminal line: control characters escaped.
 *
 * @since 0.1.0
 * @category formatting
 */
export const safe = (text: string): string =>
  text.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`)

/**
 * Aligned columns with an upper-case header row, two spaces apart (the style
 * of `kubectl get`). Numbers are right-aligned.
 *
 * @since 0.1.0
 * @category formatting
 */
export const columns = (
  headers: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string | number>>
): string => {
  const texts = rows.map((row) => headers.map((_, c) => safe(String(row[c] ?? ""))))
  const numeric = headers.map((_, c) => rows.length > 0 && rows.every((row) => typeof row[c] === "number"))
  const widths = headers.map((h, c) => Math.max(h.length, ...texts.map((row) => [...row[c]!].length)))
  const render = (cells: ReadonlyArray<string>) =>
    cells
      .map((cell, c) => {
        const fill = " ".repeat(Math.max(0, widths[c]! - [...cell].length))
        return numeric[c] ? fill + cell : c === cells.length - 1 ? cell : cell + fill
      })
      .join("  ")
      .trimEnd()
  return [render(headers.map((h) => h.toUpperCase())), ...texts.map(render)].join("\n")
}

/**
 * `label  value` lines, the labels padded to one width.
 *
 * @since 0.1.0
 * @category formatting
 */
export const pairs = (rows: ReadonlyArray<readonly [string, string | number]>): string => {
  const width = Math.max(0, ...rows.map(([label]) => label.length))
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${safe(String(value))}`).join("\n")
}

/**
 * A duration in milliseconds for people: `850ms`, `12.3s`, `4m05s`, `2h03m`, `3d04h`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const duration = (ms: number): string => {
  if (!Number.isFinite(ms)) return String(ms)
  if (ms < 1000) return `${Math.round(ms)}ms`
  const s = ms / 1000
  if (s < 60) return `${s.toFixed(1)}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, "0")}s`
  const h = Math.floor(m / 60)
  if (h < 24) return `${h}h${String(m % 60).padStart(2, "0")}m`
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, "0")}h`
}

/**
 * Stream fields as `key=value` pairs on one line; a value that is empty or
 * holds spaces, quotes, `=` or control characters is printed as a JSON string.
 *
 * @since 0.1.0
 * @category formatting
 */
export const fields = (flat: ReadonlyArray<string>): string => {
  const quote = (s: string) => (s === "" || /[\s"'=\\\u0000-\u001f\u007f]/.test(s) ? JSON.stringify(s) : s)
  const parts: Array<string> = []
  for (let i = 0; i + 1 < flat.length; i += 2) parts.push(`${quote(flat[i]!)}=${quote(flat[i + 1]!)}`)
  return parts.join(" ")
}

/**
 * Flat `[field, value, ...]` pairs as an object (a repeated field keeps its last value).
 *
 * @since 0.1.0
 * @category formatting
 */
export const fieldsObject = (flat: ReadonlyArray<string>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!
  return out
}

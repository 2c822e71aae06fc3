/**
 * The Prometheus text exposition format (version 0.0.4): metric families
 * with `# HELP` and `# TYPE` lines, then one line per sample,
 * `name{label="value",...} value`.
 *
 * Escaping, as the format requires: in label values backslash, double quote
 * and newline become `\\`, `\"` and `\n`; in HELP texts backslash and newline.
 * Metric and label names are checked against `[a-zA-Z_:][a-zA-Z0-9_:]*` and
 * `[a-zA-Z_][a-zA-Z0-9_]*`. Values: integers as such, other numbers in
 * JavaScript's shortest exact form, `NaN`, `+Inf`, `-Inf`.
 *
 * @since 0.1.0
 */

/**
 * A metric type.
 *
 * @since 0.1.0
 * @category models
 */
export type MetricType = "gauge" | "counter" | "untyped"

/**
 * One sample: its labels and value.
 *
 * @since 0.1.0
 * @category models
 */
export interface Sample {
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

/**
 * A metric family: a name, a type, a help text and its samples.
 *
 * @since 0.1.0
 * @category models
 */
export interface Family {
  readonly name: string
  readonly type: MetricType
  readonly help: string
  readonly samples: ReadonlyArray<Sample>
}

/**
 * The content type of the format.
 *
 * @since 0.1.0
 * @category constants
 */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

/**
 * Escape a label value: backslash, double quote, newline.
 *
 * @since 0.1.0
 * @category escaping
 */
export const escapeLabelValue = (value: string): string =>
  value.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n")

/**
 * Escape a HELP text: backslash, newline.
 *
 * @since 0.1.0
 * @category escaping
 */
export const escapeHelp = (text: string): string => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

/**
 * A sample value as the format writes it.
 *
 * @since 0.1.0
 * @category escaping
 */
export const formatValue = (value: number): string =>
  Number.isNaN(value) ? "NaN" : value === Number.POSITIVE_INFINITY ? "+Inf" : value === Number.NEGATIVE_INFINITY
  ? "-Inf"
  : String(value)

const labelsText = (labels: Readonly<Record<string, string>>): string => {
  const keys = Object.keys(labels)
  if (keys.length === 0) return ""
  return "{" + keys.map((k) => {
    if (!LABEL_NAME.test(k) || k.startsWith("__")) throw new Error(`invalid Prometheus label name: ${k}`)
    return `${k}="${escapeLabelValue(labels[k]!)}"`
  }).join(",") + "}"
}

/**
 * Render families in the text format. Families without samples are left
 * out; samples with the same labels in one family are kept once (the first).
 *
 * @since 0.1.0
 * @category rendering
 */
export const render = (families: ReadonlyArray<Family>): string => {
  const out: Array<string> = []
  for (const family of families) {
    if (family.samples.length === 0) continue
    if (!METRIC_NAME.test(family.name)) throw new Error(`invalid Prometheus metric name: ${family.name}`)
    out.push(`# HELP ${family.name} ${escapeHelp(family.help)}`)
    out.push(`# TYPE ${family.name} ${family.type}`)
    const seen = new Set<string>()
    for (const sample of family.samples) {
      const labels = labelsText(sample.labels)
      if (seen.has(labels)) continue
      seen.add(labels)
      out.push(`${family.name}${labels} ${formatValue(sample.value)}`)
    }
  }
  return out.length === 0 ? "" : out.join("\n") + "\n"
}

/**
 * A family builder: add samples as they are collected, in any order, then
 * `families()` returns them grouped, in the order the families were declared.
 *
 * @since 0.1.0
 * @category constructors
 */
export const registry = <const Names extends string>(
  declared: ReadonlyArray<{ readonly name: Names; readonly type: MetricType; readonly help: string }>
) => {
  const samples = new Map<string, Array<Sample>>(declared.map((d) => [d.name, []]))
  return {
    add: (name: Names, labels: Readonly<Record<string, string>>, value: number | null | undefined): void => {
      if (value === null || value === undefined) return
      samples.get(name)!.push({ labels, value })
    },
    families: (): ReadonlyArray<Family> => declared.map((d) => ({ ...d, samples: samples.get(d.name)! }))
  }
}

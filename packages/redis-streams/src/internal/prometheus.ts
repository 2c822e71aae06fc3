/**
 * The Prometheus text exposition format (0.0.4) of Effect `MetricPair`s: the
 * one formatter of the library (`Metrics.render`).
 *
 * - families in order of first appearance, `# HELP` (the metric's
 *   description) and `# TYPE` once each, then their samples; a pair whose key
 *   (name and labels) was already written is skipped (the first wins);
 * - counters and gauges: one sample; histograms: cumulative `_bucket`
 *   samples with `le` (the last one `+Inf`), `_sum`, `_count`; summaries:
 *   `quantile` samples, `_sum`, `_count`; frequencies: a counter per
 *   occurrence with a `key` label;
 * - escaping as the format requires: in label values backslash, double quote
 *   and newline become `\\`, `\"` and `\n`; in HELP texts backslash and
 *   newline. Metric and label names are checked (`[a-zA-Z_:][a-zA-Z0-9_:]*`,
 *   `[a-zA-Z_][a-zA-Z0-9_]*`, no leading `__`); a pair with an invalid name
 *   is skipped rather than breaking the whole exposition.
 *
 * @internal
 */
import type * as MetricLabel from "effect/MetricLabel"
import type * as MetricPair from "effect/MetricPair"
import * as MetricState from "effect/MetricState"
import * as Option from "effect/Option"

/** @internal */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

/** @internal */
export const escapeLabelValue = (value: string): string =>
  value.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n")

/** @internal */
export const escapeHelp = (text: string): string => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

/** @internal */
export const formatValue = (value: number | bigint): string =>
  typeof value === "bigint"
    ? value.toString()
    : Number.isNaN(value)
    ? "NaN"
    : value === Number.POSITIVE_INFINITY
    ? "+Inf"
    : value === Number.NEGATIVE_INFINITY
    ? "-Inf"
    : String(value)

type Labels = ReadonlyArray<readonly [string, string]>

const labelsText = (labels: Labels): string =>
  labels.length === 0 ? "" : "{" + labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",") + "}"

const validLabels = (tags: ReadonlyArray<MetricLabel.MetricLabel>): boolean =>
  tags.every((t) => LABEL_NAME.test(t.key) && !t.key.startsWith("__"))

interface Family {
  readonly name: string
  readonly type: string
  readonly help: string
  readonly lines: Array<string>
  readonly seen: Set<string>
}

const typeOf = (state: MetricState.MetricState.Untyped): string | undefined =>
  MetricState.isCounterState(state) || MetricState.isFrequencyState(state)
    ? "counter"
    : MetricState.isGaugeState(state)
    ? "gauge"
    : MetricState.isHistogramState(state)
    ? "histogram"
    : MetricState.isSummaryState(state)
    ? "summary"
    : undefined

/** the sample lines of one pair */
const samples = (name: string, labels: Labels, state: MetricState.MetricState.Untyped): Array<string> => {
  const line = (suffix: string, extra: Labels, value: number | bigint) =>
    `${name}${suffix}${labelsText([...labels, ...extra])} ${formatValue(value)}`
  if (MetricState.isCounterState(state)) return [line("", [], state.count)]
  if (MetricState.isGaugeState(state)) return [line("", [], state.value)]
  if (MetricState.isHistogramState(state)) {
    const out = state.buckets.map(([le, n]) => line("_bucket", [["le", formatValue(le)]], n))
    if (!state.buckets.some(([le]) => le === Number.POSITIVE_INFINITY)) {
      out.push(line("_bucket", [["le", "+Inf"]], state.count))
    }
    return [...out, line("_sum", [], state.sum), line("_count", [], state.count)]
  }
  if (MetricState.isSummaryState(state)) {
    const out = state.quantiles.map(([q, v]) => line("", [["quantile", String(q)]], Option.getOrElse(v, () => NaN)))
    return [...out, line("_sum", [], state.sum), line("_count", [], state.count)]
  }
  if (MetricState.isFrequencyState(state)) {
    return Array.from(state.occurrences, ([key, n]) => line("", [["key", key]], n))
  }
  return []
}

/** @internal */
export const render = (pairs: Iterable<MetricPair.MetricPair.Untyped>): string => {
  const families = new Map<string, Family>()
  for (const pair of pairs) {
    const key = pair.metricKey
    const type = typeOf(pair.metricState)
    if (type === undefined || !METRIC_NAME.test(key.name) || !validLabels(key.tags)) continue
    let family = families.get(key.name)
    if (family === undefined) {
      family = {
        name: key.name,
        type,
        help: Option.getOrElse(key.description, () => key.name),
        lines: [],
        seen: new Set()
      }
      families.set(key.name, family)
    } else if (family.type !== type) continue
    const labels: Labels = key.tags.map((t) => [t.key, t.value] as const)
    const id = labelsText(labels)
    if (family.seen.has(id)) continue
    family.seen.add(id)
    family.lines.push(...samples(key.name, labels, pair.metricState))
  }
  const out: Array<string> = []
  for (const f of families.values()) {
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`, ...f.lines)
  }
  return out.length === 0 ? "" : out.join("\n") + "\n"
}

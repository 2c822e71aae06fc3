/** Reading the Grafana dashboard of examples/ops: which library metrics its queries use. */
import { Metrics } from "effect-redis-streams"

/** the metric names in PromQL expressions, a histogram's _bucket / _sum / _count series folded into its family */
export const dashboardMetrics = (exprs: ReadonlyArray<string>): Array<string> => {
  const histograms = new Set(Metrics.table.filter((d) => d.type === "histogram").map((d) => d.name))
  const out = new Set<string>()
  for (const e of exprs) {
    for (const [name] of e.matchAll(/redis_streams_[a-z_]+/g)) {
      const base = name.replace(/_(bucket|sum|count)$/, "")
      out.add(histograms.has(base) ? base : name)
    }
  }
  return [...out].sort()
}

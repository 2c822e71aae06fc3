/** types of parse-prometheus-text-format 1.1.1 (it ships none) */
declare module "parse-prometheus-text-format" {
  export interface ParsedMetric {
    readonly labels?: Readonly<Record<string, string>>
    /** counters, gauges, untyped */
    readonly value?: string
    /** histograms: cumulative counts by `le` */
    readonly buckets?: Readonly<Record<string, string>>
    /** summaries: values by quantile */
    readonly quantiles?: Readonly<Record<string, string>>
    readonly count?: string
    readonly sum?: string
  }
  export interface ParsedFamily {
    readonly name: string
    readonly help: string
    readonly type: "COUNTER" | "GAUGE" | "HISTOGRAM" | "SUMMARY" | "UNTYPED"
    readonly metrics: ReadonlyArray<ParsedMetric>
  }
  const parse: (text: string) => Array<ParsedFamily>
  export default parse
}

/** The types of parse-prometheus-text-format (the package ships none): a parsed exposition. */
declare module 'parse-prometheus-text-format' {
  export interface PrometheusSample {
    readonly value: string;
    readonly labels?: Record<string, string>;
  }
  export interface PrometheusFamily {
    readonly name: string;
    readonly help: string;
    readonly type: 'COUNTER' | 'GAUGE' | 'SUMMARY' | 'HISTOGRAM' | 'UNTYPED';
    readonly metrics: readonly PrometheusSample[];
  }
  export default function parsePrometheusTextFormat(text: string): PrometheusFamily[];
}

/** A metric family as the exposition writes its HELP and TYPE lines. */
export interface MetricFamily {
  name: string;
  help: string;
  type: 'gauge' | 'counter' | 'histogram';
  labelNames: string[];
}

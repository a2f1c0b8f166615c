import type { Metric, MetricValueWithName, Registry, RegistryContentType } from 'prom-client';

interface LaneCounts {
  /** Observations per bucket, not cumulative; the last slot is above every bound. */
  readonly perBucket: number[];
  sum: number;
  count: number;
}

/**
 * A histogram by a single label, observed on every probe. prom-client's Histogram builds a label
 * object, validates it and hashes it on each observe(), which was a measurable part of a probe;
 * this one counts per label value into an array and hands the registry, at scrape time, the values
 * prom-client's Histogram would (same sample names, label order and cumulative buckets).
 */
export class OneLabelHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly labelNames: string[];
  private readonly byValue = new Map<string, LaneCounts>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly label: string,
    private readonly buckets: readonly number[],
    registers: readonly Registry<RegistryContentType>[],
  ) {
    this.labelNames = [label];
    // The registry reads a metric through get() (and name, help, type) only: this one stands in for a Histogram.
    for (const registry of registers) registry.registerMetric(this as unknown as Metric);
  }

  observe(labelValue: string, value: number): void {
    let counts = this.byValue.get(labelValue);
    if (!counts) {
      counts = { perBucket: new Array<number>(this.buckets.length + 1).fill(0), sum: 0, count: 0 };
      this.byValue.set(labelValue, counts);
    }
    (counts.perBucket[bucketIndex(this.buckets, value)] as number)++;
    counts.sum += value;
    counts.count++;
  }

  async get(): Promise<{
    name: string;
    help: string;
    type: 'histogram';
    values: MetricValueWithName<string>[];
    aggregator: 'sum';
  }> {
    const values: MetricValueWithName<string>[] = [];
    for (const [labelValue, counts] of this.byValue) {
      let cumulative = 0;
      this.buckets.forEach((bound, index) => {
        cumulative += counts.perBucket[index] as number;
        values.push({
          labels: { le: bound, [this.label]: labelValue },
          value: cumulative,
          metricName: `${this.name}_bucket`,
        });
      });
      values.push(
        {
          labels: { le: '+Inf', [this.label]: labelValue },
          value: counts.count,
          metricName: `${this.name}_bucket`,
        },
        { labels: { [this.label]: labelValue }, value: counts.sum, metricName: `${this.name}_sum` },
        { labels: { [this.label]: labelValue }, value: counts.count, metricName: `${this.name}_count` },
      );
    }
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' };
  }

  reset(): void {
    this.byValue.clear();
  }
}

/** The bucket `value` falls in: the first bound it does not exceed, or the one past every bound. */
export function bucketIndex(bounds: readonly number[], value: number): number {
  let bucket = 0;
  while (bucket < bounds.length && value > (bounds[bucket] as number)) bucket++;
  return bucket;
}

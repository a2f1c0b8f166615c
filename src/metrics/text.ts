import type { MetricObjectWithValues, MetricValue } from 'prom-client';

/**
 * Classic Prometheus text format (0.0.4) from prom-client's JSON view. prom-client renders one
 * format per registry, and exemplars need the OpenMetrics one, so the classic format is rendered here.
 */
export function renderPrometheusText(metrics: MetricObjectWithValues<MetricValue<string>>[]): string {
  const lines: string[] = [];
  for (const metric of metrics) {
    // prom-client strips `_total` from counter names after an OpenMetrics render; the classic format keeps it.
    const type = String(metric.type);
    const name = type === 'counter' && !metric.name.endsWith('_total') ? `${metric.name}_total` : metric.name;
    lines.push(`# HELP ${name} ${escapeHelp(metric.help)}`, `# TYPE ${name} ${type}`);
    for (const value of metric.values) {
      const sample = (value as { metricName?: string }).metricName ?? name;
      lines.push(`${sample}${formatLabels(value.labels)} ${formatValue(value.value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function formatLabels(labels: Record<string, string | number | undefined>): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(labels)) {
    if (value === undefined) continue;
    parts.push(`${key}="${escapeLabel(String(value))}"`);
  }
  return parts.length ? `{${parts.join(',')}}` : '';
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

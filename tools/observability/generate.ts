import { type AlertOptions, DEFAULT_ALERT_OPTIONS, renderRuleFile } from './alerts.js';
import { buildDashboards, renderDashboard } from './dashboards.js';

/** Paths (relative to the repository root) of every generated file, in the order they are written. */
export const GENERATED_FILES = {
  rules: 'alerts/surface-exporter.rules.yml',
  surfacesDashboard: 'grafana/surfaces.json',
  pollerDashboard: 'grafana/poller.json',
} as const;

/** The content of every generated file, keyed by its path relative to the repository root. */
export function generateAll(options: AlertOptions = DEFAULT_ALERT_OPTIONS): Map<string, string> {
  const dashboards = buildDashboards(options);
  return new Map([
    [GENERATED_FILES.rules, renderRuleFile(options)],
    [GENERATED_FILES.surfacesDashboard, renderDashboard(dashboards.surfaces)],
    [GENERATED_FILES.pollerDashboard, renderDashboard(dashboards.poller)],
  ]);
}

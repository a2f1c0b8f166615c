import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as statetimeline from '@grafana/grafana-foundation-sdk/statetimeline';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import {
  ALERT_THRESHOLDS,
  type AlertThresholds,
  DEFAULT_JOB_SELECTOR,
  DEFAULT_RUNBOOK_BASE_URL,
  PROVIDER_RATE_BUDGETS,
  UNREACHABLE_CODES,
} from './alerts.js';

export interface DashboardOptions {
  jobSelector: string;
  runbookBaseUrl: string;
  thresholds: AlertThresholds;
}

export const DEFAULT_DASHBOARD_OPTIONS: DashboardOptions = {
  jobSelector: DEFAULT_JOB_SELECTOR,
  runbookBaseUrl: DEFAULT_RUNBOOK_BASE_URL,
  thresholds: ALERT_THRESHOLDS,
};

/** What Grafana's "Import dashboard" reads on top of the dashboard model. */
export interface ImportableDashboard extends dashboard.Dashboard {
  __inputs: Array<{
    name: string;
    label: string;
    description: string;
    type: 'datasource';
    pluginId: string;
    pluginName: string;
  }>;
  __requires: Array<{ type: 'grafana' | 'datasource' | 'panel'; id: string; name: string; version: string }>;
}

export const DASHBOARD_UIDS = {
  surfaces: 'surface-exporter-surfaces',
  poller: 'surface-exporter-poller',
} as const;

/** Shared by both dashboards so each links to the other through the tag. */
const DASHBOARD_TAG = 'surface-exporter';
const PROMETHEUS_INPUT = 'DS_PROMETHEUS';
// Grafana 10.4's dashboard schema: 10.x and 11.x import it and migrate it forward themselves. The SDK
// stamps Grafana 12's, which would tell 10 and 11 that the model is newer than the one they know.
const SCHEMA_VERSION = 39;

/** `${name}`: how a dashboard refers to a variable (or a Grafana built-in) in any string. */
const grafanaVariable = (name: string) => `\${${name}}`;

const prometheusDatasource: common.DataSourceRef = { type: 'prometheus', uid: grafanaVariable('datasource') };

/** Status as a number for tiles and timelines: the mappings turn it back into words and colours. */
const STATUS_MAPPINGS: dashboard.ValueMapping[] = valuesAsText([
  ['UP', 'green'],
  ['DEGRADED', 'orange'],
  ['DOWN', 'red'],
]);

export function buildDashboards(options: DashboardOptions = DEFAULT_DASHBOARD_OPTIONS): {
  surfaces: ImportableDashboard;
  poller: ImportableDashboard;
} {
  return {
    surfaces: importable(surfacesDashboard(options), ['stat', 'table', 'timeseries', 'state-timeline']),
    poller: importable(pollerDashboard(options), ['timeseries']),
  };
}

/** The committed file content: stable key order from the builders, two-space indent, final newline. */
export function renderDashboard(model: ImportableDashboard): string {
  return `${JSON.stringify(model, null, 2)}\n`;
}

function surfacesDashboard(options: DashboardOptions): dashboard.Dashboard {
  const job = options.jobSelector;
  const f = `${job}, env=~"$env", provider=~"$provider", surface=~"$surface"`;
  const statusValue = `surface_status{${f}, status="degraded"} + ignoring (status) 2 * surface_status{${f}, status="down"}`;
  const staleAfter = options.thresholds.surfaceCheckStaleSeconds;

  const builder = baseDashboard(options, DASHBOARD_UIDS.surfaces, 'Surface exporter / Surfaces')
    .description('One tile per probed surface, with its error code, freshness, latency and deployments.')
    .withVariable(prometheusVariable())
    .withVariable(
      new dashboard.DatasourceVariableBuilder('tempo')
        .label('Traces')
        .type('tempo')
        .description('Where the latency panel’s exemplars and trace links open.'),
    )
    .withVariable(labelVariable('env', 'Environment', `label_values(surface_up{${job}}, env)`))
    .withVariable(
      labelVariable('provider', 'Provider', `label_values(surface_up{${job}, env=~"$env"}, provider)`),
    )
    .withVariable(
      labelVariable(
        'surface',
        'Surface',
        `label_values(surface_up{${job}, env=~"$env", provider=~"$provider"}, surface)`,
      ),
    )
    .withRow(new dashboard.RowBuilder('Now'))
    .withPanel(
      tileStat(
        'Surfaces',
        'Worst status any replica sees, and the current error code (`ok` when UP). The runbook has a section per code.',
        query(
          [
            'max by (env, surface, code) (',
            `  (${statusValue})`,
            '  # The error code joins as a label; UP surfaces have none, so they get "ok".',
            `  * on (job, instance, env, surface) group_left (code)`,
            `  (surface_error_info{${f}} or on (job, instance, env, surface) label_replace(0 * surface_up{${f}} + 1, "code", "ok", "", ""))`,
            ')',
          ].join('\n'),
          '{{surface}} ({{env}}): {{code}}',
        ),
      )
        .mappings(STATUS_MAPPINGS)
        .thresholds(greenThresholds())
        .height(8)
        .span(24),
    )
    .withPanel(
      tileStat(
        'Time since last check',
        `Red past ${staleAfter} s: the runbook’s stale tile. Every surface is checked each interval (30 s by default).`,
        query(
          `time() - max by (env, surface) (surface_last_check_timestamp_seconds{${f}})`,
          '{{surface}} ({{env}})',
        ),
      )
        .unit('s')
        .decimals(0)
        .thresholds(thresholdAt(staleAfter, 'green', 'red'))
        .height(6)
        .span(12),
    )
    .withPanel(
      timestampTable({
        title: 'Current errors',
        description:
          'Surfaces that are not UP, with the code and since when it has been reported (within the time range).',
        expr: [
          `min by (env, surface, provider, code) (min_over_time(timestamp(surface_error_info{${f}})[$__range:$__interval])) * 1000`,
          '# Only codes reported now.',
          `and on (env, surface, code) max by (env, surface, code) (surface_error_info{${f}})`,
        ],
        columns: ['env', 'surface', 'provider', 'code'],
        timestampColumn: 'since',
        height: 6,
      }),
    )
    .withRow(new dashboard.RowBuilder('Trends'))
    .withPanel(
      trendPanel(
        'Probe latency p50 / p95',
        'Exemplars (diamonds) link a latency point to the trace of the probe behind it, in the Tempo datasource chosen above.',
      )
        .withTarget(
          query(
            `histogram_quantile(0.5, sum by (env, surface, le) (rate(surface_probe_duration_seconds_bucket{${f}}[$__rate_interval])))`,
            'p50 {{surface}} ({{env}})',
          ).exemplar(true),
        )
        .withTarget(
          query(
            `histogram_quantile(0.95, sum by (env, surface, le) (rate(surface_probe_duration_seconds_bucket{${f}}[$__rate_interval])))`,
            'p95 {{surface}} ({{env}})',
            'B',
          ).exemplar(true),
        )
        .unit('s')
        .height(8)
        .span(12),
    )
    .withPanel(
      trendPanel(
        'Errors by code',
        'Probes per second ending with each error code; each surface counted once whatever the replicas.',
      )
        .withTarget(
          query(
            `sum by (code) (max by (env, surface, code) (rate(surface_probe_errors_total{${f}}[$__rate_interval])))`,
            '{{code}}',
          ),
        )
        .unit('short')
        .axisLabel('errors/s')
        .height(8)
        .span(12),
    )
    .withPanel(
      timestampTable({
        title: 'Pages deployments',
        description: `Latest stage of the newest Cloudflare Pages deployment; building past ${options.thresholds.deployBuildingSeconds / 60} min raises PagesDeployStuckBuilding.`,
        expr: [
          `max by (env, surface, stage, status) (surface_deployment_info{${f}})`,
          `* on (env, surface) group_left () max by (env, surface) (surface_deployment_started_timestamp_seconds{${f}}) * 1000`,
        ],
        columns: ['env', 'surface', 'stage', 'status'],
        timestampColumn: 'created',
        height: 8,
      }),
    )
    .withPanel(
      timestampTable({
        title: 'Certificate expiry',
        description: `Earliest notAfter in the chain each HTTPS target presented, soonest first; under ${options.thresholds.certificateTicketDays} days opens a ticket, under ${options.thresholds.certificatePageDays} pages.`,
        expr: [
          `sort(min by (env, surface, provider) (surface_tls_cert_expiry_timestamp_seconds{${f}}) * 1000)`,
        ],
        columns: ['env', 'surface', 'provider'],
        timestampColumn: 'expires',
        height: 8,
      }),
    )
    .withPanel(
      trendPanel(
        'Request phases',
        'Where the last probe request of each surface spent its time: DNS, TCP connect and TLS (0 on a reused connection), processing (request sent to first byte: CDN, router and app) and transfer.',
      )
        .withTarget(
          query(
            `max by (env, surface, phase) (surface_probe_phase_seconds{${f}})`,
            '{{phase}} {{surface}} ({{env}})',
          ),
        )
        .unit('s')
        .height(8)
        .span(12),
    )
    .withPanel(
      new statetimeline.PanelBuilder()
        .title('Status history')
        .datasource(prometheusDatasource)
        .withTarget(query(`max by (env, surface) (${statusValue})`, '{{surface}} ({{env}})'))
        .mappings(STATUS_MAPPINGS)
        .thresholds(greenThresholds())
        .showValue(common.VisibilityMode.Never)
        .mergeValues(true)
        .height(8)
        .span(12),
    )
    .withRow(new dashboard.RowBuilder('Routing'))
    .withPanel(
      new table.PanelBuilder()
        .title('Severity and labels')
        .description(
          'surface_info: each surface’s severity (a ticket surface never pages) and the registry labels its alerts carry for routing.',
        )
        .datasource(prometheusDatasource)
        .withTarget(
          query(`max without (job, instance) (surface_info{${f}})`, '')
            .format(prometheus.PromQueryFormat.Table)
            .instant(),
        )
        .withTransformation({
          id: 'organize',
          options: { excludeByName: { Time: true, Value: true, __name__: true } },
        })
        .height(8)
        .span(12),
    )
    .withPanel(
      new statetimeline.PanelBuilder()
        .title('Maintenance')
        .description(
          'In a maintenance window or the provider’s maintenance mode: probed as usual, but no per-surface alert fires.',
        )
        .datasource(prometheusDatasource)
        .withTarget(query(`max by (env, surface) (surface_maintenance{${f}})`, '{{surface}} ({{env}})'))
        .mappings(
          valuesAsText([
            ['in service', 'transparent'],
            ['maintenance', 'blue'],
          ]),
        )
        .showValue(common.VisibilityMode.Never)
        .mergeValues(true)
        .height(8)
        .span(12),
    );
  credentialPanels(builder, options);

  const built = builder.build();
  addPanelLinks(built, options);
  return built;
}

/**
 * The credential watch (issue 16): per variable, not per surface, so the env/provider/surface
 * variables filter only the enrollment tiles. Empty when CLOUDFLARE_ACCESS_MGMT_TOKEN is unset.
 */
function credentialPanels(builder: dashboard.DashboardBuilder, options: DashboardOptions): void {
  const job = options.jobSelector;
  const f = `${job}, env=~"$env", provider=~"$provider", surface=~"$surface"`;
  const t = options.thresholds;
  builder
    .withRow(new dashboard.RowBuilder('Credentials'))
    .withPanel(
      timestampTable({
        title: 'Credential expiry',
        description: `When each credential the probes use expires (Access service tokens, Cloudflare API tokens), soonest first; under ${t.credentialExpiringSoonDays} days opens a ticket, under ${t.credentialExpiringDays} pages. A credential that never expires is not listed.`,
        expr: [`sort(min by (variable) (surface_credential_expiry_timestamp_seconds{${job}}) * 1000)`],
        columns: ['variable'],
        timestampColumn: 'expires',
        height: 8,
      }),
    )
    .withPanel(
      tileStat(
        'Credential validity',
        'Each credential as the last read of the management API saw it: valid, or revoked, deleted, disabled or expired (CredentialInvalid pages). "stale" when the latest read failed and the value is kept (at most 3 intervals).',
        query(
          `min by (variable) (surface_credential_valid{${job}}) + 2 * max by (variable) (surface_credential_stale{${job}})`,
          '{{variable}}',
        ),
      )
        .mappings(
          valuesAsText([
            ['INVALID', 'red'],
            ['valid', 'green'],
            ['INVALID (stale)', 'red'],
            ['valid (stale)', 'yellow'],
          ]),
        )
        .thresholds(greenThresholds())
        .height(8)
        .span(12),
    )
    .withPanel(
      tileStat(
        'Access enrollment',
        'Whether each gated surface’s service token is in a Service Auth (non_identity) policy of the Access application covering its URL; surfaces no application covers are not shown (check-config --online names them).',
        query(
          `max by (env, surface, variable) (surface_access_token_enrolled{${f}})`,
          '{{surface}} ({{env}}): {{variable}}',
        ),
      )
        .mappings(
          valuesAsText([
            ['NOT ENROLLED', 'orange'],
            ['enrolled', 'green'],
          ]),
        )
        .thresholds(greenThresholds())
        .height(8)
        .span(24),
    );
}

function pollerDashboard(options: DashboardOptions): dashboard.Dashboard {
  const job = options.jobSelector;
  const p = `${job}, instance=~"$instance"`;
  const heartbeatStale = options.thresholds.heartbeatStaleSeconds;
  const budgets = Object.entries(PROVIDER_RATE_BUDGETS).map(
    ([provider]) =>
      `min by (provider) (surface_provider_rate_limit_remaining{${p}, provider="${provider}"}) / on (provider) max by (provider) (surface_provider_rate_limit_quota{${p}, provider="${provider}"})`,
  );

  return baseDashboard(options, DASHBOARD_UIDS.poller, 'Surface exporter / Poller')
    .description(
      'The exporter itself: heartbeat, throughput, crashes, workers, provider budgets and the process.',
    )
    .withVariable(prometheusVariable())
    .withVariable(
      labelVariable('instance', 'Replica', `label_values(surface_exporter_build_info{${job}}, instance)`),
    )
    .withPanel(
      trendPanel(
        'Heartbeat age',
        `Seconds since the poller last completed a probe. Past the red line (${heartbeatStale} s) SurfacePollerHeartbeatStale pages.`,
      )
        .withTarget(
          query(
            `time() - (max by (instance) (surface_poller_last_poll_timestamp_seconds{${p}}) > 0)`,
            '{{instance}}',
          ),
        )
        .unit('s')
        .thresholds(thresholdAt(heartbeatStale, 'green', 'red'))
        .thresholdsStyle(thresholdAsLine())
        .height(8)
        .span(12),
    )
    .withPanel(
      trendPanel(
        'Failing surfaces per replica',
        `Share of each replica’s surfaces failing below HTTP (${UNREACHABLE_CODES.filter(
          (member) => member.network,
        )
          .map((member) => member.code)
          .join(
            ', ',
          )}), maintenance aside. Past the red line (${options.thresholds.blindFraction * 100} %, and at least ${options.thresholds.blindMinSurfaces} surfaces) SurfaceExporterBlind pages: the replica’s own network is broken.`,
      )
        .withTarget(
          query(
            [
              `(count by (instance) (surface_error_info{${p}, code=~"${UNREACHABLE_CODES.filter(
                (member) => member.network,
              )
                .map((member) => member.pattern)
                .join('|')}"} unless on (job, instance, env, surface) (surface_maintenance{${p}} == 1))`,
              '# 0 rather than no data for a replica that sees nothing failing.',
              `or 0 * count by (instance) (surface_info{${p}}))`,
              `/ count by (instance) (surface_info{${p}})`,
            ].join('\n'),
            '{{instance}}',
          ),
        )
        .unit('percentunit')
        .min(0)
        .max(1)
        .thresholds(thresholdAt(options.thresholds.blindFraction, 'green', 'red'))
        .thresholdsStyle(thresholdAsLine())
        .height(8)
        .span(12),
    )
    .withPanel(
      trendPanel('Probes per second')
        .withTarget(
          query(
            `sum by (instance) (rate(surface_poller_polls_total{${p}}[$__rate_interval]))`,
            '{{instance}}',
          ),
        )
        .unit('ops')
        .height(8)
        .span(12),
    )
    .withPanel(
      trendPanel(
        'Round duration',
        'Each surface runs on its own schedule, so a round lasts as long as its slowest probe: p99 and mean probe time.',
      )
        .withTarget(
          query(
            `histogram_quantile(0.99, sum by (instance, le) (rate(surface_probe_duration_seconds_bucket{${p}}[$__rate_interval])))`,
            'p99 {{instance}}',
          ),
        )
        .withTarget(
          query(
            `sum by (instance) (rate(surface_probe_duration_seconds_sum{${p}}[$__rate_interval])) / sum by (instance) (rate(surface_probe_duration_seconds_count{${p}}[$__rate_interval]))`,
            'mean {{instance}}',
            'B',
          ),
        )
        .unit('s')
        .height(8)
        .span(12),
    )
    .withPanel(
      trendPanel(
        'Crashes by scope',
        'probe: a probe threw (probe_crashed). worker: a worker loop failed and backs off (thread_crashed).',
      )
        .withTarget(
          query(`sum by (scope) (rate(surface_poller_crashes_total{${p}}[$__rate_interval]))`, '{{scope}}'),
        )
        .unit('short')
        .axisLabel('crashes/s')
        .height(8)
        .span(12),
    )
    .withPanel(
      trendPanel('Workers alive', 'A worker waiting out its backoff after a crash counts as not alive.')
        .withTarget(query(`sum by (instance) (surface_worker_alive{${p}})`, 'alive {{instance}}'))
        .withTarget(
          query(`sum by (instance) (surface_poller_surfaces{${p}})`, 'registered {{instance}}', 'B'),
        )
        .unit('short')
        .min(0)
        .height(8)
        .span(12),
    )
    .withPanel(
      trendPanel(
        'Shards',
        'Replicas up and surfaces owned per shard (shard_ordinal), against the total the replicas were given. A shard at 0 replicas is SurfaceExporterShardsMissing; uneven surfaces are rendezvous hashing at small counts.',
      )
        .withTarget(
          query(
            `count by (shard_ordinal) (surface_exporter_shard_ordinal{${job}})`,
            'replicas {{shard_ordinal}}',
          ),
        )
        .withTarget(
          query(
            `max by (shard_ordinal) (sum by (instance, shard_ordinal) (surface_poller_surfaces{${job}} * on (job, instance) group_left (shard_ordinal) surface_exporter_shard_ordinal{${job}}))`,
            'surfaces {{shard_ordinal}}',
            'B',
          ),
        )
        .withTarget(query(`max(surface_exporter_total_shards{${job}})`, 'total shards', 'C'))
        .unit('short')
        .min(0)
        .height(8)
        .span(12),
    )
    .withPanel(
      trendPanel(
        'Rate budget remaining',
        `Share of each provider’s API budget left, against the quota the exporter reports (surface_provider_rate_limit_quota: ${Object.entries(
          PROVIDER_RATE_BUDGETS,
        )
          .map(([provider, budget]) => `${provider} per ${budget.per.replace(/^an /, '')}`)
          .join(
            ', ',
          )}). Below ${options.thresholds.rateBudgetLowFraction * 100} % ProviderRateBudgetLow fires.`,
      )
        .withTarget(query(budgets.join('\nor\n'), '{{provider}}'))
        .unit('percentunit')
        .min(0)
        .max(1)
        .thresholds(thresholdAt(options.thresholds.rateBudgetLowFraction, 'red', 'green'))
        .thresholdsStyle(thresholdAsLine())
        .height(8)
        .span(12),
    )
    .withPanel(
      trendPanel('CPU')
        .withTarget(query(`rate(process_cpu_seconds_total{${p}}[$__rate_interval])`, '{{instance}}'))
        .unit('percentunit')
        .height(8)
        .span(8),
    )
    .withPanel(
      trendPanel('Memory')
        .withTarget(query(`process_resident_memory_bytes{${p}}`, 'resident {{instance}}'))
        .withTarget(query(`nodejs_heap_size_used_bytes{${p}}`, 'heap used {{instance}}', 'B'))
        .unit('bytes')
        .height(8)
        .span(8),
    )
    .withPanel(
      trendPanel('Event loop lag', 'A busy event loop delays every timer, and with them the probe schedule.')
        .withTarget(query(`nodejs_eventloop_lag_p99_seconds{${p}}`, 'p99 {{instance}}'))
        .unit('s')
        .height(8)
        .span(8),
    )
    .withPanel(
      trendPanel(
        'Probe slots',
        'Probes waiting for one of the poller.concurrency slots, and probes running by lane: queue (in a slot) or slow (timed out last time, waited a full timeout, or forced). A queue that never empties fires SurfacePollerQueueBacklog.',
      )
        .withTarget(query(`sum by (instance) (surface_poller_probes_queued{${p}})`, 'queued {{instance}}'))
        .withTarget(
          query(
            `sum by (instance, lane) (surface_poller_probes_in_flight{${p}})`,
            'in flight, {{lane}} {{instance}}',
            'B',
          ),
        )
        .unit('short')
        .min(0)
        .height(8)
        .span(12),
    )
    .withPanel(
      trendPanel(
        'Slot wait',
        'p99 of the time a probe waited for its slot, by the lane it ran in; at most one timeout_seconds by design.',
      )
        .withTarget(
          query(
            `histogram_quantile(0.99, sum by (instance, lane, le) (rate(surface_poller_slot_wait_seconds_bucket{${p}}[$__rate_interval])))`,
            'p99 {{lane}} {{instance}}',
          ),
        )
        .unit('s')
        .height(8)
        .span(12),
    )
    .build();
}

function baseDashboard(options: DashboardOptions, uid: string, title: string): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder(title)
    .uid(uid)
    .tags([DASHBOARD_TAG])
    .editable()
    .refresh('30s')
    .time({ from: 'now-6h', to: 'now' })
    .timezone('browser')
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .link(
      new dashboard.DashboardLinkBuilder('Surface exporter')
        .type(dashboard.DashboardLinkType.Dashboards)
        .tags([DASHBOARD_TAG])
        .asDropdown(false)
        .includeVars(false)
        .keepTime(true),
    )
    .link(
      new dashboard.DashboardLinkBuilder('Runbook')
        .type(dashboard.DashboardLinkType.Link)
        .url(options.runbookBaseUrl)
        .icon('doc')
        .targetBlank(true),
    );
}

function prometheusVariable(): dashboard.DatasourceVariableBuilder {
  return new dashboard.DatasourceVariableBuilder('datasource')
    .label('Prometheus')
    .type('prometheus')
    .current({ text: `\${${PROMETHEUS_INPUT}}`, value: `\${${PROMETHEUS_INPUT}}` });
}

function labelVariable(name: string, label: string, definition: string): dashboard.QueryVariableBuilder {
  return new dashboard.QueryVariableBuilder(name)
    .label(label)
    .datasource(prometheusDatasource)
    .query({ query: definition, refId: `${name}-variable` })
    .definition(definition)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.*')
    .current({ text: 'All', value: '$__all' });
}

function query(expr: string, legendFormat: string, refId = 'A'): prometheus.DataqueryBuilder {
  return (
    new prometheus.DataqueryBuilder()
      .datasource(prometheusDatasource)
      // The builder view cannot show joins and comments; open the queries as the code they are.
      .editorMode(prometheus.QueryEditorMode.Code)
      .expr(expr)
      .legendFormat(legendFormat || '__auto')
      .refId(refId)
  );
}

/** A time series of Prometheus queries; the caller adds the unit, axes and size. */
function trendPanel(title: string, description?: string): timeseries.PanelBuilder {
  const panel = new timeseries.PanelBuilder().title(title);
  if (description !== undefined) panel.description(description);
  return panel.datasource(prometheusDatasource);
}

/** A stat panel of tiles, one per series, coloured by value and showing the series name: the runbook's tile grid. */
function tileStat(
  title: string,
  description: string,
  target: prometheus.DataqueryBuilder,
): stat.PanelBuilder {
  return new stat.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(prometheusDatasource)
    .withTarget(target)
    .colorMode(common.BigValueColorMode.Background)
    .graphMode(common.BigValueGraphMode.None)
    .textMode(common.BigValueTextMode.ValueAndName)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
}

/** A table of one instant query whose value is a Unix time in ms, shown as "N minutes ago". */
function timestampTable(spec: {
  title: string;
  description: string;
  expr: string[];
  columns: string[];
  timestampColumn: string;
  height: number;
}): table.PanelBuilder {
  const indexByName: Record<string, number> = {};
  for (const [index, column] of [...spec.columns, 'Value'].entries()) indexByName[column] = index;
  return new table.PanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(prometheusDatasource)
    .withTarget(query(spec.expr.join('\n'), '').format(prometheus.PromQueryFormat.Table).instant())
    .withTransformation({
      id: 'organize',
      options: {
        excludeByName: { Time: true },
        indexByName,
        renameByName: { Value: spec.timestampColumn },
      },
    })
    .overrideByName(spec.timestampColumn, [{ id: 'unit', value: 'dateTimeFromNow' }])
    .height(spec.height)
    .span(12);
}

/** One step: `below` under `value`, `above` from it on. */
function thresholdAt(value: number, below: string, above: string): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps([
    { value: null, color: below },
    { value, color: above },
  ]);
}

function thresholdAsLine(): common.GraphThresholdsStyleConfigBuilder {
  return new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Line);
}

/** Values 0, 1, 2 … shown as these words in these colours. */
function valuesAsText(texts: Array<[text: string, color: string]>): dashboard.ValueMapping[] {
  const options: Record<string, { text: string; color: string; index: number }> = {};
  for (const [index, [text, color]] of texts.entries()) options[String(index)] = { text, color, index };
  return [{ type: dashboard.MappingType.ValueToText, options }];
}

function greenThresholds(): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder()
    .mode(dashboard.ThresholdsMode.Absolute)
    .steps([{ value: null, color: 'green' }]);
}

/**
 * Links the SDK cannot express: its data links are typed as dashboard links. The latency panel opens
 * the surface's probe traces in the Tempo datasource variable; the errors table opens the runbook.
 */
function addPanelLinks(model: dashboard.Dashboard, options: DashboardOptions): void {
  const traceql = `{ name = \\"surface.probe\\" && span.surface.name = \\"${grafanaVariable('__field.labels.surface')}\\" && span.surface.env = \\"${grafanaVariable('__field.labels.env')}\\" }`;
  const pane = `{"datasource":"\${tempo}","queries":[{"refId":"A","datasource":{"type":"tempo","uid":"\${tempo}"},"queryType":"traceql","query":"${traceql}"}],"range":{"from":"\${__from}","to":"\${__to}"}}`;
  const latency = panelTitled(model, 'Probe latency p50 / p95');
  latency.fieldConfig ??= { defaults: {}, overrides: [] };
  latency.fieldConfig.defaults.links = [
    {
      title: `Probe traces of ${grafanaVariable('__field.labels.surface')} in Tempo`,
      // Unencoded so that Grafana interpolates the variables; Explore parses the JSON itself.
      url: `/explore?left=${pane}`,
      targetBlank: true,
    } as dashboard.DashboardLink,
  ];
  panelTitled(model, 'Current errors').links = [
    {
      title: 'Runbook: error codes',
      url: `${options.runbookBaseUrl}#error-codes`,
      targetBlank: true,
    } as dashboard.DashboardLink,
  ];
}

function panelTitled(model: dashboard.Dashboard, title: string): dashboard.Panel {
  const panel = model.panels?.find(
    (candidate) => candidate.type !== 'row' && 'title' in candidate && candidate.title === title,
  );
  if (!panel || panel.type === 'row') throw new Error(`no panel titled ${title}`);
  return panel as dashboard.Panel;
}

/** Adds what Grafana's import reads: the Prometheus datasource input, requirements, the schema version, ids. */
function importable(model: dashboard.Dashboard, panelTypes: string[]): ImportableDashboard {
  // Grafana keys panel state (links, edits, "view panel") by id: unique, and stable while the order is.
  for (const [index, panel] of (model.panels ?? []).entries()) panel.id = index + 1;
  const annotations: dashboard.AnnotationContainer = {
    list: [
      {
        builtIn: 1,
        datasource: { type: 'grafana', uid: '-- Grafana --' },
        enable: true,
        hide: true,
        iconColor: 'rgba(0, 211, 255, 1)',
        name: 'Annotations & Alerts',
        type: 'dashboard',
      } as dashboard.AnnotationQuery,
    ],
  };
  // Grafana 12 hides links placed "inControlsMenu"; 10 and 11 do not know the field.
  for (const link of model.links ?? []) delete link.placement;
  return {
    __inputs: [
      {
        name: PROMETHEUS_INPUT,
        label: 'Prometheus',
        description: 'The Prometheus that scrapes surface-exporter.',
        type: 'datasource',
        pluginId: 'prometheus',
        pluginName: 'Prometheus',
      },
    ],
    __requires: [
      { type: 'grafana', id: 'grafana', name: 'Grafana', version: '10.0.0' },
      { type: 'datasource', id: 'prometheus', name: 'Prometheus', version: '1.0.0' },
      ...panelTypes.map((id) => ({ type: 'panel' as const, id, name: id, version: '' })),
    ],
    ...model,
    annotations,
    schemaVersion: SCHEMA_VERSION,
  };
}

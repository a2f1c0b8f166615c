import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type CloudflareFake, startCloudflareApi } from '../../src/providers/cloudflare/fake.js';
import { type HerokuFake, startHerokuApi } from '../../src/providers/heroku_app/fake.js';
import { aroundNow, startTlsFake, TestPki, type TlsFake } from '../../src/providers/shared/tlsFake.js';
import {
  buildDashboards,
  DASHBOARD_UIDS,
  type ImportableDashboard,
} from '../../tools/observability/dashboards.js';
import {
  instantQuery,
  type ManagedProcess,
  type PromSeries,
  rangeQuery,
  startPrometheus,
  type Workspace,
  workspace,
} from '../e2e/stack.js';
import { requireStackOrSkip } from '../helpers/stack.js';
import {
  type LocalTarget,
  startTarget,
  startTestExporter,
  type TestExporter,
  waitFor,
} from '../helpers/support.js';

const dashboards = buildDashboards();
const all: ImportableDashboard[] = [dashboards.surfaces, dashboards.poller];

interface PanelQuery {
  dashboard: string;
  panel: string;
  refId: string;
  expr: string;
  instant: boolean;
}

type LoosePanel = {
  type: string;
  title?: string;
  id?: number;
  datasource?: { type?: string; uid?: string };
  targets?: Array<{
    expr?: string;
    refId?: string;
    instant?: boolean;
    exemplar?: boolean;
    datasource?: { uid?: string };
  }>;
  fieldConfig?: {
    defaults: {
      mappings?: unknown[];
      thresholds?: { steps: Array<{ value: number | null; color: string }> };
    };
  };
};

const panelsOf = (model: ImportableDashboard) => (model.panels ?? []) as LoosePanel[];
const variablesOf = (model: ImportableDashboard) =>
  (model.templating?.list ?? []) as Array<{
    name: string;
    type: string;
    query?: unknown;
    multi?: boolean;
    includeAll?: boolean;
    definition?: string;
  }>;

function queriesOf(model: ImportableDashboard): PanelQuery[] {
  return panelsOf(model).flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({
      dashboard: model.title ?? '',
      panel: panel.title ?? '',
      refId: target.refId ?? '',
      expr: target.expr ?? '',
      instant: target.instant === true,
    })),
  );
}

function panelTitled(model: ImportableDashboard, title: string): LoosePanel {
  const panel = panelsOf(model).find((candidate) => candidate.title === title);
  assert.ok(panel, `no panel ${title}`);
  return panel;
}

describe('dashboards as models', () => {
  it('have stable, unique uids and unique panel ids, and link to each other by tag', () => {
    assert.deepEqual(
      all.map((model) => model.uid),
      [DASHBOARD_UIDS.surfaces, DASHBOARD_UIDS.poller],
    );
    assert.equal(new Set(all.map((model) => model.uid)).size, all.length);
    for (const model of all) {
      const ids = panelsOf(model).map((panel) => panel.id);
      assert.equal(new Set(ids).size, ids.length, `${model.title}: duplicate panel id`);
      assert.ok(ids.every((id) => Number.isInteger(id) && (id ?? 0) > 0));
      assert.ok(model.tags?.includes('surface-exporter'));
      const dashboardLink = model.links?.find((link) => link.type === 'dashboards');
      assert.ok(dashboardLink?.tags.every((tag) => all.every((other) => other.tags?.includes(tag))));
    }
  });

  it('are importable: a Prometheus input, and every datasource they reference is declared', () => {
    for (const model of all) {
      assert.deepEqual(
        model.__inputs.map((input) => [input.name, input.type, input.pluginId]),
        [['DS_PROMETHEUS', 'datasource', 'prometheus']],
      );
      assert.ok(model.schemaVersion >= 36 && model.schemaVersion <= 41, 'a schema Grafana 10 and 11 read');
      const declared = new Set([
        ...variablesOf(model)
          .filter((variable) => variable.type === 'datasource')
          .map((variable) => variable.name),
        ...model.__inputs.map((input) => input.name),
      ]);
      const refs = datasourceRefs(model);
      assert.ok(refs.length > 10);
      for (const ref of refs) {
        if (ref.type === 'grafana') continue;
        const name = /^\$\{(\w+)\}$/.exec(ref.uid ?? '')?.[1];
        assert.ok(
          name && declared.has(name),
          `${model.title}: datasource ${JSON.stringify(ref)} is not a declared variable`,
        );
      }
      // The links reach Tempo through its variable too.
      for (const link of JSON.stringify(model).matchAll(/\$\{(tempo|datasource|DS_\w+)\}/g)) {
        assert.ok(declared.has(link[1] ?? ''), `${model.title}: ${link[0]}`);
      }
    }
  });

  it('Surfaces: env, provider and surface variables (multi, all) and the promised panels', () => {
    const model = dashboards.surfaces;
    for (const name of ['env', 'provider', 'surface']) {
      const variable = variablesOf(model).find((candidate) => candidate.name === name);
      assert.ok(variable?.multi && variable.includeAll, name);
    }
    const tiles = panelTitled(model, 'Surfaces');
    assert.equal(tiles.type, 'stat');
    assert.deepEqual(tiles.fieldConfig?.defaults.mappings, [
      {
        type: 'value',
        options: {
          '0': { text: 'UP', color: 'green', index: 0 },
          '1': { text: 'DEGRADED', color: 'orange', index: 1 },
          '2': { text: 'DOWN', color: 'red', index: 2 },
        },
      },
    ]);
    assert.match(JSON.stringify(tiles.targets), /\{\{code\}\}/, 'the error code is on the tile');
    const age = panelTitled(model, 'Time since last check');
    assert.deepEqual(age.fieldConfig?.defaults.thresholds?.steps.at(-1), { value: 120, color: 'red' });
    assert.equal(panelTitled(model, 'Current errors').type, 'table');
    const latency = panelTitled(model, 'Probe latency p50 / p95');
    assert.ok(latency.targets?.length === 2 && latency.targets.every((target) => target.exemplar === true));
    assert.match(JSON.stringify(latency), /\$\{tempo\}/);
    assert.ok(
      variablesOf(model).some((variable) => variable.name === 'tempo' && variable.type === 'datasource'),
    );
    assert.equal(panelTitled(model, 'Errors by code').type, 'timeseries');
    assert.equal(panelTitled(model, 'Pages deployments').type, 'table');
    assert.equal(panelTitled(model, 'Status history').type, 'state-timeline');
    assert.equal(panelTitled(model, 'Credential expiry').type, 'table');
    assert.equal(panelTitled(model, 'Credential validity').type, 'stat');
    assert.match(
      JSON.stringify(panelTitled(model, 'Access enrollment').targets),
      /surface_access_token_enrolled/,
    );
    assert.match(JSON.stringify(panelTitled(model, 'Severity and labels').targets), /surface_info/);
    assert.match(JSON.stringify(panelTitled(model, 'Maintenance').targets), /surface_maintenance/);
  });

  it('Poller: heartbeat against the 120 s line, throughput, crashes, workers, budgets, CPU and memory', () => {
    const model = dashboards.poller;
    const heartbeat = panelTitled(model, 'Heartbeat age');
    assert.deepEqual(heartbeat.fieldConfig?.defaults.thresholds?.steps.at(-1), { value: 120, color: 'red' });
    const exprs = queriesOf(model)
      .map((query) => query.expr)
      .join('\n');
    for (const metric of [
      'surface_poller_polls_total',
      'surface_probe_duration_seconds_bucket',
      'surface_poller_crashes_total',
      'surface_worker_alive',
      'surface_provider_rate_limit_remaining',
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'surface_poller_probes_queued',
      'surface_poller_probes_in_flight',
      'surface_poller_slot_wait_seconds_bucket',
      'surface_error_info',
    ]) {
      assert.ok(exprs.includes(metric), metric);
    }
  });
});

describe('dashboards against a real Prometheus scraping the exporter', () => {
  const HEROKU_KEY = 'heroku-dashboard-test-key';
  const CLOUDFLARE_TOKEN = 'cloudflare-dashboard-test-token';
  const ACCESS_MGMT_TOKEN = 'cloudflare-dashboard-test-access-mgmt-token';
  let healthy: LocalTarget;
  let failing: LocalTarget;
  let heroku: HerokuFake;
  let cloudflare: CloudflareFake;
  let exporter: TestExporter;
  let prometheus: ManagedProcess | undefined;
  let files: Workspace;

  const pki = new TestPki();
  let secure: TlsFake;
  let secureCa = '';

  before(async () => {
    healthy = await startTarget((_req, res) => res.writeHead(200).end('ok'));
    const root = pki.root('Dashboard Test Root');
    const leaf = pki.issue({
      subject: 'localhost',
      issuer: root,
      validity: aroundNow(20),
      sans: ['IP:127.0.0.1'],
    });
    secure = await startTlsFake(leaf, [], (_req, res) => res.end('ok'));
    secureCa = root.certPath;
    failing = await startTarget((_req, res) => res.writeHead(502).end('bad gateway'));
    heroku = await startHerokuApi({ apiKeys: [HEROKU_KEY] });
    heroku.addApp({ name: 'dash-api', webQuantity: 0 });
    cloudflare = await startCloudflareApi({ tokens: [CLOUDFLARE_TOKEN, ACCESS_MGMT_TOKEN] });
    // The credential watch's panels: one service token expiring in 20 days, in no Service Auth policy.
    const homeToken = cloudflare.access.addServiceToken({
      name: 'dash-home',
      expiresAt: new Date(Date.now() + 20 * 86_400_000),
    });
    cloudflare.access.addApplication({ name: 'dash-home', domain: '127.0.0.1/health' });
    cloudflare.access.setTokenVerify(CLOUDFLARE_TOKEN, {
      status: 'active',
      expiresOn: new Date(Date.now() + 90 * 86_400_000),
    });
    cloudflare.addProject('dash-docs');
    cloudflare.addDeployment('dash-docs', { stage: 'build', status: 'active', createdOn: new Date() });
    exporter = await startTestExporter({
      defaultMetrics: true,
      env: {
        HEROKU_API_KEY: HEROKU_KEY,
        HEROKU_API_URL: heroku.url,
        CLOUDFLARE_PAGES_READ_TOKEN: CLOUDFLARE_TOKEN,
        CLOUDFLARE_ACCOUNT_ID: cloudflare.accountId,
        CLOUDFLARE_API_URL: cloudflare.url,
        CLOUDFLARE_ACCESS_MGMT_TOKEN: ACCESS_MGMT_TOKEN,
        CF_ACCESS_SERVICE_TOKEN_HOME: `${homeToken.clientId}:dashboard-test-client-secret`,
      },
      registry: {
        poller: { interval_seconds: 1, timeout_seconds: 0.5, metadata_ttl_seconds: 0 },
        environments: {
          prod: [
            {
              name: 'home',
              provider: 'http',
              url: `${healthy.url}/health`,
              access_token_env: 'CF_ACCESS_SERVICE_TOKEN_HOME',
            },
            { name: 'secure', provider: 'http', url: `${secure.url}/health`, ca_file: secureCa },
            {
              name: 'checkout',
              provider: 'http',
              url: `${failing.url}/health`,
              labels: { team: 'payments' },
              maintenance: [
                {
                  every: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'],
                  at: '00:00',
                  for_minutes: 10080,
                  timezone: 'UTC',
                },
              ],
            },
            { name: 'api', provider: 'heroku_app', app: 'dash-api' },
          ],
          staging: [{ name: 'docs', provider: 'cloudflare_pages', project: 'dash-docs' }],
        },
      },
    });
    files = await workspace('dashboards-');
  });

  after(async () => {
    await prometheus?.stop();
    await exporter?.stop();
    await Promise.all([
      healthy?.close(),
      failing?.close(),
      heroku?.close(),
      cloudflare?.close(),
      secure?.close(),
    ]);
    pki.remove();
    await files?.remove();
  });

  it('runs every panel query, variables substituted with real values, and each returns data', async (t) => {
    if (!requireStackOrSkip(t, 'prometheus')) return;
    const config = await files.write('prometheus.yml', {
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      scrape_configs: [
        { job_name: 'surface-exporter', static_configs: [{ targets: [new URL(exporter.url).host] }] },
      ],
    });
    prometheus = await startPrometheus(config, `${files.dir}/data`);
    const server = prometheus;

    // The exporter is probing every state before the panels are checked.
    const states = await waitFor(
      async () => {
        const series = await instantQuery(server, 'max by (surface, status) (surface_status == 1)');
        const seen = new Map(series.map((one) => [one.metric.surface, one.metric.status]));
        return seen.size === 5 ? seen : false;
      },
      { timeoutMs: 20_000, intervalMs: 250, what: 'every surface scraped with a status' },
    );
    assert.deepEqual(Object.fromEntries(states), {
      home: 'up',
      secure: 'up',
      checkout: 'degraded',
      api: 'down',
      docs: 'degraded',
    });

    const variables = await resolveVariables(server);
    const queries = all.flatMap(queriesOf);
    assert.ok(queries.length >= 15);
    const pending = new Map(
      queries.map((query) => [`${query.dashboard} / ${query.panel} / ${query.refId}`, query]),
    );
    await waitFor(
      async () => {
        for (const [key, query] of pending) {
          const expr = substitute(query.expr, variables);
          assert.doesNotMatch(expr, /\$/, `${key}: a variable is left in ${expr}`);
          // A parse error throws here and fails the test at once; no data yet is retried.
          const result = query.instant
            ? await instantQuery(server, expr)
            : await rangeQuery(server, expr, 30);
          if (hasData(result)) pending.delete(key);
        }
        return pending.size === 0;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: `data for ${[...pending.keys()].join(', ')}` },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nstill without data: ${[...pending.keys()].join('; ')}`);
    });

    // The tiles show each state with its code.
    const tiles = queriesOf(dashboards.surfaces).find((query) => query.panel === 'Surfaces');
    assert.ok(tiles);
    const tileSeries = await instantQuery(server, substitute(tiles.expr, variables));
    const byTile = Object.fromEntries(
      tileSeries.map((one) => [`${one.metric.surface}:${one.metric.code}`, one.value?.[1]]),
    );
    assert.deepEqual(byTile, {
      'home:ok': '0',
      'secure:ok': '0',
      'checkout:health_http_502': '1',
      'api:no_web_dyno': '2',
      'docs:deploy_building': '1',
    });
  });
});

/** Every `datasource` object anywhere in the model (panels, targets, variables, annotations). */
function datasourceRefs(model: unknown): Array<{ type?: string; uid?: string }> {
  const refs: Array<{ type?: string; uid?: string }> = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (key === 'datasource' && value && typeof value === 'object') refs.push(value as { uid?: string });
        visit(value);
      }
    }
  };
  visit(model);
  return refs;
}

function hasData(result: PromSeries[]): boolean {
  return result.some((series) => (series.values?.length ?? 0) > 0 || series.value !== undefined);
}

/** Values Grafana would put in each variable with "All" selected: every value, regex-escaped and or-ed. */
async function resolveVariables(prometheus: { url: string }): Promise<Map<string, string>> {
  const values = new Map<string, string>([
    // Grafana's $__rate_interval is at least four scrape intervals.
    ['__rate_interval', '4s'],
    ['__interval', '1s'],
    ['__range', '1m'],
  ]);
  for (const model of all) {
    for (const variable of variablesOf(model)) {
      if (variable.type !== 'query' || !variable.definition) continue;
      const match = /^label_values\((.*), (\w+)\)$/.exec(variable.definition);
      assert.ok(match, `${variable.name}: unexpected definition ${variable.definition}`);
      // Selectors may refer to earlier variables, as Grafana chains them.
      const selector = substitute(match[1] ?? '', values);
      const series = await instantQuery(prometheus, `count by (${match[2]}) (${selector})`);
      const found = series.map((one) => one.metric[match[2] ?? ''] ?? '').filter(Boolean);
      assert.ok(found.length > 0, `variable ${variable.name} has no values`);
      values.set(
        variable.name,
        `(${found.map((value) => value.replace(/[.*+?^${}()|[\]\\]/g, '\\\\$&')).join('|')})`,
      );
    }
  }
  return values;
}

function substitute(expr: string, values: Map<string, string>): string {
  return expr.replace(
    /\$\{(\w+)\}|\$(\w+)/g,
    (whole, braced: string | undefined, bare: string | undefined) => {
      const value = values.get(braced ?? bare ?? '');
      return value ?? whole;
    },
  );
}

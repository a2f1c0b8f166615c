import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { parseRegistry } from '../../src/config/load.js';
import { type HerokuFake, startHerokuApi } from '../../src/providers/heroku_app/fake.js';
import {
  ALERT_THRESHOLDS,
  DEFAULT_ALERT_OPTIONS,
  renderRuleFile,
  runbookUrl,
  scaleThresholds,
} from '../../tools/observability/alerts.js';
import { requireStackOrSkip } from '../helpers/stack.js';
import {
  type LocalTarget,
  startTarget,
  startTestExporter,
  type TestExporter,
  waitFor,
} from '../helpers/support.js';
import {
  activeAlerts,
  instantQuery,
  type ManagedProcess,
  type Notification,
  REPO_ROOT,
  startAlertmanager,
  startPrometheus,
  startWebhookReceiver,
  type WebhookReceiver,
  type Workspace,
  workspace,
} from './stack.js';

/**
 * The shipped examples, the exporter, Prometheus (fast rule variant) and Alertmanager, end to end:
 * each alert is caused for real, arrives at the webhook with its labels, and resolves.
 */

// 120 s becomes 4 s, 5 min 10 s: every alert fires within seconds, in the same order as in production.
// Every other period of the pipeline is scaled alike (probe interval, confirmation, scrape, evaluation,
// group_wait), so the measured time to page times SPEED_UP is the time to page with the shipped defaults.
const SPEED_UP = 30;
const FAST = scaleThresholds(ALERT_THRESHOLDS, 1 / SPEED_UP);
const SHIPPED = { intervalSeconds: 30, confirmAfterSeconds: 5, scrapeSeconds: 15, groupWaitSeconds: 30 };
const scaled = (seconds: number) => `${Math.round((seconds / SPEED_UP) * 1000)}ms`;
// Long enough for the slowest step (DEGRADED: 10 s of `for`, plus probe, scrape, evaluation, grouping).
const ALERT_DEADLINE_MS = 30_000;
const HEROKU_KEY = 'heroku-e2e-key';
const HEROKU_APP = 'e2e-api';
const NO_STACK =
  'prometheus or prometheus-alertmanager missing: apt-get install -y prometheus prometheus-alertmanager';

/** The only keys of examples/prometheus.yml the test changes; everything else runs as shipped. */
const PROMETHEUS_OVERRIDES = [
  'global.scrape_interval',
  'global.evaluation_interval',
  'rule_files[0]',
  'alerting.alertmanagers[0].static_configs[0].targets[0]',
  'scrape_configs[0].static_configs[0].targets[0]',
];
const ALERTMANAGER_OVERRIDES = [
  'route.group_wait',
  'route.group_interval',
  'receivers[0].webhook_configs[0].url',
  'receivers[1].webhook_configs[0].url',
];

describe('alerts end to end: exporter → Prometheus → Alertmanager → webhook', () => {
  let target: LocalTarget;
  let targetStatus = 200;
  let refusing: LocalTarget;
  let blip: LocalTarget;
  // The next `blipFailures` requests to the blip target answer 502; it counts every failure sent.
  let blipFailures = 0;
  let blipFailed = 0;
  let docsStatus = 200;
  let docs: LocalTarget;
  let registry: {
    environments: { prod: Array<{ name: string; [key: string]: unknown }>; staging: unknown[] };
    [key: string]: unknown;
  };
  let heroku: HerokuFake;
  let exporter: TestExporter;
  let receiver: WebhookReceiver;
  let alertmanager: ManagedProcess | undefined;
  let prometheus: ManagedProcess | undefined;
  let files: Workspace;
  let stackPresent = false;

  before(async () => {
    target = await startTarget((_req, res) => res.writeHead(targetStatus).end());
    refusing = await startTarget((_req, res) => res.writeHead(200).end());
    docs = await startTarget((_req, res) => res.writeHead(docsStatus).end());
    blip = await startTarget((_req, res) => {
      if (blipFailures > 0) {
        blipFailures--;
        blipFailed++;
        return res.writeHead(502).end();
      }
      res.writeHead(200).end();
    });
    heroku = await startHerokuApi({ apiKeys: [HEROKU_KEY] });
    heroku.addApp({ name: HEROKU_APP, webQuantity: 1 });
    receiver = await startWebhookReceiver();
    files = await workspace('e2e-alerting-');
  });

  after(async () => {
    // Each step alone, so that one failing still lets the others release their process or port.
    for (const step of [
      () => prometheus?.stop(),
      () => alertmanager?.stop(),
      () => exporter?.stop(),
      () => receiver?.close(),
      () => heroku?.close(),
      () => target?.close(),
      () => refusing?.close(),
      () => blip?.close(),
      () => docs?.close(),
      () => files?.remove(),
    ]) {
      await Promise.resolve(step()).catch(() => undefined);
    }
  });

  const fired = (path: string, alertname: string, labels: Record<string, string>, status = 'firing') =>
    waitFor(() => findAlert(receiver.notifications, path, alertname, labels, status), {
      timeoutMs: ALERT_DEADLINE_MS,
      intervalMs: 100,
      what: `${status} ${alertname} at ${path}`,
    }).catch((err: Error) => {
      throw new Error(
        `${err.message}\nreceived: ${JSON.stringify(receiver.notifications.map(summarize))}\n` +
          `prometheus: ${prometheus?.output()}\nalertmanager: ${alertmanager?.output()}`,
      );
    });

  it('starts from the shipped examples, with only ports, intervals and the rule file changed', async (t) => {
    stackPresent = requireStackOrSkip(t, 'prometheus') && requireStackOrSkip(t, 'prometheus-alertmanager');
    if (!stackPresent) return;
    registry = {
      // No metadata cache: a scale to 0 shows at the next probe, as it would after the TTL.
      poller: {
        interval_seconds: SHIPPED.intervalSeconds / SPEED_UP,
        timeout_seconds: 0.5,
        stale_after_seconds: 4,
        metadata_ttl_seconds: 0,
        confirm_after_seconds: SHIPPED.confirmAfterSeconds / SPEED_UP,
      },
      environment_defaults: {
        prod: { labels: { team: 'web' } },
        staging: { severity: 'ticket', labels: { team: 'platform' } },
      },
      environments: {
        prod: [
          { name: 'www', provider: 'http', url: `${target.url}/health` },
          { name: 'api', provider: 'heroku_app', app: HEROKU_APP, labels: { team: 'backend' } },
          // fresh_connection: the refusal shows at the next probe, not when a kept-alive socket dies.
          { name: 'checkout', provider: 'http', url: `${refusing.url}/health`, fresh_connection: true },
          { name: 'blip', provider: 'http', url: `${blip.url}/health` },
          { name: 'docs', provider: 'http', url: `${docs.url}/health` },
        ],
        staging: [{ name: 'www', provider: 'http', url: `${target.url}/health` }],
      },
    };
    exporter = await startTestExporter({
      // process_start_time_seconds stands in for the heartbeat until the first probe.
      defaultMetrics: true,
      env: { HEROKU_API_KEY: HEROKU_KEY, HEROKU_API_URL: heroku.url },
      registry,
    });

    const rules = await files.write(
      'fast.rules.yml',
      renderRuleFile({ ...DEFAULT_ALERT_OPTIONS, thresholds: FAST }),
    );
    const amExample = await readFile(join(REPO_ROOT, 'examples/alertmanager.yml'), 'utf8');
    const amConfig = parse(amExample.replaceAll('127.0.0.1:9099', `127.0.0.1:${receiver.port}`));
    amConfig.route.group_wait = scaled(SHIPPED.groupWaitSeconds);
    amConfig.route.group_interval = '1s';
    assertOnlyChanged(parse(amExample), amConfig, ALERTMANAGER_OVERRIDES);
    alertmanager = await startAlertmanager(
      await files.write('alertmanager.yml', amConfig),
      `${files.dir}/am`,
    );

    const promExample = await readFile(join(REPO_ROOT, 'examples/prometheus.yml'), 'utf8');
    const promConfig = parse(
      promExample
        .replaceAll('127.0.0.1:9742', new URL(exporter.url).host)
        .replaceAll('127.0.0.1:9093', new URL(alertmanager.url).host),
    );
    promConfig.global.scrape_interval = scaled(SHIPPED.scrapeSeconds);
    promConfig.global.evaluation_interval = scaled(SHIPPED.scrapeSeconds);
    promConfig.rule_files = [rules];
    assertOnlyChanged(parse(promExample), promConfig, PROMETHEUS_OVERRIDES);
    prometheus = await startPrometheus(await files.write('prometheus.yml', promConfig), `${files.dir}/prom`);
  });

  it('stays quiet while every surface is UP', async (t) => {
    if (!stackPresent) return t.skip(NO_STACK);
    assert.ok(prometheus, 'the stack did not start: see the first test');
    const server = prometheus;
    await waitFor(async () => (await instantQuery(server, 'surface_up == 1')).length === 6, {
      timeoutMs: 15_000,
      intervalMs: 200,
      what: 'every surface scraped UP',
    });
    const seenAt = Date.now();
    // Two evaluations with the data in, before and after which nothing may be pending or firing.
    await waitFor(async () => (await lastEvaluation(server)) > seenAt + 1000, {
      timeoutMs: 10_000,
      intervalMs: 200,
      what: 'a rule evaluation after the first scrape',
    });
    assert.deepEqual(await activeAlerts(server), []);
    assert.deepEqual(receiver.notifications, []);
  });

  it('time to page: a page surface that starts refusing connections is in Alertmanager within the budget', async (t) => {
    if (!stackPresent) return t.skip(NO_STACK);
    assert.ok(prometheus && alertmanager, 'the stack did not start: see the first test');
    const manager = alertmanager;
    const startedAt = performance.now();
    await refusing.close();
    const alert = await waitFor(
      async () =>
        (await alertmanagerAlerts(manager)).find(
          (candidate) =>
            candidate.labels.alertname === 'SurfaceUnreachable' && candidate.labels.surface === 'checkout',
        ),
      {
        timeoutMs: ALERT_DEADLINE_MS,
        intervalMs: 50,
        what: 'SurfaceUnreachable for checkout in Alertmanager',
      },
    );
    const measuredSeconds = (performance.now() - startedAt) / 1000;
    const projectedSeconds = measuredSeconds * SPEED_UP;
    t.diagnostic(
      `time to page: ${measuredSeconds.toFixed(2)} s at 1/${SPEED_UP} scale, ${Math.round(projectedSeconds)} s with the shipped defaults (target 180 s)`,
    );
    assert.deepEqual(alert.labels, {
      alertname: 'SurfaceUnreachable',
      env: 'prod',
      surface: 'checkout',
      provider: 'http',
      severity: 'page',
      team: 'web',
    });
    // It cannot be sooner than the confirmation and the rule's `for`: nothing shortcuts them.
    assert.ok(
      measuredSeconds >=
        (SHIPPED.confirmAfterSeconds + ALERT_THRESHOLDS.surfaceUnreachableForSeconds) / SPEED_UP,
      `paged after ${measuredSeconds} s`,
    );
    await fired('/page', 'SurfaceUnreachable', { env: 'prod', surface: 'checkout' });
  });

  it('one failed probe, and an outage shorter than confirmation plus `for`, page nothing', async (t) => {
    if (!stackPresent) return t.skip(NO_STACK);
    assert.ok(prometheus, 'the stack did not start: see the first test');
    const server = prometheus;
    const errorsSeen = async () => {
      const series = await instantQuery(server, 'sum(surface_probe_errors_total{surface="blip"})');
      return Number(series[0]?.value?.[1] ?? 0);
    };
    // One lost probe: the confirming probe answers 200.
    blipFailures = 1;
    await waitFor(async () => blipFailed === 1 && (await errorsSeen()) === 1, {
      timeoutMs: 10_000,
      intervalMs: 50,
      what: 'one failed probe of blip, counted in Prometheus',
    });
    // Then an outage of two probes (the failure and its confirmation): published for under one interval.
    blipFailures = 2;
    await waitFor(async () => blipFailed === 3 && (await errorsSeen()) === 3, {
      timeoutMs: 10_000,
      intervalMs: 50,
      what: 'a two-probe outage of blip, counted in Prometheus',
    });
    const outageEndedAt = Date.now();
    // Quiet until a rule evaluation well past the `for` of every alert blip could raise.
    const quietUntil = outageEndedAt + (3 * ALERT_THRESHOLDS.surfaceUnreachableForSeconds * 1000) / SPEED_UP;
    await waitFor(async () => (await lastEvaluation(server)) > quietUntil, {
      timeoutMs: 20_000,
      intervalMs: 100,
      what: 'a rule evaluation past confirmation plus for',
    });
    const firing = (await activeAlerts(server)).filter(
      (alert) => alert.labels.surface === 'blip' && alert.state === 'firing',
    );
    assert.deepEqual(firing, []);
    assert.deepEqual(
      receiver.notifications.filter((notification) =>
        notification.alerts.some((alert) => alert.labels.surface === 'blip'),
      ),
      [],
    );
  });

  it('a 502 pages SurfaceUnreachable with the team label, a ticket surface only tickets, a 404 tickets SurfaceDegraded, a Heroku app at 0 dynos pages SurfaceDown', async (t) => {
    if (!stackPresent) return t.skip(NO_STACK);
    assert.ok(prometheus, 'the stack did not start: see the first test');
    targetStatus = 502;
    docsStatus = 404;
    heroku.scaleWeb(HEROKU_APP, 0);

    const [unreachable, ticketOnly, degraded, down] = await Promise.all([
      fired('/page', 'SurfaceUnreachable', { env: 'prod', surface: 'www' }),
      fired('/ticket', 'SurfaceUnreachable', { env: 'staging', surface: 'www' }),
      fired('/ticket', 'SurfaceDegraded', { env: 'prod', surface: 'docs' }),
      fired('/page', 'SurfaceDown', { env: 'prod', surface: 'api' }),
    ]);
    assert.deepEqual(unreachable.labels, {
      alertname: 'SurfaceUnreachable',
      env: 'prod',
      surface: 'www',
      provider: 'http',
      severity: 'page',
      team: 'web',
    });
    assert.equal(
      unreachable.annotations.runbook_url,
      runbookUrl(DEFAULT_ALERT_OPTIONS.runbookBaseUrl, 'SurfaceUnreachable'),
    );
    assert.match(
      unreachable.annotations.description ?? '',
      /^prod\/www \(http\) has answered with a cannot-reach-or-serve code .*Current code: health_http_502\.$/,
    );
    assert.equal(ticketOnly.labels.severity, 'ticket');
    assert.equal(ticketOnly.labels.team, 'platform');
    assert.ok(
      !findAlert(receiver.notifications, '/page', 'SurfaceUnreachable', { env: 'staging' }, 'firing'),
      'a ticket surface paged',
    );

    assert.deepEqual(degraded.labels, {
      alertname: 'SurfaceDegraded',
      env: 'prod',
      surface: 'docs',
      provider: 'http',
      code: 'health_http_404',
      severity: 'ticket',
      team: 'web',
    });
    assert.equal(
      degraded.annotations.runbook_url,
      runbookUrl(DEFAULT_ALERT_OPTIONS.runbookBaseUrl, 'SurfaceDegraded'),
    );
    assert.match(
      degraded.annotations.description ?? '',
      /^prod\/docs \(http\) has been DEGRADED .* health_http_404\.$/,
    );

    assert.deepEqual(down.labels, {
      alertname: 'SurfaceDown',
      env: 'prod',
      surface: 'api',
      provider: 'heroku_app',
      severity: 'page',
      team: 'backend',
    });
    assert.match(
      down.annotations.description ?? '',
      /^prod\/api \(heroku_app\) .*Current code: no_web_dyno\.$/,
    );
    assert.equal(
      down.annotations.runbook_url,
      runbookUrl(DEFAULT_ALERT_OPTIONS.runbookBaseUrl, 'SurfaceDown'),
    );

    // One alert per cause: nothing else is pending or firing (checkout still refuses connections).
    const active = (await activeAlerts(prometheus))
      .map((alert) => `${alert.labels.alertname}:${alert.labels.env}/${alert.labels.surface}`)
      .sort();
    assert.deepEqual(active, [
      'SurfaceDegraded:prod/docs',
      'SurfaceDown:prod/api',
      'SurfaceUnreachable:prod/checkout',
      'SurfaceUnreachable:prod/www',
      'SurfaceUnreachable:staging/www',
    ]);
  });

  it('recovery resolves them all', async (t) => {
    if (!stackPresent) return t.skip(NO_STACK);
    assert.ok(prometheus, 'the stack did not start: see the first test');
    targetStatus = 200;
    docsStatus = 200;
    heroku.scaleWeb(HEROKU_APP, 1);
    // checkout's port is closed for good: it leaves the registry, so its series and alert go.
    const prod = registry.environments.prod.filter((surface) => surface.name !== 'checkout');
    const withoutCheckout = { ...registry, environments: { ...registry.environments, prod } };
    exporter.poller.applyRegistry(parseRegistry(stringify(withoutCheckout), 'e2e-registry.yaml'));
    await Promise.all([
      fired('/page', 'SurfaceUnreachable', { env: 'prod', surface: 'www' }, 'resolved'),
      fired('/ticket', 'SurfaceUnreachable', { env: 'staging', surface: 'www' }, 'resolved'),
      fired('/ticket', 'SurfaceDegraded', { env: 'prod', surface: 'docs' }, 'resolved'),
      fired('/page', 'SurfaceDown', { env: 'prod', surface: 'api' }, 'resolved'),
      fired('/page', 'SurfaceUnreachable', { env: 'prod', surface: 'checkout' }, 'resolved'),
    ]);
    assert.deepEqual(await activeAlerts(prometheus), []);
  });

  it('a stopped poller pages SurfacePollerHeartbeatStale, alone, and resolves when it runs again', async (t) => {
    if (!stackPresent) return t.skip(NO_STACK);
    assert.ok(prometheus, 'the stack did not start: see the first test');
    await exporter.poller.stop();
    const heartbeat = await fired('/page', 'SurfacePollerHeartbeatStale', { env: 'prod' });
    assert.deepEqual(heartbeat.labels, {
      alertname: 'SurfacePollerHeartbeatStale',
      env: 'prod',
      severity: 'page',
    });
    assert.equal(
      heartbeat.annotations.runbook_url,
      runbookUrl(DEFAULT_ALERT_OPTIONS.runbookBaseUrl, 'SurfacePollerHeartbeatStale'),
    );
    // Every surface is as old as the heartbeat, yet none is a stale tile of its own: one alert per env.
    await fired('/page', 'SurfacePollerHeartbeatStale', { env: 'staging' });
    const active = (await activeAlerts(prometheus))
      .map((alert) => `${alert.labels.alertname}:${alert.labels.env}`)
      .sort();
    assert.deepEqual(active, ['SurfacePollerHeartbeatStale:prod', 'SurfacePollerHeartbeatStale:staging']);

    exporter.poller.start();
    await fired('/page', 'SurfacePollerHeartbeatStale', { env: 'prod' }, 'resolved');
    const ticketsAboutSurfaces = receiver.notifications.filter(
      (notification) =>
        notification.path === '/ticket' &&
        notification.alerts.some(
          (alert) =>
            alert.labels.alertname !== 'SurfaceDegraded' && alert.labels.alertname !== 'SurfaceUnreachable',
        ),
    );
    assert.deepEqual(ticketsAboutSurfaces.map(summarize), []);
  });
});

function findAlert(
  notifications: Notification[],
  path: string,
  alertname: string,
  labels: Record<string, string>,
  status: string,
): Notification['alerts'][number] | undefined {
  for (const notification of notifications) {
    if (notification.path !== path) continue;
    const alert = notification.alerts.find(
      (candidate) =>
        candidate.status === status &&
        candidate.labels.alertname === alertname &&
        Object.entries(labels).every(([key, value]) => candidate.labels[key] === value),
    );
    if (alert) return alert;
  }
  return undefined;
}

function summarize(notification: Notification): string {
  return `${notification.path} ${notification.alerts.map((alert) => `${alert.status}:${alert.labels.alertname}:${alert.labels.surface ?? alert.labels.env}`).join(',')}`;
}

async function alertmanagerAlerts(alertmanager: {
  url: string;
}): Promise<Array<{ labels: Record<string, string> }>> {
  const res = await fetch(`${alertmanager.url}/api/v2/alerts?active=true`, {
    signal: AbortSignal.timeout(5000),
  });
  return (await res.json()) as Array<{ labels: Record<string, string> }>;
}

async function lastEvaluation(prometheus: { url: string }): Promise<number> {
  const res = await fetch(`${prometheus.url}/api/v1/rules`, { signal: AbortSignal.timeout(5000) });
  const body = (await res.json()) as { data: { groups: Array<{ lastEvaluation: string }> } };
  return Math.min(...body.data.groups.map((group) => Date.parse(group.lastEvaluation)));
}

/** Fails unless `actual` differs from `shipped` exactly at the allowed paths (`a.b[0].c`). */
function assertOnlyChanged(shipped: unknown, actual: unknown, allowed: string[]): void {
  const changed: string[] = [];
  const walk = (a: unknown, b: unknown, path: string): void => {
    if (a && b && typeof a === 'object' && typeof b === 'object') {
      const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
      for (const key of keys) {
        const child = Array.isArray(a) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
        walk((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], child);
      }
    } else if (a !== b) changed.push(path);
  };
  walk(shipped, actual, '');
  assert.deepEqual(changed.sort(), [...allowed].sort(), 'the e2e must run the shipped example, ports aside');
}

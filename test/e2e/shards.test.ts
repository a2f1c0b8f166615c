import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { type HerokuFake, startHerokuApi } from '../../src/providers/heroku_app/fake.js';
import {
  ALERT_THRESHOLDS,
  DEFAULT_ALERT_OPTIONS,
  renderRuleFile,
  scaleThresholds,
} from '../../tools/observability/alerts.js';
import { type ChildCli, spawnCli } from '../cli/support.js';
import { requireStackOrSkip } from '../helpers/stack.js';
import { closedPort, type LocalTarget, startTarget, waitFor } from '../helpers/support.js';
import {
  activeAlerts,
  instantQuery,
  type ManagedProcess,
  type PromAlert,
  startPrometheus,
  type Workspace,
  workspace,
} from './stack.js';

/**
 * Three shard processes of the real CLI against the fakes, scraped by a real Prometheus under the
 * shipped rules (durations scaled 1/30): each surface exported once, a killed shard paged by name
 * and nothing else, its restart resolving it, and a reshard from 3 to 4 moving few surfaces.
 */

const FAST = scaleThresholds(ALERT_THRESHOLDS, 1 / 30);
const HEROKU_KEY = 'heroku-shards-e2e-key';
const FORCE_POLL_TOKEN = 'shards-e2e-operator-token';
const HTTP_SURFACES = 48;
const HEROKU_APPS = 12;
const DEADLINE_MS = 40_000;

interface Shard {
  ordinal: number;
  port: number;
  process: ChildCli;
}

describe('shards end to end: 3 processes, one Prometheus, the shipped rules', () => {
  let target: LocalTarget;
  let heroku: HerokuFake;
  let files: Workspace;
  let prometheus: ManagedProcess | undefined;
  let registryFile: string;
  let targetsFile: string;
  const shards: Shard[] = [];
  const registryKeys: string[] = [];
  let ownersAtThree = new Map<string, string>();

  before(async () => {
    target = await startTarget((_req, res) => res.writeHead(200).end('ok'));
    heroku = await startHerokuApi({ apiKeys: [HEROKU_KEY] });
    files = await workspace('e2e-shards-');
    const prod: Array<Record<string, string>> = Array.from({ length: HTTP_SURFACES / 2 }, (_, index) => ({
      name: `www-${index}`,
      provider: 'http',
      url: `${target.url}/prod/${index}`,
    }));
    const staging = Array.from({ length: HTTP_SURFACES / 2 }, (_, index) => ({
      name: `www-${index}`,
      provider: 'http',
      url: `${target.url}/staging/${index}`,
    }));
    for (let index = 0; index < HEROKU_APPS; index++) {
      heroku.addApp({ name: `shard-app-${index}` });
      prod.push({ name: `api-${index}`, provider: 'heroku_app', app: `shard-app-${index}` });
    }
    for (const surface of prod) registryKeys.push(`prod/${surface.name}`);
    for (const surface of staging) registryKeys.push(`staging/${surface.name}`);
    registryFile = await files.write('surfaces.yaml', {
      poller: { interval_seconds: 1, timeout_seconds: 0.5, stale_after_seconds: 4, metadata_ttl_seconds: 5 },
      environments: { prod, staging },
    });
    targetsFile = `${files.dir}/targets.json`;
  });

  after(async () => {
    for (const step of [
      () => prometheus?.stop(),
      ...shards.map((shard) => () => shard.process.stop()),
      () => heroku?.close(),
      () => target?.close(),
      () => files?.remove(),
    ]) {
      await Promise.resolve(step()).catch(() => undefined);
    }
  });

  const startShard = async (ordinal: number, total: number, port: number): Promise<Shard> => {
    const child = spawnCli(
      [
        'serve',
        '--config',
        registryFile,
        '--shard',
        String(ordinal),
        '--total-shards',
        String(total),
        '--listen-address',
        `127.0.0.1:${port}`,
      ],
      {
        env: {
          HEROKU_API_KEY: HEROKU_KEY,
          HEROKU_API_URL: heroku.url,
          FORCE_POLL_TOKEN,
          LOG_LEVEL: 'warn',
        },
      },
    );
    await waitFor(
      async () => {
        if (child.child.exitCode !== null) throw new Error(`shard ${ordinal} exited: ${child.stderr()}`);
        return fetch(`http://127.0.0.1:${port}/health`).then(
          (res) => res.ok,
          () => false,
        );
      },
      { timeoutMs: 20_000, intervalMs: 100, what: `shard ${ordinal} answering /health` },
    );
    return { ordinal, port, process: child };
  };

  /** file_sd: Prometheus rereads it on change, so shards can be added without a restart. */
  const publishTargets = (list: Shard[]) =>
    writeFile(
      targetsFile,
      JSON.stringify(
        list.map((shard) => ({
          targets: [`127.0.0.1:${shard.port}`],
          labels: { shard: String(shard.ordinal) },
        })),
      ),
    );

  const server = () => {
    assert.ok(prometheus, 'the stack did not start: see the first test');
    return prometheus;
  };

  /** `env/surface` → the `shard` label of the target exporting it, once every surface is exported exactly once. */
  const ownersOnceEach = (total: number) =>
    waitFor(
      async () => {
        const series = await instantQuery(
          server(),
          `surface_up{job="surface-exporter"} and on (instance) (surface_exporter_total_shards == ${total})`,
        );
        const owners = new Map<string, string[]>();
        for (const one of series) {
          const key = `${one.metric.env}/${one.metric.surface}`;
          owners.set(key, [...(owners.get(key) ?? []), one.metric.shard ?? '?']);
        }
        if (owners.size !== registryKeys.length) return false;
        const all = await instantQuery(
          server(),
          'count by (env, surface) (surface_up{job="surface-exporter"}) > 1',
        );
        if (all.length > 0) return false;
        return new Map([...owners].map(([key, shardsOf]) => [key, shardsOf.join(',')]));
      },
      { timeoutMs: DEADLINE_MS, intervalMs: 250, what: `every surface exported once by ${total} shards` },
    );

  const firing = async (): Promise<PromAlert[]> =>
    (await activeAlerts(server())).filter((alert) => alert.state === 'firing');

  /** Resolves once Prometheus has evaluated the rules `count` more times (one evaluation a second). */
  const evaluations = async (count: number) => {
    const since = Date.now();
    await waitFor(async () => (await lastEvaluation(server())) > since + count * 1000, {
      timeoutMs: DEADLINE_MS,
      intervalMs: 200,
      what: `${count} more rule evaluations`,
    });
  };

  it('exports every registry surface exactly once across the 3 shards', async (t) => {
    if (!requireStackOrSkip(t, 'prometheus')) return;
    for (let ordinal = 0; ordinal < 3; ordinal++)
      shards.push(await startShard(ordinal, 3, await closedPort()));
    await publishTargets(shards);
    const rules = await files.write(
      'fast.rules.yml',
      renderRuleFile({ ...DEFAULT_ALERT_OPTIONS, thresholds: FAST }),
    );
    const config = await files.write('prometheus.yml', {
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [rules],
      scrape_configs: [
        { job_name: 'surface-exporter', file_sd_configs: [{ files: [targetsFile], refresh_interval: '1s' }] },
      ],
    });
    prometheus = await startPrometheus(config, `${files.dir}/prom`);

    ownersAtThree = await ownersOnceEach(3);
    assert.deepEqual([...ownersAtThree.keys()].sort(), [...registryKeys].sort());
    assert.deepEqual(new Set(ownersAtThree.values()), new Set(['0', '1', '2']), 'every shard owns some');
    await evaluations(3);
    assert.deepEqual(await firing(), [], 'all quiet with every shard up');
  });

  it('killing one shard fires SurfaceExporterShardsMissing for it, and pages nothing else', async (t) => {
    if (!requireStackOrSkip(t, 'prometheus')) return;
    const victim = shards[1] as Shard;
    victim.process.child.kill('SIGKILL');
    await victim.process.exited;
    const missing = await waitFor(
      async () =>
        (await firing()).find(
          (alert) => alert.labels.alertname === 'SurfaceExporterShardsMissing' && alert.labels.shard === '1',
        ),
      { timeoutMs: DEADLINE_MS, intervalMs: 200, what: 'SurfaceExporterShardsMissing for shard 1' },
    );
    assert.equal(missing.labels.severity, 'page');
    assert.match(
      missing.annotations.description ?? '',
      /^Shard 1 of job surface-exporter has had no replica up/,
    );
    // A few more evaluations: nothing else is firing, nor pending on its way to firing.
    await evaluations(5);
    const active = (await activeAlerts(server())).map((alert) => [
      alert.labels.alertname,
      alert.labels.shard,
      alert.labels.severity,
      alert.state,
    ]);
    assert.deepEqual(active, [['SurfaceExporterShardsMissing', '1', 'page', 'firing']]);
  });

  it('restarting the shard resolves the alert', async (t) => {
    if (!requireStackOrSkip(t, 'prometheus')) return;
    const victim = shards[1] as Shard;
    shards[1] = await startShard(1, 3, victim.port);
    await waitFor(async () => (await activeAlerts(server())).length === 0, {
      timeoutMs: DEADLINE_MS,
      intervalMs: 200,
      what: 'SurfaceExporterShardsMissing resolved',
    });
    assert.deepEqual(await ownersOnceEach(3), ownersAtThree, 'the same shard owns the same surfaces again');
  });

  it('going from 3 to 4 shards moves at most 40 % of the surfaces, and still exports each once', async (t) => {
    if (!requireStackOrSkip(t, 'prometheus')) return;
    // The new shard joins first, so that the shards in service discovery never fall below the total;
    // then every old shard restarts with the new total on its own port, one after another.
    shards.push(await startShard(3, 4, await closedPort()));
    await publishTargets(shards);
    for (const [index, shard] of shards.slice(0, 3).entries()) {
      await shard.process.stop();
      shards[index] = await startShard(shard.ordinal, 4, shard.port);
    }
    const ownersAtFour = await ownersOnceEach(4);
    const moved = registryKeys.filter((key) => ownersAtThree.get(key) !== ownersAtFour.get(key));
    const share = moved.length / registryKeys.length;
    assert.ok(share <= 0.4, `${moved.length} of ${registryKeys.length} surfaces moved`);
    assert.ok(moved.length > 0, 'the new shard took some surfaces');
    for (const key of moved) assert.equal(ownersAtFour.get(key), '3', `${key} moved between old shards`);
    await evaluations(5);
    assert.deepEqual(await firing(), [], 'a finished reshard is quiet');
  });
});

async function lastEvaluation(prometheus: { url: string }): Promise<number> {
  const res = await fetch(`${prometheus.url}/api/v1/rules`, { signal: AbortSignal.timeout(5000) });
  const body = (await res.json()) as { data: { groups: Array<{ lastEvaluation: string }> } };
  return Math.min(...body.data.groups.map((group) => Date.parse(group.lastEvaluation)));
}

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { owningShard } from '../../src/app/sharding.js';
import { type HerokuFake, startHerokuApi } from '../../src/providers/heroku_app/fake.js';
import type { BenchContext } from '../lib/context.js';
import { type OurExporter, sampleValue, scrape, startOurExporter } from '../lib/exporter.js';
import { cpuMs } from '../lib/procs.js';
import { progress, table } from '../lib/report.js';
import { round } from '../lib/stats.js';

/**
 * Scenario 7: 3 shards, each owning about 10,000 surfaces of a 30,000-surface registry, beside one
 * process holding 10,000 alone. Measures CPU per probe of each, and the Heroku API calls each makes
 * an hour against its share of the account's 4,500 (all of them spend one account on one fake).
 */

const HEROKU_KEY = 'bench-heroku-key';
const HEROKU_HOURLY_BUDGET = 4500;
const CALLS_PER_REFRESH = 3;

interface Setup {
  shards: number;
  httpSurfaces: number;
  herokuApps: number;
}

export interface ShardRunResult {
  label: string;
  shards: number;
  registrySurfaces: number;
  perProcess: Array<{
    shard: number;
    surfaces: number;
    herokuApps: number;
    probes: number;
    cpuMs: number;
    cpuMsPerProbe: number;
    /** From each app's median refresh interval seen during the window: 3 calls per refresh. */
    herokuCallsPerHour: number;
    /** Every call to this shard's apps during the window, as a rate. */
    herokuCallsPerHourInWindow: number;
    herokuCallsInWindow: number;
    budgetShare: number;
  }>;
  windowSeconds: number;
}

export async function runShardScenario(ctx: BenchContext): Promise<ShardRunResult[]> {
  const quick = ctx.plan.quick;
  const perShard = quick ? 1_000 : 10_000;
  // 12 apps per shard: the planned refresh (12 x 3 calls x 3600 s / 80 % of 1,500) is 108 s, so a
  // few minutes see each app refreshed twice or more.
  const appsPerShard = 12;
  const heroku = await startHerokuApi({ apiKeys: [HEROKU_KEY] });
  try {
    const results: ShardRunResult[] = [];
    results.push(
      await runOnce(ctx, heroku, 'one process', {
        shards: 1,
        httpSurfaces: perShard,
        herokuApps: appsPerShard,
      }),
    );
    results.push(
      await runOnce(ctx, heroku, `${3} shards`, {
        shards: 3,
        httpSurfaces: perShard * 3,
        herokuApps: appsPerShard * 3,
      }),
    );
    ctx.report.writeJson('7-shards', results);
    ctx.report.section('7. Shards: 3 shards of 10,000 surfaces against one process', describe(results));
    return results;
  } finally {
    await heroku.close();
  }
}

async function runOnce(
  ctx: BenchContext,
  heroku: HerokuFake,
  label: string,
  setup: Setup,
): Promise<ShardRunResult> {
  const quick = ctx.plan.quick;
  const intervalSeconds = 30;
  const warmupMs = (quick ? 40 : 75) * 1000;
  const windowMs = (quick ? 60 : 210) * 1000;
  const prefix = `s${setup.shards}`;
  const apps = Array.from({ length: setup.herokuApps }, (_, index) => `${prefix}-app-${index}`);
  for (const app of apps) heroku.addApp({ name: app });
  const registryFile = join(ctx.workDir, `shards-${setup.shards}.yaml`);
  writeRegistry(registryFile, setup, apps, ctx, intervalSeconds);
  const total = setup.httpSurfaces + setup.herokuApps;
  progress(`7. ${label}: ${total} surfaces, ${setup.herokuApps} Heroku apps, ${setup.shards} process(es)`);

  const exporters: OurExporter[] = [];
  try {
    for (let shard = 0; shard < setup.shards; shard++) {
      exporters.push(
        await startOurExporter({
          supervisor: ctx.supervisor,
          exporterMain: ctx.exporterMain,
          workDir: ctx.workDir,
          registryFile,
          name: `shard-${setup.shards}-${shard}`,
          otlpEndpoint: undefined,
          extraArgs:
            setup.shards > 1 ? ['--shard', String(shard), '--total-shards', String(setup.shards)] : [],
          extraEnv: { HEROKU_API_KEY: HEROKU_KEY, HEROKU_API_URL: heroku.url },
        }),
      );
    }
    await sleep(warmupMs);
    const refreshTimes = new Map<string, number[]>(apps.map((app) => [app, []]));
    // The app's own path, one call per refresh (formation and dynos follow it within milliseconds).
    const lastCount = new Map(apps.map((app) => [app, heroku.calls(`/apps/${app}`)]));
    const callsBefore = new Map(apps.map((app) => [app, callsOfApp(heroku, app)]));
    const before = await Promise.all(exporters.map(async (exporter) => reading(exporter)));
    const startedAt = performance.now();
    // One look a second: a refresh is the moment an app's call count moves.
    while (performance.now() - startedAt < windowMs) {
      await sleep(1000);
      for (const app of apps) {
        const count = heroku.calls(`/apps/${app}`);
        if (count > (lastCount.get(app) ?? 0)) refreshTimes.get(app)?.push(performance.now());
        lastCount.set(app, count);
      }
    }
    const after = await Promise.all(exporters.map(async (exporter) => reading(exporter)));
    const windowSeconds = (performance.now() - startedAt) / 1000;
    const ownerOfApp = (index: number) =>
      setup.shards === 1 ? 0 : owningShard('bench', `heroku-${index}`, setup.shards);
    return {
      label,
      shards: setup.shards,
      registrySurfaces: total,
      windowSeconds: round(windowSeconds, 1),
      perProcess: exporters.map((_, shard) => {
        const mine = apps.filter((_app, index) => ownerOfApp(index) === shard);
        const probes = (after[shard]?.probes ?? 0) - (before[shard]?.probes ?? 0);
        const cpu = (after[shard]?.cpuMs ?? 0) - (before[shard]?.cpuMs ?? 0);
        const callsPerHour = mine.reduce((sum, app) => {
          const times = refreshTimes.get(app) ?? [];
          if (times.length < 2) return sum;
          const gaps = times.slice(1).map((at, index) => at - (times[index] as number));
          const medianGapMs = gaps.sort((a, b) => a - b)[Math.floor(gaps.length / 2)] as number;
          return sum + (CALLS_PER_REFRESH * 3_600_000) / medianGapMs;
        }, 0);
        const inWindow = mine.reduce(
          (sum, app) => sum + callsOfApp(heroku, app) - (callsBefore.get(app) ?? 0),
          0,
        );
        return {
          shard,
          surfaces: after[shard]?.surfaces ?? 0,
          herokuApps: mine.length,
          probes,
          cpuMs: round(cpu, 0),
          cpuMsPerProbe: round(cpu / Math.max(probes, 1), 4),
          herokuCallsPerHour: round(callsPerHour, 0),
          herokuCallsInWindow: inWindow,
          herokuCallsPerHourInWindow: round((inWindow * 3600) / windowSeconds, 0),
          budgetShare: round(HEROKU_HOURLY_BUDGET / setup.shards, 0),
        };
      }),
    };
  } finally {
    for (const exporter of exporters) {
      exporter.proc.child.kill('SIGTERM');
      await exporter.proc.exited;
    }
    for (const app of apps) heroku.removeApp(app);
  }
}

/** The app's calls: its path and those under it, not those of apps whose name it begins (app-1, app-10). */
function callsOfApp(heroku: HerokuFake, app: string): number {
  return heroku.calls(`/apps/${app}`) + heroku.callsUnder(`/apps/${app}/`);
}

async function reading(exporter: OurExporter): Promise<{ probes: number; cpuMs: number; surfaces: number }> {
  const { body } = await scrape(exporter.url);
  return {
    probes: sampleValue(body, 'surface_poller_polls_total') ?? 0,
    cpuMs: cpuMs(exporter.proc.pid),
    surfaces: sampleValue(body, 'surface_poller_surfaces') ?? 0,
  };
}

function writeRegistry(
  file: string,
  setup: Setup,
  apps: string[],
  ctx: BenchContext,
  intervalSeconds: number,
) {
  const lines = [
    'poller:',
    `  interval_seconds: ${intervalSeconds}`,
    `  timeout_seconds: ${ctx.plan.cpu.timeoutSeconds}`,
    // The shortest TTL the budget plan applies to: what shows the plan is the budget, not this.
    '  metadata_ttl_seconds: 60',
    'environments:',
    '  bench:',
  ];
  for (let i = 0; i < setup.httpSurfaces; i++)
    lines.push(`    - { name: s-${i}, provider: http, url: "${ctx.targets.url(i)}" }`);
  apps.forEach((app, index) => {
    lines.push(`    - { name: heroku-${index}, provider: heroku_app, app: ${app} }`);
  });
  writeFileSync(file, `${lines.join('\n')}\n`);
}

function describe(results: ShardRunResult[]): string {
  const rows = results.flatMap((run) =>
    run.perProcess.map((one) => [
      run.label,
      one.shard,
      one.surfaces,
      one.probes,
      one.cpuMsPerProbe,
      one.herokuApps,
      one.herokuCallsPerHour,
      one.herokuCallsPerHourInWindow,
      one.budgetShare,
      `${round((one.herokuCallsPerHour / one.budgetShare) * 100, 0)} %`,
    ]),
  );
  return [
    table(
      [
        'run',
        'shard',
        'surfaces',
        'probes in window',
        'CPU ms/probe',
        'Heroku apps',
        'Heroku calls/h (median refresh)',
        'Heroku calls/h (window)',
        'budget share/h',
        'of share',
      ],
      rows,
    ),
    '',
    `Window ${results[0]?.windowSeconds} s after a warm-up; interval 30 s; Heroku metadata_ttl_seconds 60, stretched by the budget plan to fit 80 % of each share.`,
  ].join('\n');
}

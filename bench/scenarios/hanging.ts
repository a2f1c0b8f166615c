import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import type { BenchContext } from '../lib/context.js';
import { OPERATOR_TOKEN, startOurExporter } from '../lib/exporter.js';
import { progress, table } from '../lib/report.js';
import { round } from '../lib/stats.js';

/** The healthy set: five surfaces that answer at once, among the hanging ones. */
const HEALTHY_SURFACES = 5;

export interface HangingRun {
  hangingSurfaces: number;
  intervalSeconds: number;
  timeoutSeconds: number;
  concurrency: number;
  observedSeconds: number;
  /** Per healthy surface, the longest time between two checks while observed (s). */
  worstGapSecondsBySurface: Record<string, number>;
  /** The longest any healthy surface went unchecked, from start-up on (first probe included). */
  worstUncheckedSeconds: number;
  /** The promise: interval plus one timeout. */
  boundSeconds: number;
  forcePolls: Array<{ ms: number; status: string }>;
  healthStatuses: Record<string, number>;
  slots: { maxQueued: number; maxInFlight: number; maxSlowLane: number };
}

interface StatusBody {
  poller: { probes_queued?: number; probes_in_flight?: number; probes_in_slow_lane?: number };
  surfaces: Array<{ surface: string; checked_at: string | null }>;
}

/**
 * Scenario 6: N surfaces whose target accepts and never answers, and five healthy ones, at the
 * poller's defaults. Before the slow lane, 1,000 hanging surfaces left healthy ones unchecked for
 * minutes; the promise now is interval + one timeout at most, whatever N.
 */
export async function runHangingScenario(ctx: BenchContext): Promise<HangingRun[]> {
  const healthy = await startHealthyTarget();
  const runs: HangingRun[] = [];
  try {
    for (const count of ctx.plan.hanging.sizes) runs.push(await runOne(ctx, count, healthy.url));
  } finally {
    await new Promise<void>((resolve) => healthy.server.close(() => resolve()));
  }
  report(ctx, runs);
  return runs;
}

async function runOne(ctx: BenchContext, hangingCount: number, healthyUrl: string): Promise<HangingRun> {
  const { intervalSeconds, timeoutSeconds, observeRounds } = ctx.plan.hanging;
  const registryFile = join(ctx.workDir, `hanging-${hangingCount}.yaml`);
  const lines = [
    'poller:',
    `  interval_seconds: ${intervalSeconds}`,
    `  timeout_seconds: ${timeoutSeconds}`,
    `  concurrency: ${ctx.plan.concurrency}`,
    'environments:',
    '  bench:',
  ];
  // The hanging slice of nginx (proxied to the hold server), spread over its ports like distinct origins.
  for (let i = 0; i < hangingCount; i++) {
    const port = ctx.targets.ports[i % ctx.targets.ports.length];
    lines.push(`    - { name: hang-${i}, provider: http, url: "http://127.0.0.1:${port}/h/${i}/health" }`);
  }
  for (let i = 0; i < HEALTHY_SURFACES; i++)
    lines.push(`    - { name: ok-${i}, provider: http, url: "${healthyUrl}/ok-${i}" }`);
  writeFileSync(registryFile, `${lines.join('\n')}\n`);

  progress(`6. ${hangingCount} hanging + ${HEALTHY_SURFACES} healthy surfaces`);
  const exporter = await startOurExporter({
    supervisor: ctx.supervisor,
    exporterMain: ctx.exporterMain,
    workDir: ctx.workDir,
    registryFile,
    name: `hanging-${hangingCount}`,
    otlpEndpoint: undefined,
  });
  const startedAt = Date.now();
  const lastCheck = new Map<string, number>();
  const worstGap = new Map<string, number>();
  let worstUnchecked = 0;
  const slots = { maxQueued: 0, maxInFlight: 0, maxSlowLane: 0 };
  const healthStatuses: Record<string, number> = {};
  const forcePolls: HangingRun['forcePolls'] = [];
  const observeUntil = startedAt + (intervalSeconds * (observeRounds + 1) + timeoutSeconds) * 1000;
  let nextForcePollAt = startedAt + intervalSeconds * 1000;
  try {
    while (Date.now() < observeUntil) {
      const status = await statusOf(exporter.url);
      const now = Date.now();
      slots.maxQueued = Math.max(slots.maxQueued, status.poller.probes_queued ?? 0);
      slots.maxInFlight = Math.max(slots.maxInFlight, status.poller.probes_in_flight ?? 0);
      slots.maxSlowLane = Math.max(slots.maxSlowLane, status.poller.probes_in_slow_lane ?? 0);
      for (const entry of status.surfaces) {
        if (!entry.surface.startsWith('ok-')) continue;
        const checkedAt = entry.checked_at ? Date.parse(entry.checked_at) : startedAt;
        const previous = lastCheck.get(entry.surface);
        if (previous !== undefined && checkedAt > previous)
          worstGap.set(entry.surface, Math.max(worstGap.get(entry.surface) ?? 0, checkedAt - previous));
        lastCheck.set(entry.surface, Math.max(previous ?? 0, checkedAt));
        worstUnchecked = Math.max(worstUnchecked, now - (entry.checked_at ? checkedAt : startedAt));
      }
      const health = await request(`${exporter.url}/health`, { signal: AbortSignal.timeout(10_000) });
      await health.body.dump();
      healthStatuses[health.statusCode] = (healthStatuses[health.statusCode] ?? 0) + 1;
      if (now >= nextForcePollAt) {
        forcePolls.push(await forcePollOne(exporter.url, 'ok-0'));
        nextForcePollAt += intervalSeconds * 1000;
      }
      await sleep(1000);
    }
  } finally {
    await ctx.supervisor.stop(exporter.proc);
  }
  return {
    hangingSurfaces: hangingCount,
    intervalSeconds,
    timeoutSeconds,
    concurrency: ctx.plan.concurrency,
    observedSeconds: round((Date.now() - startedAt) / 1000, 0),
    worstGapSecondsBySurface: Object.fromEntries(
      [...worstGap].map(([surface, ms]) => [surface, round(ms / 1000, 1)]),
    ),
    worstUncheckedSeconds: round(worstUnchecked / 1000, 1),
    boundSeconds: intervalSeconds + timeoutSeconds,
    forcePolls,
    healthStatuses,
    slots,
  };
}

async function statusOf(url: string): Promise<StatusBody> {
  const res = await request(`${url}/api/_internal/poller-status`, {
    headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
    signal: AbortSignal.timeout(30_000),
  });
  if (res.statusCode !== 200) throw new Error(`poller-status answered ${res.statusCode}`);
  return (await res.body.json()) as StatusBody;
}

async function forcePollOne(url: string, surface: string): Promise<{ ms: number; status: string }> {
  const started = performance.now();
  const res = await request(`${url}/api/force-poll?env=bench&surface=${surface}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
    signal: AbortSignal.timeout(30_000),
  });
  const body = (await res.body.json()) as { results: Array<{ status: string }> };
  return {
    ms: round(performance.now() - started, 0),
    status: body.results[0]?.status ?? `HTTP ${res.statusCode}`,
  };
}

/** The healthy surfaces' target: its own origin, so they never share a connection pool with the hanging ones. */
async function startHealthyTarget(): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => res.end('{"status":"ok"}'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function report(ctx: BenchContext, runs: HangingRun[]): void {
  ctx.report.writeJson('6-hanging', runs);
  const rows = runs.map((run) => {
    const gaps = Object.values(run.worstGapSecondsBySurface);
    const forced = run.forcePolls.map((poll) => `${poll.status} ${poll.ms} ms`).join(', ');
    return [
      run.hangingSurfaces,
      gaps.length ? Math.max(...gaps) : '-',
      run.worstUncheckedSeconds,
      run.boundSeconds,
      forced || '-',
      Object.entries(run.healthStatuses)
        .map(([code, count]) => `${code} x${count}`)
        .join(', '),
      `${run.slots.maxQueued} / ${run.slots.maxInFlight} / ${run.slots.maxSlowLane}`,
    ];
  });
  const { intervalSeconds, timeoutSeconds } = ctx.plan.hanging;
  ctx.report.section(
    '6. Hanging targets next to healthy ones',
    [
      `${HEALTHY_SURFACES} healthy surfaces (their own origin) among N whose target accepts and never answers ` +
        `(nginx proxying to the hold server, over ${ctx.targets.ports.length} ports); interval ${intervalSeconds} s, ` +
        `timeout ${timeoutSeconds} s, concurrency ${ctx.plan.concurrency}. Poller status read every second; ` +
        'a force-poll of ok-0 once per interval.',
      '',
      table(
        [
          'hanging surfaces',
          'worst gap between two checks of a healthy surface (s)',
          'longest a healthy surface went unchecked, first probe included (s)',
          'promise: interval + timeout (s)',
          'force-poll of one healthy surface',
          '/health answers',
          'max queued / in slots / in slow lane',
        ],
        rows,
      ),
    ].join('\n'),
  );
}

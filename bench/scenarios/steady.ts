import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type BenchContext, cpuDelta, snapshotCpu } from '../lib/context.js';
import {
  countSamples,
  forcePollAll,
  type OurExporter,
  PROMETHEUS_ACCEPT,
  pollerStatus,
  sampleValue,
  scrape,
  startOurExporter,
  TEXT_ACCEPT,
  writeRegistry,
} from '../lib/exporter.js';
import { type HeapClassCost, heapAfterGarbageCollection, heapByKind } from '../lib/inspector.js';
import { openDescriptors, rssBytes, waitFor } from '../lib/procs.js';
import { progress } from '../lib/report.js';
import { max, median, percentile } from '../lib/stats.js';
import { type TargetKind, targetKind } from '../targets/targets.js';
import { FORCE_POLL_DEADLINE_SECONDS } from './cpu.js';

const SCRAPE_EVERY_MS = 15_000;

export interface MemorySample {
  rssBytes: number;
  /** RSS as the process stood, before the forced collections: what `ps` shows in production. */
  rssBeforeCollectionBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
  sockets: number;
  timers: number;
  afterGarbageCollection: boolean;
}

export interface ScrapeCost {
  format: 'text' | 'openmetrics';
  scrapes: number;
  medianMs: number;
  maxMs: number;
  bytes: number;
  samples: number;
}

export interface LatencyFigures {
  probes: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface RoundObservation {
  intervalSeconds: number;
  timeoutSeconds: number;
  observedSeconds: number;
  probes: number;
  probesPerSecond: number;
  cpuCoresUsed: number;
  nginxCoresUsed: number;
  latencyBySlice: Record<TargetKind | 'all', LatencyFigures>;
  /** |actual interval - configured interval| between consecutive checks of the same surface. */
  drift: { intervals: number; p50Ms: number; p99Ms: number; maxMs: number; skippedSlots: number };
  /** Surfaces that got no probe at all while observed (a stalled worker would show here). */
  surfacesNeverProbed: number;
  /** The /metrics scrapes made while observing; they block the event loop while they render. */
  scrapesDuring: { count: number; medianMs: number; maxMs: number };
}

export interface BurstRound {
  /** From POST /api/force-poll for every surface until every surface had a newer check (1 s polling). */
  roundMs: number;
  /** When force-poll answered: when the last probe ended, or at its deadline with the rest pending. */
  forcePollAnsweredMs: number;
  polled: number;
  pendingAtDeadline: number;
  /** The longest probe of each slice in that round, from the poller's status. */
  slowestProbeMsBySlice: Record<TargetKind, number>;
}

export interface SteadyRun {
  surfaces: number;
  startupMs: number;
  firstRoundMs: number;
  memory: MemorySample;
  scrape: ScrapeCost[];
  observation?: RoundObservation;
  bursts: BurstRound[];
  stop: { exit: number | string; exitMs: number; killed: boolean };
  /** Heap by kind from a snapshot, when asked for: diffed against 0 surfaces to show what a surface costs. */
  heapByKind?: HeapClassCost[];
}

/**
 * Memory after forced full collections (when the inspector is on): what the exporter retains, not
 * where the GC sawtooth happened to stand. RSS is read right after, before a scrape allocates again.
 */
export async function memorySample(exporter: OurExporter): Promise<MemorySample> {
  const rssBeforeCollection = rssBytes(exporter.proc.pid);
  const heap = exporter.inspectorPort ? await heapAfterGarbageCollection(exporter.inspectorPort) : undefined;
  const rss = rssBytes(exporter.proc.pid);
  const descriptors = openDescriptors(exporter.proc.pid);
  const body = (await scrape(exporter.url, TEXT_ACCEPT)).body;
  return {
    rssBytes: rss,
    rssBeforeCollectionBytes: rssBeforeCollection,
    heapUsedBytes: heap?.usedBytes ?? sampleValue(body, 'nodejs_heap_size_used_bytes') ?? Number.NaN,
    heapTotalBytes: heap?.totalBytes ?? sampleValue(body, 'nodejs_heap_size_total_bytes') ?? Number.NaN,
    externalBytes: sampleValue(body, 'nodejs_external_memory_bytes') ?? Number.NaN,
    sockets: descriptors.sockets,
    timers: sampleValue(body, 'nodejs_active_resources', 'type="Timeout"') ?? 0,
    afterGarbageCollection: heap !== undefined,
  };
}

/**
 * Scenarios 2 to 4 on one exporter at the default 30 s interval: wait for the first round, watch
 * rounds go by (latency, drift), time scrapes in both formats, sample memory, then force full rounds.
 */
export async function runSteady(
  ctx: BenchContext,
  surfaces: number,
  options: { observe: boolean; bursts: number; heapSnapshot?: boolean },
): Promise<SteadyRun> {
  const { plan } = ctx;
  const { intervalSeconds, timeoutSeconds } = plan.round;
  const registryFile = join(ctx.workDir, `steady-${surfaces}.yaml`);
  writeRegistry(registryFile, surfaces, ctx.targets, {
    interval_seconds: intervalSeconds,
    timeout_seconds: timeoutSeconds,
    force_poll_deadline_seconds: FORCE_POLL_DEADLINE_SECONDS,
  });
  progress(`steady: starting surface-exporter with ${surfaces} surfaces, interval ${intervalSeconds} s`);
  const launched = performance.now();
  const exporter = await startOurExporter({
    supervisor: ctx.supervisor,
    exporterMain: ctx.exporterMain,
    workDir: ctx.workDir,
    registryFile,
    name: `ours-steady-${surfaces}`,
    otlpEndpoint: ctx.plan.tracing ? ctx.sink.endpoint : undefined,
    inspect: true,
  });
  const startupMs = performance.now() - launched;
  try {
    const firstRoundMs = await waitForFirstRound(exporter, surfaces, intervalSeconds + timeoutSeconds + 60);
    const observation = options.observe ? await observeRounds(ctx, exporter, surfaces) : undefined;
    progress(`steady: ${surfaces} surfaces, timing ${plan.scrape.count} scrapes per format`);
    const scrapeCosts =
      surfaces === 0 ? await measureScrapes(ctx, exporter, 3) : await measureScrapes(ctx, exporter);
    const memory = await memorySample(exporter);
    let heapByKindList: HeapClassCost[] | undefined;
    if (options.heapSnapshot && exporter.inspectorPort) {
      progress(`memory: heap snapshot at ${surfaces} surfaces`);
      heapByKindList = [...(await heapByKind(exporter.inspectorPort)).values()];
    }
    const bursts: BurstRound[] = [];
    for (let i = 0; i < options.bursts; i++) {
      progress(`round: forcing a full round of ${surfaces} surfaces (${i + 1}/${options.bursts})`);
      bursts.push(await burstRound(exporter, timeoutSeconds));
    }
    const stop = await ctx.supervisor.stop(exporter.proc, (timeoutSeconds + 10) * 1000);
    return {
      surfaces,
      startupMs,
      firstRoundMs,
      memory,
      scrape: scrapeCosts,
      observation,
      bursts,
      stop,
      heapByKind: heapByKindList,
    };
  } finally {
    await ctx.supervisor.stop(exporter.proc, 1_000);
  }
}

async function waitForFirstRound(
  exporter: OurExporter,
  surfaces: number,
  boundSeconds: number,
): Promise<number> {
  const started = performance.now();
  if (surfaces === 0) {
    await sleep(3_000);
    return 0;
  }
  await waitFor(
    `every one of ${surfaces} surfaces to be probed once`,
    async () => {
      const status = await pollerStatus(exporter.url);
      return status.every((entry) => entry.checked_at !== null) ? true : undefined;
    },
    boundSeconds * 1000,
    2_000,
  );
  return performance.now() - started;
}

async function observeRounds(
  ctx: BenchContext,
  exporter: OurExporter,
  surfaces: number,
): Promise<RoundObservation> {
  const { intervalSeconds, timeoutSeconds, observeRounds: rounds, statusEverySeconds } = ctx.plan.round;
  progress(`round: watching ${rounds} rounds of ${surfaces} surfaces (${rounds * intervalSeconds} s)`);
  const checks = new Map<string, Map<number, number>>();
  const before = snapshotCpu(ctx, exporter.proc.pid);
  const observeMs = rounds * intervalSeconds * 1000;
  const startedWall = Date.now();
  const end = performance.now() + observeMs;
  // Prometheus scrapes while the poller works: one OpenMetrics scrape every SCRAPE_EVERY_MS, as a 15 s job would.
  let nextScrape = performance.now();
  const scrapeMs: number[] = [];
  while (performance.now() < end) {
    const tick = performance.now();
    if (tick >= nextScrape) {
      nextScrape += SCRAPE_EVERY_MS;
      scrapeMs.push((await scrape(exporter.url)).ms);
    }
    for (const entry of await pollerStatus(exporter.url)) {
      if (entry.checked_at === null || entry.duration_ms === null) continue;
      const checkedAt = Date.parse(entry.checked_at);
      if (checkedAt < startedWall) continue;
      let seen = checks.get(entry.surface);
      if (!seen) {
        seen = new Map();
        checks.set(entry.surface, seen);
      }
      seen.set(checkedAt, entry.duration_ms);
    }
    await sleep(Math.max(0, statusEverySeconds * 1000 - (performance.now() - tick)));
  }
  const cpu = cpuDelta(before, snapshotCpu(ctx, exporter.proc.pid));

  const durations: Record<TargetKind | 'all', number[]> = { ok: [], error: [], hang: [], all: [] };
  const drifts: number[] = [];
  let skippedSlots = 0;
  let probes = 0;
  const intervalMs = intervalSeconds * 1000;
  for (const [surface, seen] of checks) {
    const kind = targetKind(Number(surface.slice(2)));
    const times = [...seen.keys()].sort((a, b) => a - b);
    for (const time of times) {
      const duration = seen.get(time) ?? 0;
      durations[kind].push(duration);
      durations.all.push(duration);
      probes++;
    }
    for (let i = 1; i < times.length; i++) {
      const gap = (times[i] as number) - (times[i - 1] as number);
      if (gap > intervalMs * 1.5) skippedSlots++;
      drifts.push(Math.abs(gap - intervalMs));
    }
  }
  const figures = (values: number[]): LatencyFigures => ({
    probes: values.length,
    p50Ms: percentile(values, 50),
    p99Ms: percentile(values, 99),
    maxMs: values.length ? max(values) : Number.NaN,
  });
  return {
    intervalSeconds,
    timeoutSeconds,
    observedSeconds: cpu.wallMs / 1000,
    probes,
    probesPerSecond: probes / (cpu.wallMs / 1000),
    cpuCoresUsed: cpu.measuredMs / cpu.wallMs,
    nginxCoresUsed: cpu.nginxMs / cpu.wallMs,
    latencyBySlice: {
      all: figures(durations.all),
      ok: figures(durations.ok),
      error: figures(durations.error),
      hang: figures(durations.hang),
    },
    drift: {
      intervals: drifts.length,
      p50Ms: percentile(drifts, 50),
      p99Ms: percentile(drifts, 99),
      maxMs: drifts.length ? max(drifts) : Number.NaN,
      skippedSlots,
    },
    surfacesNeverProbed: surfaces - checks.size,
    scrapesDuring: {
      count: scrapeMs.length,
      medianMs: median(scrapeMs),
      maxMs: scrapeMs.length ? max(scrapeMs) : 0,
    },
  };
}

/**
 * Times scrapes in each format in turn, spaced like a scraper would be. One format at a time, as a
 * Prometheus scrapes: the exporter keeps only the last-scraped format's lines between scrapes, so
 * alternating would time a full render every scrape, which no real scraper causes.
 */
export async function measureScrapes(
  ctx: BenchContext,
  exporter: OurExporter,
  count = ctx.plan.scrape.count,
): Promise<ScrapeCost[]> {
  const formats = [
    { format: 'text' as const, accept: TEXT_ACCEPT },
    { format: 'openmetrics' as const, accept: PROMETHEUS_ACCEPT },
  ];
  const results = formats.map((entry) => ({ ...entry, ms: [] as number[], bytes: 0, samples: 0 }));
  for (const entry of results) {
    for (let i = 0; i < count; i++) {
      const scraped = await scrape(exporter.url, entry.accept);
      entry.ms.push(scraped.ms);
      entry.bytes = scraped.bytes;
      entry.samples = countSamples(scraped.body);
      await sleep(ctx.plan.scrape.spacingMs);
    }
  }
  return results.map((entry) => ({
    format: entry.format,
    scrapes: entry.ms.length,
    medianMs: median(entry.ms),
    maxMs: max(entry.ms),
    bytes: entry.bytes,
    samples: entry.samples,
  }));
}

/**
 * POST /api/force-poll for every surface, then polls the poller status until every surface has a
 * check newer than the start: the round's wall time, within the 1 s polling step.
 */
async function burstRound(exporter: OurExporter, timeoutSeconds: number): Promise<BurstRound> {
  const startedWall = Date.now();
  const started = performance.now();
  const outcome = await forcePollAll(exporter.url);
  let status = await pollerStatus(exporter.url);
  const done = () =>
    status.every((entry) => entry.checked_at !== null && Date.parse(entry.checked_at) >= startedWall);
  const bound = started + (timeoutSeconds * 4 + 60) * 1000;
  while (!done()) {
    if (performance.now() > bound) throw new Error('a forced round did not complete in time');
    await sleep(1_000);
    status = await pollerStatus(exporter.url);
  }
  const wallMs = performance.now() - started;
  const slowest: Record<TargetKind, number> = { ok: 0, error: 0, hang: 0 };
  for (const entry of status) {
    const kind = targetKind(Number(entry.surface.slice(2)));
    slowest[kind] = Math.max(slowest[kind], entry.duration_ms ?? 0);
  }
  return {
    roundMs: wallMs,
    forcePollAnsweredMs: outcome.ms,
    polled: outcome.polled,
    pendingAtDeadline: outcome.pending,
    slowestProbeMsBySlice: slowest,
  };
}

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pacedProbes, runWrk, startBlackbox } from '../lib/blackbox.js';
import { type BenchContext, type CpuDelta, cpuDelta, snapshotCpu, writeTargetsFile } from '../lib/context.js';
import { forcePollAll, sampleValue, scrape, startOurExporter, writeRegistry } from '../lib/exporter.js';
import { rssBytes, waitFor } from '../lib/procs.js';
import { type CpuProfileSummary, monotonicMicros, summariseCpuProfile } from '../lib/profile.js';
import { progress, table } from '../lib/report.js';
import { median, round } from '../lib/stats.js';

/** The largest deadline the registry schema accepts; a round that runs longer is awaited on the probe counter. */
export const FORCE_POLL_DEADLINE_SECONDS = 10;

export interface SideMeasurement {
  probes: number;
  cpu: CpuDelta;
  cpuMsPerProbe: number;
  nginxCpuMsPerProbe: number;
  probesPerSecond: number;
  rssBytes: number;
  extra: Record<string, number | string>;
  /** The measured window on the monotonic clock, to cut a CPU profile to it. */
  window: { fromMicros: number; toMicros: number };
}

export interface PairMeasurement {
  surfaces: number;
  rep: number;
  order: 'ours-first' | 'blackbox-first';
  ours: SideMeasurement;
  blackbox: SideMeasurement;
  ratio: number;
}

export interface CpuScenarioResult {
  settings: {
    scheduledIntervalSeconds: number;
    timeoutSeconds: number;
    concurrency: number;
    rounds: Record<string, number>;
    reps: number;
  };
  pairs: PairMeasurement[];
  medians: Array<{
    surfaces: number;
    oursCpuMsPerProbe: number;
    blackboxCpuMsPerProbe: number;
    ratioOfMedians: number;
    medianOfRatios: number;
  }>;
  /** Per size: ours on its own timer, and a bare undici client, for context. */
  context: Array<{
    surfaces: number;
    scheduled: SideMeasurement;
    /** blackbox driven at the rate ours reached on its timer, as a scraping Prometheus would drive it. */
    blackboxPaced: SideMeasurement;
    bareClient: { probes: number; cpuMsPerProbe: number; probesPerSecond: number };
  }>;
  tracingExportRequests: number;
  profile?: CpuProfileSummary & { file: string; surfaces: number; probes: number };
}

/** Scenario 1: CPU per probe, surface-exporter and blackbox_exporter alternately on the same targets. */
export async function runCpuScenario(ctx: BenchContext): Promise<CpuScenarioResult> {
  const { plan } = ctx;
  const pairs: PairMeasurement[] = [];
  const context: CpuScenarioResult['context'] = [];
  const sinkRequestsBefore = ctx.sink.requests();
  const sizes = {
    small: [plan.sizes.small],
    large: [plan.sizes.large],
    both: [plan.sizes.small, plan.sizes.large],
  }[plan.cpu.sizes];
  const roundsFor = (surfaces: number) =>
    surfaces === plan.sizes.small ? plan.cpu.rounds.small : plan.cpu.rounds.large;
  const forcedRegistry = (surfaces: number) => join(ctx.workDir, `cpu-forced-${surfaces}.yaml`);
  for (const surfaces of sizes) {
    const rounds = roundsFor(surfaces);
    const probes = rounds * surfaces;
    // An hour-long interval keeps the timer out of the way: rounds come from force-poll, back to back.
    writeRegistry(forcedRegistry(surfaces), surfaces, ctx.targets, {
      interval_seconds: 3600,
      timeout_seconds: plan.cpu.timeoutSeconds,
      force_poll_deadline_seconds: FORCE_POLL_DEADLINE_SECONDS,
    });
    const targetsFile = writeTargetsFile(ctx, surfaces);
    for (let rep = 1; rep <= plan.cpu.reps; rep++) {
      // Alternating who goes first cancels a drift in background load between the two halves.
      const oursFirst = rep % 2 === 1;
      let ours: SideMeasurement | undefined;
      let blackbox: SideMeasurement | undefined;
      for (const side of oursFirst ? ['ours', 'blackbox'] : ['blackbox', 'ours']) {
        progress(`cpu: ${surfaces} surfaces, rep ${rep}/${plan.cpu.reps}, ${side} (${probes} probes)`);
        if (side === 'ours') {
          ours = await measureOurs(ctx, {
            surfaces,
            rounds,
            registryFile: forcedRegistry(surfaces),
            name: `ours-cpu-${surfaces}-${rep}`,
            mode: 'forced',
          });
        } else {
          blackbox = await measureBlackbox(ctx, {
            surfaces,
            probes,
            targetsFile,
            name: `blackbox-${surfaces}-${rep}`,
          });
        }
      }
      if (!ours || !blackbox) throw new Error('a side of the pair did not run');
      pairs.push({
        surfaces,
        rep,
        order: oursFirst ? 'ours-first' : 'blackbox-first',
        ours,
        blackbox,
        ratio: ours.cpuMsPerProbe / blackbox.cpuMsPerProbe,
      });
    }

    if (plan.cpu.pacedAndFloor) {
      progress(
        `cpu: ${surfaces} surfaces on the poller's own timer (interval ${plan.cpu.intervalSeconds} s)`,
      );
      const scheduledRegistry = join(ctx.workDir, `cpu-scheduled-${surfaces}.yaml`);
      writeRegistry(scheduledRegistry, surfaces, ctx.targets, {
        interval_seconds: plan.cpu.intervalSeconds,
        timeout_seconds: plan.cpu.timeoutSeconds,
      });
      const scheduled = await measureOurs(ctx, {
        surfaces,
        rounds,
        registryFile: scheduledRegistry,
        name: `ours-cpu-${surfaces}-scheduled`,
        mode: 'scheduled',
      });
      const perSecond = Math.round(scheduled.probesPerSecond);
      progress(`cpu: ${surfaces} surfaces, blackbox paced at ${perSecond} probes/s (${probes} probes)`);
      const blackboxPaced = await measureBlackbox(ctx, {
        surfaces,
        probes,
        targetsFile,
        name: `blackbox-${surfaces}-paced`,
        perSecond,
      });
      progress(`cpu: ${surfaces} surfaces, bare undici client (${probes} requests)`);
      const bareClient = await measureBareClient(ctx, { probes, targetsFile });
      context.push({ surfaces, scheduled, blackboxPaced, bareClient });
    }
  }

  const medians = sizes.map((surfaces) => {
    const runs = pairs.filter((pair) => pair.surfaces === surfaces);
    const oursCpuMsPerProbe = median(runs.map((pair) => pair.ours.cpuMsPerProbe));
    const blackboxCpuMsPerProbe = median(runs.map((pair) => pair.blackbox.cpuMsPerProbe));
    return {
      surfaces,
      oursCpuMsPerProbe,
      blackboxCpuMsPerProbe,
      ratioOfMedians: oursCpuMsPerProbe / blackboxCpuMsPerProbe,
      medianOfRatios: median(runs.map((pair) => pair.ratio)),
    };
  });
  const tracingExportRequests = ctx.sink.requests() - sinkRequestsBefore;

  let profile: CpuScenarioResult['profile'];
  if (plan.cpu.profile) {
    // The registry written for the largest size measured above.
    const surfaces = sizes.at(-1) ?? plan.sizes.large;
    progress(`cpu: profiling surface-exporter at ${surfaces} surfaces (node --cpu-prof)`);
    // bench/results/*.cpuprofile is git-ignored: profiles are large and differ every run.
    const profileDir = join(import.meta.dirname, '..', 'results');
    mkdirSync(profileDir, { recursive: true });
    const name = `${ctx.plan.quick ? 'quick-' : ''}ours-cpu-${surfaces}`;
    const measured = await measureOurs(ctx, {
      surfaces,
      rounds: roundsFor(surfaces),
      registryFile: forcedRegistry(surfaces),
      name,
      mode: 'forced',
      cpuProfileDir: profileDir,
    });
    const file = join(profileDir, `${name}.cpuprofile`);
    await waitFor('the CPU profile to be written', () => (existsSync(file) ? true : undefined), 20_000);
    profile = {
      ...summariseCpuProfile(file, measured.window),
      file: relative(process.cwd(), file),
      surfaces,
      probes: measured.probes,
    };
  }

  const result: CpuScenarioResult = {
    settings: {
      scheduledIntervalSeconds: plan.cpu.intervalSeconds,
      timeoutSeconds: plan.cpu.timeoutSeconds,
      concurrency: plan.concurrency,
      rounds: Object.fromEntries(sizes.map((surfaces) => [surfaces, roundsFor(surfaces)])),
      reps: plan.cpu.reps,
    },
    pairs,
    medians,
    context,
    tracingExportRequests,
    profile,
  };
  ctx.report.writeJson('1-cpu-per-probe', result);
  ctx.report.section('1. CPU per probe, side by side', describeCpu(result));
  return result;
}

function describeCpu(result: CpuScenarioResult): string {
  const perThousand = (ms: number) => round(ms, 3);
  const medianRows = result.medians.map((entry) => [
    entry.surfaces,
    perThousand(entry.oursCpuMsPerProbe),
    perThousand(entry.blackboxCpuMsPerProbe),
    round(entry.ratioOfMedians, 3),
    round(entry.medianOfRatios, 3),
  ]);
  const pairRows = result.pairs.map((pair) => [
    pair.surfaces,
    pair.rep,
    pair.order,
    pair.ours.probes,
    perThousand(pair.ours.cpuMsPerProbe),
    round(pair.ours.probesPerSecond, 0),
    pair.ours.extra.medianRoundMs ?? '-',
    pair.ours.extra.medianScrapeMs ?? '-',
    pair.blackbox.probes,
    perThousand(pair.blackbox.cpuMsPerProbe),
    round(pair.blackbox.probesPerSecond, 0),
    round(pair.ratio, 3),
    `${perThousand(pair.ours.nginxCpuMsPerProbe)} / ${perThousand(pair.blackbox.nginxCpuMsPerProbe)}`,
    `${Math.round(pair.ours.cpu.holdMs)} / ${Math.round(pair.blackbox.cpu.holdMs)}`,
    `${round(pair.ours.cpu.otherMs / pair.ours.cpu.wallMs, 2)} / ${round(pair.blackbox.cpu.otherMs / pair.blackbox.cpu.wallMs, 2)}`,
  ]);
  const contextRows = result.context.map((entry) => [
    entry.surfaces,
    perThousand(entry.scheduled.cpuMsPerProbe),
    round(entry.scheduled.probesPerSecond, 0),
    entry.scheduled.extra.medianScrapeMs ?? '-',
    perThousand(entry.blackboxPaced.cpuMsPerProbe),
    round(entry.blackboxPaced.probesPerSecond, 0),
    round(entry.scheduled.cpuMsPerProbe / entry.blackboxPaced.cpuMsPerProbe, 3),
    perThousand(entry.bareClient.cpuMsPerProbe),
    round(entry.bareClient.probesPerSecond, 0),
  ]);
  const parts = [
    `CPU seconds per 1,000 probes (= CPU-ms per probe), utime + stime of the exporter process from /proc. ` +
      `Concurrency ${result.settings.concurrency} on both sides; probe timeout ${result.settings.timeoutSeconds} s on both sides. ` +
      'Ours: rounds back to back via POST /api/force-poll plus one OpenMetrics /metrics scrape per round. ' +
      `Blackbox: wrk, ${result.settings.concurrency} connections, /probe?module=http_2xx over the same targets. ` +
      `Trace export requests received by the OTLP sink: ${result.tracingExportRequests}.`,
    '',
    table(
      [
        'surfaces',
        'ours CPU-s/1,000 probes',
        'blackbox CPU-s/1,000 probes',
        'ratio of medians',
        'median of ratios',
      ],
      medianRows,
    ),
    '',
    table(
      [
        'surfaces',
        'rep',
        'order',
        'ours probes',
        'ours CPU-ms/probe',
        'ours probes/s',
        'ours round ms',
        'ours scrape ms',
        'blackbox probes',
        'blackbox CPU-ms/probe',
        'blackbox probes/s',
        'ratio',
        'nginx CPU-ms/probe ours / blackbox',
        'hold-server CPU-ms in all ours / blackbox',
        'other load, cores ours / blackbox',
      ],
      pairRows,
    ),
  ];
  if (contextRows.length > 0) {
    parts.push(
      '',
      `Paced: ours on its own timer (interval ${result.settings.scheduledIntervalSeconds} s, one scrape per interval); ` +
        'blackbox called at the rate ours reached, by a loader in the bench process with at most the same concurrency, ' +
        'as a scraping Prometheus would; and a bare undici keep-alive client (no scheduling, metrics or logs) at full speed.',
      '',
      table(
        [
          'surfaces',
          'ours scheduled CPU-ms/probe',
          'probes/s',
          'scrape ms',
          'blackbox paced CPU-ms/probe',
          'probes/s',
          'ratio',
          'bare undici CPU-ms/request',
          'requests/s',
        ],
        contextRows,
      ),
    );
  }
  if (result.profile) {
    const frames = (list: CpuProfileSummary['topFrames']) =>
      list.map((frame) => [
        round(frame.selfMs, 0),
        round(frame.percentOfBusy, 1),
        frame.functionName,
        frame.location,
      ]);
    parts.push(
      '',
      `CPU profile of surface-exporter at ${result.profile.surfaces} surfaces, forced rounds (${result.profile.probes} probes; ` +
        `${round(result.profile.totalMs / 1000, 1)} s sampled in the measured window, ${round(result.profile.busyMs / 1000, 1)} s not idle). ` +
        'Top frames by self time:',
      '',
      table(['self ms', '% of busy', 'function', 'where'], frames(result.profile.topFrames)),
      '',
      'Inclusive time (frame anywhere on the stack) of the project and the libraries on the probe and scrape paths:',
      '',
      table(['total ms', '% of busy', 'function', 'where'], frames(result.profile.inclusiveFrames)),
      '',
      'Self time by package:',
      '',
      table(
        ['package', 'self ms', '% of busy'],
        result.profile.byPackage
          .slice(0, 20)
          .map((entry) => [entry.name, round(entry.selfMs, 0), round(entry.percentOfBusy, 1)]),
      ),
    );
  }
  return parts.join('\n');
}

interface OursRun {
  surfaces: number;
  rounds: number;
  registryFile: string;
  name: string;
  /**
   * forced: rounds back to back through POST /api/force-poll, saturating the poller the way wrk
   * saturates blackbox. scheduled: the poller's own timer at a short interval.
   */
  mode: 'forced' | 'scheduled';
  cpuProfileDir?: string;
}

/** Runs our exporter for `rounds` rounds after one warm-up round, scraping /metrics once per round. */
export async function measureOurs(ctx: BenchContext, run: OursRun): Promise<SideMeasurement> {
  const { plan } = ctx;
  const exporter = await startOurExporter({
    supervisor: ctx.supervisor,
    exporterMain: ctx.exporterMain,
    workDir: ctx.workDir,
    registryFile: run.registryFile,
    name: run.name,
    otlpEndpoint: ctx.plan.tracing ? ctx.sink.endpoint : undefined,
    cpuProfileDir: run.cpuProfileDir,
  });
  const intervalMs = plan.cpu.intervalSeconds * 1000;
  const pollsOf = async () => {
    const scraped = await scrape(exporter.url);
    return { polls: sampleValue(scraped.body, 'surface_poller_polls_total') ?? 0, scrapeMs: scraped.ms };
  };
  const roundMs: number[] = [];
  /** One forced round, until every probe of it has ended (force-poll answers by its deadline at the latest). */
  const forcedRound = async (pollsBefore: number) => {
    const started = performance.now();
    const outcome = await forcePollAll(exporter.url);
    if (outcome.pending > 0) {
      // Extra scrapes, only for a round that outlived the force-poll deadline.
      await waitFor(
        `${run.name}: the pending probes of a forced round`,
        async () => ((await pollsOf()).polls >= pollsBefore + run.surfaces ? true : undefined),
        (plan.cpu.timeoutSeconds + 30) * 1000,
        100,
      );
    }
    return performance.now() - started;
  };
  try {
    // The warm-up round opens the connections and logs each surface's first state.
    if (run.mode === 'forced') await forcedRound((await pollsOf()).polls);
    else {
      // The first scheduled round is spread over one interval by the start-up jitter.
      await waitFor(
        `${run.name} to finish a warm-up round`,
        async () => ((await pollsOf()).polls >= run.surfaces ? true : undefined),
        (plan.cpu.intervalSeconds * 4 + plan.cpu.timeoutSeconds) * 1000 + run.surfaces,
        intervalMs,
      );
    }
    const start = await pollsOf();
    const fromMicros = monotonicMicros();
    const before = snapshotCpu(ctx, exporter.proc.pid);
    const scrapeMs: number[] = [start.scrapeMs];
    let latest = start;
    if (run.mode === 'forced') {
      for (let i = 0; i < run.rounds; i++) {
        roundMs.push(await forcedRound(latest.polls));
        latest = await pollsOf();
        scrapeMs.push(latest.scrapeMs);
      }
    } else {
      const target = start.polls + run.rounds * run.surfaces;
      const bound = performance.now() + (run.rounds * plan.cpu.intervalSeconds * 10 + 60) * 1000;
      while (latest.polls < target) {
        if (performance.now() > bound)
          throw new Error(`${run.name}: ${run.rounds} rounds did not complete in time`);
        await sleep(intervalMs);
        latest = await pollsOf();
        scrapeMs.push(latest.scrapeMs);
      }
    }
    const after = snapshotCpu(ctx, exporter.proc.pid);
    const toMicros = monotonicMicros();
    const cpu = cpuDelta(before, after);
    const probes = latest.polls - start.polls;
    return {
      probes,
      cpu,
      cpuMsPerProbe: cpu.measuredMs / probes,
      nginxCpuMsPerProbe: cpu.nginxMs / probes,
      probesPerSecond: probes / (cpu.wallMs / 1000),
      rssBytes: rssBytes(exporter.proc.pid),
      extra: {
        scrapes: scrapeMs.length,
        medianScrapeMs: round(median(scrapeMs), 1),
        ...(roundMs.length ? { medianRoundMs: round(median(roundMs), 0) } : {}),
      },
      window: { fromMicros, toMicros },
    };
  } finally {
    await ctx.supervisor.stop(exporter.proc);
  }
}

/** Plain undici keep-alive requests over the same targets: what a probe costs with nothing around it. */
async function measureBareClient(
  ctx: BenchContext,
  run: { probes: number; targetsFile: string },
): Promise<{ probes: number; cpuMsPerProbe: number; probesPerSecond: number }> {
  const proc = ctx.supervisor.start({
    name: 'bare-client',
    command: process.execPath,
    args: [
      '--import',
      'tsx',
      join(import.meta.dirname, '..', 'targets', 'bare-client.ts'),
      run.targetsFile,
      String(run.probes),
      String(ctx.plan.concurrency),
      String(ctx.plan.cpu.timeoutSeconds * 1000),
    ],
    pipeStdout: true,
    logFile: join(ctx.workDir, 'bare-client.log'),
  });
  let output = '';
  proc.child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  // Unref'd: the child keeps the loop alive while it runs, and a finished race must not hold the bench.
  const exit = await Promise.race([proc.exited, sleep(300_000, 'timeout' as const, { ref: false })]);
  if (exit === 'timeout') await ctx.supervisor.stop(proc, 1_000);
  const line = output.trim().split('\n').at(-1) ?? '';
  if (exit !== 0) throw new Error(`bare-client ended with ${exit}: ${output}`);
  const measured = JSON.parse(line) as { requests: number; cpuMs: number; wallMs: number };
  return {
    probes: measured.requests,
    cpuMsPerProbe: measured.cpuMs / measured.requests,
    probesPerSecond: measured.requests / (measured.wallMs / 1000),
  };
}

async function measureBlackbox(
  ctx: BenchContext,
  run: { surfaces: number; probes: number; targetsFile: string; name: string; perSecond?: number },
): Promise<SideMeasurement> {
  const { plan } = ctx;
  const blackbox = await startBlackbox({
    supervisor: ctx.supervisor,
    workDir: ctx.workDir,
    name: run.name,
    timeoutSeconds: plan.cpu.timeoutSeconds,
  });
  const wrk = (probes: number) =>
    runWrk({
      blackboxUrl: blackbox.url,
      targetsFile: run.targetsFile,
      probes,
      connections: plan.concurrency,
      threads: 2,
      timeoutSeconds: plan.cpu.timeoutSeconds + 5,
      boundSeconds: Math.max(60, Math.ceil(probes / 100)),
    });
  try {
    // Same warm-up as ours: one pass over the targets before the measured probes.
    await wrk(run.surfaces);
    const fromMicros = monotonicMicros();
    const before = snapshotCpu(ctx, blackbox.proc.pid);
    const outcome = run.perSecond
      ? await pacedProbes({
          blackboxUrl: blackbox.url,
          targets: readFileSync(run.targetsFile, 'utf8').split('\n').filter(Boolean),
          probes: run.probes,
          perSecond: run.perSecond,
          concurrency: plan.concurrency,
          timeoutSeconds: plan.cpu.timeoutSeconds,
        }).then((paced) => ({ requests: paced.probes - paced.failures, errors: paced.failures, output: '' }))
      : await wrk(run.probes);
    const after = snapshotCpu(ctx, blackbox.proc.pid);
    const toMicros = monotonicMicros();
    const cpu = cpuDelta(before, after);
    if (outcome.requests < run.probes * 0.99) {
      throw new Error(
        `${run.name}: wrk completed ${outcome.requests} of ${run.probes} probes\n${outcome.output}`,
      );
    }
    return {
      probes: outcome.requests,
      cpu,
      cpuMsPerProbe: cpu.measuredMs / outcome.requests,
      nginxCpuMsPerProbe: cpu.nginxMs / outcome.requests,
      probesPerSecond: outcome.requests / (cpu.wallMs / 1000),
      rssBytes: rssBytes(blackbox.proc.pid),
      extra: { wrkErrors: outcome.errors },
      window: { fromMicros, toMicros },
    };
  } finally {
    await ctx.supervisor.stop(blackbox.proc);
  }
}

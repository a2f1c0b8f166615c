/**
 * `npm run bench [-- options]`: surface-exporter against blackbox_exporter on loopback targets.
 * Never part of `npm test`. See bench/RESULTS.md for what it measured last.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type BenchContext, makePlan, type Plan } from './lib/context.js';
import { snapshotBuild } from './lib/exporter.js';
import { perSurfaceCosts } from './lib/inspector.js';
import { describeMachine, loadAverage, missingTools } from './lib/machine.js';
import { startOtlpSink } from './lib/otlpSink.js';
import { ProcessSupervisor } from './lib/procs.js';
import { kib, mib, progress, Report, table } from './lib/report.js';
import { round } from './lib/stats.js';
import { runCpuScenario } from './scenarios/cpu.js';
import { runHangingScenario } from './scenarios/hanging.js';
import { runShardScenario } from './scenarios/shards.js';
import { runSoak } from './scenarios/soak.js';
import { runSteady, type SteadyRun } from './scenarios/steady.js';
import { startTargets } from './targets/targets.js';

const HELP = `Usage: npm run bench [-- options]

  --quick              every scenario at small N (200 and 1,000 surfaces), about 2 minutes
  --scenarios LIST     comma-separated subset of 1,2,3,4,5,6,7 (default 1-6; 7 is the shards run, about 12 minutes)
  --soak               only the soak (scenario 5); same as --scenarios 5
  --minutes M          soak length in minutes (default 5; 0.35 with --quick)
  --reps N             pairs per size in scenario 1 (default 3; 1 with --quick)
  --no-profile         skip the node --cpu-prof run of scenario 1
  --cpu-sizes WHICH    scenario 1 at small, large or both sizes (default both), for a quicker A/B
  --no-paced           skip scenario 1's paced pair and bare-client floor
  --no-tracing         run surface-exporter without OTLP tracing (it is on by default, every probe sampled)
  --no-build           use dist/ as it is instead of running npm run build
  --results DIR        where to write results (default bench/results, bench/results/quick with --quick)
  --exporter-dist DIR  measure another build of surface-exporter (a dist/ directory); implies --no-build
  -h, --help           this text

Writes bench/results/*.json and bench/results/report.md (bench/results/quick/ with --quick).
`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      scenarios: { type: 'string' },
      soak: { type: 'boolean', default: false },
      minutes: { type: 'string' },
      reps: { type: 'string' },
      'no-profile': { type: 'boolean', default: false },
      'cpu-sizes': { type: 'string', default: 'both' },
      'no-paced': { type: 'boolean', default: false },
      'no-tracing': { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
      'exporter-dist': { type: 'string' },
      results: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const missing = missingTools();
  if (missing) {
    process.stderr.write(`bench: missing tools; install them with:\n  ${missing}\n`);
    return 1;
  }
  const scenarios = new Set(
    values.soak ? ['5'] : (values.scenarios ?? '1,2,3,4,5,6').split(',').map((entry) => entry.trim()),
  );
  for (const scenario of scenarios) {
    if (!/^[1-7]$/.test(scenario))
      throw new Error(`--scenarios: unknown scenario ${JSON.stringify(scenario)}`);
  }
  const plan = makePlan({
    quick: values.quick,
    soakMinutes: values.minutes === undefined ? undefined : positiveNumber('--minutes', values.minutes),
    reps: values.reps === undefined ? undefined : positiveNumber('--reps', values.reps),
  });
  if (values['no-profile']) plan.cpu.profile = false;
  if (values['no-paced']) plan.cpu.pacedAndFloor = false;
  const cpuSizes = values['cpu-sizes'];
  if (cpuSizes !== 'small' && cpuSizes !== 'large' && cpuSizes !== 'both')
    throw new Error(`--cpu-sizes: expected small, large or both, got ${JSON.stringify(cpuSizes)}`);
  plan.cpu.sizes = cpuSizes;
  if (values['no-tracing']) plan.tracing = false;

  const exporterDist = values['exporter-dist'] ? resolve(values['exporter-dist']) : resolve('dist');
  if (!values['no-build'] && !values['exporter-dist']) {
    progress('building dist/ (npm run build)');
    const build = spawnSync('npm', ['run', 'build'], { stdio: 'inherit', timeout: 180_000 });
    if (build.status !== 0) throw new Error('npm run build failed; the bench measures dist/');
  }

  const resultsDir = values.results
    ? resolve(values.results)
    : join(import.meta.dirname, 'results', ...(plan.quick ? ['quick'] : []));
  const supervisor = new ProcessSupervisor();
  const workDir = mkdtempSync(join(tmpdir(), 'surface-bench-'));
  const exporterMain = snapshotBuild(exporterDist, workDir, process.cwd());
  const abort = (signal: string) => {
    progress(`${signal}: stopping every process the bench started`);
    supervisor.killAllNow();
    rmSync(workDir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', () => abort('SIGINT'));
  process.once('SIGTERM', () => abort('SIGTERM'));
  const boundMinutes = budgetMinutes(plan, scenarios);
  const watchdog = setTimeout(() => {
    progress(`the bench exceeded its ${boundMinutes} min bound; stopping`);
    supervisor.killAllNow();
    process.exit(1);
  }, boundMinutes * 60_000);
  watchdog.unref();

  const machine = describeMachine();
  const report = new Report(resultsDir);
  const sink = await startOtlpSink();
  const startedAt = new Date();
  let succeeded = false;
  try {
    const targets = await startTargets({
      supervisor,
      workDir,
      portCount: 8,
      maxLifetimeSeconds: boundMinutes * 60,
    });
    const ctx: BenchContext = { plan, supervisor, targets, sink, report, exporterMain, workDir, resultsDir };
    progress(`targets: nginx on ports ${targets.ports.join(', ')}; bench bound ${boundMinutes} min`);

    if (scenarios.has('1')) await runCpuScenario(ctx);
    if (scenarios.has('7')) await runShardScenario(ctx);
    const steady: SteadyRun[] = [];
    const heapSnapshot = scenarios.has('4');
    if (scenarios.has('4')) steady.push(await runSteady(ctx, 0, { observe: false, bursts: 0, heapSnapshot }));
    if (scenarios.has('3') || scenarios.has('4'))
      steady.push(await runSteady(ctx, plan.sizes.small, { observe: false, bursts: 0, heapSnapshot }));
    if (scenarios.has('2') || scenarios.has('3') || scenarios.has('4'))
      steady.push(
        await runSteady(ctx, plan.sizes.large, {
          observe: scenarios.has('2'),
          bursts: scenarios.has('2') ? 2 : 0,
        }),
      );
    if (scenarios.has('2')) reportRound(ctx, steady.at(-1) as SteadyRun);
    if (scenarios.has('3'))
      reportScrape(
        ctx,
        steady.filter((run) => run.surfaces > 0),
      );
    if (scenarios.has('4')) reportMemory(ctx, steady);
    if (scenarios.has('5')) await runSoak(ctx);
    if (scenarios.has('6')) await runHangingScenario(ctx);

    const runInfo = {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
      scenarios: [...scenarios],
      exporterBuild: exporterDist,
      plan,
      machine,
      loadAverageAtEnd: loadAverage(),
      targets: {
        nginxPorts: targets.ports.length,
        mix: '0.5 % hang (index % 200 = 199), 5 % 502 (index % 20 = 7), rest 200',
      },
      tracingExportRequests: sink.requests(),
      tracingExportBytes: sink.bytes(),
    };
    report.writeJson('run', runInfo);
    const header = [
      `# surface-exporter bench (${plan.quick ? 'quick' : 'full'})`,
      '',
      `${runInfo.command}, ${runInfo.startedAt} to ${runInfo.finishedAt}`,
      '',
      `Machine: ${machine.nproc} cores, ${machine.cpuModel}, ${mib(machine.memoryBytes)} MiB, Linux ${machine.kernel}; ` +
        `load average at start ${machine.loadAverageAtStart.split(' ').slice(0, 3).join(' ')}, at end ${runInfo.loadAverageAtEnd}.`,
      '',
      `Versions: ${Object.entries(machine.versions)
        .map(([name, version]) => `${name} ${version}`)
        .join(', ')}.`,
      '',
      `Targets: nginx, 1 worker, ${targets.ports.length} loopback ports; ${runInfo.targets.mix}. ` +
        `Tracing ${plan.tracing ? 'on (every probe sampled, OTLP/HTTP to a loopback sink in the bench process)' : 'off'}; ` +
        `the sink received ${runInfo.tracingExportRequests} export requests (${mib(runInfo.tracingExportBytes)} MiB). ` +
        `Build measured: ${runInfo.exporterBuild}.`,
    ].join('\n');
    const file = report.writeMarkdown(header);
    progress(`wrote ${file} and the JSON next to it`);
    succeeded = true;
    return 0;
  } finally {
    clearTimeout(watchdog);
    await supervisor.stopAll();
    await sink.close();
    // A failed run keeps its configs and process logs for the post-mortem.
    if (succeeded) rmSync(workDir, { recursive: true, force: true });
    else progress(`logs and configs kept in ${workDir}`);
  }
}

function reportRound(ctx: BenchContext, run: SteadyRun): void {
  const observation = run.observation;
  ctx.report.writeJson('2-round', {
    surfaces: run.surfaces,
    startupMs: run.startupMs,
    firstRoundMs: run.firstRoundMs,
    observation,
    bursts: run.bursts,
  });
  const rows: Array<[string, string | number]> = [
    ['start-up until /health answers (ms)', round(run.startupMs, 0)],
    ['first round, start-up jitter included (s)', round(run.firstRoundMs / 1000, 1)],
  ];
  run.bursts.forEach((burst, index) => {
    rows.push([
      `forced full round ${index + 1}: all ${burst.polled} probes done (s)`,
      `${round(burst.roundMs / 1000, 1)} (force-poll answered at ${round(burst.forcePollAnsweredMs / 1000, 1)} s, ${burst.pendingAtDeadline} pending)`,
    ]);
  });
  if (observation) {
    rows.push(
      ['observed (s)', round(observation.observedSeconds, 0)],
      ['probes seen / per second', `${observation.probes} / ${round(observation.probesPerSecond, 0)}`],
      ['exporter CPU cores used', round(observation.cpuCoresUsed, 3)],
      ['nginx CPU cores used', round(observation.nginxCoresUsed, 3)],
      [
        'interval drift p50 / p99 / max (ms)',
        `${observation.drift.p50Ms} / ${observation.drift.p99Ms} / ${observation.drift.maxMs}`,
      ],
      [
        'intervals measured / skipped slots',
        `${observation.drift.intervals} / ${observation.drift.skippedSlots}`,
      ],
      ['surfaces never probed while observed', observation.surfacesNeverProbed],
      [
        '/metrics scrapes meanwhile (every 15 s): count, median / max ms',
        `${observation.scrapesDuring.count}, ${round(observation.scrapesDuring.medianMs, 0)} / ${round(observation.scrapesDuring.maxMs, 0)}`,
      ],
    );
  }
  const latencyRows = observation
    ? (['all', 'ok', 'error', 'hang'] as const).map((slice) => {
        const figures = observation.latencyBySlice[slice];
        return [slice, figures.probes, figures.p50Ms, figures.p99Ms, figures.maxMs];
      })
    : [];
  ctx.report.section(
    `2. Round time at ${run.surfaces} surfaces`,
    [
      `interval ${ctx.plan.round.intervalSeconds} s, timeout ${ctx.plan.round.timeoutSeconds} s, concurrency ${ctx.plan.concurrency}. ` +
        'A forced round is POST /api/force-poll for every surface, timed until every surface has a newer check ' +
        '(polled each second; hanging targets run to the timeout). Force-poll itself answers by its 10 s deadline at the latest.',
      '',
      table(['figure', 'value'], rows),
      '',
      'Probe latency (ms, from the poller status, 1 ms resolution):',
      '',
      table(['slice', 'probes', 'p50', 'p99', 'max'], latencyRows),
    ].join('\n'),
  );
}

function reportScrape(ctx: BenchContext, runs: SteadyRun[]): void {
  ctx.report.writeJson(
    '3-scrape',
    runs.map((run) => ({ surfaces: run.surfaces, scrape: run.scrape })),
  );
  const rows = runs.flatMap((run) =>
    run.scrape.map((cost) => [
      run.surfaces,
      cost.format,
      cost.scrapes,
      round(cost.medianMs, 1),
      round(cost.maxMs, 1),
      kib(cost.bytes),
      cost.samples,
      round(cost.samples / run.surfaces, 1),
    ]),
  );
  ctx.report.section(
    '3. Scrape cost',
    [
      `GET /metrics while the poller runs at its ${ctx.plan.round.intervalSeconds} s interval; text = \`Accept: text/plain;version=0.0.4\`, ` +
        "openmetrics = Prometheus' default Accept header.",
      '',
      table(
        [
          'surfaces',
          'format',
          'scrapes',
          'median ms',
          'max ms',
          'body KiB',
          'samples',
          'samples per surface',
        ],
        rows,
      ),
    ].join('\n'),
  );
}

function reportMemory(ctx: BenchContext, runs: SteadyRun[]): void {
  const baseline = runs.find((run) => run.surfaces === 0);
  const rows = runs.map((run) => {
    const perSurface = (bytes: number, base: number) =>
      run.surfaces > 0 && baseline ? kib((bytes - base) / run.surfaces) : '-';
    return [
      run.surfaces,
      mib(run.memory.rssBeforeCollectionBytes),
      baseline
        ? perSurface(run.memory.rssBeforeCollectionBytes, baseline.memory.rssBeforeCollectionBytes)
        : '-',
      mib(run.memory.rssBytes),
      mib(run.memory.heapUsedBytes),
      mib(run.memory.heapTotalBytes),
      mib(run.memory.externalBytes),
      baseline ? perSurface(run.memory.rssBytes, baseline.memory.rssBytes) : '-',
      baseline ? perSurface(run.memory.heapUsedBytes, baseline.memory.heapUsedBytes) : '-',
      run.memory.sockets,
      run.memory.timers,
    ];
  });
  const small = runs.find((run) => run.surfaces === ctx.plan.sizes.small);
  const perSurface =
    small?.heapByKind && baseline?.heapByKind
      ? perSurfaceCosts(
          new Map(small.heapByKind.map((cost) => [cost.kind, cost])),
          new Map(baseline.heapByKind.map((cost) => [cost.kind, cost])),
          small.surfaces,
        ).slice(0, 20)
      : [];
  ctx.report.writeJson('4-memory', {
    runs: runs.map((run) => ({ surfaces: run.surfaces, memory: run.memory, stop: run.stop })),
    heapPerSurfaceByKind: perSurface,
  });
  ctx.report.section(
    '4. Memory',
    [
      `After the first full round and the scrapes above, interval ${ctx.plan.round.intervalSeconds} s. Heap read through the inspector after two forced full ` +
        'garbage collections, RSS right after. Per surface = (value - value at 0 surfaces) / surfaces.',
      '',
      table(
        [
          'surfaces',
          'RSS before GC MiB',
          'RSS before GC KiB/surface',
          'RSS MiB',
          'heap used MiB',
          'heap total MiB',
          'external MiB',
          'RSS KiB/surface',
          'heap KiB/surface',
          'sockets',
          'timers',
        ],
        rows,
      ),
      ...(perSurface.length
        ? [
            '',
            `What one surface keeps on the heap, by kind: heap snapshots at ${small?.surfaces} and 0 surfaces, ` +
              'difference divided by the surface count (self sizes; `object:X` is an object built by X).',
            '',
            table(
              ['kind', 'count per surface', 'bytes per surface'],
              perSurface.map((cost) => [
                cost.kind,
                round(cost.countPerSurface, 2),
                Math.round(cost.bytesPerSurface),
              ]),
            ),
          ]
        : []),
    ].join('\n'),
  );
}

function positiveNumber(flag: string, value: string): number {
  const parsed = Number(value);
  if (!(parsed > 0)) throw new Error(`${flag}: expected a positive number, got ${JSON.stringify(value)}`);
  return parsed;
}

/** A generous upper bound on the run's length; the watchdog kills everything past it. */
function budgetMinutes(plan: Plan, scenarios: Set<string>): number {
  let minutes = 2;
  if (scenarios.has('1')) minutes += plan.quick ? 3 : 25;
  if (scenarios.has('2') || scenarios.has('3') || scenarios.has('4')) minutes += plan.quick ? 3 : 15;
  if (scenarios.has('5')) minutes += plan.soak.minutes * 1.5 + 3;
  if (scenarios.has('6')) {
    const { sizes, intervalSeconds, timeoutSeconds, observeRounds } = plan.hanging;
    minutes += (sizes.length * (intervalSeconds * (observeRounds + 1) + timeoutSeconds + 60)) / 60;
  }
  if (scenarios.has('7')) minutes += plan.quick ? 5 : 12;
  return Math.ceil(minutes);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(
      `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 1;
  },
);

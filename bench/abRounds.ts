/**
 * `node --import tsx bench/abRounds.ts [--surfaces N] [--cycles C] [--warmup R] [--replicas K] [--per-turn]
 *  [--node-args ARGS] [--logs DIR] [--profile DIR] NAME=DIST_DIR NAME=DIST_DIR ...`:
 * an A/B of CPU per probe between builds that cancels the background load of a shared machine.
 *
 * Scenario 1 of `npm run bench` measures one build for ~20 s, then the next: on 2 cores shared with
 * other engineers' test suites, a suite starting between the two halves moves a figure by 30 %. Here
 * every build runs at once, idle between its turns (interval 3,600 s), and the turns alternate round
 * by round: one forced round of every surface plus one OpenMetrics scrape, exactly scenario 1's unit,
 * for each build in a rotating order, C times. A change in background load then lands on every
 * build within a few seconds, and the per-cycle ratios show how far apart the builds really are.
 *
 * Interleaving cannot cancel what differs between two processes of the same build (heap layout,
 * which functions the JIT optimised when): one process of a build can run 20 % above its siblings
 * for its whole life. `--replicas K` starts K processes of every build, all interleaved. The last
 * table compares builds over all their processes, counting each turn with its aftermath (the
 * CPU until the process's next turn: the SDK exports a turn's last spans on a timer, after the
 * turn), with a bootstrap interval of the ratio.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type CpuSnapshot, cpuDelta, snapshotCpu } from './lib/context.js';
import {
  forcePollAll,
  type OurExporter,
  sampleValue,
  scrape,
  snapshotBuild,
  startOurExporter,
  writeRegistry,
} from './lib/exporter.js';
import { startOtlpSink } from './lib/otlpSink.js';
import { ProcessSupervisor, waitFor } from './lib/procs.js';
import { monotonicMicros } from './lib/profile.js';
import { progress, table } from './lib/report.js';
import { median, percentile, round } from './lib/stats.js';
import { FORCE_POLL_DEADLINE_SECONDS } from './scenarios/cpu.js';
import { startTargets } from './targets/targets.js';

// Ratios are taken over blocks of 4 consecutive cycles: one 10 ms CPU tick is 5 % of a single
// 1,000-probe turn, so a single cycle's ratio is mostly tick noise.
const BLOCK_CYCLES = 4;
const BOOTSTRAP_RESAMPLES = 4000;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    surfaces: { type: 'string', default: '1000' },
    cycles: { type: 'string', default: '20' },
    'timeout-seconds': { type: 'string', default: '2' },
    /** Rounds each build runs before the measured cycles. */
    warmup: { type: 'string', default: '2' },
    /** Processes per build; the builds are then compared over their processes (see above). */
    replicas: { type: 'string', default: '1' },
    /** Prints every turn's CPU-ms per probe, to see a build settle after its start. */
    'per-turn': { type: 'boolean', default: false },
    /** Options for node in every build (e.g. --trace-gc), space-separated; see the logs with --logs. */
    'node-args': { type: 'string' },
    logs: { type: 'string' },
    /** Writes NAME.cpuprofile per build there (node --cpu-prof), for a profile of each build under the same load. */
    profile: { type: 'string' },
  },
});
const surfaces = Number(values.surfaces);
const cycles = Number(values.cycles);
const timeoutSeconds = Number(values['timeout-seconds']);
const replicas = Number(values.replicas);
if (!(Number.isInteger(replicas) && replicas >= 1))
  throw new Error(`--replicas: a whole number of at least 1, got ${values.replicas}`);
const builds = positionals.map((arg) => {
  const at = arg.indexOf('=');
  if (at <= 0) throw new Error(`expected NAME=DIST_DIR, got ${JSON.stringify(arg)}`);
  return { name: arg.slice(0, at), dist: arg.slice(at + 1) };
});
if (builds.length < 2) throw new Error('give at least two builds as NAME=DIST_DIR');
// Replicas of one build are spread through the rotation (a1 b1 a2 b2 ...), so no build runs twice in a row.
const processes = Array.from({ length: replicas }, (_, replica) =>
  builds.map((build) => ({
    build: build.name,
    name: replicas === 1 ? build.name : `${build.name}#${replica + 1}`,
    dist: build.dist,
  })),
).flat();
if (!(cycles >= BLOCK_CYCLES))
  throw new Error(`--cycles: at least ${BLOCK_CYCLES} (one block of the ratios), got ${values.cycles}`);

interface Turn {
  cpuMs: number;
  /**
   * CPU from this turn's start to the process's next one (or to the end of the run): the turn plus
   * what it left to do while idle, mostly its last spans, which the SDK exports on a 5 s timer.
   */
  withAftermathMs: number;
  probes: number;
  otherCores: number;
}

/** Longer than the span processor's 5 s schedule, so the last turn's spans are exported before the end. */
const AFTERMATH_WAIT_MS = 6000;

const supervisor = new ProcessSupervisor();
const workDir = mkdtempSync(join(tmpdir(), 'surface-ab-'));
const sink = await startOtlpSink();
try {
  const targets = await startTargets({ supervisor, workDir, portCount: 8, maxLifetimeSeconds: 3600 });
  const registryFile = join(workDir, 'registry.yaml');
  writeRegistry(registryFile, surfaces, targets, {
    interval_seconds: 3600,
    timeout_seconds: timeoutSeconds,
    force_poll_deadline_seconds: FORCE_POLL_DEADLINE_SECONDS,
  });
  interface Running {
    build: string;
    name: string;
    exporter: OurExporter;
    polls: number;
    turns: Turn[];
    turnStarted?: CpuSnapshot;
  }
  const running: Running[] = [];
  const closeAftermath = (entry: Running, now: CpuSnapshot) => {
    const last = entry.turns.at(-1);
    if (last && entry.turnStarted) last.withAftermathMs = cpuDelta(entry.turnStarted, now).measuredMs;
  };
  for (const each of processes) {
    const processDir = join(workDir, each.name);
    const exporterMain = snapshotBuild(each.dist, processDir, process.cwd());
    const exporter = await startOurExporter({
      supervisor,
      exporterMain,
      workDir: processDir,
      registryFile,
      name: each.name,
      otlpEndpoint: sink.endpoint,
      cpuProfileDir: values.profile,
      nodeArgs: values['node-args']?.split(' ').filter(Boolean),
    });
    running.push({ build: each.build, name: each.name, exporter, polls: 0, turns: [] });
  }
  const pollsOf = async (exporter: OurExporter) =>
    sampleValue((await scrape(exporter.url)).body, 'surface_poller_polls_total') ?? 0;
  /** One forced round and one scrape, as scenario 1 measures them. */
  const turn = async (entry: (typeof running)[number]): Promise<number> => {
    const outcome = await forcePollAll(entry.exporter.url);
    if (outcome.pending > 0) {
      await waitFor(
        `${entry.name}: the pending probes of a forced round`,
        async () => ((await pollsOf(entry.exporter)) >= entry.polls + surfaces ? true : undefined),
        (timeoutSeconds + 30) * 1000,
        100,
      );
    }
    return pollsOf(entry.exporter);
  };
  // Warm-up rounds: connections open, first states logged, the JIT settled.
  for (const entry of running) {
    for (let i = 0; i < Number(values.warmup); i++) entry.polls = await turn(entry);
  }
  const ctx = { targets } as Parameters<typeof snapshotCpu>[0];
  const fromMicros = monotonicMicros();
  for (let cycle = 0; cycle < cycles; cycle++) {
    const order = running.map((_, index) => running[(index + cycle) % running.length] as (typeof running)[0]);
    for (const entry of order) {
      const before = snapshotCpu(ctx, entry.exporter.proc.pid);
      closeAftermath(entry, before);
      const polls = await turn(entry);
      const delta = cpuDelta(before, snapshotCpu(ctx, entry.exporter.proc.pid));
      entry.turns.push({
        cpuMs: delta.measuredMs,
        withAftermathMs: Number.NaN,
        probes: polls - entry.polls,
        otherCores: delta.otherMs / delta.wallMs,
      });
      entry.turnStarted = before;
      entry.polls = polls;
    }
    progress(`cycle ${cycle + 1}/${cycles}`);
  }
  await new Promise((resolve) => setTimeout(resolve, AFTERMATH_WAIT_MS));
  for (const entry of running) closeAftermath(entry, snapshotCpu(ctx, entry.exporter.proc.pid));
  // The measured cycles on the clock V8 stamps profile samples with, to cut the profiles to them.
  if (values.profile) progress(`measured window: ${fromMicros} to ${monotonicMicros()} (monotonic µs)`);

  const perProbe = (turns: Turn[]) =>
    turns.reduce((sum, each) => sum + each.cpuMs, 0) / turns.reduce((sum, each) => sum + each.probes, 0);
  const base = running[0] as (typeof running)[0];
  const blocks = Math.floor(cycles / BLOCK_CYCLES);
  const blockOf = (turns: Turn[], block: number) =>
    turns.slice(block * BLOCK_CYCLES, (block + 1) * BLOCK_CYCLES);
  const rows = running.map((entry) => {
    const ratios = Array.from(
      { length: blocks },
      (_, block) => perProbe(blockOf(entry.turns, block)) / perProbe(blockOf(base.turns, block)),
    );
    return [
      entry.name,
      entry.turns.reduce((sum, each) => sum + each.probes, 0),
      round(perProbe(entry.turns), 4),
      round(perProbe(entry.turns) / perProbe(base.turns), 3),
      round(median(ratios), 3),
      ratios.map((ratio) => round(ratio, 2)).join(' '),
      round(median(entry.turns.map((each) => each.otherCores)), 2),
    ];
  });
  if (values['per-turn']) {
    for (const entry of running) {
      const perTurn = entry.turns.map((each) => round(each.cpuMs / each.probes, 3));
      process.stdout.write(`${entry.name}: ${perTurn.join(' ')}\n`);
    }
  }
  process.stdout.write(
    `${table(
      [
        'build',
        'probes',
        'CPU-ms/probe (all turns)',
        `ratio to ${base.name}`,
        'median of 4-cycle block ratios',
        'block ratios',
        'other load, cores (median)',
      ],
      rows,
    )}\n`,
  );
  // By build, over its processes. The interval resamples both sources of noise at once: processes
  // within each build, and cycles (the same cycles for every build, since a cycle's background load
  // landed on all of them). Major GCs land in some turns and not others, so one turn moves by ±15 %.
  const processesOf = (build: string) => running.filter((entry) => entry.build === build);
  const random = seededRandom(1);
  const pick = (count: number) => Math.floor(random() * count);
  const perProbeOver = (entries: typeof running, cycleIndexes: readonly number[]) => {
    let cpuMs = 0;
    let probes = 0;
    for (const entry of entries) {
      for (const cycle of cycleIndexes) {
        const turn = entry.turns[cycle] as Turn;
        cpuMs += turn.withAftermathMs;
        probes += turn.probes;
      }
    }
    return cpuMs / probes;
  };
  const everyCycle = Array.from({ length: cycles }, (_, cycle) => cycle);
  const resampledRatios = new Map<string, number[]>(builds.map(({ name }) => [name, []]));
  for (let resample = 0; resample < BOOTSTRAP_RESAMPLES; resample++) {
    const cycleIndexes = everyCycle.map(() => pick(cycles));
    const figureOf = (build: string) => {
      const own = processesOf(build);
      return perProbeOver(
        own.map(() => own[pick(own.length)] as (typeof running)[0]),
        cycleIndexes,
      );
    };
    const baseline = figureOf(base.build);
    for (const { name } of builds) resampledRatios.get(name)?.push(figureOf(name) / baseline);
  }
  const baseline = perProbeOver(processesOf(base.build), everyCycle);
  const turnsOnly = (build: string) => processesOf(build).flatMap((entry) => entry.turns);
  const buildRows = builds.map(({ name }) => {
    const own = processesOf(name);
    const figures = own.map((entry) => perProbeOver([entry], everyCycle));
    const figure = perProbeOver(own, everyCycle);
    const ratios = resampledRatios.get(name) ?? [];
    return [
      name,
      own.length,
      round(figure, 4),
      figures.map((one) => round(one, 3)).join(' '),
      round(figure / baseline, 3),
      `${round(percentile(ratios, 2.5), 3)} to ${round(percentile(ratios, 97.5), 3)}`,
      round(perProbe(turnsOnly(name)) / perProbe(turnsOnly(base.build)), 3),
    ];
  });
  process.stdout.write(
    `\n${table(
      [
        'build',
        'processes',
        'CPU-ms/probe (turns and their aftermath)',
        'per process',
        `ratio to ${base.build}`,
        '95 % bootstrap interval of the ratio (processes and cycles resampled)',
        'ratio over the turns alone',
      ],
      buildRows,
    )}\n`,
  );
} finally {
  await supervisor.stopAll();
  await sink.close();
  if (values.logs) {
    // A log that cannot be copied must not hide the error that ended the run, nor leave workDir behind.
    for (const { name } of processes) {
      try {
        cpSync(join(workDir, name, `${name}.log`), join(values.logs, `${name}.log`));
      } catch (err) {
        progress(`log of ${name} not copied: ${(err as Error).message}`);
      }
    }
  }
  rmSync(workDir, { recursive: true, force: true });
}

/** mulberry32: the same resamples every run, so a rerun of the report over the same figures agrees. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

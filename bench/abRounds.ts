/**
 * `node --import tsx bench/abRounds.ts [--surfaces N] [--cycles C] [--warmup R] [--per-turn] [--node-args ARGS]
 *  [--logs DIR] [--profile DIR] NAME=DIST_DIR NAME=DIST_DIR ...`:
 * an A/B of CPU per probe between builds that cancels the background load of a shared machine.
 *
 * Scenario 1 of `npm run bench` measures one build for ~20 s, then the next: on 2 cores shared with
 * other engineers' test suites, a suite starting between the two halves moves a figure by 30 %. Here
 * every build runs at once, idle between its turns (interval 3,600 s), and the turns alternate round
 * by round: one forced round of every surface plus one OpenMetrics scrape, exactly scenario 1's unit,
 * for each build in a rotating order, C times. A change in background load then lands on every
 * build within a few seconds, and the per-cycle ratios show how far apart the builds really are.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cpuDelta, snapshotCpu } from './lib/context.js';
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
import { median, round } from './lib/stats.js';
import { FORCE_POLL_DEADLINE_SECONDS } from './scenarios/cpu.js';
import { startTargets } from './targets/targets.js';

// Ratios are taken over blocks of 4 consecutive cycles: one 10 ms CPU tick is 5 % of a single
// 1,000-probe turn, so a single cycle's ratio is mostly tick noise.
const BLOCK_CYCLES = 4;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    surfaces: { type: 'string', default: '1000' },
    cycles: { type: 'string', default: '20' },
    'timeout-seconds': { type: 'string', default: '2' },
    /** Rounds each build runs before the measured cycles. */
    warmup: { type: 'string', default: '2' },
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
const builds = positionals.map((arg) => {
  const at = arg.indexOf('=');
  if (at <= 0) throw new Error(`expected NAME=DIST_DIR, got ${JSON.stringify(arg)}`);
  return { name: arg.slice(0, at), dist: arg.slice(at + 1) };
});
if (builds.length < 2) throw new Error('give at least two builds as NAME=DIST_DIR');
if (!(cycles >= BLOCK_CYCLES))
  throw new Error(`--cycles: at least ${BLOCK_CYCLES} (one block of the ratios), got ${values.cycles}`);

interface Turn {
  cpuMs: number;
  probes: number;
  otherCores: number;
}

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
  const running: Array<{ name: string; exporter: OurExporter; polls: number; turns: Turn[] }> = [];
  for (const build of builds) {
    const buildDir = join(workDir, build.name);
    const exporterMain = snapshotBuild(build.dist, buildDir, process.cwd());
    const exporter = await startOurExporter({
      supervisor,
      exporterMain,
      workDir: buildDir,
      registryFile,
      name: build.name,
      otlpEndpoint: sink.endpoint,
      cpuProfileDir: values.profile,
      nodeArgs: values['node-args']?.split(' ').filter(Boolean),
    });
    running.push({ name: build.name, exporter, polls: 0, turns: [] });
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
      const polls = await turn(entry);
      const delta = cpuDelta(before, snapshotCpu(ctx, entry.exporter.proc.pid));
      entry.turns.push({
        cpuMs: delta.measuredMs,
        probes: polls - entry.polls,
        otherCores: delta.otherMs / delta.wallMs,
      });
      entry.polls = polls;
    }
    progress(`cycle ${cycle + 1}/${cycles}`);
  }
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
} finally {
  await supervisor.stopAll();
  await sink.close();
  if (values.logs) {
    // A log that cannot be copied must not hide the error that ended the run, nor leave workDir behind.
    for (const build of builds) {
      try {
        cpSync(join(workDir, build.name, `${build.name}.log`), join(values.logs, `${build.name}.log`));
      } catch (err) {
        progress(`log of ${build.name} not copied: ${(err as Error).message}`);
      }
    }
  }
  rmSync(workDir, { recursive: true, force: true });
}

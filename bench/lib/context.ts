import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { POLLER_DEFAULTS } from '../../src/config/schema.js';
import type { TargetServer } from '../targets/targets.js';
import type { OtlpSink } from './otlpSink.js';
import { cpuMs, machineBusyMs, type ProcessSupervisor } from './procs.js';
import type { Report } from './report.js';

/** Sizes, rounds and durations of one bench run; `--quick` shrinks every one of them. */
export interface Plan {
  quick: boolean;
  /** Traces exported to the bench's OTLP sink, every probe sampled: the target holds with tracing on. */
  tracing: boolean;
  sizes: { small: number; large: number };
  /** The poller's default: the same cap wrk gets against blackbox. */
  concurrency: number;
  cpu: {
    intervalSeconds: number;
    timeoutSeconds: number;
    rounds: { small: number; large: number };
    reps: number;
    /** Which of the two sizes the pairs run at; both unless a quicker A/B asks for one. */
    sizes: 'small' | 'large' | 'both';
    profile: boolean;
    /** The paced pair and the bare-client floor; skipped by --quick to stay near two minutes. */
    pacedAndFloor: boolean;
  };
  round: {
    intervalSeconds: number;
    timeoutSeconds: number;
    observeRounds: number;
    statusEverySeconds: number;
  };
  scrape: { count: number; spacingMs: number };
  soak: { minutes: number; intervalSeconds: number; timeoutSeconds: number; sampleEverySeconds: number };
  /** Scenario 6: hanging surfaces beside healthy ones, at the poller's default interval and timeout. */
  hanging: { sizes: number[]; intervalSeconds: number; timeoutSeconds: number; observeRounds: number };
}

export function makePlan(options: { quick: boolean; soakMinutes?: number; reps?: number }): Plan {
  const { quick } = options;
  return {
    quick,
    tracing: true,
    sizes: quick ? { small: 200, large: 1_000 } : { small: 1_000, large: 10_000 },
    concurrency: POLLER_DEFAULTS.concurrency,
    cpu: {
      intervalSeconds: 3,
      timeoutSeconds: 2,
      rounds: quick ? { small: 2, large: 2 } : { small: 10, large: 3 },
      reps: options.reps ?? (quick ? 1 : 3),
      sizes: 'both',
      profile: true,
      pacedAndFloor: !quick,
    },
    round: quick
      ? { intervalSeconds: 4, timeoutSeconds: 2, observeRounds: 2, statusEverySeconds: 1 }
      : {
          intervalSeconds: POLLER_DEFAULTS.interval_seconds,
          timeoutSeconds: POLLER_DEFAULTS.timeout_seconds,
          observeRounds: 3,
          statusEverySeconds: 5,
        },
    scrape: quick ? { count: 3, spacingMs: 200 } : { count: 15, spacingMs: 1_000 },
    soak: {
      minutes: options.soakMinutes ?? (quick ? 0.35 : 5),
      intervalSeconds: 2,
      timeoutSeconds: 1,
      sampleEverySeconds: quick ? 5 : 10,
    },
    hanging: quick
      ? { sizes: [1_000], intervalSeconds: 6, timeoutSeconds: 2, observeRounds: 2 }
      : {
          sizes: [1_000, 5_000],
          intervalSeconds: POLLER_DEFAULTS.interval_seconds,
          timeoutSeconds: POLLER_DEFAULTS.timeout_seconds,
          observeRounds: 3,
        },
  };
}

export interface BenchContext {
  plan: Plan;
  supervisor: ProcessSupervisor;
  targets: TargetServer;
  sink: OtlpSink;
  report: Report;
  /** Entry point of the snapshot of the build under test. */
  exporterMain: string;
  /** Scratch space for configs and logs; removed at the end. */
  workDir: string;
  resultsDir: string;
}

/** The targets file wrk cycles through: the same URLs, in the same order, as surfaces 0..count-1. */
export function writeTargetsFile(ctx: BenchContext, count: number): string {
  const file = join(ctx.workDir, `targets-${count}.txt`);
  const lines: string[] = [];
  for (let i = 0; i < count; i++) lines.push(ctx.targets.url(i));
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** CPU of the processes around a measurement, so a figure comes with what else ran beside it. */
export interface CpuSnapshot {
  measured: number;
  nginx: number;
  hold: number;
  machineBusy: number;
  at: number;
}

export function snapshotCpu(ctx: BenchContext, measuredPid: number): CpuSnapshot {
  return {
    measured: cpuMs(measuredPid),
    nginx: cpuMs(ctx.targets.nginx.pid, true),
    hold: cpuMs(ctx.targets.hold.pid),
    machineBusy: machineBusyMs(),
    at: performance.now(),
  };
}

export interface CpuDelta {
  measuredMs: number;
  nginxMs: number;
  holdMs: number;
  /** CPU the rest of the machine used meanwhile (other helpers' tests, the bench itself, wrk). */
  otherMs: number;
  wallMs: number;
}

export function cpuDelta(before: CpuSnapshot, after: CpuSnapshot): CpuDelta {
  const measuredMs = after.measured - before.measured;
  const nginxMs = after.nginx - before.nginx;
  const holdMs = after.hold - before.hold;
  return {
    measuredMs,
    nginxMs,
    holdMs,
    otherMs: Math.max(0, after.machineBusy - before.machineBusy - measuredMs - nginxMs - holdMs),
    wallMs: after.at - before.at,
  };
}

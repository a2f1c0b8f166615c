import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchContext } from '../lib/context.js';
import { sampleValue, scrape, startOurExporter, writeRegistry } from '../lib/exporter.js';
import { heapAfterGarbageCollection } from '../lib/inspector.js';
import { cpuMs, openDescriptors, rssBytes, waitFor } from '../lib/procs.js';
import { mib, progress, table } from '../lib/report.js';
import { round, slope } from '../lib/stats.js';

export interface SoakSample {
  atSeconds: number;
  rssBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
  sockets: number;
  descriptors: number;
  timers: number;
  polls: number;
  cpuMs: number;
  eventLoopLagP99Seconds: number;
}

export interface SoakResult {
  surfaces: number;
  minutes: number;
  intervalSeconds: number;
  timeoutSeconds: number;
  warmupSeconds: number;
  samples: SoakSample[];
  probesPerSecond: number;
  cpuCoresUsed: number;
  /** Least-squares slopes after warm-up. The heap is judged on its per-minute floor (after GC). */
  heapFloorSlopeBytesPerMinute: number;
  rssSlopeBytesPerMinute: number;
  heapFloorFirstBytes: number;
  heapFloorLastBytes: number;
  /** Heap after forced full collections, after warm-up and at the end: the leak check that matters. */
  retainedHeap: Array<{ atSeconds: number; bytes: number }>;
  retainedHeapAfterWarmupBytes: number;
  retainedHeapAtEndBytes: number;
  /** From the middle retained reading to the last: what a leak keeps adding after the bounded state has filled. */
  retainedHeapSecondHalfGrowthBytes: number;
  socketsAfterWarmup: number;
  socketsAtEnd: number;
  timersAfterWarmup: number;
  timersAtEnd: number;
  stop: { exit: number | string; exitMs: number; killed: boolean };
  flat: boolean;
}

/** Scenario 5: the large registry at a 2 s interval for a bounded time; memory and handles must stay flat. */
export async function runSoak(ctx: BenchContext): Promise<SoakResult> {
  const { plan } = ctx;
  const surfaces = plan.sizes.large;
  const { minutes, intervalSeconds, timeoutSeconds, sampleEverySeconds } = plan.soak;
  const registryFile = join(ctx.workDir, `soak-${surfaces}.yaml`);
  writeRegistry(registryFile, surfaces, ctx.targets, {
    interval_seconds: intervalSeconds,
    timeout_seconds: timeoutSeconds,
  });
  progress(`soak: ${surfaces} surfaces every ${intervalSeconds} s for ${minutes} min`);
  const exporter = await startOurExporter({
    supervisor: ctx.supervisor,
    exporterMain: ctx.exporterMain,
    workDir: ctx.workDir,
    registryFile,
    name: `ours-soak-${surfaces}`,
    otlpEndpoint: ctx.plan.tracing ? ctx.sink.endpoint : undefined,
    inspect: true,
  });
  const pid = exporter.proc.pid;
  const samples: SoakSample[] = [];
  const durationMs = minutes * 60_000;
  // Warm-up: the first rounds' connections, JIT, and the heap growing to its working size.
  const warmupSeconds = Math.min(120, (minutes * 60) / 3);
  // Forced full collections at intervals: a leak shows as a retained heap that keeps climbing, while
  // bounded per-surface state (exemplar slots, error codes seen) levels off.
  const retained: Array<{ atSeconds: number; bytes: number }> = [];
  const retainedEveryMs = Math.max(10_000, Math.min(120_000, (durationMs - warmupSeconds * 1000) / 4));
  let nextRetainedAt = warmupSeconds * 1000;
  const sampleRetained = async () => {
    const heap = await heapAfterGarbageCollection(exporter.inspectorPort as number);
    retained.push({ atSeconds: (performance.now() - started) / 1000, bytes: heap.usedBytes });
    progress(`soak: heap retained after forced GC ${mib(heap.usedBytes)} MiB`);
  };
  const started = performance.now();
  try {
    while (performance.now() - started < durationMs) {
      const tick = performance.now();
      if (tick - started >= nextRetainedAt) {
        nextRetainedAt += retainedEveryMs;
        await sampleRetained();
      }
      const body = (await scrape(exporter.url)).body;
      const descriptors = openDescriptors(pid);
      samples.push({
        atSeconds: (tick - started) / 1000,
        rssBytes: rssBytes(pid),
        heapUsedBytes: sampleValue(body, 'nodejs_heap_size_used_bytes') ?? Number.NaN,
        heapTotalBytes: sampleValue(body, 'nodejs_heap_size_total_bytes') ?? Number.NaN,
        externalBytes: sampleValue(body, 'nodejs_external_memory_bytes') ?? Number.NaN,
        sockets: descriptors.sockets,
        descriptors: descriptors.total,
        timers: sampleValue(body, 'nodejs_active_resources', 'type="Timeout"') ?? 0,
        polls: sampleValue(body, 'surface_poller_polls_total') ?? 0,
        cpuMs: cpuMs(pid),
        eventLoopLagP99Seconds: sampleValue(body, 'nodejs_eventloop_lag_p99_seconds') ?? Number.NaN,
      });
      const last = samples.at(-1) as SoakSample;
      progress(
        `soak: ${Math.round(last.atSeconds)} s rss ${mib(last.rssBytes)} MiB heap ${mib(last.heapUsedBytes)} MiB ` +
          `sockets ${last.sockets} timers ${last.timers} polls ${last.polls}`,
      );
      await sleep(Math.max(0, sampleEverySeconds * 1000 - (performance.now() - tick)));
    }
    await sampleRetained();
  } catch (err) {
    await ctx.supervisor.stop(exporter.proc, 1_000);
    throw err;
  }
  progress('soak: stopping (SIGTERM); a leaked handle would keep the process alive');
  const stop = await ctx.supervisor.stop(exporter.proc, (timeoutSeconds + 15) * 1000);
  await waitFor('the soak exporter to be gone', () => (rssBytes(pid) === 0 ? true : undefined), 5_000);

  const steady = samples.filter((sample) => sample.atSeconds >= warmupSeconds);
  const floors = heapFloors(steady, 30);
  const first = steady[0] ?? (samples.at(-1) as SoakSample);
  const last = samples.at(-1) as SoakSample;
  const heapFloorSlope = slope(floors.map((floor) => ({ x: floor.atSeconds / 60, y: floor.bytes })));
  const rssSlope = slope(steady.map((sample) => ({ x: sample.atSeconds / 60, y: sample.rssBytes })));
  const elapsedSeconds = last.atSeconds - first.atSeconds;
  const midpoint = retained[Math.floor((retained.length - 1) / 2)];
  const secondHalfGrowth = (retained.at(-1)?.bytes ?? 0) - (midpoint?.bytes ?? 0);
  const result: SoakResult = {
    surfaces,
    minutes,
    intervalSeconds,
    timeoutSeconds,
    warmupSeconds,
    samples,
    probesPerSecond: elapsedSeconds > 0 ? (last.polls - first.polls) / elapsedSeconds : 0,
    cpuCoresUsed: elapsedSeconds > 0 ? (last.cpuMs - first.cpuMs) / 1000 / elapsedSeconds : 0,
    heapFloorSlopeBytesPerMinute: heapFloorSlope,
    rssSlopeBytesPerMinute: rssSlope,
    heapFloorFirstBytes: floors[0]?.bytes ?? Number.NaN,
    heapFloorLastBytes: floors.at(-1)?.bytes ?? Number.NaN,
    retainedHeap: retained,
    retainedHeapAfterWarmupBytes: retained[0]?.bytes ?? Number.NaN,
    retainedHeapAtEndBytes: retained.at(-1)?.bytes ?? Number.NaN,
    retainedHeapSecondHalfGrowthBytes: secondHalfGrowth,
    socketsAfterWarmup: first.sockets,
    socketsAtEnd: last.sockets,
    timersAfterWarmup: first.timers,
    timersAtEnd: last.timers,
    stop,
    // Flat: the heap retained after full collections grew by at most 5 % (or 5 MiB) from the end of
    // warm-up to the end, and the process exits on its own after SIGTERM (no handle keeps it alive).
    // Flat: over the second half of the soak the retained heap grew by at most 2 % (or 2 MiB), and
    // the process exits on its own after SIGTERM (no handle keeps it alive).
    flat:
      retained.length >= 2 &&
      secondHalfGrowth <= Math.max((retained[0]?.bytes ?? 0) * 0.02, 2 * 2 ** 20) &&
      !stop.killed,
  };
  ctx.report.writeJson('5-soak', result);
  ctx.report.section('5. Soak', describeSoak(result));
  return result;
}

/** The lowest heap reading in each window: the sawtooth's bottom, i.e. what survives garbage collection. */
function heapFloors(
  samples: SoakSample[],
  windowSeconds: number,
): Array<{ atSeconds: number; bytes: number }> {
  const windows = new Map<number, { atSeconds: number; bytes: number }>();
  for (const sample of samples) {
    const window = Math.floor(sample.atSeconds / windowSeconds);
    const current = windows.get(window);
    if (!current || sample.heapUsedBytes < current.bytes) {
      windows.set(window, { atSeconds: (window + 0.5) * windowSeconds, bytes: sample.heapUsedBytes });
    }
  }
  return [...windows.values()].sort((a, b) => a.atSeconds - b.atSeconds);
}

function describeSoak(result: SoakResult): string {
  const every = Math.max(1, Math.floor(result.samples.length / 12));
  const rows = result.samples
    .filter((_, index) => index % every === 0 || index === result.samples.length - 1)
    .map((sample) => [
      Math.round(sample.atSeconds),
      mib(sample.rssBytes),
      mib(sample.heapUsedBytes),
      mib(sample.heapTotalBytes),
      mib(sample.externalBytes),
      sample.sockets,
      sample.timers,
      sample.polls,
      round(sample.eventLoopLagP99Seconds * 1000, 1),
    ]);
  return [
    `${result.surfaces} surfaces, interval ${result.intervalSeconds} s, timeout ${result.timeoutSeconds} s, ${result.minutes} min; ` +
      `warm-up ${result.warmupSeconds} s excluded from slopes.`,
    '',
    table(
      ['figure', 'value'],
      [
        ['probes per second (after warm-up)', round(result.probesPerSecond, 0)],
        ['CPU cores used (after warm-up)', round(result.cpuCoresUsed, 2)],
        [
          'heap retained after forced GC, MiB (at s)',
          result.retainedHeap
            .map((point) => `${mib(point.bytes)} (${Math.round(point.atSeconds)})`)
            .join(', '),
        ],
        ['retained heap growth over the second half (MiB)', mib(result.retainedHeapSecondHalfGrowthBytes)],
        // Slopes fitted to sampled heap and RSS follow the GC sawtooth; they stay in the JSON only.
        ['sockets after warm-up / at end', `${result.socketsAfterWarmup} / ${result.socketsAtEnd}`],
        ['timers after warm-up / at end', `${result.timersAfterWarmup} / ${result.timersAtEnd}`],
        [
          'exit after SIGTERM',
          `${result.stop.killed ? 'did NOT exit, killed' : `exit ${result.stop.exit}`} in ${round(result.stop.exitMs, 0)} ms`,
        ],
        [
          'flat (retained heap +2 % or +2 MiB at most over the second half, clean exit)',
          result.flat ? 'yes' : 'NO',
        ],
      ],
    ),
    '',
    table(
      [
        't (s)',
        'RSS MiB',
        'heap used MiB',
        'heap total MiB',
        'external MiB',
        'sockets',
        'timers',
        'probes',
        'loop lag p99 ms',
      ],
      rows,
    ),
  ].join('\n');
}

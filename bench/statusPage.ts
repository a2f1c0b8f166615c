/**
 * `node --import tsx bench/statusPage.ts [--surfaces N] [--reps N]`: server time of the status page,
 * its JSON (whole, and `?since=` the answer before) and a badge at 10,000 surfaces with a full
 * history, each asked again with nothing changed in between and, for the page and the JSON, after a
 * full round changed every tile. Never part of `npm test`.
 *
 * The exporter, poller, history and HTTP stack are the real ones, in this process; only the provider
 * is a stand-in that answers at once, so that filling 60 results per surface takes seconds instead
 * of 60 rounds against real targets. Each figure is the time from sending the request on loopback
 * to the last byte read.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { startExporter } from '../src/app/exporter.js';
import { parseRegistry } from '../src/config/load.js';
import { createLogger } from '../src/core/log.js';
import type { ProbeResult } from '../src/core/result.js';
import type { Provider } from '../src/providers/contract.js';
import { HISTORY_LENGTH } from '../src/statuspage/history.js';

const { values } = parseArgs({
  options: {
    surfaces: { type: 'string', default: '10000' },
    reps: { type: 'string', default: '15' },
    results: { type: 'string', default: 'bench/results' },
  },
});
const SURFACES = Number(values.surfaces);
const REPS = Number(values.reps);
const PER_ENV = 1000;

let round = 0;
let flapping = false;

/** A fixed pseudo-random bit per surface and round, so that no two surfaces flap alike. */
function coin(index: number): boolean {
  let x = (index * 2_654_435_761 + round * 40_503) >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x45d9f3b) >>> 0;
  x ^= x >>> 16;
  return (x & 1) === 1;
}

/**
 * Steady: one surface in 20 DOWN, two DEGRADED, the rest UP, every round alike (one run per strip).
 * Flapping, the worst case for the page: every surface is UP or DEGRADED at random each round, so
 * about 30 runs per strip and no two strips alike.
 */
function verdict(index: number): ProbeResult {
  if (flapping)
    return coin(index)
      ? { status: 'degraded', code: 'health_http_502', detail: 'health check answered HTTP 502' }
      : { status: 'up', code: null, detail: 'ok' };
  const kind = index % 20;
  if (kind === 0) return { status: 'down', code: 'no_web_dyno', detail: 'no web dyno' };
  if (kind < 3)
    return { status: 'degraded', code: 'health_http_502', detail: 'health check answered HTTP 502' };
  return { status: 'up', code: null, detail: 'ok' };
}

const standIn: Provider = {
  name: 'http',
  schema: z.object({}),
  codes: [],
  probe: async (surface) =>
    verdict(
      Number(
        String((surface as { url: string }).url)
          .split('/')
          .pop(),
      ),
    ),
  target: (surface) => String((surface as { url: string }).url),
  credentials: () => [],
};

/**
 * Wall time to the last byte, the server's own wall and CPU time from its Server-Timing header (the
 * handler, from the request to the encoded body), and the CPU time this process spent meanwhile
 * (server and client side, the client reading the body included). Contention on a shared machine
 * stretches CPU time less than wall time.
 */
async function timed(
  url: string,
  retry = true,
): Promise<{ ms: number; serverMs: number; serverCpuMs: number; cpuMs: number; bytes: number }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const res = await fetch(url).catch((err: unknown) => {
    // A keep-alive connection the server closed while the history filled up.
    if (retry) return undefined;
    throw err;
  });
  if (!res) return timed(url, false);
  const body = await res.arrayBuffer();
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  const timing = res.headers.get('server-timing') ?? '';
  const serverMs = Number(/render;dur=([\d.]+)/.exec(timing)?.[1]);
  const serverCpuMs = Number(/cpu;dur=([\d.]+)/.exec(timing)?.[1]);
  const used = process.cpuUsage(cpu);
  return {
    ms: performance.now() - started,
    serverMs,
    serverCpuMs,
    cpuMs: (used.user + used.system) / 1000,
    bytes: body.byteLength,
  };
}

/** `/api/status?since=` with the cursor of the answer before: only what changed in between. */
const SINCE = '/api/status?since=';

async function measure(
  base: string,
  path: string,
  between: () => Promise<void>,
): Promise<Record<string, unknown>> {
  let cursor = '';
  const url = async () => {
    if (path !== SINCE) return `${base}${path}`;
    return `${base}${path}${cursor}`;
  };
  const nextCursor = async () => {
    if (path === SINCE)
      cursor = ((await (await fetch(`${base}/api/status`)).json()) as { cursor: string }).cursor;
  };
  await nextCursor();
  await timed(await url()); // warm-up
  const server: number[] = [];
  const serverCpu: number[] = [];
  const lastByte: number[] = [];
  const cpuTime: number[] = [];
  let bytes = 0;
  for (let rep = 0; rep < REPS; rep++) {
    await nextCursor();
    await between();
    const one = await timed(await url());
    server.push(one.serverMs);
    serverCpu.push(one.serverCpuMs);
    lastByte.push(one.ms);
    cpuTime.push(one.cpuMs);
    bytes = one.bytes;
  }
  const figures = {
    server_ms: summary(server),
    server_cpu_ms: summary(serverCpu),
    last_byte_ms: summary(lastByte),
    cpu_ms: summary(cpuTime),
    bytes,
  };
  process.stderr.write(`  ${path}: ${JSON.stringify(figures)}\n`);
  return figures;
}

function summary(samples: number[]): { median: number; p95: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  return { median: Math.round(at(0.5)), p95: Math.round(at(0.95)), max: Math.round(at(1)) };
}

async function main(): Promise<void> {
  const environments: Record<string, unknown[]> = {};
  for (let index = 0; index < SURFACES; index++) {
    const env = `env-${String(Math.floor(index / PER_ENV)).padStart(2, '0')}`;
    environments[env] ??= [];
    environments[env].push({
      name: `surface-${index}`,
      provider: 'http',
      url: `http://127.0.0.1:9/${index}`,
    });
  }
  const registry = parseRegistry(
    JSON.stringify({ poller: { interval_seconds: 30, timeout_seconds: 10, concurrency: 256 }, environments }),
    'bench registry',
  );
  const exporter = await startExporter({
    registry,
    host: '127.0.0.1',
    port: 0,
    pollerEnabled: false,
    env: {},
    log: createLogger({ level: 'silent' }),
    resolveProvider: () => standIn,
    defaultMetrics: false,
  });
  const results: Record<string, unknown> = {
    surfaces: SURFACES,
    history_length: HISTORY_LENGTH,
    reps: REPS,
    node: process.version,
    at: new Date().toISOString(),
    load_average_at_start: os.loadavg().map((load) => Math.round(load * 100) / 100),
  };
  try {
    for (const mode of ['steady', 'flapping'] as const) {
      flapping = mode === 'flapping';
      const filling = performance.now();
      for (round = 0; round < HISTORY_LENGTH; round++) await exporter.poller.forcePoll();
      process.stderr.write(
        `${mode}: ${HISTORY_LENGTH} rounds of ${SURFACES} probes in ${Math.round(performance.now() - filling)} ms\n`,
      );
      const measured: Record<string, unknown> = {};
      for (const path of [
        '/status',
        '/api/status',
        SINCE,
        '/badge/env-00.svg',
        '/badge/env-00/surface-1.svg',
      ])
        measured[path] = await measure(exporter.url, path, async () => undefined);
      // The worst case for the kept tiles: a full round between requests, so every tile changed
      // (flapping: its result; steady: its check time) since the page was last rendered.
      const afterRound: Record<string, unknown> = {};
      for (const path of ['/status', '/api/status', SINCE])
        afterRound[path] = await measure(exporter.url, path, async () => {
          await exporter.poller.forcePoll();
          round++;
        });
      measured.after_a_round = afterRound;
      results[mode] = measured;
    }
  } finally {
    await exporter.stop();
  }
  mkdirSync(values.results, { recursive: true });
  const file = join(values.results, 'status-page.json');
  results.load_average_at_end = os.loadavg().map((load) => Math.round(load * 100) / 100);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  process.stderr.write(`wrote ${file}\n`);
}

await main();

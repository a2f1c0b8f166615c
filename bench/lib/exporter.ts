import { copyFileSync, cpSync, existsSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import type { TargetServer } from '../targets/targets.js';
import { assertRunning, freePort, type ProcessSupervisor, type StartedProcess, waitFor } from './procs.js';

export const OPERATOR_TOKEN = 'bench-operator-token';

/** What Prometheus 2.x sends: OpenMetrics first, so the exporter renders exemplars. */
export const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
export const TEXT_ACCEPT = 'text/plain;version=0.0.4';

export interface PollerSettings {
  interval_seconds: number;
  timeout_seconds: number;
  force_poll_deadline_seconds?: number;
}

/** A registry of `count` http surfaces, surface i probing target i. */
export function writeRegistry(
  file: string,
  count: number,
  targets: TargetServer,
  poller: PollerSettings,
): void {
  const lines = [
    'poller:',
    `  interval_seconds: ${poller.interval_seconds}`,
    `  timeout_seconds: ${poller.timeout_seconds}`,
    ...(poller.force_poll_deadline_seconds
      ? [`  force_poll_deadline_seconds: ${poller.force_poll_deadline_seconds}`]
      : []),
    'environments:',
  ];
  if (count === 0) lines.push('  bench: []');
  else lines.push('  bench:');
  for (let i = 0; i < count; i++)
    lines.push(`    - { name: s-${i}, provider: http, url: "${targets.url(i)}" }`);
  writeFileSync(file, `${lines.join('\n')}\n`);
}

export interface OurExporter {
  proc: StartedProcess;
  url: string;
  logFile: string;
  /** Set when started with the inspector, which lets the bench force a garbage collection. */
  inspectorPort?: number;
}

export interface OurExporterOptions {
  supervisor: ProcessSupervisor;
  /** The build's entry point: a snapshot of dist/ taken when the bench started. */
  exporterMain: string;
  workDir: string;
  registryFile: string;
  name: string;
  /** OTLP/HTTP endpoint for traces, so tracing is on; undefined runs without tracing. */
  otlpEndpoint: string | undefined;
  /** Directory for `node --cpu-prof`; undefined runs without the profiler. */
  cpuProfileDir?: string;
  /** Opens the inspector on loopback, for forced garbage collections before memory readings. */
  inspect?: boolean;
  /** Options for node itself (`--trace-gc`), before the entry point. */
  nodeArgs?: string[];
  /** More command-line options (`--shard K --total-shards N`) and variables (provider credentials). */
  extraArgs?: string[];
  extraEnv?: Record<string, string>;
}

/**
 * Copies a build (dist/) into the work dir, so a rebuild by someone else mid-run cannot change what
 * is measured. package.json comes along for `"type": "module"`, node_modules as a link.
 */
export function snapshotBuild(distDir: string, workDir: string, projectDir: string): string {
  const root = join(workDir, 'exporter');
  cpSync(distDir, join(root, 'dist'), { recursive: true });
  copyFileSync(join(projectDir, 'package.json'), join(root, 'package.json'));
  symlinkSync(join(projectDir, 'node_modules'), join(root, 'node_modules'));
  const main = join(root, 'dist', 'main.js');
  if (!existsSync(main)) throw new Error(`${distDir} holds no main.js`);
  return main;
}

/** Starts `node dist/main.js` the way an operator would, logs at info, tracing pointed at the sink. */
export async function startOurExporter(options: OurExporterOptions): Promise<OurExporter> {
  const port = await freePort();
  const logFile = join(options.workDir, `${options.name}.log`);
  const inspectorPort = options.inspect ? await freePort() : undefined;
  const inspecting = inspectorPort ? [`--inspect=127.0.0.1:${inspectorPort}`] : [];
  const profiling = options.cpuProfileDir
    ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir, '--cpu-prof-name', `${options.name}.cpuprofile`]
    : [];
  const proc = options.supervisor.start({
    name: options.name,
    command: process.execPath,
    args: [
      ...inspecting,
      ...profiling,
      ...(options.nodeArgs ?? []),
      options.exporterMain,
      '--config',
      options.registryFile,
      '--listen-address',
      `127.0.0.1:${port}`,
      ...(options.extraArgs ?? []),
    ],
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      LOG_LEVEL: 'info',
      FORCE_POLL_TOKEN: OPERATOR_TOKEN,
      ...options.extraEnv,
      ...(options.otlpEndpoint
        ? {
            OTEL_EXPORTER_OTLP_ENDPOINT: options.otlpEndpoint,
            OTEL_SERVICE_NAME: 'surface-exporter-bench',
            OTEL_TRACES_SAMPLER: 'always_on',
          }
        : {}),
    },
    logFile,
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    `${options.name} to listen`,
    async () => {
      await assertRunning(proc, `see ${logFile}`);
      const res = await request(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
      await res.body.dump();
      return true;
    },
    60_000,
    250,
  );
  return { proc, url, logFile, inspectorPort };
}

export interface Scrape {
  ms: number;
  bytes: number;
  body: string;
  contentType: string;
}

export async function scrape(url: string, accept = PROMETHEUS_ACCEPT, timeoutMs = 30_000): Promise<Scrape> {
  const started = performance.now();
  const res = await request(`${url}/metrics`, {
    headers: { accept },
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = await res.body.text();
  const ms = performance.now() - started;
  if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}`);
  return { ms, bytes: Buffer.byteLength(body), body, contentType: String(res.headers['content-type']) };
}

/** The value of the first sample named exactly `name` whose label text contains `labelText`. */
export function sampleValue(body: string, name: string, labelText = ''): number | undefined {
  let from = 0;
  for (;;) {
    const at = body.indexOf(`\n${name}`, from);
    if (at < 0) return undefined;
    const lineEnd = body.indexOf('\n', at + 1);
    const line = body.slice(at + 1, lineEnd < 0 ? undefined : lineEnd);
    from = at + 1;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (labelText && !rest.includes(labelText)) continue;
    const afterLabels = rest[0] === '{' ? rest.slice(rest.indexOf('}') + 1) : rest;
    return Number(afterLabels.trim().split(' ')[0]);
  }
}

/** Sample lines of the body (comments excluded). */
export function countSamples(body: string): number {
  let count = 0;
  for (const line of body.split('\n')) if (line && !line.startsWith('#')) count++;
  return count;
}

export interface StatusEntry {
  surface: string;
  status: string;
  error: string | null;
  checked_at: string | null;
  duration_ms: number | null;
}

export async function pollerStatus(url: string): Promise<StatusEntry[]> {
  const res = await request(`${url}/api/_internal/poller-status`, {
    headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
    signal: AbortSignal.timeout(30_000),
  });
  if (res.statusCode !== 200) {
    await res.body.dump();
    throw new Error(`poller-status answered ${res.statusCode}`);
  }
  const body = (await res.body.json()) as { surfaces: StatusEntry[] };
  return body.surfaces;
}

/** Forces a round of every surface; resolves when the exporter answers (all done, or its deadline passed). */
export async function forcePollAll(url: string): Promise<{ ms: number; polled: number; pending: number }> {
  const started = performance.now();
  const res = await request(`${url}/api/force-poll`, {
    method: 'POST',
    headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
    signal: AbortSignal.timeout(120_000),
  });
  const body = (await res.body.json()) as { polled: number; results: Array<{ status: string }> };
  if (res.statusCode !== 200) throw new Error(`force-poll answered ${res.statusCode}`);
  return {
    ms: performance.now() - started,
    polled: body.polled,
    pending: body.results.filter((entry) => entry.status === 'pending').length,
  };
}

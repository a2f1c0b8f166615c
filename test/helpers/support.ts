import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import { type ExporterOptions, type RunningExporter, startExporter } from '../../src/app/exporter.js';
import type { ShardSettings } from '../../src/app/sharding.js';
import { formatProblem, loadRegistryFile, parseRegistry, RegistryError } from '../../src/config/load.js';
import type { Clock } from '../../src/core/clock.js';
import { createLogger } from '../../src/core/log.js';
import type { PollerDeps } from '../../src/poller/poller.js';

export interface LocalTarget {
  url: string;
  /** Requests received, in order. */
  requests: IncomingMessage[];
  close(): Promise<void>;
}

/** A real HTTP server on 127.0.0.1 whose behaviour the test scripts. Sockets are tracked so close() never hangs. */
export async function startTarget(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<LocalTarget> {
  const requests: IncomingMessage[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    requests.push(req);
    handler(req, res);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on: bound, then released. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface LogCapture {
  lines(): Array<Record<string, unknown>>;
  text(): string;
}

export function captureLogs(level = 'debug') {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      chunks.push(String(chunk));
      callback();
    },
  });
  const log = createLogger({ level, destination: stream });
  const capture: LogCapture = {
    text: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
  return { log, capture };
}

export interface TestExporterOptions {
  registry: Record<string, unknown>;
  env?: Record<string, string | undefined>;
  pollerEnabled?: boolean;
  workerHook?: PollerDeps['workerHook'];
  resolveProvider?: PollerDeps['resolveProvider'];
  clock?: Clock;
  logLevel?: string;
  /** prom-client's process metrics; off by default to keep scrapes in tests small. */
  defaultMetrics?: boolean;
  headersTimeoutMs?: number;
  serverBounds?: ExporterOptions['serverBounds'];
  shard?: ShardSettings;
}

export interface TestExporter extends RunningExporter {
  logs: LogCapture;
}

/** Starts the real exporter on 127.0.0.1:0 with a registry given as an object (written as YAML, parsed as a file would be). */
export async function startTestExporter(options: TestExporterOptions): Promise<TestExporter> {
  const { log, capture } = captureLogs(options.logLevel);
  const registry = parseRegistry(stringify(options.registry), 'test-registry.yaml');
  const exporter = await startExporter({
    registry,
    host: '127.0.0.1',
    port: 0,
    pollerEnabled: options.pollerEnabled ?? true,
    env: options.env ?? {},
    log,
    clock: options.clock,
    workerHook: options.workerHook,
    resolveProvider: options.resolveProvider,
    defaultMetrics: options.defaultMetrics ?? false,
    headersTimeoutMs: options.headersTimeoutMs,
    serverBounds: options.serverBounds,
    shard: options.shard,
  });
  return Object.assign(exporter, { logs: capture });
}

/**
 * Starts the real exporter from a registry file, as `--config FILE` does, so that reloads read it
 * again; the poller is off unless `options` turns it on.
 */
export async function startFileExporter(
  file: string,
  options: Pick<ExporterOptions, 'log'> & Partial<ExporterOptions>,
): Promise<RunningExporter> {
  return startExporter({
    registry: await loadRegistryFile(file),
    registryFile: file,
    host: '127.0.0.1',
    port: 0,
    pollerEnabled: false,
    env: {},
    defaultMetrics: false,
    ...options,
  });
}

export async function waitFor<T>(
  condition: () => T | undefined | false | Promise<T | undefined | false>,
  { timeoutMs = 5000, intervalMs = 25, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Sample lines of the classic text format, keyed by `name{label="value",...}` with labels sorted by name. */
export function parseSamples(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \S+)?$/.exec(line);
    if (!match?.[1] || !match[3]) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      if (pair[1]) labels[pair[1]] = pair[2] ?? '';
    }
    samples.set(sampleKey(match[1], labels), Number(match[3]));
  }
  return samples;
}

export function sampleKey(name: string, labels: Record<string, string>): string {
  const parts = Object.keys(labels)
    .sort()
    .map((key) => `${key}="${labels[key]}"`);
  return parts.length ? `${name}{${parts.join(',')}}` : name;
}

export async function scrape(
  exporter: { url: string },
  accept?: string,
): Promise<{ text: string; contentType: string }> {
  const res = await fetch(`${exporter.url}/metrics`, { headers: accept ? { accept } : {} });
  return { text: await res.text(), contentType: res.headers.get('content-type') ?? '' };
}

export const fastPoller = {
  interval_seconds: 1,
  timeout_seconds: 0.5,
  stale_after_seconds: 3,
  force_poll_deadline_seconds: 2,
};

/** The problems of a registry that must be refused, formatted as logs, `/-/reload` answers and check-config show them. */
export function refusedRegistryProblems(yaml: string): string {
  try {
    parseRegistry(yaml, 'surfaces.yaml');
  } catch (err) {
    assert.ok(err instanceof RegistryError, String(err));
    return err.problems.map(formatProblem).join('\n');
  }
  assert.fail('the registry was accepted');
}

/**
 * Everything an exporter has published about its surfaces: the given probe results, poller-status,
 * a scrape and every log line, in one text that a secret must not appear in.
 */
export async function publishedBy(exporter: TestExporter, ...results: unknown[]): Promise<string> {
  return [
    ...results.map((result) => JSON.stringify(result)),
    JSON.stringify(exporter.poller.status()),
    (await scrape(exporter)).text,
    exporter.logs.text(),
  ].join('\n');
}

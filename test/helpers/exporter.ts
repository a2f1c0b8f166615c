import { stringify } from 'yaml';
import { type ExporterOptions, type RunningExporter, startExporter } from '../../src/app/exporter.js';
import { parseRegistry } from '../../src/config/load.js';
import type { Env } from '../../src/core/env.js';
import type { ProbeOutcome } from '../../src/core/result.js';
import type { ForcePollResponse } from '../../src/poller/poller.js';
import { captureLogs } from './support.js';

export { closedPort, waitFor } from './support.js';

/** Everything the exporter logged, as raw text and as parsed JSON lines. */
export interface CapturedLogs {
  text(): string;
  records(): Array<Record<string, unknown>>;
}

export interface HarnessOptions {
  /** The registry document as an object; written as YAML and parsed like a file. */
  registry: Record<string, unknown>;
  env?: Env;
  /** Default false: tests drive probes themselves with probe() or forcePoll(). */
  pollerEnabled?: boolean;
  shard?: ExporterOptions['shard'];
}

export interface ExporterHarness {
  exporter: RunningExporter;
  logs: CapturedLogs;
  /** One probe of `env/surface` through the poller (deadline, metrics, logs), outside the schedule. */
  probe(key: string): Promise<ProbeOutcome>;
  /** POST /api/force-poll over HTTP with the operator token. */
  forcePoll(filter?: { env?: string; surface?: string }): Promise<ForcePollResponse>;
  /** GET /api/_internal/poller-status over HTTP. */
  status(): Promise<{ surfaces: Array<Record<string, unknown>> }>;
  /** GET /metrics (classic text format). */
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

export const OPERATOR_TOKEN = 'test-operator-token-for-force-poll';

/**
 * Starts exporters whose registries hold one prod surface per entry, on a suite's environment
 * (read at each start, since suites fill it in `before`); stopAll() stops every one started.
 */
export function harnessFactory(defaults: { env: () => Env; poller: Record<string, unknown> }) {
  const started: ExporterHarness[] = [];
  return {
    exporterWith: async (surfaces: unknown[], overrides: Env = {}, poller = defaults.poller) => {
      const harness = await startHarness({
        registry: { poller, environments: { prod: surfaces } },
        env: { ...defaults.env(), ...overrides },
      });
      started.push(harness);
      return harness;
    },
    stopAll: async () => {
      await Promise.all(started.map((harness) => harness.stop()));
    },
  };
}
const HTTP_DEADLINE_MS = 10_000;

/** Starts the real exporter on 127.0.0.1:0 with a registry given as an object and logs captured in memory. */
export async function startHarness(options: HarnessOptions): Promise<ExporterHarness> {
  const { log, capture } = captureLogs('debug');
  const logs: CapturedLogs = { text: capture.text, records: capture.lines };
  const exporter = await startExporter({
    registry: parseRegistry(stringify(options.registry), 'test-registry.yaml'),
    host: '127.0.0.1',
    port: 0,
    pollerEnabled: options.pollerEnabled ?? false,
    env: { FORCE_POLL_TOKEN: OPERATOR_TOKEN, ...options.env },
    log,
    defaultMetrics: false,
    shard: options.shard,
  });
  const authorized = { authorization: `Bearer ${OPERATOR_TOKEN}` };
  const getJson = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(`${exporter.url}${path}`, {
      ...init,
      signal: AbortSignal.timeout(HTTP_DEADLINE_MS),
    });
    if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  return {
    exporter,
    logs,
    probe: (key) => exporter.poller.probeOnce(key),
    forcePoll: (filter = {}) => {
      const query = new URLSearchParams(filter as Record<string, string>).toString();
      return getJson(`/api/force-poll${query ? `?${query}` : ''}`, { method: 'POST', headers: authorized });
    },
    status: () => getJson('/api/_internal/poller-status', { headers: authorized }),
    metrics: async () => {
      const res = await fetch(`${exporter.url}/metrics`, {
        headers: authorized,
        signal: AbortSignal.timeout(HTTP_DEADLINE_MS),
      });
      return res.text();
    },
    stop: () => exporter.stop(),
  };
}

/** The value of one sample in the classic text format, matching every given label; undefined if absent. */
export function sampleValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const match = /^[^{\s]+(?:\{(.*)\})? (\S+)/.exec(line);
    if (!match) continue;
    const found: Record<string, string> = {};
    for (const pair of (match[1] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      if (pair[1]) found[pair[1]] = pair[2] ?? '';
    }
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) return Number(match[2]);
  }
  return undefined;
}

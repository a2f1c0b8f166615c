import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { closedPort } from '../helpers/support.js';

/** Real Prometheus and Alertmanager processes for tests, on loopback, in temporary directories. */

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

const HTTP_DEADLINE_MS = 5_000;
const READY_DEADLINE_MS = 20_000;
const STOP_GRACE_MS = 5_000;
const OUTPUT_LINES_KEPT = 200;

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, killed at the deadline. */
export function run(command: string, args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The anchors GitHub gives a Markdown document's headings (github-slugger's rules, duplicates suffixed). */
export function githubAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const counts = new Map<string, number>();
  let inFence = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) inFence = !inFence;
    const heading = !inFence && /^#{1,6}\s+(.*)$/.exec(line);
    if (!heading) continue;
    const base = (heading[1] ?? '')
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const seen = counts.get(base) ?? 0;
    counts.set(base, seen + 1);
    anchors.add(seen === 0 ? base : `${base}-${seen}`);
  }
  return anchors;
}

export interface ManagedProcess {
  url: string;
  port: number;
  /** The last lines the process wrote, for failure messages. */
  output(): string;
  /** SIGTERM, then SIGKILL after a grace period; resolves once the process is gone. */
  stop(): Promise<void>;
}

/**
 * Starts a daemon on a free loopback port and waits for its /-/ready. A port lost to another
 * process is retried on a new one. The process is killed if the test process exits first.
 */
async function startDaemon(
  binary: string,
  argsForPort: (port: number) => string[],
  what: string,
): Promise<ManagedProcess> {
  let lastOutput = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    // A port nobody listens on right now; the process started on it may still lose a race: callers retry.
    const port = await closedPort();
    const child = spawn(binary, argsForPort(port), { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    const keep = (chunk: Buffer) => {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      lines.splice(0, Math.max(0, lines.length - OUTPUT_LINES_KEPT));
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const managed: ManagedProcess = {
      url: `http://127.0.0.1:${port}`,
      port,
      output: () => lines.join('\n'),
      stop: async () => {
        process.off('exit', killOnExit);
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      },
    };
    if (await becomesReady(managed.url, child)) return managed;
    await managed.stop();
    lastOutput = managed.output();
    if (!/address already in use/i.test(lastOutput)) break;
  }
  throw new Error(`${what} did not become ready:\n${lastOutput}`);
}

async function becomesReady(url: string, child: ChildProcess): Promise<boolean> {
  const deadline = Date.now() + READY_DEADLINE_MS;
  while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
    const ready = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(HTTP_DEADLINE_MS) }).then(
      (res) => res.ok,
      () => false,
    );
    if (ready) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

export interface Workspace {
  dir: string;
  write(name: string, content: string | object): Promise<string>;
  remove(): Promise<void>;
}

export async function workspace(prefix: string): Promise<Workspace> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return {
    dir,
    write: async (name, content) => {
      const path = join(dir, name);
      await writeFile(path, typeof content === 'string' ? content : stringify(content));
      return path;
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

export async function startPrometheus(configFile: string, dataDir: string): Promise<ManagedProcess> {
  return startDaemon(
    'prometheus',
    (port) => [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${dataDir}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // Alerts reach Alertmanager at once instead of on the default one-minute resend.
      '--rules.alert.resend-delay=1s',
      '--enable-feature=exemplar-storage',
      '--log.level=warn',
    ],
    'prometheus',
  );
}

export async function startAlertmanager(configFile: string, dataDir: string): Promise<ManagedProcess> {
  return startDaemon(
    'prometheus-alertmanager',
    (port) => [
      `--config.file=${configFile}`,
      `--storage.path=${dataDir}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // No gossip mesh: it would listen on every interface.
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
    'alertmanager',
  );
}

export interface PromSeries {
  metric: Record<string, string>;
  value?: [number, string];
  values?: Array<[number, string]>;
}

interface PromResponse<T> {
  status: 'success' | 'error';
  data: T;
  errorType?: string;
  error?: string;
}

async function promGet<T>(
  prometheus: { url: string },
  path: string,
  params: Record<string, string>,
): Promise<T> {
  const res = await fetch(`${prometheus.url}${path}?${new URLSearchParams(params)}`, {
    signal: AbortSignal.timeout(HTTP_DEADLINE_MS),
  });
  const body = (await res.json()) as PromResponse<T>;
  if (body.status !== 'success') throw new Error(`${path}: ${body.errorType}: ${body.error}`);
  return body.data;
}

export async function instantQuery(prometheus: { url: string }, query: string): Promise<PromSeries[]> {
  const data = await promGet<{ resultType: string; result: PromSeries[] }>(prometheus, '/api/v1/query', {
    query,
  });
  return data.result;
}

export async function rangeQuery(
  prometheus: { url: string },
  query: string,
  seconds: number,
): Promise<PromSeries[]> {
  const end = Date.now() / 1000;
  const data = await promGet<{ resultType: string; result: PromSeries[] }>(
    prometheus,
    '/api/v1/query_range',
    { query, start: String(end - seconds), end: String(end), step: '1' },
  );
  return data.result;
}

export interface PromAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
}

export async function activeAlerts(prometheus: { url: string }): Promise<PromAlert[]> {
  const data = await promGet<{ alerts: PromAlert[] }>(prometheus, '/api/v1/alerts', {});
  return data.alerts;
}

/** One Alertmanager webhook notification (payload version 4), with the path it was posted to. */
export interface Notification {
  path: string;
  receiver: string;
  status: 'firing' | 'resolved';
  alerts: Array<{
    status: 'firing' | 'resolved';
    labels: Record<string, string>;
    annotations: Record<string, string>;
  }>;
}

export interface WebhookReceiver {
  url: string;
  port: number;
  notifications: Notification[];
  close(): Promise<void>;
}

/** Where Alertmanager's webhook_configs post: keeps every notification in arrival order. */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const notifications: Notification[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Omit<Notification, 'path'>;
      notifications.push({ ...body, path: req.url ?? '' });
      res.writeHead(200).end();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    notifications,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

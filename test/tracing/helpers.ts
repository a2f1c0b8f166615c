import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../helpers/support.js';

/** Headers each target saw, by path: proves a credential was really sent. */
export interface Targets {
  url: string;
  seenHeaders: Map<string, IncomingMessage['headers']>;
  close(): Promise<void>;
}

export const ACCESS_LOGIN = 'https://team.cloudflareaccess.com/cdn-cgi/access/login/x';

/** Local HTTP targets in the states a probe distinguishes. `/hang` never answers. */
export async function startTargets(): Promise<Targets> {
  const seenHeaders = new Map<string, IncomingMessage['headers']>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://target').pathname;
    seenHeaders.set(path, req.headers);
    if (path === '/ok') res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    else if (path === '/bad') res.writeHead(502).end('bad gateway');
    else if (path === '/gate') res.writeHead(302, { location: ACCESS_LOGIN }).end();
    else if (path !== '/hang') res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seenHeaders,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A loopback port nothing listens on: connecting to it is refused. */
export async function unusedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Reads one sample from the classic text format, e.g. `surface_poller_polls_total`. */
export function sampleValue(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1).split(' ')[0]);
  }
  return undefined;
}

export const PROMETHEUS_BINARY = '/usr/bin/prometheus';

export interface RunningPrometheus {
  url: string;
  stop(): Promise<void>;
}

/** A real Prometheus with exemplar storage, scraping `target` (host:port) every second. */
export async function startPrometheus(target: string): Promise<RunningPrometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'surface-exporter-prometheus-'));
  const configFile = join(dir, 'prometheus.yml');
  await writeFile(
    configFile,
    [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 900ms',
      'scrape_configs:',
      '  - job_name: surface-exporter',
      '    static_configs:',
      `      - targets: ['${target}']`,
      '',
    ].join('\n'),
  );
  const port = await unusedPort();
  const output: string[] = [];
  const child = spawn(
    PROMETHEUS_BINARY,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--enable-feature=exemplar-storage',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killed = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killed);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited:\n${output.join('')}`);
        return (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined))
          ?.ok;
      },
      { timeoutMs: 15_000, what: 'Prometheus to be ready' },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, stop };
}

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPrometheus as startPrometheusDaemon } from '../e2e/stack.js';

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
  try {
    // The e2e suite's launcher: a free port, readiness, and a relaunch when another process takes the port first.
    const prometheus = await startPrometheusDaemon(configFile, join(dir, 'data'));
    return {
      url: prometheus.url,
      stop: async () => {
        await prometheus.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

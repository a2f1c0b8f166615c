import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { freePort, type ProcessSupervisor, type StartedProcess, waitFor } from '../lib/procs.js';

export const NGINX_BIN = '/usr/sbin/nginx';

/** Which slice a target belongs to; the URL path says it so both exporters see the same mix. */
export type TargetKind = 'ok' | 'error' | 'hang';

/** One in 200 targets hangs and one in 20 answers 502, so timeouts and errors are in every round. */
export function targetKind(index: number): TargetKind {
  if (index % 200 === 199) return 'hang';
  if (index % 20 === 7) return 'error';
  return 'ok';
}

const PATH_PREFIX: Record<TargetKind, string> = { ok: 's', error: 'e', hang: 'h' };

export interface TargetServer {
  nginx: StartedProcess;
  hold: StartedProcess;
  ports: number[];
  /** The health URL of target `index`; targets are spread over nginx's ports like distinct origins. */
  url(index: number): string;
}

export interface TargetServerOptions {
  supervisor: ProcessSupervisor;
  workDir: string;
  /** Listening ports: the exporter's pool keeps at most 16 connections per origin, as it would per app. */
  portCount: number;
  maxLifetimeSeconds: number;
}

export async function startTargets(options: TargetServerOptions): Promise<TargetServer> {
  const { supervisor, workDir } = options;
  const prefix = join(workDir, 'nginx');
  for (const dir of ['', 'client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
    mkdirSync(join(prefix, dir), { recursive: true });
  }
  const hold = supervisor.start({
    name: 'hold-server',
    command: process.execPath,
    args: [
      '--import',
      'tsx',
      join(import.meta.dirname, 'hold-server.ts'),
      String(options.maxLifetimeSeconds),
    ],
    pipeStdout: true,
    logFile: join(workDir, 'hold-server.log'),
  });
  const holdPort = await readAnnouncedPort(hold);

  const ports: number[] = [];
  for (let i = 0; i < options.portCount; i++) ports.push(await freePort());
  const template = readFileSync(join(import.meta.dirname, 'nginx.conf.template'), 'utf8');
  const config = template
    .replaceAll('{{PREFIX}}', prefix)
    .replaceAll('{{HOLD_PORT}}', String(holdPort))
    // As root, nginx would switch its worker to `nobody`, who cannot write the temp paths above.
    .replace('{{USER}}', process.getuid?.() === 0 ? 'user root;' : '')
    .replace('{{LISTEN}}', ports.map((port) => `    listen 127.0.0.1:${port} backlog=4096;`).join('\n'));
  const configFile = join(prefix, 'nginx.conf');
  writeFileSync(configFile, config);
  const nginx = supervisor.start({
    name: 'nginx',
    command: NGINX_BIN,
    args: ['-p', prefix, '-c', configFile, '-e', join(prefix, 'error.log')],
    logFile: join(workDir, 'nginx.stderr.log'),
  });
  const url = (index: number) =>
    `http://127.0.0.1:${ports[index % ports.length]}/${PATH_PREFIX[targetKind(index)]}/${index}/health`;
  await waitFor(
    'nginx to answer',
    async () => {
      const res = await request(url(0), { signal: AbortSignal.timeout(1_000) });
      await res.body.dump();
      return res.statusCode === 200 ? true : undefined;
    },
    10_000,
  );
  return { nginx, hold, ports, url };
}

async function readAnnouncedPort(proc: StartedProcess): Promise<number> {
  const stdout = proc.child.stdout as Readable;
  const announced = new Promise<number>((resolve, reject) => {
    let text = '';
    stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const newline = text.indexOf('\n');
      if (newline < 0) return;
      const line = text.slice(0, newline);
      const port = Number((JSON.parse(line) as { port?: unknown }).port);
      if (port > 0) resolve(port);
      else reject(new Error(`${proc.name} announced ${line}`));
    });
    proc.exited.then((exit) => reject(new Error(`${proc.name} exited (${exit}) before listening`)));
  });
  const cancel = new AbortController();
  const deadline = sleep(10_000, undefined, { signal: cancel.signal }).then(() => {
    throw new Error(`${proc.name} did not announce its port within 10 s`);
  });
  deadline.catch(() => undefined);
  try {
    return await Promise.race([announced, deadline]);
  } finally {
    cancel.abort();
  }
}

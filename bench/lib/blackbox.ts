import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool, request } from 'undici';
import { assertRunning, freePort, type ProcessSupervisor, type StartedProcess, waitFor } from './procs.js';

export const BLACKBOX_BIN = '/usr/bin/prometheus-blackbox-exporter';
export const WRK_BIN = '/usr/bin/wrk';
const BLACKBOX_DIR = join(import.meta.dirname, '..', 'blackbox');

export interface Blackbox {
  proc: StartedProcess;
  url: string;
}

export async function startBlackbox(options: {
  supervisor: ProcessSupervisor;
  workDir: string;
  name: string;
  timeoutSeconds: number;
}): Promise<Blackbox> {
  const configFile = join(options.workDir, 'blackbox.yml');
  const template = readFileSync(join(BLACKBOX_DIR, 'blackbox.yml'), 'utf8');
  writeFileSync(configFile, template.replace('{{TIMEOUT}}', `${options.timeoutSeconds}s`));
  const port = await freePort();
  const proc = options.supervisor.start({
    name: options.name,
    command: BLACKBOX_BIN,
    args: [`--config.file=${configFile}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=info'],
    logFile: join(options.workDir, `${options.name}.log`),
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    `${options.name} to listen`,
    async () => {
      await assertRunning(proc, 'see its log in the work dir');
      const res = await request(`${url}/metrics`, { signal: AbortSignal.timeout(2_000) });
      await res.body.dump();
      return res.statusCode === 200 ? true : undefined;
    },
    20_000,
    200,
  );
  return { proc, url };
}

export interface WrkOutcome {
  requests: number;
  errors: number;
  wallMs: number;
  output: string;
}

/**
 * Sends `probes` probe requests to blackbox at `connections` concurrency, cycling through the
 * targets file. wrk stops each thread after its share, or at `boundSeconds`.
 */
export async function runWrk(options: {
  blackboxUrl: string;
  targetsFile: string;
  probes: number;
  connections: number;
  threads: number;
  timeoutSeconds: number;
  boundSeconds: number;
}): Promise<WrkOutcome> {
  const perThread = Math.ceil(options.probes / options.threads);
  const started = performance.now();
  const child = spawn(
    WRK_BIN,
    [
      '-t',
      String(options.threads),
      '-c',
      String(options.connections),
      '-d',
      `${options.boundSeconds}s`,
      '--timeout',
      `${options.timeoutSeconds}s`,
      '-s',
      join(BLACKBOX_DIR, 'probe.lua'),
      `${options.blackboxUrl}/probe`,
      '--',
      options.targetsFile,
      String(perThread),
      String(options.threads),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  // wrk is short-lived; killing its group on a bench abort is all the supervision it needs.
  const abort = () => {
    if (child.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  };
  process.once('exit', abort);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    const threadsDone = output.split('WRK_THREAD_DONE').length - 1;
    // wrk's main thread sleeps for the whole -d even when its threads stopped; SIGINT ends that sleep.
    if (threadsDone >= options.threads && child.pid) child.kill('SIGINT');
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  process.removeListener('exit', abort);
  const wallMs = performance.now() - started;
  const match =
    /WRK_RESULT requests=(\d+) errors_connect=(\d+) errors_read=(\d+) errors_write=(\d+) errors_status=(\d+) errors_timeout=(\d+)/.exec(
      output,
    );
  if (code !== 0 || !match) throw new Error(`wrk failed (exit ${code}):\n${output}`);
  const numbers = match.slice(1).map(Number);
  const errors = numbers.slice(1).reduce((sum, value) => sum + value, 0);
  return { requests: numbers[0] ?? 0, errors, wallMs, output };
}

/**
 * Calls blackbox's /probe at a fixed rate, as Prometheus scraping many targets on an interval would,
 * with at most `concurrency` in flight. Runs in the bench process: its own CPU is not blackbox's.
 */
export async function pacedProbes(options: {
  blackboxUrl: string;
  targets: readonly string[];
  probes: number;
  perSecond: number;
  concurrency: number;
  timeoutSeconds: number;
}): Promise<{ probes: number; failures: number; wallMs: number }> {
  const pool = new Pool(options.blackboxUrl, { connections: options.concurrency });
  const started = performance.now();
  let sent = 0;
  let inFlight = 0;
  let done = 0;
  let failures = 0;
  try {
    await new Promise<void>((resolve) => {
      const tick = () => {
        // Catch up to the schedule: the probes due by now, capped by the concurrency limit.
        const due = Math.min(
          options.probes,
          Math.floor(((performance.now() - started) / 1000) * options.perSecond) + 1,
        );
        while (sent < due && inFlight < options.concurrency) {
          const target = options.targets[sent % options.targets.length] as string;
          sent++;
          inFlight++;
          pool
            .request({
              method: 'GET',
              path: `/probe?module=http_2xx&target=${encodeURIComponent(target)}`,
              signal: AbortSignal.timeout((options.timeoutSeconds + 5) * 1000),
            })
            .then((res) => res.body.dump())
            .catch(() => {
              failures++;
            })
            .finally(() => {
              inFlight--;
              done++;
              if (done === options.probes) resolve();
            });
        }
        if (sent < options.probes) setTimeout(tick, 5);
      };
      tick();
    });
  } finally {
    await pool.close();
  }
  return { probes: done, failures, wallMs: performance.now() - started };
}

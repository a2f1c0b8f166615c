import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Clock ticks per second for utime/stime in /proc/<pid>/stat (CLK_TCK; 100 on every Linux we run on). */
const CLOCK_TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;

export interface StartedProcess {
  name: string;
  pid: number;
  child: ChildProcess;
  /** Resolves with the exit code (or the signal's name) once the process has gone. */
  exited: Promise<number | string>;
}

export interface SpawnOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Where stdout and stderr go; undefined: discarded. */
  logFile?: string;
  /** Keep stdout readable by the caller (for processes that announce their port). */
  pipeStdout?: boolean;
  cwd?: string;
}

/**
 * Owns every process the bench starts. Each child runs in its own process group, so a group
 * kill also ends nginx's workers; an exit hook kills whatever is left, even after a crash or Ctrl-C.
 */
export class ProcessSupervisor {
  private readonly running = new Map<number, StartedProcess>();

  constructor() {
    process.on('exit', () => this.killAllNow());
  }

  start(options: SpawnOptions): StartedProcess {
    const logFd = options.logFile ? openSync(options.logFile, 'a') : undefined;
    const stdout = options.pipeStdout ? 'pipe' : (logFd ?? 'ignore');
    const child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      detached: true,
      stdio: ['ignore', stdout, logFd ?? 'ignore'],
    });
    if (logFd !== undefined) closeSync(logFd);
    if (child.pid === undefined) throw new Error(`${options.name}: could not start ${options.command}`);
    const pid = child.pid;
    const exited = new Promise<number | string>((resolve) => {
      child.once('exit', (code, signal) => {
        this.running.delete(pid);
        resolve(code ?? signal ?? 'unknown');
      });
    });
    const started: StartedProcess = { name: options.name, pid, child, exited };
    this.running.set(pid, started);
    return started;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves with how the process ended and how long it took. */
  async stop(
    proc: StartedProcess,
    graceMs = 15_000,
  ): Promise<{ exit: number | string; exitMs: number; killed: boolean }> {
    const started = performance.now();
    if (!this.running.has(proc.pid)) {
      return { exit: await proc.exited, exitMs: 0, killed: false };
    }
    signalGroup(proc.pid, 'SIGTERM');
    // Unref'd so that a finished race does not keep the bench alive for the rest of the grace period.
    const outcome = await Promise.race([proc.exited, sleep(graceMs, 'timeout' as const, { ref: false })]);
    if (outcome !== 'timeout') {
      // The group may still hold children (nginx workers) that outlive the leader briefly.
      signalGroup(proc.pid, 'SIGKILL');
      return { exit: outcome, exitMs: performance.now() - started, killed: false };
    }
    signalGroup(proc.pid, 'SIGKILL');
    return { exit: await proc.exited, exitMs: performance.now() - started, killed: true };
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.running.values()].map((proc) => this.stop(proc, 5_000)));
  }

  killAllNow(): void {
    for (const pid of this.running.keys()) signalGroup(pid, 'SIGKILL');
    this.running.clear();
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/** CPU time the process (and, with `withChildren`, its live descendants) has used, in milliseconds. */
export function cpuMs(pid: number, withChildren = false): number {
  const pids = withChildren ? [pid, ...descendantsOf(pid)] : [pid];
  let ticks = 0;
  for (const each of pids) ticks += cpuTicks(each);
  return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
}

function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses; fields are counted after its closing ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat(5) are utime and stime; fields[0] here is field 3.
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

function descendantsOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent === pid) children.push(Number(entry), ...descendantsOf(Number(entry)));
    } catch {
      // The process ended while we looked.
    }
  }
  return children;
}

/** Resident set size in bytes (VmRSS), or 0 when the process is gone. */
export function rssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Open sockets and other descriptors of a process, from /proc/<pid>/fd. */
export function openDescriptors(pid: number): { sockets: number; total: number } {
  let sockets = 0;
  let total = 0;
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      total++;
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) sockets++;
      } catch {
        // Closed while we looked.
      }
    }
  } catch {
    // The process is gone.
  }
  return { sockets, total };
}

/** A loopback port that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Thrown from a `waitFor` check when the process waited on has died: no point waiting longer. */
export class ProcessExitedError extends Error {}

/** Throws ProcessExitedError when the process has already exited. */
export async function assertRunning(proc: StartedProcess, hint: string): Promise<void> {
  const exit = await Promise.race([proc.exited, Promise.resolve(undefined)]);
  if (exit !== undefined) throw new ProcessExitedError(`${proc.name} exited (${exit}); ${hint}`);
}

/** Polls `check` until it returns a value, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  everyMs = 200,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  while (performance.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      if (err instanceof ProcessExitedError) throw err;
      lastError = err;
    }
    await sleep(everyMs);
  }
  const reason = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${reason}`);
}

/** CPU time the whole machine spent busy (all cores, all processes), in milliseconds, from /proc/stat. */
export function machineBusyMs(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  // cpu user nice system idle iowait irq softirq steal ...; idle and iowait are not busy.
  const [user, nice, system, , , irq, softirq, steal] = line.split(/\s+/).slice(1).map(Number);
  const busy = [user, nice, system, irq, softirq, steal].reduce<number>(
    (sum, value) => sum + (value ?? 0),
    0,
  );
  return (busy * 1000) / CLOCK_TICKS_PER_SECOND;
}

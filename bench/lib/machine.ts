import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { NGINX_BIN } from '../targets/targets.js';
import { BLACKBOX_BIN, WRK_BIN } from './blackbox.js';

const REQUIRED_TOOLS = [
  { bin: BLACKBOX_BIN, apt: 'prometheus-blackbox-exporter' },
  { bin: NGINX_BIN, apt: 'nginx-light' },
  { bin: WRK_BIN, apt: 'wrk' },
];

/** The apt-get line that installs what is missing, or undefined when everything is there. */
export function missingTools(): string | undefined {
  const missing = REQUIRED_TOOLS.filter((tool) => !existsSync(tool.bin));
  if (missing.length === 0) return undefined;
  return `apt-get install -y ${missing.map((tool) => tool.apt).join(' ')}`;
}

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  memoryBytes: number;
  kernel: string;
  loadAverageAtStart: string;
  versions: Record<string, string>;
}

export function describeMachine(): MachineInfo {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const cpuModel = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown';
  return {
    nproc: Number(run('nproc', []).trim()) || cpus().length,
    cpuModel,
    memoryBytes: totalmem(),
    kernel: run('uname', ['-r']).trim(),
    loadAverageAtStart: readFileSync('/proc/loadavg', 'utf8').trim(),
    versions: {
      node: process.version,
      'surface-exporter': `${packageVersion('.')} (git ${gitRevision()})`,
      'prometheus-blackbox-exporter':
        /version (\S+)/.exec(run(BLACKBOX_BIN, ['--version']))?.[1] ?? 'unknown',
      nginx: /nginx\/(\S+)/.exec(run(NGINX_BIN, ['-v']))?.[1] ?? 'unknown',
      wrk: /wrk (\S+)/.exec(run(WRK_BIN, ['-v']))?.[1] ?? 'unknown',
      undici: packageVersion('node_modules/undici'),
      'prom-client': packageVersion('node_modules/prom-client'),
      pino: packageVersion('node_modules/pino'),
      express: packageVersion('node_modules/express'),
    },
  };
}

/** The commit the build came from, and whether the work tree had changes on top of it. */
function gitRevision(): string {
  const head = run('git', ['rev-parse', '--short', 'HEAD']).trim() || 'unknown';
  const dirty = run('git', ['status', '--porcelain', '--untracked-files=no']).trim() !== '';
  return dirty ? `${head} + uncommitted changes` : head;
}

function packageVersion(dir: string): string {
  try {
    return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'absent';
  }
}

function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 5_000 });
  return `${result.stdout ?? ''}${result.stderr ?? ''}`;
}

/** 1-minute load average now: the machine is shared, so every figure is printed next to it. */
export function loadAverage(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { runCli } from '../../src/cli/run.js';
import { type AccessGateFake, startAccessGate } from '../../src/providers/cloudflare/accessGateFake.js';
import { type CloudflareFake, startCloudflareApi } from '../../src/providers/cloudflare/fake.js';
import { type HerokuFake, startHerokuApi } from '../../src/providers/heroku_app/fake.js';
import { type InfisicalFake, startInfisical } from '../../src/providers/infisical/fake.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MAIN_TS = join(REPO_ROOT, 'src/main.ts');
/** Absolute, so that a child started in another directory still finds the loader. */
export const TSX_LOADER = import.meta.resolve('tsx');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one command line in this process, exactly as main.ts would, capturing both streams. */
export async function cli(argv: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    env,
    stdout: {
      write: (chunk: string | Uint8Array) => {
        stdout += String(chunk);
        return true;
      },
    },
    stderr: {
      write: (chunk: string | Uint8Array) => {
        stderr += String(chunk);
        return true;
      },
    },
  });
  return { code, stdout, stderr };
}

export interface TempDir {
  path: string;
  file(name: string, content: string | Record<string, unknown>): Promise<string>;
  remove(): Promise<void>;
}

export async function tempDir(): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), 'surface-exporter-test-'));
  return {
    path,
    async file(name, content) {
      const target = join(path, name);
      await writeFile(target, typeof content === 'string' ? content : stringify(content));
      return target;
    },
    remove: () => rm(path, { recursive: true, force: true }),
  };
}

export const HEROKU_KEY = 'HRKU-test-0123456789abcdef0123456789abcdef';
export const CLOUDFLARE_TOKEN = 'cf-test-token-0123456789abcdefghijklmnop';

/**
 * Fakes of every provider, staged with one surface per interesting state, and the registry and
 * environment that point at them.
 */
export interface Scenario {
  heroku: HerokuFake;
  cloudflare: CloudflareFake;
  infisical: InfisicalFake;
  vaultGate: AccessGateFake;
  consoleGate: AccessGateFake;
  env: Record<string, string | undefined>;
  registry: Record<string, unknown>;
  /** Every secret value in env, to assert none of them is ever printed. */
  secrets: string[];
  close(): Promise<void>;
}

export async function startScenario(): Promise<Scenario> {
  const heroku = await startHerokuApi({ apiKeys: [HEROKU_KEY] });
  const cloudflare = await startCloudflareApi({ tokens: [CLOUDFLARE_TOKEN] });
  const infisical = await startInfisical();
  const vaultGate = await startAccessGate({ target: infisical.url, hostname: 'vault.test.invalid' });
  const consoleGate = await startAccessGate({ target: heroku.router.url, hostname: 'console.test.invalid' });

  heroku.addApp({ name: 'app-up' });
  heroku.addApp({ name: 'app-502', healthStatus: 502 });
  heroku.addApp({ name: 'app-no-web', webQuantity: 0 });
  cloudflare.addProject('site-ok');
  cloudflare.addDeployment('site-ok', { stage: 'deploy', status: 'success' });
  cloudflare.addProject('site-failed');
  cloudflare.addDeployment('site-failed', { stage: 'build', status: 'failure' });
  cloudflare.addProject('site-building');
  cloudflare.addDeployment('site-building', { stage: 'build', status: 'active' });
  cloudflare.addProject('not-in-registry');

  const vaultToken = vaultGate.createServiceToken();
  vaultGate.enroll(vaultToken.clientId);
  const consoleToken = consoleGate.createServiceToken();

  const env = {
    HEROKU_API_URL: heroku.url,
    CLOUDFLARE_API_URL: cloudflare.url,
    HEROKU_API_KEY: HEROKU_KEY,
    CLOUDFLARE_PAGES_READ_TOKEN: CLOUDFLARE_TOKEN,
    CLOUDFLARE_ACCOUNT_ID: cloudflare.accountId,
    CF_ACCESS_VAULT: `${vaultToken.clientId}:${vaultToken.clientSecret}`,
    CF_ACCESS_CONSOLE: `${consoleToken.clientId}:${consoleToken.clientSecret}`,
  };
  const registry = {
    poller: { interval_seconds: 5, timeout_seconds: 3 },
    environments: {
      prod: [
        { name: 'api', provider: 'heroku_app', app: 'app-up' },
        { name: 'api-502', provider: 'heroku_app', app: 'app-502' },
        { name: 'api-no-web', provider: 'heroku_app', app: 'app-no-web' },
        { name: 'site', provider: 'cloudflare_pages', project: 'site-ok' },
        { name: 'site-failed', provider: 'cloudflare_pages', project: 'site-failed' },
        { name: 'site-building', provider: 'cloudflare_pages', project: 'site-building' },
        { name: 'vault', provider: 'infisical', url: vaultGate.url, access_token_env: 'CF_ACCESS_VAULT' },
        {
          name: 'console-gated',
          provider: 'http',
          url: `${consoleGate.url}/app-up/health`,
          access_token_env: 'CF_ACCESS_CONSOLE',
        },
        {
          name: 'console-unset',
          provider: 'http',
          url: `${consoleGate.url}/app-up/health`,
          access_token_env: 'CF_ACCESS_UNSET',
        },
      ],
      staging: [{ name: 'api', provider: 'heroku_app', app: 'app-up' }],
    },
  };
  return {
    heroku,
    cloudflare,
    infisical,
    vaultGate,
    consoleGate,
    env,
    registry,
    secrets: [
      HEROKU_KEY,
      CLOUDFLARE_TOKEN,
      vaultToken.clientId,
      vaultToken.clientSecret,
      consoleToken.clientId,
      consoleToken.clientSecret,
    ],
    close: async () => {
      await Promise.all([heroku, cloudflare, infisical, vaultGate, consoleGate].map((fake) => fake.close()));
    },
  };
}

export function assertNoSecret(text: string, secrets: readonly string[]): void {
  for (const secret of secrets) {
    if (text.includes(secret)) throw new Error(`output contains a secret (${secret.slice(0, 4)}…):\n${text}`);
  }
}

export interface ChildCli {
  child: ChildProcess;
  /** Everything written to stdout so far. */
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends SIGTERM (once) and waits for the exit, killing it if it does not stop in time. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs a command as its own process; `command` defaults to the CLI from source through tsx. */
export function spawnCli(
  args: string[],
  options: { env: Record<string, string | undefined>; cwd?: string; command?: string[] },
): ChildCli {
  const [file, ...prefix] = options.command ?? [process.execPath, '--import', TSX_LOADER, MAIN_TS];
  const child = spawn(file ?? process.execPath, [...prefix, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: { PATH: process.env.PATH, ...options.env } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => {
    stdout += String(chunk);
  });
  child.stderr?.on('data', (chunk) => {
    stderr += String(chunk);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** The URL of a served exporter, from its `started` log line (stdout, JSON). */
export function startedUrl(stdout: string): string | undefined {
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const record = JSON.parse(line) as { event?: string; url?: string };
      if (record.event === 'started' && record.url) return record.url;
    } catch {
      // a partial line; the next poll sees it whole
    }
  }
  return undefined;
}

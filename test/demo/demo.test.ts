import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT, spawnCli, type TempDir, tempDir } from '../cli/support.js';
import { parseSamples, sampleKey, waitFor } from '../helpers/support.js';

/** What the issue promises the demo shows, one surface per state at least. */
const PROMISED: Array<{
  env: string;
  surface: string;
  provider: string;
  status: string;
  code: string | null;
}> = [
  { env: 'prod', surface: 'api-prod', provider: 'heroku_app', status: 'up', code: null },
  { env: 'prod', surface: 'site', provider: 'cloudflare_pages', status: 'up', code: null },
  { env: 'prod', surface: 'vault', provider: 'infisical', status: 'up', code: null },
  // Issue 15: an expect_gate surface still behind Access, a certificate 2 days from expiry, a JSON condition failing.
  { env: 'prod', surface: 'console-gate', provider: 'http', status: 'up', code: null },
  { env: 'prod', surface: 'billing', provider: 'http', status: 'up', code: null },
  { env: 'prod', surface: 'status-api', provider: 'http', status: 'degraded', code: 'json_mismatch' },
  // A push surface, fed by the demo's own stand-in for a scheduled job.
  { env: 'prod', surface: 'nightly-sync', provider: 'push', status: 'up', code: null },
  {
    env: 'prod',
    surface: 'app-previews',
    provider: 'cloudflare_pages',
    status: 'degraded',
    code: 'deploy_building',
  },
  {
    env: 'prod',
    surface: 'mockups',
    provider: 'cloudflare_pages',
    status: 'degraded',
    code: 'deploy_failure',
  },
  {
    env: 'staging',
    surface: 'api-staging',
    provider: 'heroku_app',
    status: 'degraded',
    code: 'health_http_502',
  },
  { env: 'staging', surface: 'console-staging', provider: 'heroku_app', status: 'down', code: 'no_web_dyno' },
  {
    env: 'staging',
    surface: 'console-public',
    provider: 'http',
    status: 'degraded',
    code: 'skipped_credentials',
  },
  {
    env: 'prod',
    surface: 'console-public',
    provider: 'http',
    status: 'degraded',
    code: 'access_gate_redirect',
  },
];

interface Banner {
  base: string;
  token: string;
}

function parseBanner(stdout: string): Banner | undefined {
  const metrics = /^ {2}metrics +(http:\/\/\S+)\/metrics$/m.exec(stdout);
  const token =
    /^ {2}force a poll +curl -s -X POST -H 'Authorization: Bearer (\S+)' \S+\/api\/force-poll$/m.exec(stdout);
  if (!metrics?.[1] || !token?.[1]) return undefined;
  return { base: metrics[1], token: token[1] };
}

async function assertEveryPromisedState(banner: Banner): Promise<void> {
  // Demo interval: 5 s; first probes are spread over one interval. Three intervals is "a few".
  await waitFor(
    async () => {
      const text = await (await fetch(`${banner.base}/metrics`)).text();
      const samples = parseSamples(text);
      return PROMISED.every(({ env, surface, provider, status, code }) => {
        const labels = { env, surface, provider };
        const inState = samples.get(sampleKey('surface_status', { ...labels, status })) === 1;
        const coded =
          code === null || samples.get(sampleKey('surface_error_info', { ...labels, code })) === 1;
        return inState && coded;
      });
    },
    { timeoutMs: 15_000, intervalMs: 250, what: 'every promised state in /metrics' },
  );
  const samples = parseSamples(await (await fetch(`${banner.base}/metrics`)).text());
  const expiry = samples.get(
    sampleKey('surface_tls_cert_expiry_timestamp_seconds', {
      env: 'prod',
      surface: 'billing',
      provider: 'http',
    }),
  );
  const daysLeft = ((expiry ?? 0) - Date.now() / 1000) / 86_400;
  assert.ok(
    daysLeft > 1 && daysLeft < 3,
    `billing's certificate expires in ${daysLeft} days: the page fires`,
  );
  const health = await fetch(`${banner.base}/health`);
  assert.equal(health.status, 200);
  const auth = { authorization: `Bearer ${banner.token}` };
  const status = await fetch(`${banner.base}/api/_internal/poller-status`, { headers: auth });
  assert.equal(status.status, 200);
  // A ticket surface, team labels and a surface in a maintenance window, in metrics and poller-status.
  const info = (env: string, surface: string, provider: string, severity: string, team: string) =>
    samples.get(sampleKey('surface_info', { env, surface, provider, severity, team }));
  assert.equal(info('staging', 'api-staging', 'heroku_app', 'ticket', 'platform'), 1);
  assert.equal(info('prod', 'api-prod', 'heroku_app', 'page', 'backend'), 1);
  assert.equal(info('prod', 'site', 'cloudflare_pages', 'page', 'web'), 1);
  assert.equal(info('staging', 'console-staging', 'heroku_app', 'page', 'platform'), 1);
  const inMaintenance = { env: 'prod', surface: 'mockups', provider: 'cloudflare_pages' };
  assert.equal(samples.get(sampleKey('surface_maintenance', inMaintenance)), 1);
  assert.equal(
    samples.get(
      sampleKey('surface_maintenance', { env: 'prod', surface: 'api-prod', provider: 'heroku_app' }),
    ),
    0,
  );
  const snapshot = (await status.json()) as {
    surfaces: Array<{ env: string; surface: string; maintenance: boolean }>;
  };
  const maintained = snapshot.surfaces
    .filter((entry) => entry.maintenance)
    .map((entry) => `${entry.env}/${entry.surface}`);
  assert.deepEqual(maintained, ['prod/mockups']);
  const forced = await fetch(`${banner.base}/api/force-poll`, { method: 'POST', headers: auth });
  assert.equal(forced.status, 200);
  const round = (await forced.json()) as {
    polled: number;
    results: Array<{ env: string; surface: string; status: string; detail: string }>;
  };
  assert.equal(round.polled, PROMISED.length);
  const site = round.results.find((result) => result.env === 'prod' && result.surface === 'site');
  assert.equal(site?.status, 'up', 'the skipped newest deployment of demo-site is not judged');
  assert.match(site?.detail ?? '', /newest deployment skipped \(path_config\)/);
}

describe('demo', { concurrency: true }, () => {
  let dir: TempDir;
  before(async () => {
    dir = await tempDir();
  });
  after(async () => {
    await dir.remove();
  });

  it('`npm start` in a fresh build with no registry runs the demo and shows every promised state', async () => {
    // A stand-in for `npm ci` in a clean clone: package.json, the dependencies, and dist/ built by tsc.
    const clone = join(dir.path, 'clone');
    const build = spawnSync(
      process.execPath,
      [
        join(REPO_ROOT, 'node_modules/typescript/bin/tsc'),
        '-p',
        join(REPO_ROOT, 'tsconfig.build.json'),
        '--outDir',
        join(clone, 'dist'),
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    assert.ok(existsSync(join(clone, 'dist/main.js')), `tsc emitted nothing: ${build.stdout}${build.stderr}`);
    await copyFile(join(REPO_ROOT, 'package.json'), join(clone, 'package.json'));
    await symlink(join(REPO_ROOT, 'node_modules'), join(clone, 'node_modules'), 'dir');

    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      LISTEN_ADDRESS: '127.0.0.1:0',
    };
    // Its own process group, so that stopping it stops npm and the node it started, by id.
    const child = spawn('npm', ['start', '--silent'], {
      cwd: clone,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += String(chunk);
    });
    child.stderr.on('data', (chunk) => {
      stderr += String(chunk);
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const banner = await waitFor(() => parseBanner(stdout), {
        timeoutMs: 20_000,
        what: `the demo banner (stderr: ${stderr})`,
      });
      // The status page URL comes first: in the first line naming a URL (the banner's or the demo's log
      // line, whichever reaches stdout first), and atop the banner.
      const lines = stdout.split('\n');
      const page = /status page +(http:\/\/127\.0\.0\.1:\d+\/status)/.exec(
        lines.find((line) => line.includes('http://')) ?? '',
      );
      assert.ok(page?.[1], stdout);
      const bannerTop = lines.find((line) => line.trim() !== '' && !line.startsWith('{'));
      assert.equal(bannerTop, `status page    ${page[1]}`);
      assert.match(await (await fetch(page[1])).text(), /data-surface="api-prod"/);
      assert.match(stdout, /surface-exporter demo: no registry given/);
      assert.match(stdout, /cp examples\/surfaces\.yaml surfaces\.yaml/);
      assert.match(stdout, /health +http:\/\/127\.0\.0\.1:\d+\/health/);
      assert.match(
        stdout,
        /poller status +curl -s -H 'Authorization: Bearer \S+' http:\/\/127\.0\.0\.1:\d+\/api\/_internal\/poller-status/,
      );
      await assertEveryPromisedState(banner);
    } finally {
      if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGTERM');
      const timer = setTimeout(() => child.pid !== undefined && process.kill(-child.pid, 'SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
  });

  it('--demo runs the demo even next to a registry, and uses a FORCE_POLL_TOKEN already set', async () => {
    const cwd = join(dir.path, 'with-registry');
    await mkdir(cwd);
    await dir.file('with-registry/surfaces.yaml', {
      environments: { prod: [{ name: 'local', provider: 'http', url: 'http://127.0.0.1:9/' }] },
    });
    const token = 'operator-chosen-token-123456';
    const child = spawnCli(['--demo'], {
      cwd,
      env: { LISTEN_ADDRESS: '127.0.0.1:0', FORCE_POLL_TOKEN: token },
    });
    try {
      const banner = await waitFor(() => parseBanner(child.stdout()), {
        timeoutMs: 15_000,
        what: 'the demo banner',
      });
      assert.equal(banner.token, '$FORCE_POLL_TOKEN', 'a token the operator set is not echoed');
      assert.ok(!child.stdout().includes(token));
      await assertEveryPromisedState({ ...banner, token });
      const metrics = await (await fetch(`${banner.base}/metrics`)).text();
      assert.ok(!metrics.includes('surface="local"'), 'the registry next to it is not used');
    } finally {
      const { code } = await child.stop();
      assert.equal(code, 0, child.stderr());
    }
  });
});

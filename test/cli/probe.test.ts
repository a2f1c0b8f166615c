import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ProbeReport } from '../../src/cli/probe.js';
import { startTarget } from '../helpers/support.js';
import {
  assertNoSecret,
  cli,
  type Scenario,
  spawnCli,
  startScenario,
  type TempDir,
  tempDir,
} from './support.js';

const REPORT_KEYS = [
  'checked_at',
  'code',
  'conditions',
  'detail',
  'duration_ms',
  'env',
  'http',
  'provider',
  'status',
  'surface',
  'target',
];
const STEP_KEYS = [
  'duration_ms',
  'failure',
  'location',
  'message',
  'method',
  'phases_ms',
  'status',
  'tls',
  'truncated',
  'url',
];

describe('probe', () => {
  let scenario: Scenario;
  let dir: TempDir;
  let registryFile: string;
  before(async () => {
    scenario = await startScenario();
    dir = await tempDir();
    registryFile = await dir.file('surfaces.yaml', scenario.registry);
  });
  after(async () => {
    await scenario.close();
    await dir.remove();
  });

  const probe = (...args: string[]) => cli(['probe', '--config', registryFile, ...args], scenario.env);

  const cases: Array<{ surface: string; exit: number; status: string; code: string | null; calls: number }> =
    [
      { surface: 'prod/api', exit: 0, status: 'up', code: null, calls: 4 },
      { surface: 'api-502', exit: 1, status: 'degraded', code: 'health_http_502', calls: 4 },
      { surface: 'api-no-web', exit: 2, status: 'down', code: 'no_web_dyno', calls: 3 },
      { surface: 'site', exit: 0, status: 'up', code: null, calls: 1 },
      { surface: 'site-failed', exit: 1, status: 'degraded', code: 'deploy_failure', calls: 1 },
      { surface: 'site-building', exit: 1, status: 'degraded', code: 'deploy_building', calls: 1 },
      { surface: 'vault', exit: 0, status: 'up', code: null, calls: 1 },
      { surface: 'console-gated', exit: 1, status: 'degraded', code: 'access_gate_redirect', calls: 1 },
      { surface: 'console-unset', exit: 1, status: 'degraded', code: 'skipped_credentials', calls: 0 },
    ];
  for (const expected of cases) {
    it(`${expected.surface}: ${expected.code ?? 'UP'} exits ${expected.exit}, as JSON`, async () => {
      const run = await probe('--json', expected.surface);
      assert.equal(run.code, expected.exit, run.stderr);
      const report = JSON.parse(run.stdout) as ProbeReport;
      assert.deepEqual(Object.keys(report).sort(), REPORT_KEYS);
      assert.equal(report.status, expected.status);
      assert.equal(report.code, expected.code);
      assert.equal(typeof report.detail, 'string');
      assert.ok(!Number.isNaN(Date.parse(report.checked_at)));
      assert.equal(report.http.length, expected.calls, JSON.stringify(report.http));
      for (const step of report.http) {
        assert.deepEqual(Object.keys(step).sort(), STEP_KEYS);
        assert.equal(step.method, 'GET');
        assert.match(step.url, /^http:\/\/127\.0\.0\.1:\d+\//);
        assert.equal(typeof step.duration_ms, 'number');
      }
      assertNoSecret(run.stdout + run.stderr, scenario.secrets);
    });
  }

  it('prints each call, the decision and the result for a person', async () => {
    const run = await probe('api-502');
    assert.equal(run.code, 1);
    // Each call's details (phases, certificate) sit on lines of their own, indented further.
    const details = run.stdout.split('\n').filter((line) => line.startsWith('     '));
    assert.match(
      details.at(-1) ?? '',
      /^ {5}phases: resolve [\d.]+ ms, connect [\d.]+ ms, tls 0 ms, processing [\d.]+ ms, transfer [\d.]+ ms$/,
    );
    const lines = run.stdout
      .trimEnd()
      .split('\n')
      .filter((line) => !line.startsWith('     '));
    assert.match(lines[0] ?? '', /^prod\/api-502 {2}heroku_app {2}heroku app app-502/);
    assert.match(
      lines[1] ?? '',
      /^ {2}1\. GET http:\/\/127\.0\.0\.1:\d+\/apps\/app-502 -> HTTP 200 in \d+ ms$/,
    );
    assert.match(
      lines[4] ?? '',
      /^ {2}4\. GET http:\/\/127\.0\.0\.1:\d+\/app-502\/health -> HTTP 502 in \d+ ms$/,
    );
    assert.match(lines[5] ?? '', /^ {2}decision: health check answered HTTP 502/);
    assert.match(lines[6] ?? '', /^ {2}result: {3}DEGRADED health_http_502 \(\d+ ms\)$/);

    const gated = await probe('console-gated');
    assert.match(
      gated.stdout,
      /HTTP 302 to https:\/\/myteam\.cloudflareaccess\.com\/cdn-cgi\/access\/login\/console\.test\.invalid\?kid=\*\*\*/,
      'the redirect is shown, its query values masked',
    );
    assertNoSecret(run.stdout + gated.stdout, scenario.secrets);
  });

  it('probe --all prints one line per surface and exits with the worst status', async () => {
    const run = await probe('--all');
    assert.equal(run.code, 2, 'one surface is DOWN');
    const lines = run.stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^ENV\s+SURFACE\s+PROVIDER\s+STATUS\s+CODE\s+TIME\s+DETAIL$/);
    assert.equal(lines.length, 1 + 10);
    assert.match(run.stdout, /prod\s+api-no-web\s+heroku_app\s+DOWN\s+no_web_dyno/);
    assert.match(run.stdout, /staging\s+api\s+heroku_app\s+UP/);

    const prodOnlyDegraded = await cli(
      ['probe', '--config', registryFile, '--all', '--env', 'staging', '--json'],
      scenario.env,
    );
    assert.equal(prodOnlyDegraded.code, 0);
    const json = JSON.parse(prodOnlyDegraded.stdout) as { surfaces: ProbeReport[] };
    assert.deepEqual(
      json.surfaces.map((report) => `${report.env}/${report.surface}`),
      ['staging/api'],
    );
    assertNoSecret(run.stdout + run.stderr, scenario.secrets);
  });

  it('exits 3 on usage errors', async () => {
    const usage = async (args: string[], message: RegExp) => {
      const run = await probe(...args);
      assert.equal(run.code, 3, `${args.join(' ')}: ${run.stdout}`);
      assert.match(run.stderr, message);
    };
    await usage([], /exactly one SURFACE/);
    await usage(['api', 'site'], /exactly one SURFACE/);
    await usage(['--all', 'api'], /exactly one SURFACE/);
    await usage(['api'], /several environments; name one of prod\/api, staging\/api/);
    await usage(['nope'], /no surface "nope"/);
    await usage(['--env', 'prod', 'staging/api'], /contradicts/);
    await usage(['--bogus'], /Unknown option/);
    const invalid = await dir.file('invalid.yaml', {
      environments: { prod: [{ name: 'x', provider: 'nope' }] },
    });
    const run = await cli(['probe', '--config', invalid, 'x'], scenario.env);
    assert.equal(run.code, 3);
    assert.match(run.stderr, /unknown or missing provider/);
  });

  it('masks credentials carried in a URL and in the environment', async () => {
    const target = await startTarget((_req, res) => {
      res.statusCode = 503;
      res.end('down');
    });
    try {
      const secretQuery = 'query-secret-0123456789';
      const file = await dir.file('userinfo.yaml', {
        environments: {
          prod: [
            {
              name: 'legacy',
              provider: 'http',
              url: `${target.url}/health?token=${secretQuery}`,
            },
          ],
        },
      });
      const run = await cli(['probe', '--config', file, 'legacy', '--json'], scenario.env);
      assert.equal(run.code, 1);
      const report = JSON.parse(run.stdout) as ProbeReport;
      assert.equal(report.code, 'health_http_503');
      assert.match(report.http[0]?.url ?? '', /\/health\?token=\*\*\*$/);
      assertNoSecret(run.stdout + run.stderr, [secretQuery]);
      // Userinfo would never be sent: the registry is refused, the password masked in the error.
      const withUserinfo = await dir.file('userinfo-refused.yaml', {
        environments: {
          prod: [
            {
              name: 'legacy',
              provider: 'http',
              url: target.url.replace('http://', 'http://admin:pa55word-secret@'),
            },
          ],
        },
      });
      const refused = await cli(['probe', '--config', withUserinfo, 'legacy'], scenario.env);
      assert.equal(refused.code, 3);
      assert.match(
        refused.stderr,
        /environments\.prod\[0\]\.url: .*user:password@.*\(got "http:\/\/\*\*\*@127\.0\.0\.1/,
      );
      assertNoSecret(refused.stdout + refused.stderr, ['pa55word-secret', 'admin:']);
    } finally {
      await target.close();
    }
  });

  it('runs as the real binary with the documented exit codes', async () => {
    const down = spawnCli(['probe', '--config', registryFile, 'api-no-web'], { env: scenario.env });
    const degraded = spawnCli(['probe', '--config', registryFile, 'console-unset'], { env: scenario.env });
    const usage = spawnCli(['probe', '--config', registryFile], { env: scenario.env });
    assert.equal((await down.exited).code, 2, down.stderr());
    assert.equal((await degraded.exited).code, 1, degraded.stderr());
    assert.equal((await usage.exited).code, 3, usage.stderr());
    assert.match(down.stdout(), /result: {3}DOWN no_web_dyno/);
    assertNoSecret(down.stdout() + down.stderr() + degraded.stdout() + degraded.stderr(), scenario.secrets);
  });
});

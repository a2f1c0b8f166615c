import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  assertNoSecret,
  cli,
  HEROKU_KEY,
  type Scenario,
  startScenario,
  type TempDir,
  tempDir,
} from './support.js';

interface CheckJson {
  file: string;
  valid: boolean;
  problems: Array<{ file: string; path: string; message: string; value?: string }>;
  surfaces?: number;
  online?: Array<{ check: string; subject: string; result: string; severity: string; detail: string }>;
}

describe('check-config', () => {
  let dir: TempDir;
  before(async () => {
    dir = await tempDir();
  });
  after(async () => {
    await dir.remove();
  });

  it('accepts a valid registry with exit 0 and a summary', async () => {
    const file = await dir.file('good.yaml', {
      environments: {
        prod: [
          { name: 'api', provider: 'http', url: 'https://api.example.com/health' },
          { name: 'vault', provider: 'infisical', url: 'https://vault.example.com' },
        ],
        staging: [{ name: 'api', provider: 'heroku_app', app: 'example-api-staging' }],
      },
    });
    const run = await cli(['check-config', file]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /good\.yaml: valid, 3 surface\(s\) \(prod: 2, staging: 1\)/);
  });

  it('--online with only http surfaces says that no online check applies, and points to probe --all', async () => {
    const file = await dir.file('http-only.yaml', {
      environments: { prod: [{ name: 'api', provider: 'http', url: 'http://127.0.0.1:9/health' }] },
    });
    const run = await cli(['check-config', '--online', file]);
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stdout, /every online check passed/);
    assert.match(run.stdout, /no online check applies to these surfaces .*`surface-exporter probe --all`/);
  });

  it('lists every problem with file, path and value, and exits 1', async () => {
    const file = await dir.file(
      'bad.yaml',
      [
        'poller:',
        '  interval_seconds: 5',
        '  timeout_seconds: 9',
        'environments:',
        '  prod:',
        '    - name: Bad_Name',
        '      provider: http',
        '      url: not-a-url',
        '    - name: pages',
        '      provider: cloudflare_pages',
        '      project: site',
        '      enviroment: production',
        '    - name: thing',
        '      provider: carrier_pigeon',
        '',
      ].join('\n'),
    );
    const run = await cli(['check-config', file]);
    assert.equal(run.code, 1);
    const table = run.stdout;
    assert.match(table, /FILE\s+PATH\s+PROBLEM\s+VALUE/);
    const expected: Array<[string, RegExp, string]> = [
      ['poller.timeout_seconds', /less than interval_seconds/, '9'],
      ['environments.prod[0].name', /lowercase letters/, '"Bad_Name"'],
      ['environments.prod[0].url', /http\(s\) URL/, '"not-a-url"'],
      ['environments.prod[1].enviroment', /unknown key/, '-'],
      ['environments.prod[2].provider', /unknown or missing provider/, '"carrier_pigeon"'],
    ];
    for (const [path, message, value] of expected) {
      const line = table.split('\n').find((candidate) => candidate.includes(` ${path} `));
      assert.ok(line, `no line for ${path} in:\n${table}`);
      assert.ok(line.startsWith(file), `the line names the file: ${line}`);
      assert.match(line, message);
      assert.ok(line.trimEnd().endsWith(value), `value ${value} on: ${line}`);
    }

    const json = await cli(['check-config', '--json', '--config', file]);
    assert.equal(json.code, 1);
    const report = JSON.parse(json.stdout) as CheckJson;
    assert.equal(report.valid, false);
    assert.equal(report.problems.length, expected.length);
    assert.deepEqual(
      report.problems.map((problem) => problem.path).sort(),
      expected.map(([path]) => path).sort(),
    );
    assert.ok(report.problems.every((problem) => problem.file === file));
  });

  it('never prints a secret pasted into the registry', async () => {
    const pasted = 'HRKU-AAAAbbbbCCCCddddEEEEffff0123456789';
    const file = await dir.file('pasted.yaml', {
      environments: {
        prod: [
          { name: 'api', provider: 'heroku_app', app: 'example-api', api_key_env: pasted },
          { name: 'web', provider: 'http', url: 'ftp://deploy:hunter2secret@example.com/health' },
        ],
      },
    });
    const run = await cli(['check-config', file]);
    assert.equal(run.code, 1);
    assert.match(run.stdout, /environments\.prod\[0\]\.api_key_env/);
    assert.match(run.stdout, /<hidden: \d+ characters/);
    assert.match(run.stdout, /ftp:\/\/\*\*\*@example\.com/);
    assertNoSecret(run.stdout + run.stderr, [pasted, 'hunter2secret']);
  });

  it('reports a missing file with exit 1 and no registry at all as a usage error (3)', async () => {
    const missing = await cli(['check-config', `${dir.path}/nope.yaml`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, /file not found/);
    const none = await cli(['check-config'], {});
    assert.equal(none.code, 3);
    assert.match(none.stderr, /no registry/);
    const twoFiles = await cli(['check-config', 'a.yaml', 'b.yaml']);
    assert.equal(twoFiles.code, 3);
  });

  describe('--online, against the provider fakes', () => {
    let scenario: Scenario;
    before(async () => {
      scenario = await startScenario();
    });
    after(async () => {
      await scenario.close();
    });

    const onlineRegistry = (s: Scenario) => ({
      environments: {
        prod: [
          { name: 'api', provider: 'heroku_app', app: 'app-up' },
          { name: 'ghost-app', provider: 'heroku_app', app: 'app-deleted' },
          { name: 'site', provider: 'cloudflare_pages', project: 'site-ok' },
          { name: 'ghost-site', provider: 'cloudflare_pages', project: 'site-renamed' },
          { name: 'vault', provider: 'infisical', url: s.vaultGate.url, access_token_env: 'CF_ACCESS_VAULT' },
        ],
      },
    });

    it('flags an internal-routing (Private Space) app probed without health_url, and a suspended account', async () => {
      scenario.heroku.addApp({ name: 'app-private', privateSpace: { internalRouting: true } });
      scenario.heroku.addApp({ name: 'app-private-ok', privateSpace: { internalRouting: true } });
      const file = await dir.file('private.yaml', {
        environments: {
          prod: [
            { name: 'private', provider: 'heroku_app', app: 'app-private' },
            {
              name: 'private-ok',
              provider: 'heroku_app',
              app: 'app-private-ok',
              health_url: 'https://internal.example.com/health',
            },
          ],
        },
      });
      const run = await cli(['check-config', '--online', '--json', file], scenario.env);
      const checks = (JSON.parse(run.stdout) as CheckJson).online ?? [];
      const find = (subject: string) =>
        checks.find((candidate) => candidate.check === 'heroku_app' && candidate.subject === subject);
      assert.equal(find('app-private')?.severity, 'warn', JSON.stringify(find('app-private')));
      assert.match(find('app-private')?.detail ?? '', /internal routing .* set health_url/);
      assert.equal(find('app-private-ok')?.severity, 'ok');

      scenario.heroku.failWith(403, 'suspended', 'This account has been suspended.');
      try {
        const suspended = await cli(['check-config', '--online', '--json', file], scenario.env);
        const found = ((JSON.parse(suspended.stdout) as CheckJson).online ?? []).find(
          (candidate) => candidate.subject === 'app-private',
        );
        assert.match(found?.detail ?? '', /suspended or delinquent .*not a key to rotate/);
      } finally {
        scenario.heroku.failWith(undefined);
      }
    });

    it('finds the app and the project missing from their accounts and accepts the credentials', async () => {
      const file = await dir.file('online.yaml', onlineRegistry(scenario));
      const run = await cli(['check-config', '--online', '--json', file], scenario.env);
      assert.equal(run.code, 1, run.stderr);
      const checks = (JSON.parse(run.stdout) as CheckJson).online ?? [];
      const find = (check: string, subject: string) =>
        checks.find((candidate) => candidate.check === check && candidate.subject === subject);
      assert.equal(find('heroku_app', 'app-up')?.result, 'ok');
      assert.equal(find('heroku_app', 'app-deleted')?.result, 'missing');
      assert.equal(find('pages_project', 'site-ok')?.result, 'ok');
      const renamed = find('pages_project', 'site-renamed');
      assert.equal(renamed?.result, 'missing');
      assert.match(
        renamed?.detail ?? '',
        /not in the registry: .*not-in-registry/,
        'lists what the account has',
      );
      for (const variable of [
        'HEROKU_API_KEY',
        'CLOUDFLARE_PAGES_READ_TOKEN',
        'CLOUDFLARE_ACCOUNT_ID',
        'CF_ACCESS_VAULT',
      ]) {
        assert.equal(
          find('credential', variable)?.result,
          'ok',
          `${variable}: ${JSON.stringify(find('credential', variable))}`,
        );
      }
      assert.equal(checks.filter((check) => check.severity === 'fail').length, 2);
      assertNoSecret(run.stdout + run.stderr, scenario.secrets);

      const table = await cli(['check-config', '--online', file], scenario.env);
      assert.equal(table.code, 1);
      assert.match(table.stdout, /heroku_app\s+app-deleted\s+MISSING/);
      assert.match(table.stdout, /pages_project\s+site-renamed\s+MISSING/);
      assert.match(table.stdout, /2 online check\(s\) failed/);
      assertNoSecret(table.stdout, scenario.secrets);
      assert.ok(
        !table.stdout.includes(scenario.cloudflare.accountId),
        'the account id is masked in URLs and details',
      );
    });

    it('passes with exit 0 when every app, project and token is good', async () => {
      const registry = onlineRegistry(scenario);
      registry.environments.prod = registry.environments.prod.filter(
        (surface) => !surface.name.startsWith('ghost'),
      );
      const file = await dir.file('online-good.yaml', registry);
      const run = await cli(['check-config', '--online', file], scenario.env);
      assert.equal(run.code, 0, run.stdout);
      assert.match(run.stdout, /every online check passed/);
    });

    it('reports rejected tokens: a revoked Cloudflare token, an unknown Heroku key, an un-enrolled Access token', async () => {
      const consoleToken = scenario.consoleGate.createServiceToken();
      const registry = onlineRegistry(scenario);
      registry.environments.prod.push({
        name: 'console',
        provider: 'http',
        url: `${scenario.consoleGate.url}/app-up/health`,
        access_token_env: 'CF_ACCESS_NOT_ENROLLED',
      } as (typeof registry.environments.prod)[number]);
      const file = await dir.file('rejected.yaml', registry);
      const revoked = 'cf-revoked-token-abcdefghijklmnopqrstuvwxyz';
      const env = {
        ...scenario.env,
        HEROKU_API_KEY: 'HRKU-not-a-key-of-this-account-000000000',
        CLOUDFLARE_PAGES_READ_TOKEN: revoked,
        CF_ACCESS_NOT_ENROLLED: `${consoleToken.clientId}:${consoleToken.clientSecret}`,
      };
      const run = await cli(['check-config', '--online', '--json', file], env);
      assert.equal(run.code, 1);
      const checks = (JSON.parse(run.stdout) as CheckJson).online ?? [];
      const credential = (variable: string) =>
        checks.find((check) => check.check === 'credential' && check.subject === variable);
      assert.equal(credential('HEROKU_API_KEY')?.result, 'rejected');
      assert.match(credential('HEROKU_API_KEY')?.detail ?? '', /HTTP 401/);
      assert.equal(credential('CLOUDFLARE_PAGES_READ_TOKEN')?.result, 'rejected');
      assert.match(credential('CLOUDFLARE_PAGES_READ_TOKEN')?.detail ?? '', /10000/);
      assert.equal(credential('CF_ACCESS_NOT_ENROLLED')?.result, 'rejected');
      const gate = checks.find(
        (check) => check.check === 'access_token' && check.subject.startsWith('CF_ACCESS_NOT_ENROLLED'),
      );
      assert.match(gate?.detail ?? '', /Access login/);
      assert.equal(credential('CF_ACCESS_VAULT')?.result, 'ok');
      assertNoSecret(run.stdout + run.stderr, [
        ...scenario.secrets,
        env.HEROKU_API_KEY,
        revoked,
        consoleToken.clientId,
        consoleToken.clientSecret,
      ]);
    });

    it('reports unset and malformed credentials without calling anything', async () => {
      const file = await dir.file('malformed.yaml', onlineRegistry(scenario));
      scenario.heroku.resetCalls();
      const run = await cli(['check-config', '--online', '--json', file], {
        ...scenario.env,
        HEROKU_API_KEY: undefined,
        CLOUDFLARE_ACCOUNT_ID: 'my-account',
        CF_ACCESS_VAULT: 'only-a-client-id',
      });
      assert.equal(run.code, 1);
      const checks = (JSON.parse(run.stdout) as CheckJson).online ?? [];
      const result = (subject: string) => checks.find((check) => check.subject === subject)?.result;
      assert.equal(result('HEROKU_API_KEY'), 'unset');
      assert.equal(result('CLOUDFLARE_ACCOUNT_ID'), 'malformed');
      assert.equal(result('CF_ACCESS_VAULT'), 'malformed');
      assert.equal(result('app-up'), 'unverified');
      assert.equal(scenario.heroku.calls(), 0, 'no Heroku call without a key');
      assertNoSecret(run.stdout, [HEROKU_KEY, 'only-a-client-id']);
    });
  });
});

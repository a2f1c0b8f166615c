import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ListedSurface } from '../../src/cli/list.js';
import { assertNoSecret, cli, type TempDir, tempDir } from './support.js';

describe('list', () => {
  let dir: TempDir;
  let file: string;
  before(async () => {
    dir = await tempDir();
    file = await dir.file('surfaces.yaml', {
      environments: {
        prod: [
          { name: 'api', provider: 'heroku_app', app: 'example-api', access_token_env: 'CF_ACCESS_API' },
          { name: 'site', provider: 'cloudflare_pages', project: 'example-site' },
        ],
        staging: [
          {
            name: 'ping',
            provider: 'http',
            url: 'https://ping.example.com/health?key=abc123secret',
          },
        ],
      },
    });
  });
  after(async () => {
    await dir.remove();
  });

  const env = {
    HEROKU_API_KEY: 'HRKU-list-secret-value-0000000000',
    CLOUDFLARE_ACCOUNT_ID: '0123456789abcdef0123456789abcdef',
  };

  it('prints env, surface, provider, target and which credential variables are set, never their values', async () => {
    const run = await cli(['list', '--config', file], env);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^ENV\s+SURFACE\s+PROVIDER\s+TARGET\s+CREDENTIALS$/);
    assert.match(
      lines[1] ?? '',
      /^prod\s+api\s+heroku_app\s+heroku app example-api.*HEROKU_API_KEY \(set\), CF_ACCESS_API \(UNSET\)$/,
    );
    assert.match(
      lines[2] ?? '',
      /^prod\s+site\s+cloudflare_pages\s+.*CLOUDFLARE_PAGES_READ_TOKEN \(UNSET\), CLOUDFLARE_ACCOUNT_ID \(set\)$/,
    );
    assert.match(
      lines[3] ?? '',
      /^staging\s+ping\s+http\s+https:\/\/ping\.example\.com\/health\?key=\*\*\*\s+-$/,
    );
    assertNoSecret(run.stdout, [...Object.values(env), 'pw-secret', 'abc123secret']);
  });

  it('--json and --env', async () => {
    const run = await cli(['list', '--config', file, '--json', '--env', 'prod'], env);
    assert.equal(run.code, 0);
    const listed = (JSON.parse(run.stdout) as { surfaces: ListedSurface[] }).surfaces;
    assert.deepEqual(
      listed.map((surface) => [surface.env, surface.surface, surface.provider]),
      [
        ['prod', 'api', 'heroku_app'],
        ['prod', 'site', 'cloudflare_pages'],
      ],
    );
    assert.deepEqual(listed[0]?.credentials, [
      { variable: 'HEROKU_API_KEY', set: true },
      { variable: 'CF_ACCESS_API', set: false },
    ]);
    assertNoSecret(run.stdout, Object.values(env));
  });

  it('exits 1 on an invalid registry and 3 on a bad flag', async () => {
    const bad = await dir.file('bad.yaml', 'environments: [');
    assert.equal((await cli(['list', '--config', bad])).code, 1);
    assert.equal((await cli(['list', '--config', file, '--nope'])).code, 3);
  });
});

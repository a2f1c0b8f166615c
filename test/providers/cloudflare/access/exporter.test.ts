import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEMO_CREDENTIALS, type RunningDemo, startDemo } from '../../../../src/demo/demo.js';
import { sampleValue } from '../../../helpers/exporter.js';
import { captureLogs, waitFor } from '../../../helpers/support.js';

const DAY_S = 86_400;

interface StatusSurface {
  env: string;
  surface: string;
  status: string;
  credentials?: Array<{
    variable: string;
    valid: boolean;
    expires_at: string | null;
    enrolled: boolean | null;
    application: string | null;
    stale: boolean;
  }>;
}

describe('the credential watch in the running exporter (the demo)', () => {
  let demo: RunningDemo;
  const { log, capture } = captureLogs('debug');

  before(async () => {
    demo = await startDemo({
      env: {},
      log,
      listen: { host: '127.0.0.1', port: 0 },
      pollerEnabled: true,
    });
  });
  after(async () => {
    await demo?.stop();
  });

  const metrics = async () => (await fetch(`${demo.exporter.url}/metrics`)).text();
  const status = async () => {
    const res = await fetch(`${demo.exporter.url}/api/_internal/poller-status`, {
      headers: { authorization: `Bearer ${demo.operatorToken}` },
    });
    assert.equal(res.status, 200);
    return (await res.json()) as { surfaces: StatusSurface[] };
  };

  it('shows one token expiring in 5 days and one not enrolled, per variable and per surface', async () => {
    const text = await waitFor(
      async () => {
        const out = await metrics();
        return (
          sampleValue(out, 'surface_access_token_enrolled', { surface: 'console-public' }) !== undefined &&
          out
        );
      },
      { timeoutMs: 10_000, what: 'the first credential read' },
    );
    const vault = { variable: 'CF_ACCESS_SERVICE_TOKEN_VAULT' };
    const expiry = sampleValue(text, 'surface_credential_expiry_timestamp_seconds', vault) ?? 0;
    const daysLeft = Math.floor((expiry - Date.now() / 1000) / DAY_S);
    assert.equal(daysLeft, DEMO_CREDENTIALS.CF_ACCESS_SERVICE_TOKEN_VAULT.expiresInDays);
    assert.equal(sampleValue(text, 'surface_credential_valid', vault), 1);
    assert.equal(
      sampleValue(text, 'surface_access_token_enrolled', {
        env: 'prod',
        surface: 'vault',
        variable: vault.variable,
      }),
      1,
    );
    assert.equal(
      sampleValue(text, 'surface_access_token_enrolled', {
        env: 'prod',
        surface: 'console-public',
        variable: 'CF_ACCESS_SERVICE_TOKEN_CONSOLE',
      }),
      0,
    );
    // The unset variable of staging/console-public has no lifecycle series: it is skipped_credentials.
    assert.equal(
      sampleValue(text, 'surface_credential_valid', { variable: 'CF_ACCESS_SERVICE_TOKEN_CONSOLE_STAGING' }),
      undefined,
    );
    assert.equal(
      sampleValue(text, 'surface_credential_valid', { variable: 'CLOUDFLARE_PAGES_READ_TOKEN' }),
      1,
    );
    assert.equal(
      sampleValue(text, 'surface_credential_valid', { variable: 'CLOUDFLARE_ACCESS_MGMT_TOKEN' }),
      1,
    );
    // The alerts word the fix by kind: a Pages token or a Heroku key is not refreshed like an Access token.
    const kinds = {
      CF_ACCESS_SERVICE_TOKEN_VAULT: 'access_service_token',
      CLOUDFLARE_PAGES_READ_TOKEN: 'cloudflare_api_token',
      CLOUDFLARE_ACCESS_MGMT_TOKEN: 'cloudflare_api_token',
      HEROKU_API_KEY: 'heroku_api_key',
    };
    for (const [variable, kind] of Object.entries(kinds))
      assert.equal(sampleValue(text, 'surface_credential_valid', { variable, kind }), 1, variable);
  });

  it('poller-status carries each surface’s credentials, and the watch never changes a status', async () => {
    const { surfaces } = await status();
    const find = (env: string, surface: string) =>
      surfaces.find((candidate) => candidate.env === env && candidate.surface === surface);
    // A token 5 days from expiry, and one outside every policy, change no status: the probes decide.
    await waitFor(async () => (await status()).surfaces.every((one) => one.status !== 'unknown'), {
      timeoutMs: 15_000,
      what: 'every surface probed once',
    });
    const probed = (await status()).surfaces;
    assert.equal(probed.find((one) => one.env === 'prod' && one.surface === 'vault')?.status, 'up');
    const vault = find('prod', 'vault')?.credentials?.[0];
    assert.equal(vault?.variable, 'CF_ACCESS_SERVICE_TOKEN_VAULT');
    assert.equal(vault?.enrolled, true);
    assert.equal(vault?.application, 'vault');
    assert.ok(vault?.expires_at && Date.parse(vault.expires_at) > Date.now());
    const console = find('prod', 'console-public')?.credentials?.[0];
    assert.equal(console?.enrolled, false);
    assert.equal(console?.application, 'console');
    const site = find('prod', 'site')?.credentials?.[0];
    assert.equal(site?.variable, 'CLOUDFLARE_PAGES_READ_TOKEN');
    assert.equal(site?.expires_at, null);
    const heroku = find('prod', 'api-prod')?.credentials?.[0];
    assert.equal(heroku?.variable, 'HEROKU_API_KEY');
    assert.equal(heroku?.valid, true);
    // A surface whose only credential is unset carries no field at all.
    assert.equal(find('staging', 'console-public')?.credentials, undefined);
  });

  it('never shows a client secret or an API token: metrics, poller-status, logs', async () => {
    const env = demo.env;
    const secrets = [
      env.CLOUDFLARE_ACCESS_MGMT_TOKEN,
      env.CLOUDFLARE_PAGES_READ_TOKEN,
      env.HEROKU_API_KEY,
      env.CF_ACCESS_SERVICE_TOKEN_VAULT?.split(':')[1],
      env.CF_ACCESS_SERVICE_TOKEN_CONSOLE?.split(':')[1],
    ].filter((value): value is string => typeof value === 'string' && value.length > 8);
    assert.equal(secrets.length, 5);
    const outputs = [await metrics(), JSON.stringify(await status()), capture.text()].join('\n');
    for (const secret of secrets) assert.equal(outputs.includes(secret), false, 'a secret leaked');
  });
});

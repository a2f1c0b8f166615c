import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type CloudflareFake, startCloudflareApi } from '../../../../src/providers/cloudflare/fake.js';
import { assertNoSecret, cli, type TempDir, tempDir } from '../../../cli/support.js';
import { closedPort } from '../../../helpers/support.js';

const MGMT = 'mgmt-token-online-0123456789abcdef';
const PAGES = 'pages-token-online-0123456789abcdef';
const DAY_MS = 86_400_000;

describe('check-config --online: credential watch rows', () => {
  let fake: CloudflareFake;
  let dir: TempDir;
  let env: Record<string, string>;
  let secrets: string[];
  let port: number;

  before(async () => {
    dir = await tempDir();
    port = await closedPort();
    fake = await startCloudflareApi({ tokens: [MGMT, PAGES] });
    const console = fake.access.addServiceToken({
      name: 'console-agent',
      // Half a day of margin, so "5 days" holds however long the CLI takes to start.
      expiresAt: new Date(Date.now() + 5 * DAY_MS + DAY_MS / 2),
    });
    const vault = fake.access.addServiceToken({ name: 'vault-agent', expiresAt: null });
    fake.access.addApplication({
      name: 'console',
      domain: '127.0.0.1/console',
      policies: [
        { name: 'staff', decision: 'allow', include: [{ email: { email: 'ops@example.com' } }] },
        { name: 'robots', decision: 'non_identity', include: [{ service_token: { token_id: vault.id } }] },
      ],
    });
    fake.access.addApplication({
      name: 'vault',
      domain: '127.0.0.1/vault',
      policies: [
        { name: 'agents', decision: 'non_identity', include: [{ service_token: { token_id: vault.id } }] },
      ],
    });
    secrets = [MGMT, PAGES, 'console-secret-online-abcdef123', 'vault-secret-online-abcdef456'];
    env = {
      CLOUDFLARE_API_URL: fake.url,
      CLOUDFLARE_ACCOUNT_ID: fake.accountId,
      CLOUDFLARE_ACCESS_MGMT_TOKEN: MGMT,
      CLOUDFLARE_PAGES_READ_TOKEN: PAGES,
      CF_ACCESS_SERVICE_TOKEN_CONSOLE: `${console.clientId}:${secrets[2]}`,
      CF_ACCESS_SERVICE_TOKEN_VAULT: `${vault.clientId}:${secrets[3]}`,
    };
  });
  after(async () => {
    await fake.close();
    await dir.remove();
  });

  const registry = () => ({
    environments: {
      prod: [
        // --online also sends the Access tokens to these URLs: a closed loopback port refuses them.
        {
          name: 'console',
          provider: 'http',
          url: `http://127.0.0.1:${port}/console/health`,
          access_token_env: 'CF_ACCESS_SERVICE_TOKEN_CONSOLE',
        },
        {
          name: 'elsewhere',
          provider: 'http',
          url: `http://127.0.0.1:${port}/elsewhere/health`,
          access_token_env: 'CF_ACCESS_SERVICE_TOKEN_VAULT',
        },
        {
          name: 'vault',
          provider: 'heroku_app',
          app: 'vault',
          access_token_env: 'CF_ACCESS_SERVICE_TOKEN_VAULT',
          access_app: 'vault',
        },
      ],
    },
  });

  it('prints a row per finding: expiry, enrollment, an uncovered URL', async () => {
    const file = await dir.file('lifecycle.yaml', registry());
    const run = await cli(['check-config', '--online', file], {
      ...env,
      // Keep the other online checks off the network: only the Cloudflare fake answers.
      HEROKU_API_URL: 'http://127.0.0.1:9',
    });
    const table = run.stdout;
    assert.match(
      table,
      /credential_expiry\s+CF_ACCESS_SERVICE_TOKEN_CONSOLE\s+ERROR\s+token for CF_ACCESS_SERVICE_TOKEN_CONSOLE expires in 5 days/,
    );
    assert.match(
      table,
      /access_enrollment\s+CF_ACCESS_SERVICE_TOKEN_CONSOLE @ console\s+REJECTED\s+token in no Service Auth policy of application console/,
    );
    assert.match(
      table,
      /access_enrollment\s+CF_ACCESS_SERVICE_TOKEN_VAULT @ vault\s+ok\s+in Service Auth policy agents of application vault/,
    );
    assert.match(
      table,
      /access_enrollment\s+CF_ACCESS_SERVICE_TOKEN_VAULT @ no application\s+MISSING \(warning\)\s+no Access application covers 127\.0\.0\.1\/elsewhere\/health/,
    );
    assert.match(
      table,
      /credential_expiry\s+CF_ACCESS_SERVICE_TOKEN_VAULT\s+ok\s+token for CF_ACCESS_SERVICE_TOKEN_VAULT never expires/,
    );
    assert.match(table, /credential_expiry\s+CLOUDFLARE_ACCESS_MGMT_TOKEN\s+ok/);
    assert.equal(run.code, 1);
    assertNoSecret(run.stdout + run.stderr, secrets);
  });

  it('says "not checked" without the management token', async () => {
    const file = await dir.file('lifecycle-off.yaml', registry());
    const run = await cli(['check-config', '--online', '--json', file], {
      ...env,
      CLOUDFLARE_ACCESS_MGMT_TOKEN: '',
      HEROKU_API_URL: 'http://127.0.0.1:9',
    });
    const online = (JSON.parse(run.stdout) as { online: Array<Record<string, string>> }).online;
    const row = online.find((finding) => finding.check === 'credential_lifecycle');
    assert.equal(row?.severity, 'warn');
    assert.match(row?.detail ?? '', /^not checked: CLOUDFLARE_ACCESS_MGMT_TOKEN unset/);
    assert.equal(online.filter((finding) => finding.check === 'credential_expiry').length, 0);
    assertNoSecret(run.stdout + run.stderr, secrets);
  });
});

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { parseRegistry } from '../../../../src/config/load.js';
import { Deadline } from '../../../../src/core/deadline.js';
import type { Env } from '../../../../src/core/env.js';
import { ExporterMetrics } from '../../../../src/metrics/metrics.js';
import { CredentialWatch, type Timers } from '../../../../src/providers/cloudflare/access/watch.js';
import { type CloudflareFake, startCloudflareApi } from '../../../../src/providers/cloudflare/fake.js';
import { startHerokuApi } from '../../../../src/providers/heroku_app/fake.js';
import { providerFor } from '../../../../src/providers/index.js';
import { HttpClient } from '../../../../src/transport/client.js';
import { sampleValue } from '../../../helpers/exporter.js';
import { captureLogs } from '../../../helpers/support.js';

const MGMT = 'mgmt-token-0123456789abcdefABCDEF';
const PAGES = 'pages-token-0123456789abcdefABCDEF';
const DAY_MS = 86_400_000;
const NOW = Date.parse('2026-12-01T09:00:00Z');
const INTERVAL_SECONDS = 60;

interface Setup {
  fake: CloudflareFake;
  env: Env;
  secrets: string[];
  consoleToken: { id: string; clientId: string };
  vaultToken: { id: string; clientId: string };
}

function registryYaml(over: Record<string, unknown> = {}) {
  return parseRegistry(
    stringify({
      lifecycle: { interval_seconds: INTERVAL_SECONDS, ...over },
      environments: {
        prod: [
          {
            name: 'console',
            provider: 'http',
            url: 'https://console.example.com/admin/health',
            access_token_env: 'CF_ACCESS_SERVICE_TOKEN_CONSOLE',
          },
          {
            name: 'console-api',
            provider: 'http',
            url: 'https://api.console.example.com/health',
            access_token_env: 'CF_ACCESS_SERVICE_TOKEN_CONSOLE',
          },
          {
            name: 'vault',
            provider: 'infisical',
            url: 'https://vault.example.com',
            access_token_env: 'CF_ACCESS_SERVICE_TOKEN_VAULT',
          },
          {
            name: 'uncovered',
            provider: 'http',
            url: 'https://nowhere.example.org/health',
            access_token_env: 'CF_ACCESS_SERVICE_TOKEN_VAULT',
          },
          {
            name: 'named',
            provider: 'heroku_app',
            app: 'demo',
            access_token_env: 'CF_ACCESS_SERVICE_TOKEN_VAULT',
            access_app: 'vault',
          },
          { name: 'site', provider: 'cloudflare_pages', project: 'site' },
        ],
      },
    }),
    'lifecycle.yaml',
  );
}

async function setup(): Promise<Setup> {
  const fake = await startCloudflareApi({ tokens: [MGMT, PAGES] });
  // Enough tokens and applications that both lists take more than one page of 50.
  for (let index = 0; index < 70; index++) fake.access.addServiceToken({ name: `filler-${index}` });
  const consoleToken = fake.access.addServiceToken({
    name: 'raxx-agent-console',
    expiresAt: new Date(NOW + 5 * DAY_MS + 3_600_000),
  });
  const vaultToken = fake.access.addServiceToken({ name: 'raxx-agent-vault-access', expiresAt: null });
  for (let index = 0; index < 55; index++)
    fake.access.addApplication({ name: `filler-${index}`, domain: `app-${index}.example.net` });
  fake.access.addApplication({
    name: 'console',
    domain: 'console.example.com/admin',
    selfHostedDomains: ['console.example.com/admin', '*.console.example.com'],
    policies: [
      { name: 'staff', decision: 'allow', include: [{ email: { email: 'ops@example.com' } }] },
      {
        name: 'robots',
        decision: 'non_identity',
        include: [{ service_token: { token_id: 'someone-else' } }],
      },
    ],
  });
  fake.access.addApplication({
    name: 'vault',
    domain: 'vault.example.com',
    // Policies only through /apps/{id}/policies.
    embedPolicies: false,
    policies: [
      { name: 'agents', decision: 'non_identity', include: [{ service_token: { token_id: vaultToken.id } }] },
    ],
  });
  fake.access.setTokenVerify(PAGES, {
    status: 'active',
    expiresOn: new Date(NOW + 20 * DAY_MS),
    owner: 'account',
  });
  const consoleSecret = 'console-secret-value-do-not-leak-1234';
  const vaultSecret = 'vault-secret-value-do-not-leak-5678';
  const env: Env = {
    CLOUDFLARE_API_URL: fake.url,
    CLOUDFLARE_ACCOUNT_ID: fake.accountId,
    CLOUDFLARE_ACCESS_MGMT_TOKEN: MGMT,
    CLOUDFLARE_PAGES_READ_TOKEN: PAGES,
    CF_ACCESS_SERVICE_TOKEN_CONSOLE: `${consoleToken.clientId}:${consoleSecret}`,
    CF_ACCESS_SERVICE_TOKEN_VAULT: `${vaultToken.clientId}:${vaultSecret}`,
  };
  return { fake, env, secrets: [consoleSecret, vaultSecret, MGMT, PAGES], consoleToken, vaultToken };
}

function manualTimers(): Timers & { pending: number } {
  const handles = new Set<object>();
  return {
    setTimeout: () => {
      const handle = {};
      handles.add(handle);
      return handle;
    },
    clearTimeout: (handle) => {
      handles.delete(handle as object);
    },
    get pending() {
      return handles.size;
    },
  };
}

describe('credential watch against the fake Cloudflare API', () => {
  let s: Setup;
  let http: HttpClient;
  let clock: { now: number };

  before(async () => {
    s = await setup();
    http = new HttpClient();
  });
  after(async () => {
    await http.close();
    await s.fake.close();
  });
  beforeEach(() => {
    clock = { now: NOW };
    s.fake.failWith(undefined);
    s.fake.resetCalls();
  });

  const watchWith = (env: Env, registry = registryYaml()) => {
    const { log, capture } = captureLogs('debug');
    const metrics = new ExporterMetrics({ version: 't', defaultMetrics: false });
    const watch = new CredentialWatch(registry, {
      env,
      log,
      sink: metrics.credentials,
      onlineOf: (config) => providerFor(config).online,
      send: (req) => http.send({ ...req, deadline: new Deadline(5000) }),
      now: () => clock.now,
      timers: manualTimers(),
    });
    const text = async () => (await metrics.render(undefined)).body.toString();
    return { watch, capture, text };
  };

  it('exports expiry, validity and enrollment per variable and surface, reading every page', async () => {
    const { watch, text } = watchWith(s.env);
    await watch.readNow();
    const out = await text();
    const consoleVar = { variable: 'CF_ACCESS_SERVICE_TOKEN_CONSOLE' };
    const vaultVar = { variable: 'CF_ACCESS_SERVICE_TOKEN_VAULT' };
    assert.equal(sampleValue(out, 'surface_credential_valid', consoleVar), 1);
    assert.equal(
      sampleValue(out, 'surface_credential_expiry_timestamp_seconds', consoleVar),
      (NOW + 5 * DAY_MS + 3_600_000) / 1000,
    );
    assert.equal(sampleValue(out, 'surface_credential_valid', vaultVar), 1);
    // duration: forever has no expiry series.
    assert.equal(sampleValue(out, 'surface_credential_expiry_timestamp_seconds', vaultVar), undefined);
    // The Pages token is account-owned: the user verify refuses it, the account one answers.
    const pagesVar = { variable: 'CLOUDFLARE_PAGES_READ_TOKEN' };
    assert.equal(sampleValue(out, 'surface_credential_valid', pagesVar), 1);
    assert.equal(
      sampleValue(out, 'surface_credential_expiry_timestamp_seconds', pagesVar),
      (NOW + 20 * DAY_MS) / 1000,
    );
    assert.equal(
      sampleValue(out, 'surface_credential_valid', { variable: 'CLOUDFLARE_ACCESS_MGMT_TOKEN' }),
      1,
    );
    assert.equal(sampleValue(out, 'surface_credential_stale', consoleVar), 0);

    const enrolled = (surface: string) =>
      sampleValue(out, 'surface_access_token_enrolled', { env: 'prod', surface });
    // Covered by path prefix, and by the wildcard subdomain; in a Service Auth policy of someone else only.
    assert.equal(enrolled('console'), 0);
    assert.equal(enrolled('console-api'), 0);
    // Policies read from /apps/{id}/policies; and named with access_app.
    assert.equal(enrolled('vault'), 1);
    assert.equal(enrolled('named'), 1);
    // No application covers this URL: absent, not 0.
    assert.equal(enrolled('uncovered'), undefined);
    assert.equal(
      sampleValue(out, 'surface_credential_info', {
        surface: 'site',
        variable: 'CLOUDFLARE_PAGES_READ_TOKEN',
      }),
      1,
    );
    // 72 tokens and 57 apps at 50 a page: two pages each.
    const base = `/accounts/${s.fake.accountId}/access`;
    assert.equal(s.fake.calls(`${base}/service_tokens`), 2);
    assert.equal(s.fake.calls(`${base}/apps`), 2);
    // The reads count in the Cloudflare budget like the probes' calls.
    assert.ok(
      (sampleValue(out, 'surface_provider_rate_limit_remaining', { provider: 'cloudflare' }) ?? 1200) < 1200,
    );

    const views = watch.surfaceCredentials('prod', 'console');
    assert.equal(views?.[0]?.expires_at, new Date(NOW + 5 * DAY_MS + 3_600_000).toISOString());
    assert.match(
      views?.[0]?.detail ?? '',
      /expires in 5 days; token in no Service Auth policy of application console/,
    );
  });

  it('a disabled, deleted or expired token is invalid', async () => {
    const { watch, text } = watchWith(s.env);
    s.fake.access.updateServiceToken(s.vaultToken.id, { enabled: false });
    await watch.readNow();
    assert.equal(
      sampleValue(await text(), 'surface_credential_valid', { variable: 'CF_ACCESS_SERVICE_TOKEN_VAULT' }),
      0,
    );
    s.fake.access.updateServiceToken(s.vaultToken.id, { enabled: true });

    clock.now = NOW + 6 * DAY_MS;
    await watch.readNow();
    assert.equal(
      sampleValue(await text(), 'surface_credential_valid', { variable: 'CF_ACCESS_SERVICE_TOKEN_CONSOLE' }),
      0,
    );

    const gone = s.fake.access.addServiceToken({ name: 'short-lived' });
    s.fake.access.deleteServiceToken(gone.id);
    const { watch: other, text: otherText } = watchWith({
      ...s.env,
      CF_ACCESS_SERVICE_TOKEN_VAULT: `${gone.clientId}:whatever-secret-123456`,
    });
    await other.readNow();
    const out = await otherText();
    assert.equal(
      sampleValue(out, 'surface_credential_valid', { variable: 'CF_ACCESS_SERVICE_TOKEN_VAULT' }),
      0,
    );
    assert.equal(sampleValue(out, 'surface_access_token_enrolled', { surface: 'vault' }), 0);
  });

  it('an API token that verify refuses, or reports disabled, is invalid', async () => {
    s.fake.access.setTokenVerify(PAGES, { status: 'disabled', owner: 'user' });
    const { watch, text } = watchWith(s.env);
    await watch.readNow();
    assert.equal(
      sampleValue(await text(), 'surface_credential_valid', { variable: 'CLOUDFLARE_PAGES_READ_TOKEN' }),
      0,
    );
    const { watch: revoked, text: revokedText } = watchWith({
      ...s.env,
      CLOUDFLARE_PAGES_READ_TOKEN: 'revoked-token-0123456789abcdef',
    });
    await revoked.readNow();
    assert.equal(
      sampleValue(await revokedText(), 'surface_credential_valid', {
        variable: 'CLOUDFLARE_PAGES_READ_TOKEN',
      }),
      0,
    );
    s.fake.access.setTokenVerify(PAGES, {
      status: 'active',
      expiresOn: new Date(NOW + 20 * DAY_MS),
      owner: 'account',
    });
  });

  it('without the management token: no lifecycle series, one info line, no call', async () => {
    const { watch, capture, text } = watchWith({ ...s.env, CLOUDFLARE_ACCESS_MGMT_TOKEN: undefined });
    watch.start();
    await watch.readNow();
    watch.stop();
    const out = await text();
    for (const family of [
      'surface_credential_valid',
      'surface_credential_expiry_timestamp_seconds',
      'surface_credential_stale',
      'surface_access_token_enrolled',
      'surface_credential_info',
    ])
      assert.equal(sampleValue(out, family), undefined, family);
    const info = capture.lines().filter((line) => line.event === 'credential_watch_off');
    assert.equal(info.length, 1);
    assert.equal(info[0]?.level, 'info');
    assert.match(String(info[0]?.msg), /CLOUDFLARE_ACCESS_MGMT_TOKEN unset/);
    assert.equal(s.fake.calls(), 0);
  });

  it('a failed read keeps the last good values, marked stale, logged once a read, for at most 3 intervals', async () => {
    const { watch, capture, text } = watchWith(s.env);
    await watch.readNow();
    const consoleVar = { variable: 'CF_ACCESS_SERVICE_TOKEN_CONSOLE' };
    s.fake.failWith(500);
    for (let interval = 1; interval <= 3; interval++) {
      clock.now = NOW + interval * INTERVAL_SECONDS * 1000;
      await watch.readNow();
      const out = await text();
      assert.equal(sampleValue(out, 'surface_credential_valid', consoleVar), 1, `interval ${interval}`);
      assert.equal(sampleValue(out, 'surface_credential_stale', consoleVar), 1);
      assert.equal(sampleValue(out, 'surface_access_token_enrolled', { surface: 'vault' }), 1);
      assert.equal(watch.surfaceCredentials('prod', 'console')?.[0]?.stale, true);
    }
    const failures = capture.lines().filter((line) => line.event === 'credential_watch_failed');
    assert.equal(failures.length, 3);
    assert.equal(failures[0]?.level, 'warn');
    clock.now = NOW + 4 * INTERVAL_SECONDS * 1000;
    await watch.readNow();
    const out = await text();
    assert.equal(sampleValue(out, 'surface_credential_valid', consoleVar), undefined);
    assert.equal(sampleValue(out, 'surface_access_token_enrolled', { surface: 'vault' }), undefined);

    s.fake.failWith(undefined);
    await watch.readNow();
    assert.equal(sampleValue(await text(), 'surface_credential_stale', consoleVar), 0);
  });

  it('reads once per interval on its schedule', async () => {
    const timers = manualTimers();
    const { log } = captureLogs('debug');
    const metrics = new ExporterMetrics({ version: 't', defaultMetrics: false });
    let scheduled: (() => void) | undefined;
    const watch = new CredentialWatch(registryYaml(), {
      env: s.env,
      log,
      sink: metrics.credentials,
      onlineOf: (config) => providerFor(config).online,
      send: (req) => http.send({ ...req, deadline: new Deadline(5000) }),
      now: () => clock.now,
      timers: {
        setTimeout: (callback, ms) => {
          assert.equal(ms, INTERVAL_SECONDS * 1000);
          scheduled = callback;
          return timers.setTimeout(callback, ms);
        },
        clearTimeout: timers.clearTimeout,
      },
    });
    const tokensPath = `/accounts/${s.fake.accountId}/access/service_tokens`;
    watch.start();
    const { waitFor } = await import('../../../helpers/support.js');
    await waitFor(() => scheduled !== undefined, { what: 'the next read to be scheduled' });
    assert.equal(s.fake.calls(tokensPath), 2);
    const next = scheduled as () => void;
    scheduled = undefined;
    next();
    await waitFor(() => scheduled !== undefined, { what: 'the read after that' });
    assert.equal(s.fake.calls(tokensPath), 4);
    watch.stop();
  });

  it('reads a Heroku API key’s expiry from its OAuth authorization', async () => {
    const key = 'HRKU-lifecycle-test-0123456789abcdef';
    const heroku = await startHerokuApi({ apiKeys: [key] });
    try {
      const env = { ...s.env, HEROKU_API_KEY: key, HEROKU_API_URL: heroku.url };
      const herokuVar = { variable: 'HEROKU_API_KEY' };
      clock.now = Date.now();
      heroku.setKeyExpiry(key, new Date(clock.now + 10 * DAY_MS));
      const { watch, text, capture } = watchWith(env);
      await watch.readNow();
      let out = await text();
      const expiry = sampleValue(out, 'surface_credential_expiry_timestamp_seconds', herokuVar) ?? 0;
      // expires_in is whole seconds counted by the fake's clock, a moment before the watch's.
      assert.ok(Math.abs(expiry - (clock.now + 10 * DAY_MS) / 1000) <= 5, String(expiry));
      assert.equal(sampleValue(out, 'surface_credential_valid', herokuVar), 1);
      assert.equal(
        sampleValue(out, 'surface_credential_info', { surface: 'named', variable: 'HEROKU_API_KEY' }),
        1,
      );
      assert.match(
        watch.surfaceCredentials('prod', 'named')?.find((v) => v.variable === 'HEROKU_API_KEY')?.detail ?? '',
        /OAuth authorization key 1 expires in (9|10) days/,
      );

      heroku.setKeyExpiry(key, null);
      await watch.readNow();
      out = await text();
      assert.equal(sampleValue(out, 'surface_credential_expiry_timestamp_seconds', herokuVar), undefined);
      assert.equal(sampleValue(out, 'surface_credential_valid', herokuVar), 1);

      heroku.revokeKey(key);
      await watch.readNow();
      assert.equal(sampleValue(await text(), 'surface_credential_valid', herokuVar), 0);
      assert.equal(capture.text().includes(key), false);
    } finally {
      await heroku.close();
    }
  });

  it('a reload drops the credentials the registry no longer uses and reads new ones at once', async () => {
    const timers = manualTimers();
    const { log } = captureLogs('debug');
    const metrics = new ExporterMetrics({ version: 't', defaultMetrics: false });
    const watch = new CredentialWatch(registryYaml(), {
      env: s.env,
      log,
      sink: metrics.credentials,
      onlineOf: (config) => providerFor(config).online,
      send: (req) => http.send({ ...req, deadline: new Deadline(5000) }),
      now: () => clock.now,
      timers,
    });
    const text = async () => (await metrics.render(undefined)).body.toString();
    watch.start();
    const { waitFor } = await import('../../../helpers/support.js');
    await waitFor(
      async () =>
        sampleValue(await text(), 'surface_credential_valid', {
          variable: 'CF_ACCESS_SERVICE_TOKEN_VAULT',
        }) === 1,
      {
        what: 'the first read',
      },
    );
    const onlyConsole = parseRegistry(
      stringify({
        lifecycle: { interval_seconds: INTERVAL_SECONDS },
        environments: {
          prod: [
            {
              name: 'console',
              provider: 'http',
              url: 'https://console.example.com/admin/health',
              access_token_env: 'CF_ACCESS_SERVICE_TOKEN_CONSOLE',
            },
          ],
        },
      }),
      'reloaded.yaml',
    );
    const tokensPath = `/accounts/${s.fake.accountId}/access/service_tokens`;
    const before = s.fake.calls(tokensPath);
    watch.applyRegistry(onlyConsole);
    const out = await text();
    assert.equal(
      sampleValue(out, 'surface_credential_valid', { variable: 'CF_ACCESS_SERVICE_TOKEN_VAULT' }),
      undefined,
    );
    assert.equal(
      sampleValue(out, 'surface_credential_valid', { variable: 'CLOUDFLARE_PAGES_READ_TOKEN' }),
      undefined,
    );
    assert.equal(sampleValue(out, 'surface_access_token_enrolled', { surface: 'console' }), 0);
    // The set of credentials changed: read again now rather than in an hour.
    await waitFor(() => s.fake.calls(tokensPath) > before, { what: 'a read after the reload' });
    watch.stop();
  });

  it('refuses a bad lifecycle block with the file, the path and the value', () => {
    const bad = (lifecycle: Record<string, unknown>) => () =>
      parseRegistry(stringify({ lifecycle, environments: {} }), 'bad-lifecycle.yaml');
    assert.throws(
      bad({ interval_seconds: 0 }),
      /bad-lifecycle\.yaml: lifecycle\.interval_seconds: .*\(got 0\)/,
    );
    assert.throws(
      bad({ intervall_seconds: 60 }),
      /bad-lifecycle\.yaml: lifecycle\.intervall_seconds: unknown key/,
    );
    assert.throws(
      bad({ management_token_env: 'not a variable' }),
      /lifecycle\.management_token_env: an environment variable name/,
    );
  });

  it('never shows a client secret or an API token: metrics, logs, status views', async () => {
    const { watch, capture, text } = watchWith(s.env);
    await watch.readNow();
    s.fake.failWith(500);
    clock.now = NOW + INTERVAL_SECONDS * 1000;
    await watch.readNow();
    s.fake.failWith(403, [{ code: 10000, message: `Authentication error ${MGMT}` }]);
    await watch.readNow();
    const outputs = [
      await text(),
      capture.text(),
      JSON.stringify(
        ['console', 'vault', 'named', 'site'].map((name) => watch.surfaceCredentials('prod', name)),
      ),
    ].join('\n');
    for (const secret of s.secrets) assert.equal(outputs.includes(secret), false, 'a secret leaked');
  });
});

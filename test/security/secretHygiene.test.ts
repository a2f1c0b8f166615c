import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { startAccessGate } from '../../src/providers/cloudflare/accessGateFake.js';
import { startCloudflareApi } from '../../src/providers/cloudflare/fake.js';
import { startHerokuApi } from '../../src/providers/heroku_app/fake.js';
import { startInfisical } from '../../src/providers/infisical/fake.js';
import { cli, spawnCli, startedUrl, tempDir } from '../cli/support.js';
import { sampleValue } from '../helpers/exporter.js';
import { waitFor } from '../helpers/support.js';
import { startOtlpReceiver } from '../tracing/otlpReceiver.js';

/**
 * The whole product, one test: every credential variable holds a unique marker, every provider
 * runs its success and failure paths, and every output is searched for every marker.
 */
describe('secret hygiene across the whole product', () => {
  it('no credential appears in stdout, stderr, /metrics, API answers, CLI output or OTLP payloads', async () => {
    const markers = {
      HEROKU_API_KEY: 'heroku-key-MARKER-5a1c',
      CLOUDFLARE_PAGES_READ_TOKEN: 'pages-token-MARKER-9e07',
      FORCE_POLL_TOKEN: 'force-poll-MARKER-77d3',
      METRICS_TOKEN: 'metrics-token-MARKER-1b44',
      // The credential watch's own token: with it (and the account id) set, the watch reads the fakes.
      CLOUDFLARE_ACCESS_MGMT_TOKEN: 'mgmt-token-MARKER-4d0a',
      METRICS_BASIC_AUTH: 'scraper:basic-password-MARKER-e6b9',
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20otlp-header-MARKER-2c58',
      PUSH_TOKEN: 'push-token-MARKER-3c8e',
    };
    const basicAuth = Buffer.from(markers.METRICS_BASIC_AUTH).toString('base64');
    const heroku = await startHerokuApi({ apiKeys: [markers.HEROKU_API_KEY] });
    heroku.addApp({ name: 'api-prod' });
    const cloudflare = await startCloudflareApi({
      tokens: [markers.CLOUDFLARE_PAGES_READ_TOKEN, markers.CLOUDFLARE_ACCESS_MGMT_TOKEN],
    });
    cloudflare.addProject('site');
    cloudflare.setLatestStage('site', 'deploy', 'success');
    const infisical = await startInfisical();
    const gate = await startAccessGate({ target: infisical.url, hostname: 'vault.example.com' });
    const accessToken = gate.createServiceToken();
    gate.enroll(accessToken.clientId);
    // The account knows the gate's token, so the watch matches it and publishes its expiry.
    cloudflare.access.addServiceToken({ name: 'vault', clientId: accessToken.clientId });
    const receiver = await startOtlpReceiver('accept');
    const dir = await tempDir();
    const registryFile = join(dir.path, 'surfaces.yaml');
    const registry = (extra: object[] = []) =>
      stringify({
        poller: { interval_seconds: 1, timeout_seconds: 0.8 },
        environments: {
          prod: [
            { name: 'api-prod', provider: 'heroku_app', app: 'api-prod' },
            { name: 'site', provider: 'cloudflare_pages', project: 'site' },
            {
              name: 'vault',
              provider: 'infisical',
              url: gate.url,
              access_token_env: 'CF_ACCESS_SERVICE_TOKEN_VAULT',
            },
            {
              name: 'console',
              provider: 'http',
              url: `${gate.url}/api/status?token=${markers.FORCE_POLL_TOKEN}`,
              access_token_env: 'CF_ACCESS_SERVICE_TOKEN_VAULT',
            },
            { name: 'nightly-sync', provider: 'push', heartbeat_seconds: 60, token_env: 'PUSH_TOKEN' },
            ...extra,
          ],
        },
      });
    writeFileSync(registryFile, registry());
    const env = {
      ...markers,
      CLOUDFLARE_ACCOUNT_ID: cloudflare.accountId,
      CF_ACCESS_SERVICE_TOKEN_VAULT: `${accessToken.clientId}:${accessToken.clientSecret}`,
      HEROKU_API_URL: heroku.url,
      // The fake serves the v4 API at its root, as the demo and the Pages tests use it.
      CLOUDFLARE_API_URL: cloudflare.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '200',
      LOG_LEVEL: 'debug',
    };
    const secrets = [
      ...Object.values(markers),
      'basic-password-MARKER-e6b9',
      'otlp-header-MARKER-2c58',
      basicAuth,
      // The client id is an identifier (issue 16): the watch names it in details; the secret half never.
      accessToken.clientSecret,
    ];
    const seen: string[] = [];
    const server = spawnCli(['--config', registryFile, '--listen-address', '127.0.0.1:0'], { env });
    try {
      const url = await waitFor(() => startedUrl(server.stdout()), {
        timeoutMs: 20_000,
        what: 'the exporter to start',
      });
      const operator = { authorization: `Bearer ${markers.FORCE_POLL_TOKEN}` };
      const scraper = { authorization: `Bearer ${markers.METRICS_TOKEN}` };
      const call = async (path: string, init: RequestInit = {}) => {
        const res = await fetch(`${url}${path}`, init);
        seen.push(`${res.status} ${path}\n${[...res.headers].join('\n')}\n${await res.text()}`);
        return res.status;
      };
      // success paths
      assert.equal(await call('/api/force-poll', { method: 'POST', headers: operator }), 200);
      assert.equal(await call('/metrics', { headers: { authorization: `Basic ${basicAuth}` } }), 200);
      await call('/metrics', {
        headers: { authorization: `Basic ${Buffer.from('scraper:wrong').toString('base64')}` },
      });
      // The watch has read every credential, the management token's verify included.
      await waitFor(
        async () => {
          const res = await fetch(`${url}/metrics`, { headers: scraper });
          const text = await res.text();
          seen.push(text);
          return ['CLOUDFLARE_ACCESS_MGMT_TOKEN', 'CF_ACCESS_SERVICE_TOKEN_VAULT'].every(
            (variable) => sampleValue(text, 'surface_credential_valid', { variable }) !== undefined,
          );
        },
        { timeoutMs: 15_000, what: 'the credential watch to publish' },
      );
      // A job quoting credentials in its detail (in the body, so this test's own request line holds none).
      const pusher = { authorization: `Bearer ${markers.PUSH_TOKEN}` };
      const quoting = JSON.stringify({
        status: 'fail',
        detail: `token ${markers.PUSH_TOKEN} key ${markers.HEROKU_API_KEY}`,
      });
      const pushJson = { ...pusher, 'content-type': 'application/json' };
      const pushPath = '/api/push/prod/nightly-sync';
      assert.equal(await call(pushPath, { method: 'POST', headers: pushJson, body: quoting }), 200);
      assert.equal(await call(`${pushPath}?status=ok`, { method: 'POST', headers: pusher }), 200);
      assert.equal(await call(pushPath, { method: 'POST', headers: operator }), 401);
      assert.equal(await call('/api/push/prod/site', { method: 'POST', headers: pusher }), 404);
      assert.equal(await call(`${pushPath}?status=maybe`, { method: 'POST', headers: pusher }), 400);
      // failure paths: every credential refused by its provider
      heroku.revokeKey(markers.HEROKU_API_KEY);
      cloudflare.revokeToken(markers.CLOUDFLARE_PAGES_READ_TOKEN);
      gate.revoke(accessToken.clientId);
      await call('/dashboard/_force_poll', { method: 'POST', headers: operator });
      await call('/api/_internal/poller-status', { headers: operator });
      await call('/api/force-poll', { method: 'POST', headers: { authorization: 'Bearer wrong' } });
      await call('/metrics', { headers: scraper });
      await call('/metrics', { headers: { ...scraper, accept: 'application/openmetrics-text' } });
      await call('/metrics');
      await call('/health');
      await call('/');
      // a reload that fails (a token pasted where its variable name belongs), then one that succeeds
      writeFileSync(
        registryFile,
        registry([
          {
            name: 'bad',
            provider: 'http',
            url: 'https://x.example.com/',
            access_token_env: markers.HEROKU_API_KEY,
          },
        ]),
      );
      assert.equal(await call('/-/reload', { method: 'POST', headers: operator }), 400);
      writeFileSync(registryFile, registry());
      assert.equal(await call('/-/reload', { method: 'POST', headers: operator }), 200);
      await waitFor(() => receiver.spans.length > 10, { timeoutMs: 10_000, what: 'spans at the receiver' });
    } finally {
      const exit = await server.stop();
      assert.equal(exit.code, 0, server.stderr());
    }
    seen.push(server.stdout(), server.stderr());
    assert.match(server.stdout(), /poll_once/, 'the exporter logged its rounds');

    // the CLI, on the same registry and environment (credentials still revoked at the providers)
    const cliEnv = { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: undefined };
    for (const argv of [
      ['probe', '--config', registryFile, '--all'],
      ['probe', '--config', registryFile, '--all', '--json'],
      ['probe', '--config', registryFile, 'prod/console'],
      ['check-config', '--online', registryFile],
      ['check-config', '--online', '--json', registryFile],
      ['list', '--config', registryFile],
    ]) {
      const run = await cli(argv, cliEnv);
      seen.push(run.stdout, run.stderr);
    }
    heroku.addKey(markers.HEROKU_API_KEY);
    const healthy = await cli(['probe', '--config', registryFile, 'prod/api-prod'], cliEnv);
    assert.equal(healthy.code, 0, healthy.stdout + healthy.stderr);
    seen.push(healthy.stdout, healthy.stderr);

    await Promise.all([
      heroku.close(),
      cloudflare.close(),
      gate.close(),
      infisical.close(),
      receiver.close(),
    ]);
    await dir.remove();

    assert.ok(receiver.rawBodies.length > 0, 'traces were exported');
    const everything = `${seen.join('\n')}\n${Buffer.concat(receiver.rawBodies).toString('utf8')}`;
    for (const secret of secrets) {
      const at = everything.indexOf(secret);
      assert.ok(
        at < 0,
        `a credential leaked: ${secret.slice(0, 12)}… in ${everything.slice(Math.max(0, at - 300), at + 60)}`,
      );
    }
  });
});

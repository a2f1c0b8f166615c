import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type InfisicalFake, startInfisical } from '../../src/providers/infisical/fake.js';
import { startTestExporter, type TestExporter } from '../helpers/support.js';

const TOKEN = 'echoed-secrets-operator-token';
const ACCESS_ID = 'echo-client-id-7f3a9c.access';
const ACCESS_SECRET = 'echo-client-secret-4be1d0a9c2f7';
const API_KEY = 'echo-header-secret-91cd';

describe('fault matrix: a server that echoes the credentials it was sent', () => {
  let infisical: InfisicalFake;
  let exporter: TestExporter;
  before(async () => {
    infisical = await startInfisical();
    infisical.setMode('echo_headers');
    exporter = await startTestExporter({
      pollerEnabled: false,
      logLevel: 'debug',
      env: {
        FORCE_POLL_TOKEN: TOKEN,
        CF_ACCESS_VAULT: `${ACCESS_ID}:${ACCESS_SECRET}`,
        WEB_API_KEY: API_KEY,
      },
      registry: {
        poller: { interval_seconds: 5, timeout_seconds: 2, force_poll_deadline_seconds: 4 },
        status_page: { show_targets: true },
        environments: {
          prod: [
            { name: 'vault', provider: 'infisical', url: infisical.url, access_token_env: 'CF_ACCESS_VAULT' },
            {
              name: 'web',
              provider: 'http',
              url: `${infisical.url}/api/status`,
              headers_env: { 'X-Api-Key': 'WEB_API_KEY' },
              expect: { status: 403, json: { message: 'ok' } },
            },
          ],
        },
      },
    });
  });
  after(async () => {
    await exporter.stop();
    await infisical.close();
  });

  it('masks every credential of the surface in details, answers, /metrics, the status page and logs', async () => {
    const operator = { authorization: `Bearer ${TOKEN}` };
    const seen: string[] = [];
    const read = async (path: string, init: RequestInit = {}) => {
      const res = await fetch(`${exporter.url}${path}`, { ...init, signal: AbortSignal.timeout(10_000) });
      const text = await res.text();
      assert.equal(res.status, 200, `${path}: ${text}`);
      seen.push(text);
      return text;
    };
    const forced = JSON.parse(await read('/api/force-poll', { method: 'POST', headers: operator })) as {
      results: Array<{ surface: string; error: string | null; detail: string | null }>;
    };
    const bySurface = Object.fromEntries(forced.results.map((result) => [result.surface, result]));
    // The probes really saw the echo: the details quote the answer, with the credentials masked.
    assert.equal(bySurface.vault?.error, 'http_403');
    assert.match(bySurface.vault?.detail ?? '', /cf-access-client-secret=\*\*\*/);
    assert.equal(bySurface.web?.error, 'json_mismatch');
    assert.match(bySurface.web?.detail ?? '', /x-api-key=\*\*\*/);

    await read('/api/_internal/poller-status', { headers: operator });
    await read('/metrics');
    await read('/metrics', { headers: { accept: 'application/openmetrics-text; version=1.0.0' } });
    await read('/api/status');
    await read('/status');
    seen.push(exporter.logs.text());
    assert.match(exporter.logs.text(), /rejected headers/, 'the details reached the logs');

    const everything = seen.join('\n');
    for (const secret of [ACCESS_SECRET, ACCESS_ID, API_KEY]) {
      assert.ok(!everything.includes(secret), `${secret} was published`);
    }
  });
});

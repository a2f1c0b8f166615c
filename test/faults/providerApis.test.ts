import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type CloudflareFake, startCloudflareApi } from '../../src/providers/cloudflare/fake.js';
import { type HerokuFake, startHerokuApi } from '../../src/providers/heroku_app/fake.js';
import { startTestExporter, type TestExporter, waitFor } from '../helpers/support.js';

/**
 * Fault rows for provider APIs that the per-provider suites (test/probes) do not already cover:
 * a slow drip of bytes, 5xx answers, and a rate limit shared by many surfaces (no retry storm).
 * HTML, truncated JSON, wrong types and 10 MB bodies are rows of test/probes/*.test.ts.
 */
describe('fault matrix: provider APIs', () => {
  let heroku: HerokuFake;
  let cloudflare: CloudflareFake;
  let drip: Server;
  const dripSockets = new Set<Socket>();
  let dripClosedEarly = false;
  let exporter: TestExporter;

  before(async () => {
    heroku = await startHerokuApi({ apiKeys: ['heroku-key'] });
    for (let index = 0; index < 10; index++) heroku.addApp({ name: `app-${index}` });
    cloudflare = await startCloudflareApi({ tokens: ['pages-token'] });
    cloudflare.addProject('site');
    cloudflare.setLatestStage('site', 'deploy', 'success');
    // An API that sends its headers, then one byte of body every 100 ms.
    drip = createServer((socket) => {
      dripSockets.add(socket);
      socket.on('error', () => {});
      socket.once('data', () => {
        socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 4096\r\n\r\n');
        const timer = setInterval(() => socket.write('{'), 100);
        socket.on('close', () => {
          clearInterval(timer);
          dripClosedEarly = true;
          dripSockets.delete(socket);
        });
      });
    });
    await new Promise<void>((resolve) => drip.listen(0, '127.0.0.1', resolve));
    const dripUrl = `http://127.0.0.1:${(drip.address() as AddressInfo).port}`;
    exporter = await startTestExporter({
      pollerEnabled: false,
      env: {
        HEROKU_API_URL: heroku.url,
        CLOUDFLARE_API_URL: `${cloudflare.url}/client/v4`,
        HEROKU_API_KEY: 'heroku-key',
        CLOUDFLARE_PAGES_READ_TOKEN: 'pages-token',
        CLOUDFLARE_ACCOUNT_ID: cloudflare.accountId,
      },
      registry: {
        poller: { interval_seconds: 1, timeout_seconds: 0.6, metadata_ttl_seconds: 0 },
        environments: {
          prod: [
            ...Array.from({ length: 10 }, (_, index) => ({
              name: `api-${index}`,
              provider: 'heroku_app',
              app: `app-${index}`,
            })),
            { name: 'site', provider: 'cloudflare_pages', project: 'site' },
            { name: 'vault', provider: 'infisical', url: dripUrl },
          ],
        },
      },
    });
  });

  after(async () => {
    await exporter.stop();
    await heroku.close();
    await cloudflare.close();
    for (const socket of dripSockets) socket.destroy();
    drip.close();
  });

  it('a slow drip of bytes ends at the probe deadline and the connection is closed', async () => {
    const result = await exporter.poller.probeOnce('prod/vault');
    assert.equal(result.code, 'probe_timeout');
    assert.ok(result.durationSeconds < 1.2, `took ${result.durationSeconds} s`);
    await waitFor(() => dripClosedEarly, { timeoutMs: 1000, what: 'the dripping connection to close' });
    assert.ok(dripClosedEarly, 'the dripping connection was left open');
  });

  it('5xx from the Heroku and Cloudflare APIs: api_http_<status>, DEGRADED, not a crash', async () => {
    heroku.failWith(503, 'unavailable', 'Heroku is having trouble.');
    cloudflare.failWith(500);
    try {
      const api = await exporter.poller.probeOnce('prod/api-0');
      assert.deepEqual([api.status, api.code], ['degraded', 'api_http_503']);
      assert.match(api.detail, /Heroku is having trouble/);
      const site = await exporter.poller.probeOnce('prod/site');
      assert.equal(site.status, 'degraded');
      assert.equal(site.code, 'api_error', 'a success:false envelope with an unlisted code is api_error');
      assert.match(site.detail, /10013/);
    } finally {
      heroku.failWith(undefined);
      cloudflare.failWith(undefined);
    }
  });

  it('a 429 with Retry-After seen by ten surfaces on one key causes no retry storm', async () => {
    heroku.forceRateLimit(30);
    try {
      heroku.resetCalls();
      for (let round = 0; round < 3; round++) {
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, index) => exporter.poller.probeOnce(`prod/api-${index}`)),
        );
        assert.ok(results.every((result) => result.code === 'rate_limited'));
      }
      // Thirty probes during the Retry-After window: only the calls that met the 429 reached the API.
      assert.ok(heroku.calls() <= 10, `${heroku.calls()} API calls during Retry-After`);
    } finally {
      heroku.clearRateLimit();
    }
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startHerokuApi } from '../../src/providers/heroku_app/fake.js';
import { startTestExporter, waitFor } from '../helpers/support.js';

describe('fault matrix: a step back of the wall clock', () => {
  it('provider answers cached for 200 ms expire after 200 ms, though the wall clock went back an hour', async () => {
    let wallOffsetMs = 0;
    const exporter = await startTestExporter({
      pollerEnabled: false,
      clock: { now: () => Date.now() + wallOffsetMs, monotonic: () => performance.now() },
      registry: { environments: {} },
    });
    try {
      let loads = 0;
      const load = async () => {
        loads++;
        return { value: `dynos as of load ${loads}`, ttlMs: 200 };
      };
      assert.equal(await exporter.poller.cache.getOrLoad('heroku:app:dynos', load), 'dynos as of load 1');
      wallOffsetMs = -3_600_000;
      await waitFor(
        async () =>
          (await exporter.poller.cache.getOrLoad('heroku:app:dynos', load)) !== 'dynos as of load 1',
        {
          timeoutMs: 3_000,
          what: 'the cached answer to expire',
        },
      );
      assert.equal(loads, 2);
    } finally {
      await exporter.stop();
    }
  });

  it('a rate-limit cooldown of 2 s (Retry-After as an HTTP date) ends after 2 s, though the wall clock went back an hour', async () => {
    const heroku = await startHerokuApi({ apiKeys: ['heroku-key'] });
    heroku.addApp({ name: 'shop' });
    let wallOffsetMs = 0;
    const exporter = await startTestExporter({
      pollerEnabled: false,
      clock: { now: () => Date.now() + wallOffsetMs, monotonic: () => performance.now() },
      env: { HEROKU_API_URL: heroku.url, HEROKU_API_KEY: 'heroku-key' },
      registry: {
        poller: { interval_seconds: 5, timeout_seconds: 2, metadata_ttl_seconds: 0 },
        environments: { prod: [{ name: 'shop', provider: 'heroku_app', app: 'shop' }] },
      },
    });
    try {
      wallOffsetMs = -3_600_000;
      heroku.forceRateLimit(new Date(Date.now() + 2_000));
      assert.equal((await exporter.poller.probeOnce('prod/shop')).code, 'rate_limited');
      heroku.clearRateLimit();
      await waitFor(async () => (await exporter.poller.probeOnce('prod/shop')).code !== 'rate_limited', {
        timeoutMs: 8_000,
        what: 'the cooldown to end at the Retry-After date, on the server clock',
      });
      assert.equal((await exporter.poller.probeOnce('prod/shop')).status, 'up');
    } finally {
      await exporter.stop();
      await heroku.close();
    }
  });
});

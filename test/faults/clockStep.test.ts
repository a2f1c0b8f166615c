import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
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
});

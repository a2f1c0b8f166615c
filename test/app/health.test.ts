import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startTarget, startTestExporter } from '../helpers/support.js';

describe('/health right after start', () => {
  it('is 200 with poller_last_poll_at null until stale_after_seconds pass without a completed probe', async () => {
    // A target that never answers: no probe completes while the test looks.
    const hanging = await startTarget(() => {});
    const exporter = await startTestExporter({
      registry: {
        poller: { interval_seconds: 60, timeout_seconds: 50, stale_after_seconds: 120 },
        environments: { prod: [{ name: 'slow', provider: 'http', url: `${hanging.url}/` }] },
      },
    });
    try {
      const res = await fetch(`${exporter.url}/health`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { status: 'ok', poller_last_poll_at: null });
    } finally {
      await exporter.stop();
      await hanging.close();
    }
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type HerokuFake, startHerokuApi } from '../../../src/providers/heroku_app/fake.js';
import { type ExporterHarness, startHarness, waitFor } from '../../helpers/exporter.js';

const API_KEY = 'HRKU-shared-0123456789abcdef0123456789abcdef';
const APP = 'raxx-shared-load';
const TIMEOUT_SECONDS = 2;
// Each API call takes 65 % of a probe's deadline, so the shared load (/apps, then /formation and
// /dynos together) needs 130 %: longer than the first surface's deadline, shorter than the time the
// second surface has left when it joins the load as /formation is asked.
const API_LATENCY_MS = 1300;

describe('a shared Heroku load runs under its own deadline, not the first caller’s', () => {
  let heroku: HerokuFake;
  let harness: ExporterHarness;

  before(async () => {
    heroku = await startHerokuApi({ apiKeys: [API_KEY] });
    heroku.addApp({ name: APP });
    harness = await startHarness({
      registry: {
        poller: { interval_seconds: 5, timeout_seconds: TIMEOUT_SECONDS, metadata_ttl_seconds: 0 },
        environments: {
          prod: [
            { name: 'api-tile', provider: 'heroku_app', app: APP },
            { name: 'api-tile-copy', provider: 'heroku_app', app: APP },
          ],
        },
      },
      env: { HEROKU_API_URL: heroku.url, HEROKU_API_KEY: API_KEY },
    });
  });

  after(async () => {
    await harness.stop();
    await heroku.close();
  });

  it('the surface that joins late gets the load’s answer within its own deadline', async () => {
    heroku.setLatency(API_LATENCY_MS);
    const first = harness.probe('prod/api-tile');
    // The second surface starts once the load is half done, so it joins it instead of starting its own.
    await waitFor(() => heroku.calls(`/apps/${APP}/formation`) === 1, {
      timeoutMs: API_LATENCY_MS * 3,
      what: 'the shared load to reach /formation',
    });
    const joined = await harness.probe('prod/api-tile-copy');
    const started = await first;

    assert.deepEqual(
      [joined.status, joined.code],
      ['up', null],
      `the late surface was cut short by the first one's deadline: ${joined.detail}`,
    );
    assert.ok(joined.durationSeconds < TIMEOUT_SECONDS, `took ${joined.durationSeconds} s`);
    assert.equal(heroku.calls(`/apps/${APP}`), 1, 'both surfaces shared one load');
    // The first surface still ends at its own deadline: sharing never extends a probe.
    assert.deepEqual([started.status, started.code], ['degraded', 'probe_timeout'], started.detail);
    assert.ok(started.durationSeconds < TIMEOUT_SECONDS + 0.5, `took ${started.durationSeconds} s`);
  });
});

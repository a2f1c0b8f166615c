import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type HerokuFake, startHerokuApi } from '../../../src/providers/heroku_app/fake.js';
import { type ExporterHarness, startHarness, waitFor } from '../../helpers/exporter.js';

const API_KEY = 'HRKU-budget-0123456789abcdef0123456789abcdef';
const APPS = 20;
const SURFACES_PER_APP = 2;
const API_CALLS_PER_REFRESH = 3; // /apps/{app}, /formation, /dynos

/*
 * The arithmetic. Production probes each surface every 30 s and refreshes an app's metadata every
 * 300 s (the metadata_ttl_seconds default), against Heroku's 4,500 calls an hour per account. That
 * is 20 apps x 3 calls / 300 s = 0.2 calls/s (720 an hour), inside the budget of 1.25 calls/s.
 *
 * This test cannot wait 300 s, and shrinking the TTL alone breaks the ratio: a 2 s TTL costs
 * 20 x 3 / 2 s = 30 calls/s, 24 times the real budget (at real speed 20 apps need a TTL of at
 * least 20 x 3 x 3600 / 4,500 = 48 s). So it runs the production schedule 30 times faster,
 * interval 30 s -> 1 s and TTL 300 s -> 10 s, and the budget is compressed by the same factor:
 * 1.25 x 30 = 37.5 calls/s. Cached and shared, the steady state costs 20 x 3 / 10 s = 6 calls/s.
 * Without the cache every probe refreshes: 40 surfaces x 3 calls per second = 120 calls/s (60 if
 * concurrent loads still merge), over 37.5, so the budget assertion fails.
 */
const TIME_COMPRESSION = 30;
const INTERVAL_SECONDS = 30 / TIME_COMPRESSION;
const METADATA_TTL_SECONDS = 300 / TIME_COMPRESSION;
const BUDGET_CALLS_PER_SECOND = (4500 / 3600) * TIME_COMPRESSION;
// Long enough for every app's entry to expire once and be refreshed, so the window sees the steady state.
const WINDOW_SECONDS = METADATA_TTL_SECONDS + 2;

describe('heroku_app rate budget: 40 surfaces on 20 apps at a 1 s interval', () => {
  let heroku: HerokuFake;
  let harness: ExporterHarness;

  before(async () => {
    heroku = await startHerokuApi({ apiKeys: [API_KEY] });
    const surfaces = [];
    for (let app = 1; app <= APPS; app++) {
      heroku.addApp({ name: `budget-app-${app}` });
      for (let copy = 1; copy <= SURFACES_PER_APP; copy++) {
        surfaces.push({ name: `app-${app}-tile-${copy}`, provider: 'heroku_app', app: `budget-app-${app}` });
      }
    }
    harness = await startHarness({
      registry: {
        poller: {
          interval_seconds: INTERVAL_SECONDS,
          timeout_seconds: 0.8,
          metadata_ttl_seconds: METADATA_TTL_SECONDS,
        },
        environments: { prod: surfaces },
      },
      env: { HEROKU_API_URL: heroku.url, HEROKU_API_KEY: API_KEY },
      pollerEnabled: true,
    });
  });

  after(async () => {
    await harness.stop();
    await heroku.close();
  });

  it('stays under the pro-rata API budget while health checks run every interval', async () => {
    const total = APPS * SURFACES_PER_APP;
    await waitFor(
      () => harness.exporter.poller.status().surfaces.every((surface) => surface.status === 'up'),
      { timeoutMs: 5000, what: 'every surface to be probed once and UP' },
    );
    // Heroku's pool starts full, so the warm-up burst (one load per app) is what it is for; what
    // must fit the refill is the rate after it.
    heroku.resetCalls();
    heroku.router.resetCalls();
    await new Promise((resolve) => setTimeout(resolve, WINDOW_SECONDS * 1000));
    const apiCalls = heroku.calls();
    const healthChecks = heroku.router.calls();

    const budget = BUDGET_CALLS_PER_SECOND * WINDOW_SECONDS;
    assert.ok(apiCalls < budget, `${apiCalls} API calls in ${WINDOW_SECONDS} s, budget ${budget}`);
    assert.ok(
      apiCalls >= APPS * API_CALLS_PER_REFRESH,
      `${apiCalls} API calls in ${WINDOW_SECONDS} s: every app's metadata should have been refreshed once`,
    );
    // One refresh per app, not one per surface: two surfaces on an app share the entry.
    assert.ok(
      apiCalls < SURFACES_PER_APP * APPS * API_CALLS_PER_REFRESH,
      `${apiCalls} API calls in ${WINDOW_SECONDS} s: surfaces on one app must share one refresh`,
    );
    // Every surface checks its app each second; allow one missed slot per surface at the window edges.
    const expectedChecks = total * (WINDOW_SECONDS - 1);
    assert.ok(
      healthChecks >= expectedChecks,
      `${healthChecks} health checks in ${WINDOW_SECONDS} s, expected at least ${expectedChecks}`,
    );
    assert.ok(
      harness.exporter.poller.status().surfaces.every((surface) => surface.status === 'up'),
      'every surface stays UP',
    );
  });
});

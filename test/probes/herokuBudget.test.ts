import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type HerokuFake, startHerokuApi } from '../../src/fakes/index.js';
import { type ExporterHarness, startHarness, waitFor } from '../helpers/exporter.js';

const API_KEY = 'HRKU-budget-0123456789abcdef0123456789abcdef';
const APPS = 20;
const SURFACES_PER_APP = 2;
const HEROKU_CALLS_PER_HOUR = 4500;
// The issue asks for 30 s; 10 s keeps the suite fast and the budget below is scaled to the window.
const WINDOW_SECONDS = 10;
const API_CALLS_PER_REFRESH = 3; // /apps/{app}, /formation, /dynos

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
      // metadata_ttl_seconds is left at its default (300 s), as in production.
      registry: { poller: { interval_seconds: 1, timeout_seconds: 0.8 }, environments: { prod: surfaces } },
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
    // The first load is one refresh per app, shared by the surfaces naming it; Heroku's pool starts
    // full (4,500 tokens), so this burst is what the pool is for. What must fit the refill is the rate after it.
    assert.ok(
      heroku.calls() <= APPS * API_CALLS_PER_REFRESH,
      `warm-up made ${heroku.calls()} API calls for ${APPS} apps: surfaces on one app must share one load`,
    );

    heroku.resetCalls();
    heroku.router.resetCalls();
    await new Promise((resolve) => setTimeout(resolve, WINDOW_SECONDS * 1000));
    const apiCalls = heroku.calls();
    const healthChecks = heroku.router.calls();

    const budget = (HEROKU_CALLS_PER_HOUR * WINDOW_SECONDS) / 3600;
    assert.ok(apiCalls < budget, `${apiCalls} API calls in ${WINDOW_SECONDS} s, budget ${budget}`);
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

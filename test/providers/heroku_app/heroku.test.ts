import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type AccessGateFake, startAccessGate } from '../../../src/providers/cloudflare/accessGateFake.js';
import { type HerokuFake, startHerokuApi } from '../../../src/providers/heroku_app/fake.js';
import { closedPort, harnessFactory, sampleValue, waitFor } from '../../helpers/exporter.js';

const API_KEY = 'HRKU-test-0123456789abcdef0123456789abcdef';
// metadata_ttl_seconds: 0 so that every probe sees the fake's current script.
const POLLER = { interval_seconds: 5, timeout_seconds: 2, metadata_ttl_seconds: 0 };

const herokuApp = (name: string, app: string, extra: Record<string, unknown> = {}) => ({
  name,
  provider: 'heroku_app',
  app,
  ...extra,
});

describe('heroku_app provider', () => {
  let heroku: HerokuFake;
  let env: Record<string, string>;
  const { exporterWith, stopAll } = harnessFactory({ env: () => env, poller: POLLER });
  /** Probes a single heroku_app surface on `app` once. */
  const probeApp = async (app: string, extra: Record<string, unknown> = {}, overrides = {}) => {
    const harness = await exporterWith([herokuApp('surface', app, extra)], overrides);
    return harness.probe('prod/surface');
  };

  before(async () => {
    heroku = await startHerokuApi({ apiKeys: [API_KEY] });
    env = { HEROKU_API_URL: heroku.url, HEROKU_API_KEY: API_KEY };
  });

  after(async () => {
    await stopAll();
    await heroku.close();
  });

  describe('the 2026-04-30 incident: four core tiles DEGRADED behind a gated public URL', () => {
    const tiles = ['api-prod', 'console-prod', 'api-staging', 'console-staging'];
    const gates: AccessGateFake[] = [];

    before(async () => {
      for (const tile of tiles) {
        heroku.addApp({ name: `raxx-${tile}` });
        // The custom domain (console.raxx.app, ...) is Access-gated in front of the same app.
        gates.push(await startAccessGate({ target: heroku.router.url, hostname: `${tile}.raxx.app` }));
      }
    });
    after(() => Promise.all(gates.map((gate) => gate.close())));

    it('probes web_url directly, so every tile is UP and no gate sees a request', async () => {
      const harness = await exporterWith([
        ...tiles.map((tile) => herokuApp(tile, `raxx-${tile}`)),
        // What the pre-fix probe did: the gated public URL, without a service token.
        { name: 'console-public', provider: 'http', url: `${gates[1]?.url}/raxx-console-prod/health` },
      ]);
      const round = await harness.forcePoll();
      const byName = new Map(round.results.map((result) => [result.surface, result]));
      for (const tile of tiles) {
        assert.equal(byName.get(tile)?.status, 'up', `${tile}: ${byName.get(tile)?.detail}`);
        assert.equal(byName.get(tile)?.error, null);
        assert.match(byName.get(tile)?.detail ?? '', /health check: HTTP 200/);
        assert.equal(heroku.healthHits(`raxx-${tile}`), 1);
      }
      assert.deepEqual(
        gates.map((gate) => gate.calls()),
        [0, 1, 0, 0],
        'only the http surface pointed at a gate; the heroku probes never touched one',
      );
      assert.equal(byName.get('console-public')?.error, 'access_gate_redirect');
    });
  });

  describe('skipped for a missing variable, without any request', () => {
    it('HEROKU_API_KEY unset', async () => {
      heroku.resetCalls();
      const result = await probeApp('raxx-api-prod', {}, { HEROKU_API_KEY: undefined });
      assert.deepEqual(
        [result.status, result.code, result.detail],
        ['degraded', 'skipped_credentials', 'skipped: HEROKU_API_KEY unset'],
      );
      assert.equal(heroku.calls(), 0);
    });

    it('a custom api_key_env left blank', async () => {
      heroku.resetCalls();
      const result = await probeApp(
        'raxx-api-prod',
        { api_key_env: 'HEROKU_API_KEY_STAGING' },
        {
          HEROKU_API_KEY_STAGING: '  ',
        },
      );
      assert.equal(result.code, 'skipped_credentials');
      assert.equal(result.detail, 'skipped: HEROKU_API_KEY_STAGING unset');
      assert.equal(heroku.calls(), 0);
    });

    it('access_token_env unset or malformed', async () => {
      heroku.resetCalls();
      const unset = await probeApp('raxx-api-prod', { access_token_env: 'CF_ACCESS_SERVICE_TOKEN_CONSOLE' });
      assert.equal(unset.code, 'skipped_credentials');
      assert.equal(unset.detail, 'skipped: CF_ACCESS_SERVICE_TOKEN_CONSOLE unset');
      const malformed = await probeApp(
        'raxx-api-prod',
        { access_token_env: 'CF_ACCESS_SERVICE_TOKEN_CONSOLE' },
        { CF_ACCESS_SERVICE_TOKEN_CONSOLE: 'no-colon-here' },
      );
      assert.equal(malformed.code, 'skipped_credentials');
      assert.match(malformed.detail, /CF_ACCESS_SERVICE_TOKEN_CONSOLE malformed/);
      assert.equal(heroku.calls(), 0);
    });
  });

  describe('health check', () => {
    it('sends the Platform API headers and is UP on a 2xx', async () => {
      heroku.addApp({ name: 'hc-ok' });
      const result = await probeApp('hc-ok');
      assert.equal(result.status, 'up', result.detail);
      assert.match(result.detail, /1 web dyno\(s\) up; health check: HTTP 200/);
    });

    it('health_http_502 when the app answers 502', async () => {
      heroku.addApp({ name: 'hc-502', healthStatus: 502 });
      const result = await probeApp('hc-502');
      assert.deepEqual([result.status, result.code], ['degraded', 'health_http_502']);
      assert.match(result.detail, /HTTP 502/);
    });

    it('uses health_path', async () => {
      heroku.addApp({ name: 'hc-path' });
      const result = await probeApp('hc-path', { health_path: '/status' });
      // The fake app only serves /health.
      assert.equal(result.code, 'health_http_404');
    });

    it('health_no_response when the connection is refused', async () => {
      heroku.addApp({ name: 'hc-refused', webUrl: `http://127.0.0.1:${await closedPort()}/` });
      const result = await probeApp('hc-refused');
      assert.deepEqual([result.status, result.code], ['degraded', 'health_no_response']);
      assert.match(result.detail, /connection refused/);
    });

    it('health_no_response when the connection is reset', async () => {
      heroku.addApp({ name: 'hc-reset' });
      heroku.dropHealth('hc-reset', true);
      const result = await probeApp('hc-reset');
      assert.equal(result.code, 'health_no_response');
    });
  });

  describe('formation and dynos', () => {
    it('web scaled to 0 dynos is DOWN no_web_dyno, and the app is not even asked', async () => {
      heroku.addApp({ name: 'zero-dynos' });
      heroku.scaleWeb('zero-dynos', 0);
      const result = await probeApp('zero-dynos');
      assert.deepEqual([result.status, result.code], ['down', 'no_web_dyno']);
      assert.match(result.detail, /scaled to 0/);
      assert.equal(heroku.healthHits('zero-dynos'), 0);
    });

    it('no web process type is DOWN no_web_dyno', async () => {
      heroku.addApp({ name: 'never-deployed', webQuantity: null });
      const result = await probeApp('never-deployed');
      assert.deepEqual([result.status, result.code], ['down', 'no_web_dyno']);
      assert.match(result.detail, /no web process type/);
    });

    it('every web dyno crashed is DOWN dyno_crashed (not the health_http_503 it causes)', async () => {
      heroku.addApp({ name: 'all-crashed', webQuantity: 2 });
      heroku.crashDynos('all-crashed');
      const result = await probeApp('all-crashed');
      assert.deepEqual([result.status, result.code], ['down', 'dyno_crashed']);
      assert.match(result.detail, /none of 2 web dynos .* is up \(web\.1 crashed, web\.2 crashed\)/);
    });

    it('some crashed is DEGRADED dyno_crashed with counts', async () => {
      heroku.addApp({ name: 'half-crashed', webQuantity: 2 });
      heroku.crashDynos('half-crashed', 1);
      const result = await probeApp('half-crashed');
      assert.deepEqual([result.status, result.code], ['degraded', 'dyno_crashed']);
      assert.match(
        result.detail,
        /1 of 2 web dynos .* crashed or down \(1 web dyno\(s\) up, web\.1 crashed\); health check: HTTP 200/,
      );
    });

    it('an unknown state is named, never crashed; `created` and `starting` are a start, `idle` an eco sleep', async () => {
      heroku.addApp({ name: 'odd-states', webQuantity: 3 });
      heroku.setDynoState('odd-states', 'web.1', 'created');
      heroku.setDynoState('odd-states', 'web.2', 'up');
      heroku.setDynoState('odd-states', 'web.3', 'rebooting');
      const result = await probeApp('odd-states');
      assert.deepEqual([result.status, result.code], ['up', null], result.detail);
      assert.match(
        result.detail,
        /^1 web dyno\(s\) up, web\.1 created, web\.3 rebooting; health check: HTTP 200/,
      );
      heroku.setDynoState('odd-states', 'web.2', 'down');
      const none = await probeApp('odd-states');
      assert.deepEqual([none.status, none.code], ['degraded', 'dyno_starting'], none.detail);
    });

    it('no web dyno serving and some starting (restart, deploy) is DEGRADED dyno_starting, not crashed', async () => {
      heroku.addApp({ name: 'restarting', webQuantity: 2 });
      heroku.setDynoState('restarting', 'web.1', 'starting');
      heroku.setDynoState('restarting', 'web.2', 'crashed');
      const result = await probeApp('restarting');
      assert.deepEqual([result.status, result.code], ['degraded', 'dyno_starting'], result.detail);
      assert.match(
        result.detail,
        /no web dyno of restarting serves and 1 are starting .*web\.1 starting, web\.2 crashed/,
      );
      assert.equal(heroku.healthHits('restarting'), 0, 'the app is not asked while it starts');
      heroku.setDynoState('restarting', 'web.1', 'crashed');
      const crashed = await probeApp('restarting');
      assert.deepEqual([crashed.status, crashed.code], ['down', 'dyno_crashed'], 'none serve and none start');
    });

    it('an eco app whose web dynos all sleep (idle) is UP and is not woken by a health check', async () => {
      heroku.addApp({ name: 'eco-sleeper', webQuantity: 1 });
      heroku.setDynoState('eco-sleeper', 'web.1', 'idle');
      const result = await probeApp('eco-sleeper');
      assert.deepEqual([result.status, result.code], ['up', null], result.detail);
      assert.match(
        result.detail,
        /1 idle \(eco, asleep\): the eco app sleeps; health check skipped so as not to wake it/,
      );
      assert.equal(heroku.healthHits('eco-sleeper'), 0);
      heroku.setDynoState('eco-sleeper', 'web.1', 'up');
      assert.match((await probeApp('eco-sleeper')).detail, /health check: HTTP 200/);
      assert.equal(heroku.healthHits('eco-sleeper'), 1);
    });

    it('maintenance mode is DEGRADED maintenance_mode', async () => {
      heroku.addApp({ name: 'in-maintenance', maintenance: true });
      const result = await probeApp('in-maintenance');
      assert.deepEqual([result.status, result.code], ['degraded', 'maintenance_mode']);
      assert.match(result.detail, /maintenance mode.*health check: answered HTTP 503/);
    });

    it('names the root cause: dynos before maintenance before the health check', async () => {
      heroku.addApp({ name: 'many-wrongs', webQuantity: 2, maintenance: true, healthStatus: 500 });
      heroku.crashDynos('many-wrongs', 1);
      assert.equal((await probeApp('many-wrongs')).code, 'dyno_crashed');
      heroku.setDynoState('many-wrongs', 'web.1', 'up');
      assert.equal((await probeApp('many-wrongs')).code, 'maintenance_mode');
      heroku.setMaintenance('many-wrongs', false);
      assert.equal((await probeApp('many-wrongs')).code, 'health_http_500');
      heroku.scaleWeb('many-wrongs', 0);
      heroku.revokeKey(API_KEY);
      try {
        assert.equal((await probeApp('many-wrongs')).code, 'api_auth_failed', 'credentials come first');
      } finally {
        heroku.addKey(API_KEY);
      }
    });
  });

  describe('dyno pages, health_url and Private Spaces (provider-apis.md §7.4)', () => {
    it('asks for 1,000 dynos a page and follows Next-Range: web dynos past page 1 are not read as crashed', async () => {
      heroku.addApp({ name: 'many-one-offs', webQuantity: 2 });
      // `run.*` sorts before `web.*`: with 250 one-off dynos the web dynos are on page 2 of 200.
      heroku.addDynos('many-one-offs', 'run', 250);
      heroku.setMaxPageSize(200);
      heroku.dynoRangesRequested();
      try {
        const result = await probeApp('many-one-offs');
        assert.deepEqual([result.status, result.code], ['up', null], result.detail);
        assert.match(result.detail, /^2 web dyno\(s\) up/);
        const [first, second, ...more] = heroku.dynoRangesRequested();
        assert.equal(first, 'name ..; max=1000');
        assert.match(second ?? '', /^name \]run\.\d+\.\.; max=200$/, 'the Next-Range of page 1, sent back');
        assert.deepEqual(more, []);
      } finally {
        heroku.setMaxPageSize(1000);
      }
    });

    it('reads at most 5 pages, says the list is incomplete, and never infers a crash from a dyno not read', async () => {
      heroku.addApp({ name: 'huge-app', webQuantity: 2 });
      heroku.addDynos('huge-app', 'run', 30);
      heroku.setMaxPageSize(5);
      heroku.dynoRangesRequested();
      try {
        const result = await probeApp('huge-app');
        assert.deepEqual([result.status, result.code], ['up', null], result.detail);
        assert.match(result.detail, /the dyno list has more than 5 pages; only the first 5 were read/);
        assert.equal(heroku.dynoRangesRequested().length, 5);
      } finally {
        heroku.setMaxPageSize(1000);
      }
    });

    it('a web dyno missing from a complete list is named, not counted as crashed', async () => {
      heroku.addApp({ name: 'scaling-up', webQuantity: 1 });
      heroku.scaleWeb('scaling-up', 1);
      heroku.addDynos('scaling-up', 'worker', 1);
      // Formation says 3 while only web.1 is listed yet (the others are being created).
      heroku.setFormationQuantity('scaling-up', 3);
      const result = await probeApp('scaling-up');
      assert.deepEqual([result.status, result.code], ['up', null], result.detail);
      assert.match(result.detail, /1 web dyno\(s\) up, 2 of 3 not listed yet/);
    });

    it('a 3xx from web_url names the Location host and suggests health_url; health_url replaces web_url', async () => {
      heroku.addApp({ name: 'custom-domain' });
      heroku.redirectWebUrl('custom-domain', 'https://www.raxx.app/health');
      const redirected = await probeApp('custom-domain');
      assert.deepEqual(
        [redirected.status, redirected.code],
        ['degraded', 'health_http_301'],
        redirected.detail,
      );
      assert.match(
        redirected.detail,
        /^health check answered HTTP 301 to www\.raxx\.app, expected a 2xx: set health_url to the URL to probe/,
      );
      const direct = await probeApp('custom-domain', {
        health_url: `${heroku.router.url}/custom-domain-direct/health`,
      });
      assert.equal(direct.code, 'health_http_404', 'the health_url, not web_url, was asked');
      heroku.addApp({ name: 'custom-domain-direct' });
      const hitsBefore = heroku.healthHits('custom-domain-direct');
      const ok = await probeApp('custom-domain', {
        health_url: `${heroku.router.url}/custom-domain-direct/health`,
      });
      assert.deepEqual([ok.status, ok.code], ['up', null], ok.detail);
      assert.equal(heroku.healthHits('custom-domain-direct'), hitsBefore + 1);
    });

    it('an internal-routing Private Space app without health_url is judged by its dynos, and the detail says why', async () => {
      heroku.addApp({ name: 'private-api', privateSpace: { internalRouting: true } });
      const result = await probeApp('private-api');
      assert.deepEqual([result.status, result.code], ['up', null], result.detail);
      assert.match(
        result.detail,
        /internal routing \(Private Space\): web_url is not reachable from outside the space; set health_url/,
      );
      assert.equal(heroku.healthHits('private-api'), 0);
    });

    for (const [status, id, word] of [
      [403, 'suspended', 'suspended'],
      [402, 'delinquent', 'delinquent'],
    ] as const) {
      it(`${status} ${id} is an account problem, not a key to rotate`, async () => {
        heroku.addApp({ name: `account-${id}` });
        heroku.failWith(status, id, 'This account is not in good standing.');
        try {
          const result = await probeApp(`account-${id}`);
          assert.deepEqual([result.status, result.code], ['degraded', 'api_auth_failed']);
          assert.match(
            result.detail,
            new RegExp(
              `^Heroku account problem, not a key to rotate: the account of HEROKU_API_KEY is ${word}`,
            ),
          );
          assert.ok(!result.detail.includes(API_KEY));
        } finally {
          heroku.failWith(undefined);
        }
      });
    }
  });

  describe('API errors', () => {
    it('app_not_found on 404, with the API message', async () => {
      const result = await probeApp('no-such-app');
      assert.deepEqual([result.status, result.code], ['degraded', 'app_not_found']);
      assert.match(result.detail, /HTTP 404 not_found: Couldn't find that app\./);
    });

    it('api_auth_failed on 401 (revoked key) and 403 (no access to the app), never echoing the key', async () => {
      heroku.addApp({ name: 'auth-app' });
      heroku.revokeKey(API_KEY);
      try {
        const revoked = await probeApp('auth-app');
        assert.deepEqual([revoked.status, revoked.code], ['degraded', 'api_auth_failed']);
        assert.match(revoked.detail, /HEROKU_API_KEY.*HTTP 401 unauthorized: Invalid credentials provided\./);
        assert.ok(!revoked.detail.includes(API_KEY));
      } finally {
        heroku.addKey(API_KEY);
      }
      heroku.forbidApp('auth-app', API_KEY);
      const forbidden = await probeApp('auth-app');
      assert.equal(forbidden.code, 'api_auth_failed');
      assert.match(forbidden.detail, /HTTP 403 forbidden: You do not have access to the app auth-app\./);
    });

    it('api_http_<status> for other errors, reading `message ?? error`', async () => {
      heroku.addApp({ name: 'api-down' });
      heroku.failWith(503, 'unavailable', 'API is temporarily unavailable.');
      heroku.useLegacyErrorKey(true);
      try {
        const result = await probeApp('api-down');
        assert.deepEqual([result.status, result.code], ['degraded', 'api_http_503']);
        assert.match(result.detail, /HTTP 503 unavailable: API is temporarily unavailable\./);
      } finally {
        heroku.failWith(undefined);
        heroku.useLegacyErrorKey(false);
      }
    });

    it('connection_error when the API cannot be reached', async () => {
      const result = await probeApp(
        'raxx-api-prod',
        {},
        { HEROKU_API_URL: `http://127.0.0.1:${await closedPort()}` },
      );
      assert.equal(result.code, 'connection_error');
      assert.match(result.detail, /Heroku API GET \/apps\/raxx-api-prod: connection refused/);
    });

    it('probe_timeout when the API is slower than timeout_seconds', async () => {
      heroku.addApp({ name: 'slow-api' });
      heroku.setLatency(1500);
      try {
        const harness = await exporterWith(
          [herokuApp('slow', 'slow-api')],
          {},
          { ...POLLER, timeout_seconds: 0.3 },
        );
        const result = await harness.probe('prod/slow');
        assert.equal(result.code, 'probe_timeout');
      } finally {
        heroku.setLatency(0);
      }
    });

    it('429: rate_limited, then no call at all until Retry-After has passed', async () => {
      heroku.addApp({ name: 'limited' });
      const harness = await exporterWith([herokuApp('limited', 'limited')]);
      heroku.forceRateLimit(1);
      heroku.resetCalls();
      const first = await harness.probe('prod/limited');
      assert.deepEqual([first.status, first.code], ['degraded', 'rate_limited']);
      assert.match(first.detail, /HTTP 429 rate_limit: Your account reached the API rate limit/);
      const callsAfterFirst = heroku.calls();
      assert.equal(callsAfterFirst, 1);
      heroku.clearRateLimit();
      const during = await harness.probe('prod/limited');
      assert.equal(during.code, 'rate_limited');
      assert.match(during.detail, /no call before/);
      assert.equal(heroku.calls(), callsAfterFirst, 'no request while Retry-After runs');
      await waitFor(async () => (await harness.probe('prod/limited')).status === 'up', {
        timeoutMs: 3000,
        intervalMs: 200,
        what: 'the probe to resume after Retry-After',
      });
    });

    it('a 429 on one app silences every app using the same key', async () => {
      heroku.addApp({ name: 'shared-a' });
      heroku.addApp({ name: 'shared-b' });
      const harness = await exporterWith([herokuApp('a', 'shared-a'), herokuApp('b', 'shared-b')]);
      heroku.forceRateLimit(30);
      try {
        assert.equal((await harness.probe('prod/a')).code, 'rate_limited');
        heroku.resetCalls();
        assert.equal((await harness.probe('prod/b')).code, 'rate_limited');
        assert.equal(heroku.calls(), 0);
      } finally {
        heroku.clearRateLimit();
      }
    });
  });

  describe('malformed API bodies are api_bad_response', () => {
    const cases = [
      ['html', '/apps/'],
      ['truncated_json', '/apps/'],
      ['wrong_types', '/apps/'],
      ['huge', '/apps/'],
      ['wrong_types', '/apps/bad-body/formation'],
      ['wrong_types', '/apps/bad-body/dynos'],
      ['huge', '/apps/bad-body/dynos'],
    ] as const;
    for (const [kind, path] of cases) {
      it(`${kind} on ${path}`, async () => {
        heroku.addApp({ name: 'bad-body' });
        heroku.setMalformed(kind, path);
        try {
          const result = await probeApp('bad-body');
          assert.deepEqual([result.status, result.code], ['degraded', 'api_bad_response'], result.detail);
          if (kind === 'huge') assert.match(result.detail, /body larger than \d+ bytes/);
          if (kind === 'html') assert.match(result.detail, /not JSON \(text\/html/);
          if (kind === 'wrong_types') assert.match(result.detail, /unexpected JSON at/);
        } finally {
          heroku.setMalformed(undefined);
        }
      });
    }
  });

  describe('rate budget', () => {
    it('surfaces naming the same app share one cache entry and one load', async () => {
      heroku.addApp({ name: 'shared-app' });
      const poller = { ...POLLER, metadata_ttl_seconds: 300 };
      const harness = await exporterWith(
        [herokuApp('one', 'shared-app'), herokuApp('two', 'shared-app')],
        {},
        poller,
      );
      heroku.resetCalls();
      const first = await harness.forcePoll();
      assert.deepEqual(
        first.results.map((result) => result.status),
        ['up', 'up'],
      );
      assert.equal(heroku.calls(), 3, 'one /apps, one /formation, one /dynos for both surfaces');
      await harness.forcePoll();
      assert.equal(heroku.calls(), 3, 'cached for metadata_ttl_seconds');
      assert.equal(heroku.healthHits('shared-app'), 4, 'the health check still runs on every probe');
    });

    it('exports RateLimit-Remaining and stretches the refresh when it falls below 10 %', async () => {
      heroku.addApp({ name: 'budget-app' });
      const poller = { ...POLLER, metadata_ttl_seconds: 1 };
      const harness = await exporterWith([herokuApp('budget', 'budget-app')], {}, poller);
      heroku.setRateLimitRemaining(4000);
      await harness.probe('prod/budget');
      const remaining = sampleValue(await harness.metrics(), 'surface_provider_rate_limit_remaining', {
        provider: 'heroku',
      });
      assert.ok(remaining !== undefined && remaining > 3990 && remaining < 4000, `got ${remaining}`);

      // With a healthy pool a 1 s TTL refreshes every second.
      heroku.resetCalls();
      await waitFor(
        async () => {
          await harness.probe('prod/budget');
          return heroku.calls() > 0;
        },
        { timeoutMs: 3000, intervalMs: 250, what: 'a refresh after the 1 s TTL' },
      );

      heroku.setRateLimitRemaining(100);
      await waitFor(
        async () => {
          await harness.probe('prod/budget');
          const text = await harness.metrics();
          return (
            (sampleValue(text, 'surface_provider_rate_limit_remaining', { provider: 'heroku' }) ?? 4500) < 100
          );
        },
        { timeoutMs: 3000, intervalMs: 250, what: 'a refresh that reads the low pool' },
      );
      heroku.resetCalls();
      const healthBefore = heroku.healthHits('budget-app');
      for (let round = 0; round < 4; round++) {
        await new Promise((resolve) => setTimeout(resolve, 400));
        assert.equal((await harness.probe('prod/budget')).status, 'up');
      }
      assert.equal(heroku.calls(), 0, 'below 10 % the 1 s TTL is stretched');
      assert.equal(heroku.healthHits('budget-app') - healthBefore, 4, 'health checks keep their interval');
      heroku.setRateLimitRemaining(4500);
    });
  });

  describe('Cloudflare Access in front of web_url', () => {
    let gate: AccessGateFake;
    before(async () => {
      gate = await startAccessGate({ target: heroku.router.url, hostname: 'gated-app.herokuapp.com' });
      heroku.addApp({ name: 'gated-app', webUrl: `${gate.url}/gated-app/` });
    });
    after(() => gate.close());

    it('sends the service token to the health check: enrolled is UP, revoked is access_gate_redirect', async () => {
      const token = gate.createServiceToken();
      gate.enroll(token.clientId);
      const tokenEnv = { CF_ACCESS_SERVICE_TOKEN_APP: `${token.clientId}:${token.clientSecret}` };
      const extra = { access_token_env: 'CF_ACCESS_SERVICE_TOKEN_APP' };
      const enrolled = await probeApp('gated-app', extra, tokenEnv);
      assert.equal(enrolled.status, 'up', enrolled.detail);
      assert.equal(gate.passed(), 1);
      gate.revoke(token.clientId);
      const revoked = await probeApp('gated-app', extra, tokenEnv);
      assert.equal(revoked.code, 'access_gate_redirect');
      assert.match(
        revoked.detail,
        /302 to the Cloudflare Access login .*Service Auth \(non_identity\) policy/,
      );
      assert.ok(!revoked.detail.includes(token.clientSecret));
    });
  });

  it('never lets the API key reach logs, the status API or /metrics', async () => {
    heroku.addApp({ name: 'secret-app' });
    const harness = await exporterWith([
      herokuApp('secret', 'secret-app'),
      herokuApp('missing', 'no-such-app'),
    ]);
    heroku.revokeKey(API_KEY);
    try {
      await harness.forcePoll();
    } finally {
      heroku.addKey(API_KEY);
    }
    await harness.forcePoll();
    const exposed = [harness.logs.text(), JSON.stringify(await harness.status()), await harness.metrics()];
    for (const text of exposed) assert.ok(!text.includes(API_KEY), 'the Heroku API key leaked');
    assert.ok(harness.logs.text().includes('api_auth_failed'), 'the log does carry the failure');
  });
});

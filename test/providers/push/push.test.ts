import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { after, before, describe, it, mock } from 'node:test';
import type { Clock } from '../../../src/core/clock.js';
import { OPERATOR_TOKEN } from '../../helpers/exporter.js';
import { parseSamples, sampleKey, startTestExporter, type TestExporter } from '../../helpers/support.js';

const PUSH_TOKEN = 'push-token-4f1c9a7e2b8d6053';
const HEARTBEAT_SECONDS = 30;

/** Real timers, a monotonic (and wall) clock the test moves: heartbeats pass without sleeping. */
function steppedClock() {
  let offsetMs = 0;
  const clock: Clock = {
    now: () => Date.now() + offsetMs,
    monotonic: () => performance.now() + offsetMs,
  };
  return { clock, advance: (seconds: number) => (offsetMs += seconds * 1000) };
}

describe('push provider (jobs that report themselves)', () => {
  let exporter: TestExporter;
  let time: ReturnType<typeof steppedClock>;
  const outbound: string[] = [];

  const push = (path: string, init: { token?: string; body?: unknown; method?: string } = {}) => {
    const headers: Record<string, string> = {};
    if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    return fetch(`${exporter.url}/api/push/${path}`, {
      method: init.method ?? 'POST',
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
  };
  const operator = { authorization: `Bearer ${OPERATOR_TOKEN}` };
  const forcePoll = async (surface: string) => {
    const res = await fetch(`${exporter.url}/api/force-poll?env=prod&surface=${surface}`, {
      method: 'POST',
      headers: operator,
    });
    assert.equal(res.status, 200);
    return (
      (await res.json()) as { results: Array<{ status: string; error: string | null; detail: string }> }
    ).results[0];
  };
  const snapshot = async (surface: string) => {
    const res = await fetch(`${exporter.url}/api/_internal/poller-status`, { headers: operator });
    const body = (await res.json()) as {
      surfaces: Array<{ surface: string; status: string; error: string }>;
    };
    return body.surfaces.find((candidate) => candidate.surface === surface);
  };
  const upSample = async (surface: string) => {
    const text = await (await fetch(`${exporter.url}/metrics`)).text();
    return parseSamples(text).get(sampleKey('surface_up', { env: 'prod', provider: 'push', surface }));
  };

  before(async () => {
    time = steppedClock();
    exporter = await startTestExporter({
      registry: {
        poller: { interval_seconds: 60, timeout_seconds: 1, force_poll_deadline_seconds: 2 },
        environments: {
          prod: [
            {
              name: 'nightly-sync',
              provider: 'push',
              heartbeat_seconds: HEARTBEAT_SECONDS,
              token_env: 'PUSH_TOKEN',
            },
            {
              name: 'secret-sync',
              provider: 'push',
              heartbeat_seconds: HEARTBEAT_SECONDS,
              token_env: 'PUSH_TOKEN',
            },
            {
              name: 'silent',
              provider: 'push',
              heartbeat_seconds: HEARTBEAT_SECONDS,
              token_env: 'PUSH_TOKEN',
            },
            { name: 'site', provider: 'http', url: 'http://127.0.0.1:9/health' },
          ],
        },
      },
      env: { PUSH_TOKEN, FORCE_POLL_TOKEN: OPERATOR_TOKEN },
      clock: time.clock,
    });
    // Every outbound request of the exporter passes here; push surfaces must add none.
    const send = exporter.http.send.bind(exporter.http);
    exporter.http.send = ((req: { url: string }, ...rest: unknown[]) => {
      outbound.push(req.url);
      return (send as (...args: unknown[]) => unknown)(req, ...rest);
    }) as typeof exporter.http.send;
  });
  after(() => exporter.stop());

  it('is unknown after a start until one heartbeat has passed, then DOWN push_missed', async () => {
    assert.equal((await forcePoll('silent'))?.status, 'unknown');
    assert.equal((await snapshot('silent'))?.status, 'unknown');
    assert.equal(await upSample('silent'), undefined, 'no published result, no surface_up');
    time.advance(HEARTBEAT_SECONDS + 1);
    const missed = await forcePoll('silent');
    assert.equal(missed?.status, 'down');
    assert.equal(missed?.error, 'push_missed');
    assert.equal(await upSample('silent'), 0);
  });

  it('status=ok makes the surface UP at once, and the answer says so', async () => {
    const res = await push('prod/nightly-sync?status=ok&duration_seconds=42', { token: PUSH_TOKEN });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { status: string; error: string | null; detail: string };
    assert.equal(body.status, 'up');
    assert.equal(body.error, null);
    assert.match(body.detail, /ran 42 s/);
    assert.equal((await snapshot('nightly-sync'))?.status, 'up');
    assert.equal(await upSample('nightly-sync'), 1);
  });

  it('status=fail in a JSON body makes it DEGRADED push_failed with the job’s detail', async () => {
    const res = await push('prod/secret-sync', {
      token: PUSH_TOKEN,
      body: { status: 'fail', detail: 'vault answered 503', duration_seconds: 3 },
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { status: string; error: string; detail: string };
    assert.deepEqual([body.status, body.error], ['degraded', 'push_failed']);
    assert.match(body.detail, /vault answered 503/);
    const polled = await forcePoll('secret-sync');
    assert.deepEqual(
      [polled?.status, polled?.error],
      ['degraded', 'push_failed'],
      'force-poll answers the current state',
    );
  });

  it('no push for heartbeat_seconds on the monotonic clock makes an UP surface DOWN push_missed', async () => {
    assert.equal((await push('prod/nightly-sync', { token: PUSH_TOKEN })).status, 200);
    time.advance(HEARTBEAT_SECONDS - 1);
    assert.equal((await forcePoll('nightly-sync'))?.status, 'up');
    time.advance(2);
    const missed = await forcePoll('nightly-sync');
    assert.deepEqual([missed?.status, missed?.error], ['down', 'push_missed']);
    assert.equal(await upSample('nightly-sync'), 0);
    assert.equal((await push('prod/nightly-sync', { token: PUSH_TOKEN })).status, 200);
    assert.equal((await snapshot('nightly-sync'))?.status, 'up');
  });

  it('a wrong or missing token answers 401 and changes nothing', async () => {
    const before = await snapshot('secret-sync');
    for (const token of ['wrong', `${PUSH_TOKEN}x`, undefined]) {
      const res = await push('prod/secret-sync?status=ok', { token });
      assert.equal(res.status, 401, `token ${token}`);
    }
    assert.deepEqual(await snapshot('secret-sync'), before);
  });

  it('compares the token in constant time (timingSafeEqual on equal-length digests)', async () => {
    const calls = mock.method(crypto, 'timingSafeEqual');
    syncBuiltinESMExports();
    try {
      assert.equal((await push('prod/secret-sync', { token: 'wrong' })).status, 401);
      assert.ok(calls.mock.callCount() >= 1, 'the push token went through crypto.timingSafeEqual');
      for (const call of calls.mock.calls) {
        const [a, b] = call.arguments as [Buffer, Buffer];
        assert.equal(a.length, b.length);
      }
    } finally {
      calls.mock.restore();
      syncBuiltinESMExports();
    }
  });

  it('answers the same 404 for an unknown surface, an unknown env and a surface that is not a push surface', async () => {
    const bodies = new Set<string>();
    for (const path of ['prod/nope', 'staging/nightly-sync', 'prod/site']) {
      const res = await push(path, { token: PUSH_TOKEN });
      assert.equal(res.status, 404, path);
      bodies.add(await res.text());
    }
    assert.equal(bodies.size, 1, 'the answers do not tell which');
  });

  it('refuses bad input with 400 and a message naming the parameter', async () => {
    const cases: Array<[string, { body?: unknown }, RegExp]> = [
      ['prod/secret-sync?status=maybe', {}, /status must be ok or fail/],
      [`prod/secret-sync?detail=${'x'.repeat(257)}`, {}, /detail must be at most 256/],
      ['prod/secret-sync?duration_seconds=-1', {}, /duration_seconds/],
      ['prod/secret-sync?duration_seconds=soon', {}, /duration_seconds/],
      ['prod/secret-sync?color=red', {}, /unknown parameter color/],
      ['prod/secret-sync?status=ok', { body: { status: 'ok' } }, /status is given both/],
      ['prod/secret-sync', { body: ['ok'] }, /JSON body must be an object/],
      ['prod/secret-sync', { body: { detail: 7 } }, /detail must be a string/],
    ];
    for (const [path, init, message] of cases) {
      const res = await push(path, { token: PUSH_TOKEN, ...init });
      assert.equal(res.status, 400, path);
      assert.match(((await res.json()) as { error: string }).error, message);
    }
    const form = await fetch(`${exporter.url}/api/push/prod/secret-sync`, {
      method: 'POST',
      headers: { authorization: `Bearer ${PUSH_TOKEN}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'status=ok',
    });
    assert.equal(form.status, 400);
  });

  it('answers 405 with Allow: POST to another method', async () => {
    const res = await push('prod/secret-sync', { method: 'GET', token: PUSH_TOKEN });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'POST');
  });

  it('masks a secret a job quotes in its detail, and the token reaches no log, metric, API or page', async () => {
    const res = await push(
      `prod/secret-sync?status=fail&detail=${encodeURIComponent(`bad token ${PUSH_TOKEN}`)}`,
      {
        token: PUSH_TOKEN,
      },
    );
    const body = (await res.json()) as { detail: string };
    assert.match(body.detail, /bad token \*\*\*/);
    const seen = [
      JSON.stringify(body),
      exporter.logs.text(),
      await (await fetch(`${exporter.url}/metrics`)).text(),
      await (await fetch(`${exporter.url}/api/_internal/poller-status`, { headers: operator })).text(),
      await (await fetch(`${exporter.url}/status`)).text(),
      await (await fetch(`${exporter.url}/api/status`)).text(),
    ];
    for (const text of seen) assert.ok(!text.includes(PUSH_TOKEN), 'the push token leaked');
  });

  it('makes no outbound request', () => {
    assert.deepEqual(
      outbound.filter((url) => !url.startsWith('http://127.0.0.1:9/')),
      [],
    );
  });
});

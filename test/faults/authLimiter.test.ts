import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTrustProxy } from '../../src/api/auth.js';
import { startTestExporter, type TestExporter } from '../helpers/support.js';

const OPERATOR = 'operator-token-for-limiter-tests';
const SCRAPE = 'scrape-token-for-limiter-tests';

async function withExporter(env: Record<string, string>, run: (exporter: TestExporter) => Promise<void>) {
  const exporter = await startTestExporter({
    pollerEnabled: false,
    env: { FORCE_POLL_TOKEN: OPERATOR, METRICS_TOKEN: SCRAPE, ...env },
    registry: { environments: {} },
  });
  try {
    await run(exporter);
  } finally {
    await exporter.stop();
  }
}

/** Status of one request; `forwardedFor` is what a client (or a forger) writes in X-Forwarded-For. */
async function statusOf(
  exporter: TestExporter,
  path: string,
  token: string | undefined,
  forwardedFor?: string,
): Promise<number> {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (forwardedFor) headers['x-forwarded-for'] = forwardedFor;
  const res = await fetch(`${exporter.url}${path}`, { headers });
  await res.arrayBuffer();
  return res.status;
}

const STATUS = '/api/_internal/poller-status';

describe('fault matrix: the failed-auth limiter never locks out the right credential', () => {
  it('after 10 wrong operator tokens from one address, both right tokens still pass; wrong ones get 429', async () => {
    await withExporter({}, async (exporter) => {
      for (let attempt = 0; attempt < 10; attempt++)
        assert.equal(await statusOf(exporter, STATUS, `guess-${attempt}`), 401);
      assert.equal(await statusOf(exporter, STATUS, 'guess-x'), 429);
      assert.equal(await statusOf(exporter, STATUS, OPERATOR), 200, 'the right FORCE_POLL_TOKEN');
      assert.equal(await statusOf(exporter, '/metrics', SCRAPE), 200, 'the right METRICS_TOKEN');
      // The scrape credential has its own budget: operator guesses did not spend it.
      assert.equal(await statusOf(exporter, '/metrics', 'wrong-scrape'), 401);
    });
  });

  it('requests without credentials are not failures', async () => {
    await withExporter({}, async (exporter) => {
      for (let attempt = 0; attempt < 20; attempt++) {
        assert.equal(await statusOf(exporter, '/metrics', undefined), 401);
        assert.equal(await statusOf(exporter, STATUS, undefined), 401);
      }
      assert.equal(
        await statusOf(exporter, STATUS, 'one-wrong-guess'),
        401,
        'not 429: nothing was guessed yet',
      );
    });
  });

  it('TRUST_PROXY=1 with no proxy in front: a rotated X-Forwarded-For still spends the socket budget', async () => {
    await withExporter({ TRUST_PROXY: '1' }, async (exporter) => {
      for (let attempt = 0; attempt < 10; attempt++)
        assert.equal(await statusOf(exporter, STATUS, `guess-${attempt}`, `198.51.100.${attempt}`), 401);
      assert.equal(await statusOf(exporter, STATUS, 'guess-x', '198.51.100.77'), 429);
    });
  });

  it('a forged X-Forwarded-For cannot lock a chosen victim out', async () => {
    await withExporter({ TRUST_PROXY: '1' }, async (exporter) => {
      const victim = '203.0.113.5';
      for (let attempt = 0; attempt < 12; attempt++)
        await statusOf(exporter, STATUS, `guess-${attempt}`, victim);
      assert.equal(await statusOf(exporter, STATUS, OPERATOR, victim), 200);
      assert.equal(await statusOf(exporter, '/metrics', SCRAPE, victim), 200);
    });
  });

  it('TRUST_PROXY takes a hop count and nothing a client could exploit', async () => {
    assert.equal(parseTrustProxy(undefined), 0);
    assert.equal(parseTrustProxy('1'), 1);
    assert.equal(parseTrustProxy(' 2 '), 2);
    for (const value of ['true', 'loopback', '10.0.0.0/8', '-1', '1.5', '99'])
      assert.throws(
        () => parseTrustProxy(value),
        new RegExp(`TRUST_PROXY=${JSON.stringify(value)}: expected`),
      );
    await assert.rejects(
      startTestExporter({
        pollerEnabled: false,
        env: { TRUST_PROXY: 'true' },
        registry: { environments: {} },
      }),
      /TRUST_PROXY="true": expected the number of proxies/,
    );
  });
});

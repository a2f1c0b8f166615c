import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startTarget, startTestExporter } from '../helpers/support.js';

describe('endpoint protection', () => {
  it('protects /metrics with METRICS_TOKEN (bearer) or METRICS_BASIC_AUTH, and leaves /health open', async () => {
    const exporter = await startTestExporter({
      pollerEnabled: false,
      env: { METRICS_TOKEN: 'scrape-token', METRICS_BASIC_AUTH: 'prometheus:scrape-password' },
      registry: { environments: {} },
    });
    try {
      const metrics = (headers: Record<string, string> = {}) => fetch(`${exporter.url}/metrics`, { headers });
      const open = await metrics();
      assert.equal(open.status, 401);
      assert.match(open.headers.get('www-authenticate') ?? '', /^Basic/);
      assert.equal((await metrics({ authorization: 'Bearer wrong' })).status, 401);
      assert.equal((await metrics({ authorization: 'Bearer scrape-token' })).status, 200);
      const basic = Buffer.from('prometheus:scrape-password').toString('base64');
      assert.equal((await metrics({ authorization: `Basic ${basic}` })).status, 200);
      const wrongBasic = Buffer.from('prometheus:nope').toString('base64');
      assert.equal((await metrics({ authorization: `Basic ${wrongBasic}` })).status, 401);
      const health = await fetch(`${exporter.url}/health`);
      assert.equal(health.status, 200);
      assert.deepEqual(Object.keys((await health.json()) as object).sort(), [
        'poller',
        'poller_last_poll_at',
        'status',
      ]);
    } finally {
      await exporter.stop();
    }
  });

  it('leaves /metrics open when no scrape credential is configured', async () => {
    const exporter = await startTestExporter({ pollerEnabled: false, registry: { environments: {} } });
    try {
      assert.equal((await fetch(`${exporter.url}/metrics`)).status, 200);
    } finally {
      await exporter.stop();
    }
  });

  it('rate-limits failed authentications, and never refuses the right token', async () => {
    const exporter = await startTestExporter({
      pollerEnabled: false,
      env: { FORCE_POLL_TOKEN: 'right-token' },
      registry: { environments: {} },
    });
    try {
      const status = async (token: string) =>
        (
          await fetch(`${exporter.url}/api/_internal/poller-status`, {
            headers: { authorization: `Bearer ${token}` },
          })
        ).status;
      assert.equal(await status('right-token'), 200);
      for (let attempt = 0; attempt < 10; attempt++) assert.equal(await status(`guess-${attempt}`), 401);
      const limited = await fetch(`${exporter.url}/api/_internal/poller-status`, {
        headers: { authorization: 'Bearer guess-x' },
      });
      assert.equal(limited.status, 429);
      assert.ok(Number(limited.headers.get('retry-after')) > 0);
      assert.equal(await status('right-token'), 200, 'the limited client still gets in with the right token');
    } finally {
      await exporter.stop();
    }
  });

  it('sets security headers on the landing page', async () => {
    const exporter = await startTestExporter({ pollerEnabled: false, registry: { environments: {} } });
    try {
      const res = await fetch(exporter.url);
      assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'/);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.ok(res.headers.get('x-frame-options'));
      assert.equal(res.headers.get('x-powered-by'), null);
    } finally {
      await exporter.stop();
    }
  });

  it('takes no URL or host from a request: only registered names, unknown ones get 404 and no request', async () => {
    const target = await startTarget((_req, res) => res.end('ok'));
    const exporter = await startTestExporter({
      pollerEnabled: false,
      env: { FORCE_POLL_TOKEN: 't' },
      registry: { environments: { prod: [{ name: 'known', provider: 'http', url: `${target.url}/` }] } },
    });
    try {
      const attempts = [
        '/api/force-poll?surface=evil',
        `/api/force-poll?url=${encodeURIComponent('http://169.254.169.254/')}`,
        `/api/force-poll?surface=${encodeURIComponent(target.url)}`,
        '/api/force-poll?env=prod&surface=known&target=http://127.0.0.1:1/',
      ];
      const statuses: number[] = [];
      for (const path of attempts) {
        statuses.push(
          (await fetch(`${exporter.url}${path}`, { method: 'POST', headers: { authorization: 'Bearer t' } }))
            .status,
        );
      }
      // `url` and `target` are ignored: the first two poll nothing unknown, the last polls the registered surface.
      assert.deepEqual(statuses, [404, 200, 400, 200]);
      assert.ok(
        target.requests.every((req) => req.url === '/'),
        'only the registered URL was requested',
      );
    } finally {
      await exporter.stop();
      await target.close();
    }
  });
});

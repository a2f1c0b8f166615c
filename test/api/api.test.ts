import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  fastPoller,
  type LocalTarget,
  startTarget,
  startTestExporter,
  type TestExporter,
  waitFor,
} from '../helpers/support.js';

const TOKEN = 'force-poll-token-for-tests';

describe('HTTP API', () => {
  let target: LocalTarget;
  let exporter: TestExporter;
  let okHits = 0;
  let holdSlowOk = false;
  const heldAnswers: Array<() => void> = [];

  before(async () => {
    target = await startTarget((req, res) => {
      if (req.url === '/hang') return;
      if (req.url === '/slow-ok') {
        okHits++;
        if (holdSlowOk) heldAnswers.push(() => res.end('ok'));
        else setTimeout(() => res.end('ok'), 200);
        return;
      }
      res.end('ok');
    });
    exporter = await startTestExporter({
      pollerEnabled: false,
      env: { FORCE_POLL_TOKEN: TOKEN },
      registry: {
        poller: { ...fastPoller, timeout_seconds: 0.9, force_poll_deadline_seconds: 0.5 },
        environments: {
          prod: [
            { name: 'slow-ok', provider: 'http', url: `${target.url}/slow-ok` },
            { name: 'hang', provider: 'http', url: `${target.url}/hang` },
          ],
          staging: [{ name: 'ok', provider: 'http', url: `${target.url}/ok` }],
        },
      },
    });
  });

  after(async () => {
    await exporter.stop();
    await target.close();
  });

  const post = (path: string, token?: string, init: RequestInit = {}) =>
    fetch(`${exporter.url}${path}`, {
      method: 'POST',
      ...init,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers ?? {}) },
    });

  it('refuses force-poll without the bearer token (401) or with a wrong one', async () => {
    assert.equal((await post('/api/force-poll')).status, 401);
    const wrong = await post('/api/force-poll', 'not-the-token');
    assert.equal(wrong.status, 401);
    assert.deepEqual(await wrong.json(), { error: 'unauthorized' });
  });

  it('answers within the deadline with pending for a hanging surface, recording it later', async () => {
    const started = Date.now();
    const res = await post('/api/force-poll?env=prod', TOKEN);
    const elapsed = Date.now() - started;
    assert.equal(res.status, 200);
    assert.ok(elapsed < 1500, `answered after ${elapsed} ms with a 500 ms deadline`);
    const body = (await res.json()) as { polled: number; results: Array<Record<string, unknown>> };
    assert.equal(body.polled, 2);
    const byName = new Map(body.results.map((entry) => [entry.surface, entry]));
    assert.deepEqual(Object.keys(byName.get('slow-ok') ?? {}).sort(), [
      'detail',
      'duration_ms',
      'env',
      'error',
      'provider',
      'status',
      'surface',
    ]);
    assert.equal(byName.get('slow-ok')?.status, 'up');
    assert.equal(byName.get('hang')?.status, 'pending');
    const hang = await waitFor(
      () => exporter.poller.status().surfaces.find((surface) => surface.surface === 'hang' && surface.error),
      { timeoutMs: 3000, what: 'the pending probe to land' },
    );
    assert.equal(hang.error, 'probe_timeout', 'the pending probe was recorded when it landed');
  });

  it('serves the runbook path /dashboard/_force_poll with one surface', async () => {
    const res = await post('/dashboard/_force_poll?env=staging&surface=ok', TOKEN);
    assert.equal(res.status, 200);
    const body = (await res.json()) as {
      polled: number;
      results: Array<{ surface: string; status: string }>;
    };
    assert.equal(body.polled, 1);
    assert.deepEqual(
      body.results.map((entry) => [entry.surface, entry.status]),
      [['ok', 'up']],
    );
  });

  it('takes the filter from a JSON body too', async () => {
    const res = await post('/api/force-poll', TOKEN, {
      body: JSON.stringify({ env: 'staging', surface: 'ok' }),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(((await res.json()) as { polled: number }).polled, 1);
  });

  it('joins concurrent force-polls into one round', async () => {
    const before = okHits;
    // The probe is held until all twenty callers are connected, so every one of them is concurrent.
    holdSlowOk = true;
    const pending = Array.from({ length: 20 }, () => post('/api/force-poll?env=prod&surface=slow-ok', TOKEN));
    const connections = () =>
      new Promise<number>((resolve) => exporter.server.getConnections((_err, count) => resolve(count)));
    await waitFor(async () => okHits > before && (await connections()) >= 20, {
      timeoutMs: 5000,
      what: 'twenty callers connected while the probe is held',
    });
    await new Promise((resolve) => setTimeout(resolve, 100)); // their requests are parsed and routed
    holdSlowOk = false;
    for (const answer of heldAnswers.splice(0)) answer();
    const responses = await Promise.all(pending);
    assert.ok(responses.every((res) => res.status === 200));
    assert.equal(okHits - before, 1, 'twenty callers, one probe');
  });

  it('answers 404 for an unknown surface without probing anything', async () => {
    const hits = target.requests.length;
    const res = await post('/api/force-poll?env=prod&surface=nope', TOKEN);
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), { error: 'unknown surface' });
    assert.equal(target.requests.length, hits);
  });

  it('rejects malformed filters and malformed JSON with 400', async () => {
    assert.equal((await post('/api/force-poll?surface=../../etc', TOKEN)).status, 400);
    const res = await post('/api/force-poll', TOKEN, {
      body: '{',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { error: 'malformed JSON body' });
  });

  it('lists every surface in poller-status, behind the same token', async () => {
    assert.equal((await fetch(`${exporter.url}/api/_internal/poller-status`)).status, 401);
    const res = await fetch(`${exporter.url}/api/_internal/poller-status`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const body = (await res.json()) as {
      poller: Record<string, unknown>;
      surfaces: Array<Record<string, unknown>>;
    };
    for (const key of ['running', 'last_poll_at', 'crashes', 'interval_seconds'])
      assert.ok(key in body.poller, key);
    assert.equal(body.surfaces.length, 3);
    for (const key of [
      'env',
      'surface',
      'provider',
      'thread_alive',
      'status',
      'error',
      'detail',
      'checked_at',
      'consecutive_failures',
      'next_poll_at',
    ]) {
      assert.ok(key in (body.surfaces[0] ?? {}), key);
    }
  });

  it('refuses bodies over 16 KiB', async () => {
    const res = await post('/api/force-poll', TOKEN, { body: 'x'.repeat(17 * 1024) });
    assert.equal(res.status, 413);
    const text = await res.text();
    assert.doesNotMatch(text, /at .*\.js/);
  });

  it('answers unknown routes with JSON 404, and a known route with the wrong method 405 with Allow', async () => {
    const res = await fetch(`${exporter.url}/nope`);
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), { error: 'not found' });
    const wrongMethod = await fetch(`${exporter.url}/metrics`, { method: 'DELETE' });
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.get('allow'), 'GET, HEAD');
  });

  it('serves the status page at /, linking the endpoints', async () => {
    const res = await fetch(exporter.url);
    const html = await res.text();
    for (const link of ['/metrics', '/health', '/api/_internal/poller-status', '/api/force-poll']) {
      assert.ok(html.includes(link), link);
    }
    assert.ok(res.headers.get('content-security-policy'), 'security headers are set');
  });
});

describe('HTTP API without FORCE_POLL_TOKEN', () => {
  it('answers 403 force poll disabled', async () => {
    const exporter = await startTestExporter({
      pollerEnabled: false,
      registry: { poller: fastPoller, environments: {} },
    });
    try {
      const res = await fetch(`${exporter.url}/api/force-poll`, {
        method: 'POST',
        headers: { authorization: 'Bearer x' },
      });
      assert.equal(res.status, 403);
      assert.deepEqual(await res.json(), { error: 'force poll disabled' });
    } finally {
      await exporter.stop();
    }
  });
});

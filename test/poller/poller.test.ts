import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Provider } from '../../src/providers/contract.js';
import { httpProvider } from '../../src/providers/http/provider.js';
import {
  parseSamples,
  sampleKey,
  scrape,
  startTarget,
  startTestExporter,
  waitFor,
} from '../helpers/support.js';

describe('poller', () => {
  it('keeps every other surface on its interval while three surfaces hang', async () => {
    const arrivals: number[] = [];
    const target = await startTarget((req, res) => {
      if (req.url === '/hang') return;
      arrivals.push(Date.now());
      res.end('ok');
    });
    const exporter = await startTestExporter({
      registry: {
        // Each hanging surface holds its probe for 0.8 s of every 1 s interval: were the surfaces
        // probed one after another, the healthy one would wait 2.4 s between checks.
        poller: { interval_seconds: 1, timeout_seconds: 0.8, concurrency: 8 },
        environments: {
          prod: [
            { name: 'hanging-1', provider: 'http', url: `${target.url}/hang` },
            { name: 'hanging-2', provider: 'http', url: `${target.url}/hang` },
            { name: 'hanging-3', provider: 'http', url: `${target.url}/hang` },
            { name: 'healthy', provider: 'http', url: `${target.url}/ok` },
          ],
        },
      },
    });
    try {
      await waitFor(() => arrivals.length >= 5, { timeoutMs: 9000, what: '5 healthy probes' });
      const gaps = arrivals.slice(1).map((at, index) => at - (arrivals[index] ?? at));
      for (const gap of gaps)
        assert.ok(gap > 500 && gap < 1900, `healthy surface checks drifted: gaps ${gaps.join(', ')} ms`);
      const hanging = exporter.poller.status().surfaces.find((surface) => surface.surface === 'hanging-1');
      assert.equal(hanging?.error, 'probe_timeout');
    } finally {
      await exporter.stop();
      await target.close();
    }
  });

  it('restarts a crashed worker loop with backoff and shows it in surface_worker_alive', async () => {
    const target = await startTarget((_req, res) => res.end('ok'));
    let crashesLeft = 2;
    const exporter = await startTestExporter({
      registry: {
        poller: { interval_seconds: 1, timeout_seconds: 0.5, max_backoff_seconds: 1.5 },
        environments: { prod: [{ name: 'flaky', provider: 'http', url: `${target.url}/ok` }] },
      },
      workerHook: () => {
        if (crashesLeft > 0) {
          crashesLeft--;
          throw new Error('injected worker-loop failure');
        }
      },
    });
    const alive = sampleKey('surface_worker_alive', { env: 'prod', surface: 'flaky', provider: 'http' });
    try {
      await waitFor(async () => parseSamples((await scrape(exporter)).text).get(alive) === 0, {
        timeoutMs: 3000,
        what: 'surface_worker_alive 0 while backing off',
      });
      await waitFor(() => exporter.poller.status().surfaces[0]?.status === 'up', {
        timeoutMs: 8000,
        what: 'recovery',
      });
      const samples = parseSamples((await scrape(exporter)).text);
      assert.equal(samples.get(alive), 1);
      assert.equal(samples.get(sampleKey('surface_poller_crashes_total', { scope: 'worker' })), 2);
      const crashLines = exporter.logs.lines().filter((line) => line.event === 'thread_crashed');
      assert.equal(crashLines.length, 2);
      assert.deepEqual(
        crashLines.map((line) => line.backoff_seconds),
        [1, 1.5],
        'backoff doubles and is capped at max_backoff_seconds',
      );
      assert.equal(crashLines[0]?.component, 'StatusPoller');
    } finally {
      await exporter.stop();
      await target.close();
    }
  });

  it('turns a probe that throws into probe_crashed and keeps the other surfaces going', async () => {
    const target = await startTarget((_req, res) => res.end('ok'));
    const exporter = await startTestExporter({
      pollerEnabled: false,
      registry: {
        poller: { interval_seconds: 1, timeout_seconds: 0.5 },
        environments: {
          prod: [
            { name: 'buggy', provider: 'http', url: `${target.url}/` },
            { name: 'fine', provider: 'http', url: `${target.url}/` },
          ],
        },
      },
      resolveProvider: (surface) =>
        surface.name === 'buggy'
          ? { ...httpProvider, probe: async () => JSON.parse('{not json') }
          : (httpProvider as Provider),
    });
    try {
      const round = await exporter.poller.forcePoll();
      const byName = new Map(round.results.map((entry) => [entry.surface, entry]));
      assert.deepEqual(
        [byName.get('buggy')?.status, byName.get('buggy')?.error],
        ['degraded', 'probe_crashed'],
      );
      assert.match(byName.get('buggy')?.detail ?? '', /probe crashed \(SyntaxError\)/);
      assert.equal(byName.get('fine')?.status, 'up');
      const line = exporter.logs.lines().find((entry) => entry.event === 'probe_crashed');
      assert.ok(line, 'probe_crashed is logged');
      assert.match(String((line.err as { stack?: string }).stack), /SyntaxError/);
      const samples = parseSamples((await scrape(exporter)).text);
      assert.equal(samples.get(sampleKey('surface_poller_crashes_total', { scope: 'probe' })), 1);
    } finally {
      await exporter.stop();
      await target.close();
    }
  });

  it('reports /health stale (503) once the poller stops, and ok while it runs', async () => {
    const target = await startTarget((_req, res) => res.end('ok'));
    const exporter = await startTestExporter({
      registry: {
        poller: { interval_seconds: 1, timeout_seconds: 0.5, stale_after_seconds: 1.5 },
        environments: { prod: [{ name: 'a', provider: 'http', url: `${target.url}/` }] },
      },
    });
    try {
      const healthy = await waitFor(
        async () => {
          const res = await fetch(`${exporter.url}/health`);
          const body = (await res.json()) as { status: string; poller_last_poll_at: string | null };
          return res.status === 200 && body.poller_last_poll_at ? body : undefined;
        },
        { timeoutMs: 4000, what: 'a first poll' },
      );
      assert.equal(healthy.status, 'ok');
      assert.ok(Date.now() - Date.parse(healthy.poller_last_poll_at ?? '') < 3000);
      await exporter.poller.stop();
      const stale = await waitFor(
        async () => {
          const res = await fetch(`${exporter.url}/health`);
          return res.status === 503 ? ((await res.json()) as Record<string, unknown>) : undefined;
        },
        { timeoutMs: 5000, what: '/health to turn 503' },
      );
      assert.equal(stale.status, 'stale');
      assert.deepEqual(Object.keys(stale).sort(), ['poller_last_poll_at', 'status']);
    } finally {
      await exporter.stop();
      await target.close();
    }
  });

  it('reports stale when nothing was polled for stale_after_seconds after start', async () => {
    const exporter = await startTestExporter({
      registry: {
        poller: { interval_seconds: 30, timeout_seconds: 1, stale_after_seconds: 0.3, concurrency: 1 },
        environments: { prod: [{ name: 'a', provider: 'http', url: 'http://127.0.0.1:1/' }] },
      },
    });
    try {
      // First probes are jittered over the 30 s interval, so none has run yet.
      await waitFor(async () => (await fetch(`${exporter.url}/health`)).status === 503, {
        timeoutMs: 3000,
        what: '503',
      });
    } finally {
      await exporter.stop();
    }
  });

  it('answers /health 200 with poller "disabled" when started with the poller off', async () => {
    const exporter = await startTestExporter({
      pollerEnabled: false,
      registry: {
        poller: { interval_seconds: 1, timeout_seconds: 0.5, stale_after_seconds: 0.1 },
        environments: {},
      },
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const res = await fetch(`${exporter.url}/health`);
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { poller: string }).poller, 'disabled');
    } finally {
      await exporter.stop();
    }
  });

  it('stops at once while every worker sleeps, its next probe a minute away', async () => {
    const target = await startTarget((_req, res) => res.end('ok'));
    const exporter = await startTestExporter({
      registry: {
        poller: { interval_seconds: 60, timeout_seconds: 0.5 },
        environments: {
          prod: ['a', 'b', 'c'].map((name) => ({ name, provider: 'http', url: `${target.url}/${name}` })),
        },
      },
    });
    try {
      await waitFor(
        () => exporter.poller.status().surfaces.every((surface) => surface.next_poll_at !== null),
        {
          what: 'every worker asleep until its first slot',
        },
      );
      const started = Date.now();
      await exporter.stop();
      assert.ok(Date.now() - started < 1000, `stop took ${Date.now() - started} ms`);
    } finally {
      await target.close();
    }
  });

  it('stops within the probe timeout, letting in-flight probes finish', async () => {
    const target = await startTarget(() => {});
    const exporter = await startTestExporter({
      registry: {
        poller: { interval_seconds: 1, timeout_seconds: 0.6 },
        environments: { prod: [{ name: 'slow', provider: 'http', url: `${target.url}/` }] },
      },
    });
    try {
      await waitFor(() => target.requests.length > 0, { timeoutMs: 3000, what: 'a probe in flight' });
      const started = Date.now();
      await exporter.stop();
      assert.ok(Date.now() - started < 1600, `stop took ${Date.now() - started} ms`);
      assert.equal(
        exporter.poller.status().surfaces[0]?.error,
        'probe_timeout',
        'the in-flight probe was recorded',
      );
    } finally {
      await target.close();
    }
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  parseSamples,
  sampleKey,
  scrape,
  startTarget,
  startTestExporter,
  waitFor,
} from '../helpers/support.js';

const TOKEN = 'starvation-test-token';
const INTERVAL_MS = 1000;
const TIMEOUT_MS = 500;

/** Surfaces whose target accepts the request and never answers, on a server of their own. */
const hangingSurfaces = (url: string, count: number) =>
  Array.from({ length: count }, (_, index) => ({
    name: `hang-${index}`,
    provider: 'http',
    url: `${url}/hang-${index}`,
  }));

describe('fault matrix: hanging targets do not starve healthy ones', () => {
  it('with 30x more hanging surfaces than slots, healthy surfaces keep their interval plus one timeout', async () => {
    const hanging = await startTarget(() => {});
    const arrivals = new Map<string, number[]>();
    const healthy = await startTarget((req, res) => {
      const surface = (req.url ?? '').slice(1);
      arrivals.set(surface, [...(arrivals.get(surface) ?? []), performance.now()]);
      res.end('ok');
    });
    // 60 hanging surfaces hold a slot for 0.5 s every second: 30 slots' worth of demand for 2 slots.
    // Before the slow lane, one round of them took 15 s, and healthy surfaces waited that long.
    const exporter = await startTestExporter({
      registry: {
        poller: { interval_seconds: INTERVAL_MS / 1000, timeout_seconds: TIMEOUT_MS / 1000, concurrency: 2 },
        environments: {
          prod: [
            ...hangingSurfaces(hanging.url, 60),
            { name: 'ok-0', provider: 'http', url: `${healthy.url}/ok-0` },
            { name: 'ok-1', provider: 'http', url: `${healthy.url}/ok-1` },
          ],
        },
      },
    });
    try {
      const checksOf = (surface: string) => arrivals.get(surface)?.length ?? 0;
      // Six checks each: the first is jittered over one interval, the next five must keep the schedule.
      await waitFor(() => checksOf('ok-0') >= 6 && checksOf('ok-1') >= 6, {
        timeoutMs: 6 * (INTERVAL_MS + TIMEOUT_MS) + 2000,
        what: 'six checks of each healthy surface',
      });
      for (const surface of ['ok-0', 'ok-1']) {
        const times = arrivals.get(surface) ?? [];
        const gaps = times.slice(1).map((at, index) => at - (times[index] as number));
        const worst = Math.max(...gaps);
        // 250 ms of slack for a shared CI machine; a starved surface waits seconds.
        assert.ok(
          worst <= INTERVAL_MS + TIMEOUT_MS + 250,
          `${surface}: ${worst.toFixed(0)} ms between two checks`,
        );
      }
      const samples = parseSamples((await scrape(exporter)).text);
      const slowWaits =
        samples.get(sampleKey('surface_poller_slot_wait_seconds_count', { lane: 'slow' })) ?? 0;
      assert.ok(slowWaits > 0, 'the hanging surfaces ran in the slow lane');
      assert.ok(samples.has('surface_poller_probes_queued'), 'the queue length is a metric');
      assert.ok(samples.has(sampleKey('surface_poller_probes_in_flight', { lane: 'slow' })));
    } finally {
      await exporter.stop();
      await hanging.close();
      await healthy.close();
    }
  });

  it('a force-poll of one surface never waits behind probes queued for a slot', async () => {
    const hanging = await startTarget(() => {});
    const healthy = await startTarget((_req, res) => res.end('ok'));
    const exporter = await startTestExporter({
      env: { FORCE_POLL_TOKEN: TOKEN },
      pollerEnabled: false,
      registry: {
        // The force-poll deadline is below one timeout: the surface must not even wait its longest for a slot.
        poller: { interval_seconds: 5, timeout_seconds: 2, concurrency: 1, force_poll_deadline_seconds: 1 },
        environments: {
          prod: [
            ...hangingSurfaces(hanging.url, 20),
            { name: 'ok', provider: 'http', url: `${healthy.url}/ok` },
          ],
        },
      },
    });
    const forcePoll = (query: string) =>
      fetch(`${exporter.url}/api/force-poll${query}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}` },
      });
    try {
      // A full round queues every surface behind the one hanging slot, `ok` last.
      const fullRound = forcePoll('');
      await waitFor(() => exporter.poller.status().poller.probes_queued === 20, { what: '20 probes queued' });
      const single = (await (await forcePoll('?env=prod&surface=ok')).json()) as {
        results: Array<{ status: string }>;
      };
      assert.equal(single.results[0]?.status, 'up');
      await fullRound;
    } finally {
      await exporter.stop();
      await hanging.close();
      await healthy.close();
    }
  });
});

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { stringify } from 'yaml';
import type { Provider } from '../../src/providers/contract.js';
import { httpProvider } from '../../src/providers/http/provider.js';
import {
  captureLogs,
  closedPort,
  parseSamples,
  scrape,
  startFileExporter,
  startTarget,
  startTestExporter,
  waitFor,
} from '../helpers/support.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A full collection, so that heap figures compare live data and not garbage not yet collected. */
function collectGarbage(): void {
  setFlagsFromString('--expose_gc');
  (runInNewContext('gc') as () => void)();
}

describe('fault matrix: the exporter itself', () => {
  it('1,000 surfaces failing at once: the interval holds, memory stays bounded, logs stay quiet', async () => {
    const port = await closedPort();
    const surfaces = Array.from({ length: 1000 }, (_, index) => ({
      name: `s-${index}`,
      provider: 'http',
      url: `http://127.0.0.1:${port}/health`,
    }));
    const exporter = await startTestExporter({
      logLevel: 'info',
      registry: {
        // 250 refused connections a second: well within one core, so a miss means the poller, not the machine.
        poller: { interval_seconds: 4, timeout_seconds: 0.5, concurrency: 64 },
        environments: { prod: surfaces },
      },
    });
    try {
      await sleep(4500); // every surface has had its first (jittered) probe
      collectGarbage();
      const heapBefore = process.memoryUsage().heapUsed;
      // Read the counter and the clock together: a scrape of 1,000 surfaces takes long enough to skew a rate.
      const pollCount = async () =>
        (await exporter.metrics.registry.getSingleMetric('surface_poller_polls_total')?.get())?.values[0]
          ?.value ?? 0;
      const pollsBefore = await pollCount();
      const started = performance.now();
      await sleep(4000);
      const polls = (await pollCount()) - pollsBefore;
      const elapsed = (performance.now() - started) / 1000;
      const rate = polls / elapsed;
      assert.ok(
        rate > 200 && rate < 300,
        `expected ~250 probes/s (one per surface per 4 s), got ${rate.toFixed(0)} (${polls} in ${elapsed.toFixed(2)} s)`,
      );
      collectGarbage();
      const heapGrowthMb = (process.memoryUsage().heapUsed - heapBefore) / 1024 / 1024;
      // A leak of even 1 KiB per failed probe would show as about 1 MiB here.
      assert.ok(heapGrowthMb < 8, `heap grew ${heapGrowthMb.toFixed(1)} MiB after 1,000 failed probes`);
      const lines = exporter.logs.lines();
      const perSurface = lines.filter((line) => line.event === 'poll_once' && line.surface !== undefined);
      const summaries = lines.filter((line) => line.event === 'poll_once' && line.surface === undefined);
      assert.ok(
        perSurface.length <= 1000,
        `${perSurface.length} per-surface lines for 1,000 unchanged failures`,
      );
      assert.ok(
        summaries.length >= 1 && summaries.length <= 3,
        `${summaries.length} summary lines in ~8.5 s at a 4 s interval`,
      );
    } finally {
      await exporter.stop();
    }
  });

  it('a wall-clock jump neither fakes nor hides staleness, and the heartbeat follows the wall clock', async () => {
    const target = await startTarget((_req, res) => res.end('ok'));
    let offsetMs = 0;
    const exporter = await startTestExporter({
      clock: { now: () => Date.now() + offsetMs, monotonic: () => performance.now() },
      registry: {
        poller: { interval_seconds: 1, timeout_seconds: 0.5, stale_after_seconds: 2 },
        environments: { prod: [{ name: 'a', provider: 'http', url: `${target.url}/` }] },
      },
    });
    const health = async () => {
      const res = await fetch(`${exporter.url}/health`);
      return { code: res.status, body: (await res.json()) as { poller_last_poll_at: string | null } };
    };
    try {
      await waitFor(async () => (await health()).body.poller_last_poll_at, {
        timeoutMs: 3000,
        what: 'first poll',
      });
      offsetMs = 3_600_000; // the wall clock jumps an hour ahead
      assert.equal((await health()).code, 200, 'a forward jump does not make a live poller stale');
      const ahead = await waitFor(
        async () => {
          const { body } = await health();
          return body.poller_last_poll_at && Date.parse(body.poller_last_poll_at) > Date.now() + 3_000_000
            ? body
            : undefined;
        },
        { timeoutMs: 3000, what: 'heartbeat in jumped time' },
      );
      assert.ok(ahead);
      offsetMs = -3_600_000; // and an hour behind
      assert.equal((await health()).code, 200, 'a backward jump does not either');
      await exporter.poller.stop();
      await waitFor(async () => (await health()).code === 503, {
        timeoutMs: 4000,
        what: 'stale after the poller stops',
      });
    } finally {
      await exporter.stop();
      await target.close();
    }
  });

  it('a probe that blocks the event loop for 2 s is noticed by the watchdog', async () => {
    const target = await startTarget((_req, res) => res.end('ok'));
    const blocking: Provider = {
      ...(httpProvider as Provider),
      probe: async () => {
        const until = Date.now() + 2000;
        while (Date.now() < until) {
          // a misbehaving probe doing synchronous work
        }
        return { status: 'up', code: null, detail: 'done' };
      },
    };
    const exporter = await startTestExporter({
      pollerEnabled: false,
      registry: {
        poller: { interval_seconds: 5, timeout_seconds: 1 },
        environments: { prod: [{ name: 'blocker', provider: 'http', url: `${target.url}/` }] },
      },
      resolveProvider: () => blocking,
    });
    try {
      await sleep(300);
      await exporter.poller.probeOnce('prod/blocker');
      await sleep(400); // let the watchdog tick after the block
      const lag =
        parseSamples((await scrape(exporter)).text).get('surface_poller_event_loop_lag_seconds') ?? 0;
      assert.ok(lag >= 1.5, `lag gauge ${lag}`);
      const line = exporter.logs.lines().find((entry) => entry.event === 'event_loop_blocked');
      assert.ok(line, 'event_loop_blocked is logged');
      assert.ok(Number(line.lag_seconds) >= 1.5);
      const after =
        parseSamples((await scrape(exporter)).text).get('surface_poller_event_loop_lag_seconds') ?? 0;
      assert.ok(after >= 1.5, 'a second scraper sees the same worst lag: reading does not reset it');
    } finally {
      await exporter.stop();
      await target.close();
    }
  });

  it('crashes at random points of a worker loop: backoff caps at max_backoff_seconds and the worker recovers', async () => {
    const target = await startTarget((_req, res) => res.end('ok'));
    // A seeded generator keeps the "random" crash points reproducible.
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    let crashing = true;
    const exporter = await startTestExporter({
      registry: {
        poller: { interval_seconds: 1, timeout_seconds: 0.3, max_backoff_seconds: 1.2 },
        environments: {
          prod: Array.from({ length: 3 }, (_, index) => ({
            name: `w-${index}`,
            provider: 'http',
            url: `${target.url}/`,
          })),
        },
      },
      workerHook: () => {
        if (crashing && random() < 0.6) throw new Error('injected crash');
      },
    });
    try {
      await waitFor(
        () => exporter.logs.lines().filter((line) => line.event === 'thread_crashed').length >= 6,
        {
          timeoutMs: 9000,
          what: 'six injected crashes',
        },
      );
      crashing = false;
      const backoffs = exporter.logs
        .lines()
        .filter((line) => line.event === 'thread_crashed')
        .map((line) => Number(line.backoff_seconds));
      assert.ok(Math.max(...backoffs) <= 1.2, `backoffs ${backoffs.join(', ')}`);
      await waitFor(
        () =>
          exporter.poller
            .status()
            .surfaces.every((surface) => surface.thread_alive && surface.status === 'up'),
        { timeoutMs: 5000, what: 'every worker back up' },
      );
    } finally {
      await exporter.stop();
      await target.close();
    }
  });

  it('a reload during a scrape and a force-poll: neither fails nor sees a mixed registry', async () => {
    // The target holds every answer until released, so the reload lands while the round is in flight.
    const held: Array<() => void> = [];
    let holding = true;
    const target = await startTarget((_req, res) => {
      if (holding) held.push(() => res.end('ok'));
      else res.end('ok');
    });
    const release = () => {
      holding = false;
      for (const answer of held.splice(0)) answer();
    };
    const dir = mkdtempSync(join(tmpdir(), 'surface-reload-'));
    const file = join(dir, 'surfaces.yaml');
    const registryOf = (prefix: string) =>
      stringify({
        poller: { interval_seconds: 5, timeout_seconds: 4, force_poll_deadline_seconds: 5 },
        environments: {
          prod: Array.from({ length: 20 }, (_, index) => ({
            name: `${prefix}-${index}`,
            provider: 'http',
            url: `${target.url}/`,
          })),
        },
      });
    writeFileSync(file, registryOf('old'));
    const { log } = captureLogs('warn');
    const exporter = await startFileExporter(file, {
      env: { FORCE_POLL_TOKEN: 't' },
      log,
    });
    const auth = { authorization: 'Bearer t' };
    const namesOf = async (res: Response) =>
      ((await res.json()) as { results: Array<{ surface: string; status: string }> }).results;
    try {
      const oldRound = fetch(`${exporter.url}/api/force-poll`, { method: 'POST', headers: auth });
      await waitFor(() => held.length >= 20, { timeoutMs: 5000, what: 'the old round in flight' });
      const scrapes = Array.from({ length: 5 }, () => fetch(`${exporter.url}/metrics`));
      writeFileSync(file, registryOf('new'));
      const reload = await fetch(`${exporter.url}/-/reload`, { method: 'POST', headers: auth });
      assert.equal(reload.status, 200);
      assert.deepEqual(await reload.json(), { ok: true, errors: [], added: 20, removed: 20, changed: 0 });
      // Asked after the reload, a force-poll probes the new set instead of joining the old round.
      const newRound = fetch(`${exporter.url}/api/force-poll`, { method: 'POST', headers: auth });
      await waitFor(() => held.length >= 40, { timeoutMs: 5000, what: 'the new round in flight' });
      release();
      const oldResults = await namesOf(await oldRound);
      assert.equal(oldResults.length, 20);
      assert.ok(
        oldResults.every((entry) => entry.surface.startsWith('old-') && entry.status === 'up'),
        JSON.stringify(oldResults),
      );
      const newResults = await namesOf(await newRound);
      assert.ok(
        newResults.every((entry) => entry.surface.startsWith('new-')),
        JSON.stringify(newResults),
      );
      for (const res of await Promise.all(scrapes)) assert.equal(res.status, 200);
      // The old probes landed after their surfaces left: their series must not come back.
      const after = await (await fetch(`${exporter.url}/metrics`)).text();
      assert.doesNotMatch(after, /surface="old-/);
      assert.match(after, /surface="new-0"/);
    } finally {
      release();
      await exporter.stop();
      await target.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stopping drops probes still queued for a slot, and refuses new requests first', async () => {
    const target = await startTarget(() => {}); // every probe hangs until its deadline
    const exporter = await startTestExporter({
      env: { FORCE_POLL_TOKEN: 't' },
      pollerEnabled: false,
      registry: {
        // Two slots for twenty surfaces: eighteen probes wait in the queue.
        poller: { interval_seconds: 5, timeout_seconds: 1, concurrency: 2, force_poll_deadline_seconds: 3 },
        environments: {
          prod: Array.from({ length: 20 }, (_, index) => ({
            name: `q-${index}`,
            provider: 'http',
            url: `${target.url}/`,
          })),
        },
      },
    });
    try {
      const round = fetch(`${exporter.url}/api/force-poll`, {
        method: 'POST',
        headers: { authorization: 'Bearer t' },
      });
      await waitFor(() => target.requests.length >= 2, { timeoutMs: 3000, what: 'two probes in flight' });
      const started = Date.now();
      await exporter.stop();
      const tookMs = Date.now() - started;
      assert.ok(tookMs < 2000, `stop took ${tookMs} ms: queued probes ran after shutdown began`);
      assert.equal(target.requests.length, 2, 'a queued probe started after stop');
      const results = ((await (await round).json()) as { results: Array<{ status: string }> }).results;
      assert.equal(results.filter((entry) => entry.status === 'pending').length, 18);
      await assert.rejects(fetch(`${exporter.url}/health`), 'the server no longer accepts requests');
    } finally {
      await target.close();
    }
  });

  it('SIGTERM during a round: exit 0 within timeout + 1 s, and no probe after exit', async () => {
    const target = await startTarget(() => {}); // every probe hangs until its deadline
    const dir = mkdtempSync(join(tmpdir(), 'surface-sigterm-'));
    const file = join(dir, 'surfaces.yaml');
    writeFileSync(
      file,
      stringify({
        poller: { interval_seconds: 1.5, timeout_seconds: 1 },
        environments: {
          prod: Array.from({ length: 5 }, (_, index) => ({
            name: `h-${index}`,
            provider: 'http',
            url: `${target.url}/`,
          })),
        },
      }),
    );
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/main.ts', '--config', file, '--listen-address', '127.0.0.1:0'],
      {
        cwd: new URL('../..', import.meta.url).pathname,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      await waitFor(() => target.requests.length >= 2, { timeoutMs: 15_000, what: 'probes in flight' });
      const signalledAt = Date.now();
      child.kill('SIGTERM');
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      const tookMs = Date.now() - signalledAt;
      assert.equal(code, 0);
      assert.ok(tookMs <= 2000, `exit took ${tookMs} ms (timeout 1 s + 1 s)`);
      const seen = target.requests.length;
      await sleep(1800);
      assert.equal(target.requests.length, seen, 'a probe ran after exit');
    } finally {
      child.kill('SIGKILL');
      await target.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

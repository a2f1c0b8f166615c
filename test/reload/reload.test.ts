import assert from 'node:assert/strict';
import { rename, writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import type { RunningExporter } from '../../src/app/exporter.js';
import { spawnCli, startedUrl, type TempDir, tempDir } from '../cli/support.js';
import {
  captureLogs,
  fastPoller,
  type LocalTarget,
  parseSamples,
  sampleKey,
  scrape,
  startFileExporter,
  startTarget,
  waitFor,
} from '../helpers/support.js';

const TOKEN = 'reload-test-operator-token';
const RELOAD_OK = 'surface_exporter_config_last_reload_successful';
const RELOAD_AT = 'surface_exporter_config_last_reload_success_timestamp_seconds';

const labels = (surface: string, provider = 'http') => ({ env: 'prod', surface, provider });
const upKey = (surface: string) => sampleKey('surface_up', labels(surface));

async function samples(url: string): Promise<Map<string, number>> {
  return parseSamples((await scrape({ url })).text);
}

function registry(target: LocalTarget, surfaces: Record<string, string>) {
  return {
    poller: fastPoller,
    environments: {
      prod: Object.entries(surfaces).map(([name, path]) => ({
        name,
        provider: 'http',
        url: `${target.url}${path}`,
      })),
    },
  };
}

async function postReload(
  url: string,
  token = TOKEN,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/-/reload`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Scrapes continuously until stopped, failing on any scrape that is not a 200 with surface series. */
/** Scrapes /metrics back to back; a failed scrape rejects stop(). */
function scrapeContinuously(url: string): { readonly count: number; stop(): Promise<number> } {
  let running = true;
  let count = 0;
  const loop = (async () => {
    while (running) {
      const res = await fetch(`${url}/metrics`);
      const text = await res.text();
      assert.equal(res.status, 200);
      assert.match(text, /surface_exporter_config_last_reload_successful/);
      count++;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  return {
    get count() {
      return count;
    },
    async stop() {
      running = false;
      await loop;
      return count;
    },
  };
}

describe('hot reload', () => {
  let dir: TempDir;
  let target: LocalTarget;
  before(async () => {
    dir = await tempDir();
    target = await startTarget((req, res) => {
      res.statusCode = req.url === '/fail' ? 500 : 200;
      res.end(req.url === '/fail' ? 'broken' : 'ok');
    });
  });
  after(async () => {
    await target.close();
    await dir.remove();
  });

  describe('through POST /-/reload', () => {
    let file: string;
    let exporter: RunningExporter;
    before(async () => {
      file = await dir.file(
        'http-reload.yaml',
        registry(target, { keep: '/ok', change: '/ok', drop: '/ok' }),
      );
      exporter = await startFileExporter(file, {
        pollerEnabled: true,
        env: { FORCE_POLL_TOKEN: TOKEN },
        log: captureLogs('warn').log,
      });
      await waitFor(
        async () => {
          const current = await samples(exporter.url);
          return ['keep', 'change', 'drop'].every((name) => current.get(upKey(name)) === 1);
        },
        { timeoutMs: 5000, what: 'the first probe of every surface' },
      );
    });
    after(async () => {
      await exporter.stop();
    });

    it('adds, removes and changes surfaces under scrape; unchanged ones keep state and schedule', async () => {
      const scraper = scrapeContinuously(exporter.url);
      const keepBefore = exporter.poller.status().surfaces.find((surface) => surface.surface === 'keep');
      await writeFile(file, stringify(registry(target, { keep: '/ok', change: '/fail', add: '/ok' })));
      const scrapesBeforeReload = scraper.count;
      const reload = await postReload(exporter.url);
      const keepAfter = exporter.poller.status().surfaces.find((surface) => surface.surface === 'keep');
      assert.equal(reload.status, 200, JSON.stringify(reload.body));
      assert.deepEqual(reload.body, { ok: true, errors: [], added: 1, removed: 1, changed: 1 });

      const right = await samples(exporter.url);
      assert.ok(
        ![...right.keys()].some((key) => key.includes('surface="drop"')),
        'every series of the removed surface is gone at once',
      );
      assert.equal(right.get(sampleKey('surface_poller_surfaces', { env: 'prod' })), 3);
      assert.equal(right.get(upKey('keep')), 1, 'the unchanged surface keeps its series');

      assert.ok(
        keepBefore?.checked_at && keepAfter?.checked_at,
        'the unchanged surface keeps its last result',
      );
      const nextBefore = Date.parse(keepBefore.next_poll_at ?? '');
      const nextAfter = Date.parse(keepAfter.next_poll_at ?? '');
      const slotsMoved = (nextAfter - nextBefore) / (fastPoller.interval_seconds * 1000);
      assert.ok(
        Math.abs(slotsMoved - Math.round(slotsMoved)) < 0.05,
        `the unchanged surface stays on its fixed-rate slots (moved ${slotsMoved} intervals)`,
      );

      await waitFor(
        async () => {
          const current = await samples(exporter.url);
          return (
            current.get(upKey('add')) === 1 &&
            current.get(sampleKey('surface_error_info', { ...labels('change'), code: 'health_http_500' })) ===
              1
          );
        },
        { timeoutMs: 5000, what: 'the added surface UP and the changed one probing its new URL' },
      );
      await waitFor(() => scraper.count >= scrapesBeforeReload + 3, {
        what: 'three scrapes after the reload',
      });
      assert.ok(
        (await scraper.stop()) >= scrapesBeforeReload + 3,
        'scrapes kept succeeding across the reload (a failed one rejects stop())',
      );
    });

    it('rejects an invalid file with 400 and every error, keeps the running set, and exports the outcome', async () => {
      const before = await samples(exporter.url);
      const successAt = before.get(RELOAD_AT) ?? 0;
      assert.equal(before.get(RELOAD_OK), 1);
      const running = exporter.poller.surfaces().map((surface) => surface.key);

      await writeFile(
        file,
        stringify({
          poller: fastPoller,
          environments: {
            prod: [
              { name: 'Bad Name', provider: 'http', url: 'nope' },
              { name: 'x', provider: 'smtp' },
            ],
          },
        }),
      );
      const reload = await postReload(exporter.url);
      assert.equal(reload.status, 400);
      assert.equal(reload.body.ok, false);
      const errors = reload.body.errors as string[];
      assert.equal(errors.length, 3, errors.join('\n'));
      assert.ok(errors.some((error) => error.includes('environments.prod[0].name')));
      assert.ok(errors.some((error) => error.includes('environments.prod[0].url')));
      assert.ok(errors.some((error) => error.includes('environments.prod[1].provider')));
      assert.deepEqual(
        exporter.poller.surfaces().map((surface) => surface.key),
        running,
      );

      const checkedBefore =
        before.get(sampleKey('surface_last_check_timestamp_seconds', labels('keep'))) ?? 0;
      await waitFor(
        async () => {
          const current = await samples(exporter.url);
          return (
            (current.get(sampleKey('surface_last_check_timestamp_seconds', labels('keep'))) ?? 0) >
            checkedBefore
          );
        },
        { timeoutMs: 4000, what: 'the old set still probing' },
      );
      const failed = await samples(exporter.url);
      assert.equal(failed.get(RELOAD_OK), 0);
      assert.equal(failed.get(RELOAD_AT), successAt, 'the success timestamp stays at the last success');

      const unauthorized = await postReload(exporter.url, 'wrong-token');
      assert.equal(unauthorized.status, 401);

      await writeFile(file, stringify(registry(target, { keep: '/ok' })));
      const fixed = await postReload(exporter.url);
      assert.equal(fixed.status, 200);
      const recovered = await samples(exporter.url);
      assert.equal(recovered.get(RELOAD_OK), 1);
      assert.ok((recovered.get(RELOAD_AT) ?? 0) > successAt);
    });
  });

  describe('as a process', () => {
    it('reloads on SIGHUP: a valid file applies, an invalid one is refused and logged', async () => {
      const file = await dir.file('sighup.yaml', registry(target, { first: '/ok' }));
      const child = spawnCli(['--config', file, '--listen-address', '127.0.0.1:0'], {
        env: { FORCE_POLL_TOKEN: TOKEN, LOG_LEVEL: 'info' },
      });
      try {
        const url = await waitFor(() => startedUrl(child.stdout()), {
          timeoutMs: 15_000,
          what: 'the started log line',
        });
        const initial = await samples(url);
        assert.equal(initial.get(sampleKey('surface_poller_surfaces', { env: 'prod' })), 1);

        await writeFile(file, stringify(registry(target, { first: '/ok', second: '/ok' })));
        child.child.kill('SIGHUP');
        await waitFor(async () => (await samples(url)).get(upKey('second')) === 1, {
          timeoutMs: 5000,
          what: 'the surface added by SIGHUP to be probed',
        });
        assert.ok(((await samples(url)).get(RELOAD_AT) ?? 0) >= (initial.get(RELOAD_AT) ?? 0));

        await writeFile(file, 'environments:\n  prod:\n    - name: broken\n');
        child.child.kill('SIGHUP');
        await waitFor(async () => (await samples(url)).get(RELOAD_OK) === 0, {
          timeoutMs: 5000,
          what: 'the failed reload in the metrics',
        });
        assert.equal((await samples(url)).get(sampleKey('surface_poller_surfaces', { env: 'prod' })), 2);
        await waitFor(() => child.stdout().includes('"event":"config_reload_failed"'), {
          timeoutMs: 2000,
          what: 'the reload failure in the log',
        });
        const failure = child
          .stdout()
          .split('\n')
          .find((line) => line.includes('"event":"config_reload_failed"'));
        assert.match(failure ?? '', /environments\.prod\[0\]\.provider/);
      } finally {
        const { code } = await child.stop();
        assert.equal(code, 0, child.stderr());
      }
    });

    it('--watch-config reloads when the file is written in place or replaced by a rename', async () => {
      const file = await dir.file('watched.yaml', registry(target, { one: '/ok' }));
      const child = spawnCli(['--config', file, '--listen-address', '127.0.0.1:0', '--watch-config'], {
        env: { FORCE_POLL_TOKEN: TOKEN, LOG_LEVEL: 'info' },
      });
      const surfaceCount = async (url: string) =>
        (await samples(url)).get(sampleKey('surface_poller_surfaces', { env: 'prod' }));
      try {
        const url = await waitFor(() => startedUrl(child.stdout()), {
          timeoutMs: 15_000,
          what: 'the started log line',
        });
        assert.equal(await surfaceCount(url), 1);

        // An editor's atomic save: write a new file, rename it over the watched one.
        await writeFile(`${file}.tmp`, stringify(registry(target, { one: '/ok', two: '/ok' })));
        await rename(`${file}.tmp`, file);
        await waitFor(async () => (await surfaceCount(url)) === 2, {
          timeoutMs: 5000,
          what: 'reload after a rename',
        });

        // In place, on the new inode: the watch was re-armed after the rename.
        await writeFile(file, stringify(registry(target, { one: '/ok', two: '/ok', three: '/ok' })));
        await waitFor(async () => (await surfaceCount(url)) === 3, {
          timeoutMs: 5000,
          what: 'reload after a write',
        });

        await writeFile(`${file}.tmp`, stringify(registry(target, { one: '/ok' })));
        await rename(`${file}.tmp`, file);
        await waitFor(async () => (await surfaceCount(url)) === 1, {
          timeoutMs: 5000,
          what: 'reload after a second rename',
        });
      } finally {
        const { code } = await child.stop();
        assert.equal(code, 0, child.stderr());
      }
    });
  });
});

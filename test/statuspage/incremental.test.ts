import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type HerokuFake, startHerokuApi } from '../../src/providers/heroku_app/fake.js';
import { HISTORY_LENGTH } from '../../src/statuspage/history.js';
import { assertNoSecret, tempDir } from '../cli/support.js';
import {
  captureLogs,
  type LocalTarget,
  startFileExporter,
  startTarget,
  startTestExporter,
  type TestExporter,
} from '../helpers/support.js';

const STALE_AFTER_SECONDS = 120;
const POLLER = { interval_seconds: 2, timeout_seconds: 1, stale_after_seconds: STALE_AFTER_SECONDS };

interface Answer {
  cursor: string;
  full: boolean;
  total: number;
  counts: Record<string, number>;
  environments: Array<{
    name: string;
    state: string;
    total: number;
    counts: Record<string, number>;
    surfaces: Array<{ env: string; surface: string; state: string; history: string; target?: string }>;
  }>;
}

async function answer(url: string, init?: RequestInit): Promise<Answer> {
  const res = await fetch(url, init);
  assert.equal(res.status, 200, `${url}: ${res.status}`);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  return (await res.json()) as Answer;
}

function listed(body: Answer): string[] {
  return body.environments.flatMap((view) => view.surfaces.map((tile) => `${tile.env}/${tile.surface}`));
}

describe('GET /api/status?since=', () => {
  it('answers only the tiles changed after the cursor, with every summary, and a new cursor', async () => {
    let status = 200;
    const target: LocalTarget = await startTarget((_req, res) => {
      res.statusCode = status;
      res.end();
    });
    let clockOffsetMs = 0;
    const exporter = await startTestExporter({
      pollerEnabled: false,
      clock: { now: () => Date.now() + clockOffsetMs, monotonic: () => performance.now() + clockOffsetMs },
      registry: {
        poller: POLLER,
        environments: {
          prod: [
            { name: 'api', provider: 'http', url: `${target.url}/api` },
            { name: 'web', provider: 'http', url: `${target.url}/web` },
          ],
          staging: [{ name: 'api', provider: 'http', url: `${target.url}/staging` }],
        },
      },
    });
    try {
      await exporter.poller.probeOnce('prod/api');
      await exporter.poller.probeOnce('prod/web');
      const first = await answer(`${exporter.url}/api/status`);
      assert.equal(first.full, true, 'without since, every tile');
      assert.deepEqual(listed(first), ['prod/api', 'prod/web', 'staging/api']);

      const quiet = await answer(`${exporter.url}/api/status?since=${first.cursor}`);
      assert.equal(quiet.full, false);
      assert.deepEqual(listed(quiet), [], 'nothing changed, no tile');
      assert.equal(quiet.total, 3, 'the summaries come whole');
      assert.deepEqual(
        quiet.environments.map((view) => [view.name, view.state, view.total]),
        [
          ['prod', 'up', 2],
          ['staging', 'unknown', 1],
        ],
      );

      status = 503;
      await exporter.poller.probeOnce('prod/web');
      const changed = await answer(`${exporter.url}/api/status?since=${quiet.cursor}`);
      assert.equal(changed.full, false);
      assert.deepEqual(
        changed.environments[0]?.surfaces.map((tile) => [tile.surface, tile.state, tile.history]),
        [['web', 'degraded', 'ud']],
      );
      assert.equal(changed.counts.degraded, 1);
      assert.notEqual(changed.cursor, quiet.cursor);
      // An older cursor still gets every change after it.
      assert.deepEqual(listed(await answer(`${exporter.url}/api/status?since=${first.cursor}`)), [
        'prod/web',
      ]);
      assert.deepEqual(
        listed(await answer(`${exporter.url}/api/status?since=${changed.cursor}`)),
        [],
        'a change is answered once per cursor',
      );

      // STALE comes from the clock, not from a new result: still a change.
      clockOffsetMs = (STALE_AFTER_SECONDS + 1) * 1000;
      const stale = await answer(`${exporter.url}/api/status?since=${changed.cursor}`);
      assert.deepEqual(
        stale.environments[0]?.surfaces.map((tile) => [tile.surface, tile.state]),
        [
          ['api', 'stale'],
          ['web', 'stale'],
        ],
      );

      const scoped = await answer(`${exporter.url}/api/status?env=staging&since=${stale.cursor}`);
      assert.deepEqual(
        scoped.environments.map((view) => view.name),
        ['staging'],
      );
      await exporter.poller.probeOnce('staging/api');
      assert.deepEqual(
        listed(await answer(`${exporter.url}/api/status?env=staging&since=${scoped.cursor}`)),
        ['staging/api'],
      );
    } finally {
      await exporter.stop();
      await target.close();
    }
  });

  it('answers a check that found the same result as the check time and latency alone', async () => {
    const target = await startTarget((_req, res) => res.end());
    const exporter = await startTestExporter({
      pollerEnabled: false,
      registry: {
        poller: POLLER,
        environments: { prod: [{ name: 'api', provider: 'http', url: `${target.url}/api` }] },
      },
    });
    try {
      // A full strip: one more UP leaves it as it was.
      for (let round = 0; round < HISTORY_LENGTH; round++) await exporter.poller.probeOnce('prod/api');
      const { cursor } = await answer(`${exporter.url}/api/status`);
      await exporter.poller.probeOnce('prod/api');
      const body = (await answer(`${exporter.url}/api/status?since=${cursor}`)) as Answer & {
        environments: Array<{ checked: Array<Record<string, unknown>> }>;
      };
      const full = await answer(`${exporter.url}/api/status`);
      const tile = full.environments[0]?.surfaces[0] as unknown as Record<string, unknown>;
      assert.deepEqual(listed(body), [], 'the result did not change');
      assert.deepEqual(body.environments[0]?.checked, [
        { surface: 'api', checked_at: tile.checked_at, latency_ms: tile.latency_ms },
      ]);
    } finally {
      await exporter.stop();
      await target.close();
    }
  });

  it('answers in full for a cursor it did not issue, and 400 for one that is not a cursor', async () => {
    const exporter = await startTestExporter({
      pollerEnabled: false,
      registry: {
        poller: POLLER,
        environments: { prod: [{ name: 'a', provider: 'http', url: 'http://127.0.0.1:9/' }] },
      },
    });
    const other = await startTestExporter({
      pollerEnabled: false,
      registry: {
        poller: POLLER,
        environments: { prod: [{ name: 'a', provider: 'http', url: 'http://127.0.0.1:9/' }] },
      },
    });
    try {
      const { cursor } = await answer(`${exporter.url}/api/status`);
      const foreign = await answer(`${other.url}/api/status`);
      // Another process (a restart) or a number this one has not reached: the answer is whole.
      const [epoch, seq] = cursor.split('-');
      for (const since of [foreign.cursor, `${epoch}-${Number(seq) + 1000}`]) {
        const body = await answer(`${exporter.url}/api/status?since=${since}`);
        assert.equal(body.full, true, since);
        assert.deepEqual(listed(body), ['prod/a'], since);
      }
      for (const since of ['', 'garbage', `${epoch}-x`, `${cursor}&since=${cursor}`]) {
        const res = await fetch(`${exporter.url}/api/status?since=${since}`);
        assert.equal(res.status, 400, since);
        assert.match(((await res.json()) as { error: string }).error, /since/, since);
      }
    } finally {
      await exporter.stop();
      await other.stop();
    }
  });

  it('answers in full once a reload adds or removes a surface', async () => {
    const dir = await tempDir();
    const target = await startTarget((_req, res) => res.end('ok'));
    const kept = { name: 'kept', provider: 'http', url: `${target.url}/kept` };
    const file = await dir.file('surfaces.yaml', {
      poller: POLLER,
      environments: { prod: [kept, { name: 'removed', provider: 'http', url: `${target.url}/removed` }] },
    });
    const exporter = await startFileExporter(file, {
      log: captureLogs('error').log,
    });
    try {
      const before = await answer(`${exporter.url}/api/status`);
      await dir.file('surfaces.yaml', { poller: POLLER, environments: { prod: [kept] } });
      assert.equal((await exporter.reload()).ok, true);
      const after = await answer(`${exporter.url}/api/status?since=${before.cursor}`);
      assert.equal(after.full, true, 'the client learns which tiles are gone');
      assert.deepEqual(listed(after), ['prod/kept']);
      const next = await answer(`${exporter.url}/api/status?since=${after.cursor}`);
      assert.equal(next.full, false, 'and incremental again from the new cursor');
    } finally {
      await exporter.stop();
      await target.close();
      await dir.remove();
    }
  });

  it('notices a reload that removed an environment when only ?env= pages of another ask afterwards', async () => {
    const dir = await tempDir();
    const target = await startTarget((_req, res) => res.end('ok'));
    const prod = [{ name: 'kept', provider: 'http', url: `${target.url}/kept` }];
    const file = await dir.file('surfaces.yaml', {
      poller: POLLER,
      environments: { prod, staging: [{ name: 'gone', provider: 'http', url: `${target.url}/gone` }] },
    });
    const exporter = await startFileExporter(file, {
      log: captureLogs('error').log,
    });
    try {
      // Someone once opened the whole page, so staging's tiles are tracked; from then on only prod's page asks.
      await answer(`${exporter.url}/api/status`);
      const before = await answer(`${exporter.url}/api/status?env=prod`);
      await dir.file('surfaces.yaml', { poller: POLLER, environments: { prod } });
      assert.equal((await exporter.reload()).ok, true);
      const after = await answer(`${exporter.url}/api/status?env=prod&since=${before.cursor}`);
      assert.equal(after.full, true, 'the set of surfaces changed: the tiles of staging are forgotten');
      assert.deepEqual(listed(after), ['prod/kept']);
      const next = await answer(`${exporter.url}/api/status?env=prod&since=${after.cursor}`);
      assert.equal(next.full, false, 'and incremental again from the new cursor');
    } finally {
      await exporter.stop();
      await target.close();
      await dir.remove();
    }
  });

  it('shows no secret and no target, and needs the /metrics credentials with STATUS_PAGE=token', async () => {
    const HEROKU_KEY = 'HRKU-incremental-secret-0123456789abcdef';
    const METRICS_TOKEN = 'metrics-token-incremental-marker';
    const heroku: HerokuFake = await startHerokuApi({ apiKeys: [HEROKU_KEY] });
    heroku.addApp({ name: 'incremental-app', webQuantity: 0 });
    let status = 200;
    const target = await startTarget((_req, res) => {
      res.statusCode = status;
      res.end();
    });
    const url = `${target.url}/health?token=query-secret-marker`;
    const started = startTestExporter({
      pollerEnabled: false,
      env: { HEROKU_API_KEY: HEROKU_KEY, HEROKU_API_URL: heroku.url, STATUS_PAGE: 'token', METRICS_TOKEN },
      registry: {
        poller: POLLER,
        environments: {
          prod: [
            { name: 'web', provider: 'http', url },
            { name: 'worker', provider: 'heroku_app', app: 'incremental-app' },
          ],
        },
      },
    });
    const auth = { headers: { authorization: `Bearer ${METRICS_TOKEN}` } };
    let exporter: TestExporter | undefined;
    try {
      exporter = await started;
      assert.equal(
        (await fetch(`${exporter.url}/api/status?since=x`)).status,
        401,
        'refused before it is read',
      );
      const { cursor } = await answer(`${exporter.url}/api/status`, auth);
      const refused = await fetch(`${exporter.url}/api/status?since=${cursor}`);
      assert.equal(refused.status, 401);
      await exporter.poller.probeOnce('prod/worker');
      status = 503;
      await exporter.poller.probeOnce('prod/web');
      const res = await fetch(`${exporter.url}/api/status?since=${cursor}`, auth);
      const text = await res.text();
      const body = JSON.parse(text) as Answer;
      assert.deepEqual(listed(body), ['prod/web', 'prod/worker']);
      assert.ok(body.environments[0]?.surfaces.every((tile) => !('target' in tile)));
      assertNoSecret(text, [
        HEROKU_KEY,
        METRICS_TOKEN,
        'query-secret-marker',
        target.url.replace('http://', ''),
        heroku.url.replace('http://', ''),
        'incremental-app',
      ]);
    } finally {
      await exporter?.stop();
      await target.close();
      await heroku.close();
    }
  });
});

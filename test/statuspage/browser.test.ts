import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it, type TestContext } from 'node:test';
import { AxeBuilder } from '@axe-core/playwright';
import { type HerokuFake, startHerokuApi } from '../../src/providers/heroku_app/fake.js';
import { STATUS_ASSETS } from '../../src/statuspage/assets.js';
import { statusAnswer, TileChanges } from '../../src/statuspage/changes.js';
import { ProbeHistory } from '../../src/statuspage/history.js';
import { buildStatusModel } from '../../src/statuspage/model.js';
import { renderStatusPage } from '../../src/statuspage/page.js';
import type { PollerHeartbeat, StatusSource, SurfaceReading } from '../../src/statuspage/source.js';
import { STATE_LOOKS, TILE_STATES, type TileState } from '../../src/statuspage/states.js';
import {
  computedStyle,
  cssRgb,
  launchBrowser,
  type TestBrowser,
  testOutputPath,
} from '../helpers/browser.js';
import {
  type LocalTarget,
  startTarget,
  startTestExporter,
  type TestExporter,
  waitFor,
} from '../helpers/support.js';

const HEROKU_KEY = 'HRKU-browser-test-key-0123456789abcdef';
const STALE_AFTER_SECONDS = 120;
// The page asks again every min(30, max(2, interval)) seconds; 2 s keeps the live-update wait short.
const POLLER = { interval_seconds: 2, timeout_seconds: 1, stale_after_seconds: STALE_AFTER_SECONDS };
const REMOTE_NAME = 'status.example.net';

/** One surface per state the exporter itself can show; MAINTENANCE comes from a field nothing sets yet. */
const EXPECTED: Record<string, TileState> = {
  'prod/api': 'up',
  'prod/flaky': 'up',
  'prod/broken': 'degraded',
  'prod/worker': 'down',
  'staging/never': 'unknown',
  'staging/old': 'stale',
};

describe('status page in Chromium', () => {
  let heroku: HerokuFake;
  let healthy: LocalTarget;
  let broken: LocalTarget;
  let flaky: LocalTarget;
  let flakyStatus = 200;
  let exporter: TestExporter;
  let clockOffsetMs = 0;
  let browser: TestBrowser | undefined;

  const openBrowser = async (t: TestContext) => {
    browser ??= await launchBrowser(t, { hostnames: [REMOTE_NAME] });
    return browser;
  };

  before(async () => {
    heroku = await startHerokuApi({ apiKeys: [HEROKU_KEY] });
    heroku.addApp({ name: 'browser-worker', webQuantity: 0 });
    healthy = await startTarget((_req, res) => res.end('ok'));
    broken = await startTarget((_req, res) => {
      res.statusCode = 502;
      res.end('bad gateway');
    });
    flaky = await startTarget((_req, res) => {
      res.statusCode = flakyStatus;
      res.end();
    });
    exporter = await startTestExporter({
      pollerEnabled: false,
      clock: { now: () => Date.now() + clockOffsetMs, monotonic: () => performance.now() + clockOffsetMs },
      env: { HEROKU_API_KEY: HEROKU_KEY, HEROKU_API_URL: heroku.url },
      registry: {
        poller: POLLER,
        environments: {
          prod: [
            { name: 'api', provider: 'http', url: `${healthy.url}/health` },
            { name: 'flaky', provider: 'http', url: `${flaky.url}/health` },
            { name: 'broken', provider: 'http', url: `${broken.url}/health` },
            { name: 'worker', provider: 'heroku_app', app: 'browser-worker' },
          ],
          staging: [
            { name: 'never', provider: 'http', url: `${healthy.url}/never` },
            { name: 'old', provider: 'http', url: `${healthy.url}/old` },
          ],
        },
      },
    });
    // `old` is checked first, then the clock moves past stale_after_seconds before the others are.
    await exporter.poller.probeOnce('staging/old');
    clockOffsetMs = (STALE_AFTER_SECONDS + 60) * 1000;
    for (const key of ['prod/api', 'prod/flaky', 'prod/broken', 'prod/worker'])
      await exporter.poller.probeOnce(key);
  });

  after(async () => {
    await browser?.close();
    await exporter?.stop();
    await Promise.all([heroku?.close(), healthy?.close(), broken?.close(), flaky?.close()]);
  });

  it('shows each state by colour and by text, with code, fix, runbook link, latency and age', async (t) => {
    const opened = await openBrowser(t);
    if (!opened) return;
    const { page } = opened;
    const response = await page.goto(`${exporter.url}/status`);
    assert.equal(response?.status(), 200);
    for (const [key, state] of Object.entries(EXPECTED)) {
      const [env, surface] = key.split('/');
      const tileSelector = `li.tile[data-env="${env}"][data-surface="${surface}"]`;
      const label = page.locator(`${tileSelector} .state`);
      assert.equal(await label.textContent(), STATE_LOOKS[state].label, key);
      const colours = {
        label: await computedStyle(page, `${tileSelector} .state`, 'background-color'),
        text: await computedStyle(page, `${tileSelector} .state`, 'color'),
        border: await computedStyle(page, tileSelector, 'border-left-color'),
      };
      assert.equal(colours.label, cssRgb(STATE_LOOKS[state].colour), `${key} label colour`);
      assert.equal(colours.border, cssRgb(STATE_LOOKS[state].colour), `${key} tile border`);
      assert.equal(colours.text, 'rgb(255, 255, 255)', `${key} label text`);
    }
    const brokenTile = page.locator('li.tile[data-surface="broken"]');
    assert.equal(await brokenTile.locator('dd code').first().textContent(), 'health_http_502');
    assert.match((await brokenTile.textContent()) ?? '', /heroku ps/);
    assert.equal(
      await brokenTile.getByRole('link', { name: 'Runbook' }).getAttribute('href'),
      '/status/codes#health_http_status',
    );
    assert.match((await brokenTile.textContent()) ?? '', /Latency\s*\d+ ms/);
    assert.match((await brokenTile.textContent()) ?? '', /Checked\s*\d+ s ago/);
    assert.equal(
      await page.locator('li.tile[data-surface="worker"] dd code').first().textContent(),
      'no_web_dyno',
    );
    const stale = page.locator('li.tile[data-surface="old"]');
    assert.match(
      (await stale.textContent()) ?? '',
      /Last result\s*UP/,
      'a stale tile still says what it last saw',
    );
    assert.match((await stale.textContent()) ?? '', /Checked\s*3 min ago/);
    assert.equal(
      await page.locator('li.tile[data-surface="never"] .history').getAttribute('aria-label'),
      'History: no result yet',
    );
    assert.match((await page.locator('#summary').textContent()) ?? '', /6 surfaces.*1 DOWN.*1 DEGRADED/s);
    const shot = testOutputPath('surface-exporter-status-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    t.diagnostic(`screenshot: ${shot}`);
  });

  it('renders MAINTENANCE and a credential expiry when a snapshot carries them', async (t) => {
    const opened = await openBrowser(t);
    if (!opened) return;
    const now = Date.now();
    const source: StatusSource = {
      surfaces: () => [
        {
          env: 'prod',
          surface: 'planned',
          provider: 'http',
          target: 'http://planned.invalid/',
          status: 'degraded',
          error: 'health_http_503',
          detail: null,
          checked_at: new Date(now - 5000).toISOString(),
          duration_ms: 12,
          consecutive_failures: 3,
          maintenance: true,
          credential_expires_at: '2027-01-05T00:00:00.000Z',
        },
      ],
      heartbeat: () => ({
        enabled: true,
        stale: false,
        lastPollAt: new Date(now).toISOString(),
        ageSeconds: 1,
      }),
      staleAfterSeconds: () => 120,
      intervalSeconds: () => 30,
      now: () => now,
    };
    const pageHtml = renderStatusPage(
      buildStatusModel(source, new ProbeHistory(), { version: 't', showTargets: false }),
    );
    const server = await serveStatic({
      '/status': { type: 'text/html', body: pageHtml },
      '/status/assets/status.css': { type: 'text/css', body: STATUS_ASSETS['status.css']?.body ?? '' },
    });
    try {
      await opened.page.goto(`${server.url}/status`);
      const tile = opened.page.locator('li.tile[data-surface="planned"]');
      const label = tile.locator('.state');
      assert.equal(await label.textContent(), 'MAINTENANCE');
      assert.match((await tile.textContent()) ?? '', /Last result\s*DEGRADED/);
      assert.match((await tile.textContent()) ?? '', /Credential\s*expires 2027-01-05 \(in \d+ d\)/);
      assert.equal(
        await computedStyle(opened.page, 'li.tile[data-surface="planned"] .state', 'background-color'),
        cssRgb(STATE_LOOKS.maintenance.colour),
      );
    } finally {
      await server.close();
    }
  });

  it('updates a tile in place from /api/status?since= when its surface changes state, without reloading', async (t) => {
    const opened = await openBrowser(t);
    if (!opened) return;
    const { page } = opened;
    const requests: string[] = [];
    const record = (request: { url(): string }) => requests.push(request.url());
    await page.goto(`${exporter.url}/status`);
    page.on('request', record);
    try {
      const tile = page.locator('li.tile[data-surface="flaky"]');
      assert.equal(await tile.getAttribute('data-state'), 'up');
      await page.evaluate('window.notReloaded = true');
      const polled = () => requests.filter((url) => new URL(url).pathname === '/api/status');
      // One answer before the change: the next one carries only what changed after its cursor.
      await waitFor(() => polled().length >= 1, { timeoutMs: 15_000, what: 'a first poll' });
      flakyStatus = 503;
      await exporter.poller.probeOnce('prod/flaky');
      await page.locator('li.tile[data-surface="flaky"][data-state="degraded"]').waitFor({ timeout: 15_000 });
      assert.equal(await page.locator('li.tile[data-surface="flaky"] .state').textContent(), 'DEGRADED');
      assert.equal(
        await computedStyle(page, 'li.tile[data-surface="flaky"] .state', 'background-color'),
        cssRgb(STATE_LOOKS.degraded.colour),
      );
      assert.equal(
        await computedStyle(page, 'li.tile[data-surface="flaky"]', 'border-left-color'),
        cssRgb(STATE_LOOKS.degraded.colour),
      );
      assert.equal(
        await page.locator('li.tile[data-surface="flaky"] dd code').first().textContent(),
        'health_http_503',
      );
      assert.equal(
        await page.locator('li.tile[data-surface="flaky"] .history').getAttribute('aria-label'),
        'History of the last 2 results: 1 UP, 1 DEGRADED',
      );
      assert.match((await page.locator('#summary').textContent()) ?? '', /2 DEGRADED/);
      assert.equal(
        await page.evaluate('window.notReloaded'),
        true,
        'the page updated itself; it was not reloaded',
      );
      assert.ok(
        polled().every((url) => new URL(url).searchParams.has('since')),
        `every poll is incremental: ${polled().join(', ')}`,
      );
      assert.deepEqual(
        requests.filter((url) => !polled().includes(url)),
        [],
        'nothing but the JSON endpoint was fetched: no page re-fetch',
      );
    } finally {
      page.off('request', record);
      flakyStatus = 200;
      await exporter.poller.probeOnce('prod/flaky');
    }
  });

  it('patches the page from the JSON into what the server renders, element for element', async (t) => {
    const opened = await openBrowser(t);
    if (!opened) return;
    const nowMs = Date.parse('2026-12-01T10:00:00.000Z');
    let current = snapshot(nowMs, false);
    const source: StatusSource = {
      surfaces: () => current.surfaces,
      heartbeat: () => current.heartbeat,
      staleAfterSeconds: () => STALE_AFTER_SECONDS,
      intervalSeconds: () => 2,
      now: () => current.nowMs,
    };
    const history = new ProbeHistory();
    const changes = new TileChanges();
    const view = { version: 't', showTargets: true };
    history.record('prod', 'api', 'up');
    history.record('prod', 'flip', 'up');
    history.record('prod', 'steady', 'up');
    history.record('prod', 'idle', 'up');
    const before = buildStatusModel(source, history, view);
    const beforePage = renderStatusPage(before, undefined, {
      changes,
      cursor: changes.observe(before, undefined),
    });
    // The answer to the page's first poll: every surface's result changes, the heartbeat goes stale.
    current = snapshot(nowMs, true);
    for (const [surface, status] of [
      ['api', 'up'],
      ['flip', 'degraded'],
      ['flip', 'down'],
    ] as const)
      history.record('prod', surface, status);
    const afterModel = buildStatusModel(source, history, view);
    const served = JSON.stringify(
      statusAnswer(afterModel, changes, undefined, changes.observe(before, undefined)),
    );
    const delta = JSON.parse(served) as {
      environments: Array<{
        name: string;
        surfaces: Array<{ surface: string }>;
        checked: Array<{ surface: string }>;
      }>;
    };
    assert.deepEqual(
      delta.environments.map((view) => [
        view.name,
        view.surfaces.map((tile) => tile.surface),
        view.checked.map((tile) => tile.surface),
      ]),
      [
        ['prod', ['api', 'flip'], ['steady']],
        ['staging', ['old'], []],
      ],
      'the answer has tiles with a new result, one only checked again, and unchanged ones',
    );
    const expected = renderStatusPage(afterModel);
    const server = await serveStatic({
      '/status': { type: 'text/html', body: beforePage },
      '/status/assets/status.css': { type: 'text/css', body: STATUS_ASSETS['status.css']?.body ?? '' },
      '/status/assets/status.js': { type: 'text/javascript', body: STATUS_ASSETS['status.js']?.body ?? '' },
      '/api/status': { type: 'application/json', body: served },
    });
    const page = await opened.context.newPage();
    try {
      await page.goto(`${server.url}/status`);
      await page.locator('body[data-updated-at]').waitFor({ state: 'attached', timeout: 15_000 });
      const canonical = `(html) => {
        const doc = new DOMParser().parseFromString(html, 'text/html');
        const parts = ['summary', 'generated', 'banner', 'surfaces'].map((id) => doc.getElementById(id).outerHTML);
        return [doc.title, ...parts].map((part) => part.replace(/>\\s+</g, '><'));
      }`;
      const patched = await page.evaluate(`(${canonical})(document.documentElement.outerHTML)`);
      const rendered = await page.evaluate(`(${canonical})(${JSON.stringify(expected)})`);
      assert.deepEqual(patched, rendered);
      assert.equal(await page.locator('#banner [role="alert"]').count(), 1, 'the stale banner came in');
    } finally {
      await page.close();
      await server.close();
    }
  });

  it('renders every tile with JavaScript off', async (t) => {
    const opened = await openBrowser(t);
    if (!opened) return;
    const page = await opened.context.newPage();
    try {
      const cdp = await opened.context.newCDPSession(page);
      await cdp.send('Emulation.setScriptExecutionDisabled', { value: true });
      await page.goto(`${exporter.url}/status`);
      assert.equal(await page.locator('li.tile').count(), Object.keys(EXPECTED).length);
      assert.equal(await page.locator('li.tile[data-surface="worker"] .state').textContent(), 'DOWN');
    } finally {
      await page.close();
    }
  });

  it('serves badges in the state colour, with the state in words', async (t) => {
    const opened = await openBrowser(t);
    if (!opened) return;
    const { page } = opened;
    const badge = async (path: string) => {
      const response = await page.goto(`${exporter.url}${path}`);
      const svg = page.locator('svg');
      return {
        status: response?.status(),
        type: response?.headers()['content-type'],
        label: await svg.getAttribute('aria-label'),
        fill: await svg.locator('rect').nth(1).getAttribute('fill'),
        width: (await svg.boundingBox())?.width ?? 0,
      };
    };
    const up = await badge('/badge/prod/api.svg');
    assert.equal(up.status, 200);
    assert.match(up.type ?? '', /^image\/svg\+xml/);
    assert.equal(up.label, 'prod/api: UP');
    assert.equal(up.fill, STATE_LOOKS.up.colour);
    assert.ok(up.width > 50, 'the badge renders with a width');
    const down = await badge('/badge/prod/worker.svg');
    assert.equal(down.label, 'prod/worker: DOWN');
    assert.equal(down.fill, STATE_LOOKS.down.colour);
    const env = await badge('/badge/prod.svg');
    assert.equal(env.label, 'prod: DOWN 1/4');
    assert.equal(env.fill, STATE_LOOKS.down.colour);
    const staging = await badge('/badge/staging.svg');
    assert.equal(staging.label, 'staging: STALE 1/2');
    const missing = await badge('/badge/prod/nothing.svg');
    assert.equal(missing.status, 404);
    assert.equal(missing.label, 'prod/nothing: not found');
  });

  it('works through a non-loopback hostname over plain HTTP, every link followed', async (t) => {
    const opened = await openBrowser(t);
    if (!opened) return;
    const { page } = opened;
    const origin = `http://${REMOTE_NAME}:${exporter.port}`;
    const failed: string[] = [];
    page.on('requestfailed', (request) => failed.push(`${request.url()}: ${request.failure()?.errorText}`));
    const response = await page.goto(`${origin}/`);
    assert.equal(response?.status(), 200);
    assert.equal(response?.headers()['strict-transport-security'], undefined);
    assert.doesNotMatch(response?.headers()['content-security-policy'] ?? '', /upgrade-insecure-requests/);
    // The stylesheet loaded over http from the same name: the tiles have their colours.
    assert.equal(
      await computedStyle(page, 'li.tile[data-surface="api"] .state', 'background-color'),
      cssRgb(STATE_LOOKS.up.colour),
    );
    // The script loaded too: it swaps in a fresh render.
    await page.locator('body[data-updated-at]').waitFor({ state: 'attached', timeout: 15_000 });

    const visited = new Set<string>();
    const queue = [`${origin}/`];
    while (queue.length > 0) {
      const next = queue.shift() as string;
      if (visited.has(next)) continue;
      visited.add(next);
      const answer = await page.goto(next);
      const landed = new URL(page.url());
      assert.equal(landed.protocol, 'http:', `${next} stayed on http`);
      assert.equal(landed.host, `${REMOTE_NAME}:${exporter.port}`, `${next} stayed on the same name`);
      assert.equal(answer?.status(), 200, `${next} answered 200`);
      if (!(answer?.headers()['content-type'] ?? '').startsWith('text/html')) continue;
      const hrefs = await page
        .locator('a[href]')
        .evaluateAll((links) => links.map((link) => link.href as string));
      for (const href of hrefs) {
        const url = new URL(href);
        assert.equal(url.origin, origin, `${href} on ${next} points at the exporter itself`);
        url.hash = '';
        queue.push(url.href);
      }
    }
    for (const path of ['/metrics', '/health', '/api/status', '/status/codes', '/badge/prod.svg'])
      assert.ok(visited.has(`${origin}${path}`), `${path} is linked`);
    assert.deepEqual(failed, [], 'no request failed');
  });

  it('has no serious or critical axe violation', async (t) => {
    const opened = await openBrowser(t);
    if (!opened) return;
    for (const path of ['/status', '/status/codes']) {
      await opened.page.goto(`${exporter.url}${path}`);
      const results = await new AxeBuilder({ page: opened.page }).analyze();
      const serious = results.violations.filter(
        (violation) => violation.impact === 'serious' || violation.impact === 'critical',
      );
      assert.deepEqual(
        serious.map((violation) => `${violation.id}: ${violation.help} (${violation.nodes.length} nodes)`),
        [],
        path,
      );
      assert.ok(results.passes.length > 0, 'axe ran its rules');
    }
  });
});

/** Every state has a colour of its own, so colour is never the only difference between two tiles. */
describe('state colours', () => {
  it('are distinct', () => {
    const colours = TILE_STATES.map((state) => STATE_LOOKS[state].colour);
    assert.equal(new Set(colours).size, colours.length);
  });
});

async function serveStatic(
  files: Record<string, { type: string; body: string }>,
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const file = files[new URL(req.url ?? '/', 'http://x').pathname];
    if (!file) {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.setHeader('content-type', file.type);
    res.end(file.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A page's worth of surfaces before and after 90 s: every field a tile can show, with targets,
 * detail, a credential, a fix with code spans. After, the heartbeat is stale, `api` and `flip` have
 * a new result, `old` is in maintenance, `steady` was checked again with the same result, and
 * `idle` is unchanged but for its age and its credential's.
 */
function snapshot(
  baseMs: number,
  later: boolean,
): { nowMs: number; surfaces: SurfaceReading[]; heartbeat: PollerHeartbeat } {
  const nowMs = later ? baseMs + 90_000 : baseMs;
  const at = (ms: number) => new Date(ms).toISOString();
  const base = { env: 'prod', provider: 'http', detail: null, consecutive_failures: 0 };
  return {
    nowMs,
    heartbeat: later
      ? { enabled: true, stale: true, lastPollAt: at(baseMs - 50_000), ageSeconds: 140 }
      : { enabled: true, stale: false, lastPollAt: at(baseMs - 1000), ageSeconds: 1 },
    surfaces: [
      {
        ...base,
        surface: 'api',
        target: 'http://api.internal/health',
        status: 'up',
        error: null,
        detail: 'ok <b>',
        checked_at: at(later ? nowMs - 3000 : baseMs - 65_000),
        duration_ms: 12,
        credential_expires_at: '2027-01-05T00:00:00.000Z',
      },
      {
        ...base,
        surface: 'flip',
        target: 'http://flip.internal/',
        status: later ? 'down' : 'up',
        error: later ? 'no_web_dyno' : null,
        checked_at: at(later ? nowMs - 500 : baseMs - 2000),
        duration_ms: later ? null : 30,
        consecutive_failures: later ? 2 : 0,
      },
      {
        ...base,
        surface: 'steady',
        target: 'http://steady.internal/',
        status: 'up',
        error: null,
        checked_at: at(later ? nowMs - 1000 : baseMs - 4000),
        duration_ms: later ? 9 : 4,
      },
      {
        ...base,
        surface: 'idle',
        target: 'http://idle.internal/',
        status: 'up',
        error: null,
        checked_at: at(baseMs - 10_000),
        duration_ms: 4,
        credential_expires_at: '2026-12-01T10:00:30.000Z',
      },
      {
        ...base,
        env: 'staging',
        surface: 'old',
        target: 'http://old.internal/',
        status: 'degraded',
        error: 'health_http_502',
        checked_at: at(baseMs - 50_000),
        duration_ms: 7,
        maintenance: later,
      },
      {
        ...base,
        env: 'staging',
        surface: 'never',
        target: 'http://never.internal/',
        status: 'unknown',
        error: null,
        checked_at: null,
        duration_ms: null,
      },
    ],
  };
}

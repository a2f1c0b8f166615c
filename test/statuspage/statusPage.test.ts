import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readSettings, SettingsError } from '../../src/app/settings.js';
import { STATUS_ASSETS } from '../../src/statuspage/assets.js';
import { HISTORY_LENGTH, ProbeHistory } from '../../src/statuspage/history.js';
import { parseStatusPageMode, statusPageCredentialsProblem } from '../../src/statuspage/mode.js';
import { tileState } from '../../src/statuspage/model.js';
import { pollerStatusSource } from '../../src/statuspage/pollerSource.js';
import type { SurfaceReading } from '../../src/statuspage/source.js';
import { assertNoSecret, cli, type Scenario, spawnCli, startScenario, tempDir } from '../cli/support.js';
import { launchBrowser } from '../helpers/browser.js';
import {
  captureLogs,
  type LocalTarget,
  startFileExporter,
  startTarget,
  startTestExporter,
  type TestExporter,
  waitFor,
} from '../helpers/support.js';

const POLLER = { interval_seconds: 2, timeout_seconds: 1, stale_after_seconds: 120 };

function reading(overrides: Partial<SurfaceReading>): SurfaceReading {
  return {
    env: 'prod',
    surface: 's',
    provider: 'http',
    target: 'http://x.invalid/',
    status: 'up',
    error: null,
    detail: 'ok',
    checked_at: new Date(1_000_000).toISOString(),
    duration_ms: 5,
    consecutive_failures: 0,
    ...overrides,
  };
}

describe('tile state', () => {
  const checkedAt = 1_000_000;
  it('is the probe verdict until the check is older than stale_after_seconds, then STALE', () => {
    assert.equal(tileState(reading({ status: 'degraded' }), checkedAt + 120_000, 120), 'degraded');
    assert.equal(tileState(reading({ status: 'degraded' }), checkedAt + 120_001, 120), 'stale');
    assert.equal(tileState(reading({ status: 'down' }), checkedAt, 120), 'down');
  });
  it('is UNKNOWN before the first check and MAINTENANCE whenever the snapshot says so', () => {
    assert.equal(tileState(reading({ status: 'unknown', checked_at: null }), checkedAt, 120), 'unknown');
    assert.equal(tileState(reading({ maintenance: true }), checkedAt + 999_000, 120), 'maintenance');
    assert.equal(tileState(reading({ maintenance: false }), checkedAt, 120), 'up');
  });
});

describe('probe history', () => {
  it(`keeps the last ${HISTORY_LENGTH} results per surface, oldest first, one character each`, () => {
    const history = new ProbeHistory();
    for (let index = 0; index < 100; index++) history.record('prod', 'a', index < 90 ? 'up' : 'down');
    history.record('prod', 'b', 'degraded');
    history.record('prod', 'b', 'up');
    assert.equal(history.codes('prod', 'a'), `${'u'.repeat(50)}${'x'.repeat(10)}`);
    assert.equal(history.codes('prod', 'b'), 'du');
    assert.equal(history.codes('prod', 'never'), '');
    for (let index = 0; index < HISTORY_LENGTH - 1; index++) history.record('prod', 'b', 'down');
    assert.equal(
      history.codes('prod', 'b'),
      `u${'x'.repeat(HISTORY_LENGTH - 1)}`,
      'the oldest result goes first',
    );
  });
  it('forgets surfaces that left the registry', () => {
    const history = new ProbeHistory();
    history.record('prod', 'a', 'up');
    history.record('prod', 'gone', 'up');
    history.retain(new Set(['prod/a']));
    assert.equal(history.size, 1);
    assert.equal(history.codes('prod', 'gone'), '');
  });
});

describe('STATUS_PAGE', () => {
  it('defaults to public, takes token and off, and names a wrong value', () => {
    assert.equal(parseStatusPageMode(undefined), 'public');
    assert.equal(parseStatusPageMode(' off '), 'off');
    assert.equal(parseStatusPageMode('token'), 'token');
    assert.deepEqual(parseStatusPageMode('private'), {
      error: 'STATUS_PAGE: expected one of public, token, off, got "private"',
    });
    assert.throws(() => readSettings({ STATUS_PAGE: 'private' }), SettingsError);
    assert.equal(readSettings({}).statusPage, 'public');
  });

  it('token needs the /metrics credentials', () => {
    assert.equal(statusPageCredentialsProblem('token', { bearer: 't' }), undefined);
    assert.equal(statusPageCredentialsProblem('token', { basic: 'u:p' }), undefined);
    assert.equal(statusPageCredentialsProblem('public', {}), undefined);
    assert.match(
      statusPageCredentialsProblem('token', {}) ?? '',
      /neither METRICS_TOKEN nor METRICS_BASIC_AUTH is set/,
    );
  });

  it('names a wrong STATUS_PAGE at start with exit status 3', async () => {
    const dir = await tempDir();
    try {
      const file = await dir.file('surfaces.yaml', { environments: {} });
      const run = await cli(['--config', file, '--listen-address', '127.0.0.1:0'], {
        STATUS_PAGE: 'private',
      });
      assert.equal(run.code, 3);
      assert.match(
        run.stderr,
        /^surface-exporter: STATUS_PAGE: expected one of public, token, off, got "private"/,
      );
    } finally {
      await dir.remove();
    }
  });

  it('stops the exporter at start with exit status 3 when wrong', async () => {
    const dir = await tempDir();
    try {
      const file = await dir.file('surfaces.yaml', { environments: {} });
      const run = await cli(['--config', file, '--listen-address', '127.0.0.1:0'], { STATUS_PAGE: 'token' });
      assert.equal(run.code, 3);
      assert.match(run.stderr, /^surface-exporter: STATUS_PAGE=token takes the \/metrics credentials/);
      assert.doesNotMatch(run.stderr, /at .*\.ts/, 'no stack trace');
    } finally {
      await dir.remove();
    }
  });
});

describe('status page over HTTP', () => {
  let target: LocalTarget;
  let exporter: TestExporter;

  before(async () => {
    target = await startTarget((req, res) => {
      res.statusCode = req.url === '/broken' ? 500 : 200;
      res.end();
    });
    exporter = await startTestExporter({
      pollerEnabled: false,
      env: { FORCE_POLL_TOKEN: 'operator-token' },
      registry: {
        poller: POLLER,
        environments: {
          prod: [
            { name: 'api', provider: 'http', url: `${target.url}/ok` },
            { name: 'broken', provider: 'http', url: `${target.url}/broken` },
          ],
          staging: [{ name: 'api', provider: 'http', url: `${target.url}/ok` }],
        },
      },
    });
    await exporter.poller.probeOnce('prod/api');
    await exporter.poller.probeOnce('prod/broken');
  });
  after(async () => {
    await exporter?.stop();
    await target?.close();
  });

  it('serves the page at /status and /, with the links in a footer', async () => {
    for (const path of ['/', '/status']) {
      const res = await fetch(`${exporter.url}${path}`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
      const page = await res.text();
      const footer = page.slice(page.indexOf('<footer>'));
      for (const link of ['href="/metrics"', 'href="/health"', 'href="/api/status"'])
        assert.ok(footer.includes(link), `${path}: footer links ${link}`);
      assert.match(page, /data-surface="broken" data-state="degraded"/);
      assert.doesNotMatch(page, /<script>|<style|\sstyle="|\son[a-z]+="/, 'no inline script or style');
      assert.match(page, /<script src="\/status\/assets\/status\.js" defer><\/script>/);
    }
  });

  it('weighs under 100 KB with its script and stylesheet, all from the exporter', async () => {
    const page = await (await fetch(`${exporter.url}/status`)).text();
    const assets = await Promise.all(
      Object.keys(STATUS_ASSETS).map(async (name) => {
        const res = await fetch(`${exporter.url}/status/assets/${name}`);
        assert.equal(res.status, 200, name);
        return (await res.arrayBuffer()).byteLength;
      }),
    );
    const total = Buffer.byteLength(page) + assets.reduce((sum, size) => sum + size, 0);
    assert.ok(total < 100 * 1024, `page and assets weigh ${total} bytes`);
    assert.doesNotMatch(page, /(src|href)="(https?:)?\/\//, 'no external resource');
  });

  it('answers /api/status with the model: per environment counts, tiles, version, no targets', async () => {
    const res = await fetch(`${exporter.url}/api/status`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const model = (await res.json()) as {
      version: string;
      build: { nodejs_version: string };
      total: number;
      counts: Record<string, number>;
      environments: Array<{
        name: string;
        state: string;
        counts: Record<string, number>;
        surfaces: Array<Record<string, unknown>>;
      }>;
    };
    assert.equal(model.build.nodejs_version, process.version);
    assert.equal(model.total, 3);
    assert.deepEqual(
      model.environments.map((env) => [
        env.name,
        env.state,
        env.counts.up,
        env.counts.degraded,
        env.counts.unknown,
      ]),
      [
        ['prod', 'degraded', 1, 1, 0],
        ['staging', 'unknown', 0, 0, 1],
      ],
    );
    const broken = model.environments[0]?.surfaces.find((surface) => surface.surface === 'broken');
    assert.equal(broken?.code, 'health_http_500');
    assert.equal(broken?.runbook_url, '/status/codes#health_http_status');
    assert.match(String(broken?.fix), /heroku ps/);
    assert.equal(broken?.history, 'd');
    const text = JSON.stringify(model);
    assert.ok(!text.includes(target.url.replace('http://', '')), 'no target URL without show_targets');
    assert.ok(!('target' in (broken ?? {})) && !('detail' in (broken ?? {})));
  });

  it('filters by ?env= and says "unknown environment" for a name not in the registry', async () => {
    const prod = (await (await fetch(`${exporter.url}/api/status?env=prod`)).json()) as { total: number };
    assert.equal(prod.total, 2);
    const page = await (await fetch(`${exporter.url}/status?env=staging`)).text();
    assert.ok(!page.includes('data-surface="broken"'));
    for (const path of ['/status?env=nope', '/api/status?env=nope']) {
      const res = await fetch(`${exporter.url}${path}`);
      assert.equal(res.status, 404, path);
      assert.match(
        ((await res.json()) as { error: string }).error,
        /^unknown environment "nope" \(known: prod, staging\)/,
      );
    }
    assert.equal((await fetch(`${exporter.url}/api/status?env=..%2Fx`)).status, 400);
  });

  it('says "unknown environment" on force-poll too, and "unknown surface" for a surface', async () => {
    const post = (query: string) =>
      fetch(`${exporter.url}/api/force-poll?${query}`, {
        method: 'POST',
        headers: { authorization: 'Bearer operator-token' },
      });
    const env = await post('env=nope');
    assert.equal(env.status, 404);
    assert.match(((await env.json()) as { error: string }).error, /^unknown environment "nope"/);
    const surface = await post('env=prod&surface=nope');
    assert.equal(surface.status, 404);
    assert.deepEqual(await surface.json(), { error: 'unknown surface' });
  });

  it('answers a known route hit with the wrong method 405 with Allow, and unknown routes 404', async () => {
    const cases: Array<[string, string, string]> = [
      ['DELETE', '/metrics', 'GET, HEAD'],
      ['POST', '/health', 'GET, HEAD'],
      ['PUT', '/status', 'GET, HEAD'],
      ['POST', '/api/status', 'GET, HEAD'],
      ['POST', '/badge/prod.svg', 'GET, HEAD'],
      ['GET', '/api/force-poll', 'POST'],
      ['GET', '/-/reload', 'POST'],
      ['DELETE', '/api/_internal/poller-status', 'GET, HEAD'],
    ];
    for (const [method, path, allow] of cases) {
      const res = await fetch(`${exporter.url}${path}`, { method });
      assert.equal(res.status, 405, `${method} ${path}`);
      assert.equal(res.headers.get('allow'), allow, `${method} ${path}`);
      assert.match(
        ((await res.json()) as { error: string }).error,
        new RegExp(`^method ${method} not allowed`),
      );
    }
    const options = await fetch(`${exporter.url}/metrics`, { method: 'OPTIONS' });
    assert.equal(options.status, 204);
    assert.equal(options.headers.get('allow'), 'GET, HEAD');
    assert.equal((await fetch(`${exporter.url}/nothing-here`, { method: 'DELETE' })).status, 404);
    assert.equal((await fetch(`${exporter.url}/metrics`, { method: 'HEAD' })).status, 200);
  });

  it('sends neither HSTS nor upgrade-insecure-requests over plain HTTP, and keeps the rest', async () => {
    const res = await fetch(`${exporter.url}/status`);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.equal(res.headers.get('strict-transport-security'), null);
    assert.doesNotMatch(csp, /upgrade-insecure-requests/);
    for (const directive of [
      "default-src 'self'",
      "script-src 'self'",
      "style-src 'self'",
      "object-src 'none'",
      "script-src-attr 'none'",
    ])
      assert.ok(csp.split(';').includes(directive), `${directive} in ${csp}`);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https:/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.ok(res.headers.get('x-frame-options'));
    assert.ok(res.headers.get('referrer-policy'));
    assert.ok(res.headers.get('cross-origin-opener-policy'));
  });

  it('serves badges as SVG, embeddable elsewhere', async () => {
    const res = await fetch(`${exporter.url}/badge/prod/broken.svg`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^image\/svg\+xml/);
    assert.equal(res.headers.get('cross-origin-resource-policy'), 'cross-origin');
    assert.match(await res.text(), /aria-label="prod\/broken: DEGRADED"/);
    assert.match(
      await (await fetch(`${exporter.url}/badge/prod.svg`)).text(),
      /aria-label="prod: DEGRADED 1\/2"/,
    );
    assert.equal((await fetch(`${exporter.url}/badge/nope.svg`)).status, 404);
  });

  it(`keeps at most ${HISTORY_LENGTH} results per surface`, async () => {
    for (let probe = 0; probe < HISTORY_LENGTH + 5; probe++) await exporter.poller.probeOnce('staging/api');
    const model = (await (await fetch(`${exporter.url}/api/status?env=staging`)).json()) as {
      environments: Array<{ surfaces: Array<{ history: string }> }>;
    };
    assert.equal(model.environments[0]?.surfaces[0]?.history, 'u'.repeat(HISTORY_LENGTH));
  });
});

describe('status page over TLS behind a trusted proxy', () => {
  it('sends HSTS and upgrade-insecure-requests only when the proxy says the request came over https', async () => {
    const exporter = await startTestExporter({
      pollerEnabled: false,
      env: { TRUST_PROXY: '1' },
      registry: { environments: {} },
    });
    try {
      const overTls = await fetch(`${exporter.url}/status`, { headers: { 'x-forwarded-proto': 'https' } });
      assert.ok(overTls.headers.get('strict-transport-security'));
      assert.match(overTls.headers.get('content-security-policy') ?? '', /upgrade-insecure-requests/);
      const plain = await fetch(`${exporter.url}/status`, { headers: { 'x-forwarded-proto': 'http' } });
      assert.equal(plain.headers.get('strict-transport-security'), null);
    } finally {
      await exporter.stop();
    }
  });
});

describe('status page heartbeat banner', () => {
  it('says so when the poller heartbeat is stale', async () => {
    let monotonicOffsetMs = 0;
    const exporter = await startTestExporter({
      pollerEnabled: true,
      clock: { now: () => Date.now(), monotonic: () => performance.now() + monotonicOffsetMs },
      registry: {
        poller: { interval_seconds: 3600, timeout_seconds: 10, stale_after_seconds: 30 },
        environments: {},
      },
    });
    try {
      const fresh = await (await fetch(`${exporter.url}/status`)).text();
      assert.doesNotMatch(fresh, /heartbeat stale/);
      monotonicOffsetMs = 31_000;
      const stale = await (await fetch(`${exporter.url}/status`)).text();
      assert.match(
        stale,
        /<p class="banner" role="alert">Poller heartbeat stale: no probe has completed since the exporter started \(stale_after_seconds is 30\)/,
      );
      assert.equal((await fetch(`${exporter.url}/health`)).status, 503, 'the banner and /health agree');
    } finally {
      await exporter.stop();
    }
  });
});

describe('STATUS_PAGE=token and off', () => {
  const METRICS_TOKEN = 'metrics-token-for-status-page';
  it('token: the page, JSON and badges need the /metrics credentials; the assets do not', async () => {
    const exporter = await startTestExporter({
      pollerEnabled: false,
      env: { STATUS_PAGE: 'token', METRICS_TOKEN, METRICS_BASIC_AUTH: 'viewer:secret-password' },
      registry: { environments: { prod: [{ name: 'a', provider: 'http', url: 'http://127.0.0.1:9/' }] } },
    });
    try {
      for (const path of ['/', '/status', '/api/status', '/badge/prod.svg', '/badge/prod/a.svg']) {
        const refused = await fetch(`${exporter.url}${path}`);
        assert.equal(refused.status, 401, path);
        assert.match(
          refused.headers.get('www-authenticate') ?? '',
          /^Basic/,
          'a browser asks for the password',
        );
        const bearer = await fetch(`${exporter.url}${path}`, {
          headers: { authorization: `Bearer ${METRICS_TOKEN}` },
        });
        assert.equal(bearer.status, 200, path);
        const basic = await fetch(`${exporter.url}${path}`, {
          headers: { authorization: `Basic ${Buffer.from('viewer:secret-password').toString('base64')}` },
        });
        assert.equal(basic.status, 200, path);
        assertNoSecret(await bearer.text(), [METRICS_TOKEN, 'secret-password']);
      }
      assert.equal((await fetch(`${exporter.url}/status/assets/status.css`)).status, 200);
    } finally {
      await exporter.stop();
    }
  });

  it('off: no page, JSON or badge; / is the plain list of endpoints', async () => {
    const exporter = await startTestExporter({
      pollerEnabled: false,
      env: { STATUS_PAGE: 'off' },
      registry: { environments: { prod: [{ name: 'a', provider: 'http', url: 'http://127.0.0.1:9/' }] } },
    });
    try {
      for (const path of ['/status', '/api/status', '/badge/prod.svg', '/badge/prod/a.svg'])
        assert.equal((await fetch(`${exporter.url}${path}`)).status, 404, path);
      const landing = await (await fetch(exporter.url)).text();
      assert.match(landing, /href="\/metrics"/);
      assert.doesNotMatch(landing, /data-surface/);
      assert.equal(exporter.statusPageUrl, undefined);
    } finally {
      await exporter.stop();
    }
  });
});

describe('status page secrets', () => {
  let scenario: Scenario;
  before(async () => {
    scenario = await startScenario();
  });
  after(async () => {
    await scenario?.close();
  });

  it('never shows a credential, even with show_targets: true, on any provider and state', async () => {
    const secretTarget = await startTarget((_req, res) => res.end('ok'));
    const tokens = { FORCE_POLL_TOKEN: 'force-poll-secret-marker', METRICS_TOKEN: 'metrics-secret-marker' };
    const registry = structuredClone(scenario.registry) as { environments: Record<string, unknown[]> };
    registry.environments.prod?.push({
      name: 'with-userinfo',
      provider: 'http',
      url: `${secretTarget.url}/health?token=query-secret-marker`,
    });
    const exporter = await startTestExporter({
      pollerEnabled: false,
      env: { ...scenario.env, ...tokens },
      registry: { ...registry, status_page: { show_targets: true } },
    });
    try {
      await Promise.all(exporter.poller.surfaces().map((surface) => exporter.poller.probeOnce(surface.key)));
      const auth = { authorization: `Bearer ${tokens.METRICS_TOKEN}` };
      const model = await waitFor(async () => {
        const body = (await (await fetch(`${exporter.url}/api/status`, { headers: auth })).json()) as {
          counts: Record<string, number>;
          environments: Array<{ surfaces: Array<{ target?: string; surface: string }> }>;
        };
        return body.counts.unknown === 0 ? body : undefined;
      });
      const shown = model.environments.flatMap((env) => env.surfaces);
      assert.ok(
        shown.every((surface) => typeof surface.target === 'string'),
        'targets are shown',
      );
      const bodies = [JSON.stringify(model)];
      for (const path of ['/status', '/status/codes', '/badge/prod.svg', '/badge/prod/vault.svg'])
        bodies.push(await (await fetch(`${exporter.url}${path}`, { headers: auth })).text());
      const secrets = [
        ...scenario.secrets,
        ...Object.values(tokens),
        'userinfo-secret-marker',
        'query-secret-marker',
      ];
      for (const body of bodies) assertNoSecret(body, secrets);
    } finally {
      await exporter.stop();
      await secretTarget.close();
    }
  });
});

describe('start-up output', () => {
  it('the start log leads with the status page URL: the first line naming a URL', async () => {
    const dir = await tempDir();
    const child = spawnCli(
      ['--config', await dir.file('surfaces.yaml', { environments: {} }), '--no-poller'],
      {
        env: { LISTEN_ADDRESS: '127.0.0.1:0' },
      },
    );
    try {
      const first = await waitFor(
        () =>
          child
            .stdout()
            .split('\n')
            .find((line) => line.includes('http://')),
        { timeoutMs: 15_000, what: 'the first log line naming a URL' },
      );
      const record = JSON.parse(first) as { msg: string; status_page: string; event: string };
      assert.equal(record.event, 'started');
      assert.match(record.msg, /^status page http:\/\/127\.0\.0\.1:\d+\/status$/);
      assert.equal(record.msg, `status page ${record.status_page}`);
      assert.equal((await fetch(record.status_page)).status, 200);
    } finally {
      await child.stop();
      await dir.remove();
    }
  });
});

describe('browser tests without chromium', () => {
  const missing = { executablePath: '/nonexistent/chromium' };
  it('fail under REQUIRE_STACK=1, naming the install line', async () => {
    const saved = process.env.REQUIRE_STACK;
    process.env.REQUIRE_STACK = '1';
    try {
      await assert.rejects(
        launchBrowser({ skip: () => assert.fail('must not skip') }, missing),
        /REQUIRE_STACK=1 but \/nonexistent\/chromium not found: apt-get install -y chromium/,
      );
    } finally {
      if (saved === undefined) delete process.env.REQUIRE_STACK;
      else process.env.REQUIRE_STACK = saved;
    }
  });
  it('are skipped with the install line otherwise', async () => {
    const saved = process.env.REQUIRE_STACK;
    delete process.env.REQUIRE_STACK;
    let skipped: string | undefined;
    try {
      const browser = await launchBrowser({ skip: (message?: string) => (skipped = message) }, missing);
      assert.equal(browser, undefined);
      assert.match(skipped ?? '', /apt-get install -y chromium/);
    } finally {
      if (saved !== undefined) process.env.REQUIRE_STACK = saved;
    }
  });
});

describe('status page on reload', () => {
  it('applies a new status_page section and drops the history of removed surfaces', async () => {
    const dir = await tempDir();
    const target = await startTarget((_req, res) => res.end('ok'));
    const surfaces = [
      { name: 'kept', provider: 'http', url: `${target.url}/kept` },
      { name: 'removed', provider: 'http', url: `${target.url}/removed` },
    ];
    const file = await dir.file('surfaces.yaml', { poller: POLLER, environments: { prod: surfaces } });
    const { log } = captureLogs('error');
    const exporter = await startFileExporter(file, {
      log,
    });
    const tiles = async () =>
      (
        (await (await fetch(`${exporter.url}/api/status`)).json()) as {
          environments: Array<{ surfaces: Array<{ surface: string; target?: string; history: string }> }>;
        }
      ).environments.flatMap((env) => env.surfaces);
    try {
      await exporter.poller.probeOnce('prod/kept');
      await exporter.poller.probeOnce('prod/removed');
      assert.deepEqual(
        (await tiles()).map((tile) => [tile.surface, tile.target, tile.history]),
        [
          ['kept', undefined, 'u'],
          ['removed', undefined, 'u'],
        ],
      );
      await dir.file('surfaces.yaml', {
        poller: POLLER,
        status_page: { show_targets: true },
        environments: { prod: [surfaces[0], { ...surfaces[1], name: 'added' }] },
      });
      assert.equal((await exporter.reload()).ok, true);
      assert.deepEqual(
        (await tiles()).map((tile) => [tile.surface, tile.target, tile.history]),
        [
          ['kept', `${target.url}/kept`, 'u'],
          ['added', `${target.url}/removed`, ''],
        ],
      );
    } finally {
      await exporter.stop();
      await target.close();
      await dir.remove();
    }
  });
});

describe('poller status source', () => {
  it('adds the earliest credential expiry a credential watch knows, and nothing when it knows none', async () => {
    const exporter = await startTestExporter({
      pollerEnabled: false,
      registry: {
        environments: {
          prod: [
            { name: 'gated', provider: 'http', url: 'http://127.0.0.1:9/' },
            { name: 'open', provider: 'http', url: 'http://127.0.0.1:9/' },
          ],
        },
      },
    });
    try {
      const source = pollerStatusSource(exporter.poller, {
        pollerEnabled: false,
        now: Date.now,
        credentialsOf: (_env, surface) =>
          surface === 'gated'
            ? [
                { expires_at: '2027-03-01T00:00:00.000Z' },
                { expires_at: null },
                { expires_at: '2027-01-05T00:00:00.000Z' },
              ]
            : undefined,
      });
      const byName = new Map(source.surfaces().map((reading) => [reading.surface, reading]));
      assert.equal(byName.get('gated')?.credential_expires_at, '2027-01-05T00:00:00.000Z');
      assert.equal('credential_expires_at' in (byName.get('open') ?? {}), false);
    } finally {
      await exporter.stop();
    }
  });
});

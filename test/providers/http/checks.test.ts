import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { parseRegistry, RegistryError } from '../../../src/config/load.js';
import { type HerokuFake, startHerokuApi } from '../../../src/providers/heroku_app/fake.js';
import { cli, type TempDir, tempDir } from '../../cli/support.js';
import {
  fastPoller,
  type LocalTarget,
  publishedBy,
  scrape,
  startTarget,
  startTestExporter,
  type TestExporter,
  waitFor,
} from '../../helpers/support.js';

const SECRET = 'sk-live-header-secret-0123456789';
const HEROKU_KEY = 'heroku-key-for-checks-tests';
const HEALTH_JSON = { status: 'ok', checks: { db: 'down', cache: 'up' }, items: [{ id: 7 }] };
// 64 KiB of `a` then a character that makes `(a+)+$` fail: exponential on a backtracking engine.
const PATHOLOGICAL = `${'a'.repeat(64 * 1024 - 1)}!`;

describe('http checks: conditions, request options, gate', () => {
  let target: LocalTarget;
  let heroku: HerokuFake;
  let dir: TempDir;
  const received: IncomingMessage[] = [];
  const bodies = new Map<IncomingMessage, string>();

  before(async () => {
    target = await startTarget((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        received.push(req);
        bodies.set(req, body);
        const path = (req.url ?? '').replace(/\?.*$/, '');
        switch (path) {
          case '/health.json':
          case '/app/health.json':
            res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(HEALTH_JSON));
            return;
          case '/html':
            res
              .writeHead(200, { 'content-type': 'text/html' })
              .end(`<html><body>${'x'.repeat(5000)}</body></html>`);
            return;
          case '/echo':
            // Echoes the secret header, as a debug endpoint might: it must be masked in every detail.
            res
              .writeHead(200, { 'content-type': 'text/plain' })
              .end(`${req.method} key=${req.headers['x-api-key']} body=${body}`);
            return;
          case '/pathological':
            res.writeHead(200).end(PATHOLOGICAL);
            return;
          case '/gate-login':
            res
              .writeHead(302, {
                location: 'https://team.cloudflareaccess.com/cdn-cgi/access/login/console?kid=1',
              })
              .end();
            return;
          case '/gate-refused':
            res.writeHead(401, { 'www-authenticate': 'Bearer realm="access"' }).end();
            return;
          case '/missing':
            res.writeHead(404).end('nope');
            return;
          default:
            res.writeHead(200).end('ok');
        }
      });
    });
    heroku = await startHerokuApi({ apiKeys: [HEROKU_KEY] });
    heroku.addApp({ name: 'checks-app', webUrl: `${target.url}/app/` });
    dir = await tempDir();
  });

  after(async () => {
    await target.close();
    await heroku.close();
    await dir.remove();
  });

  const exporterWith = (
    surfaces: Record<string, unknown>[],
    env: Record<string, string> = {},
    pollerEnabled = false,
  ) =>
    startTestExporter({
      pollerEnabled,
      env: { HEROKU_API_KEY: HEROKU_KEY, HEROKU_API_URL: heroku.url, ...env },
      // A probe deadline well above what a loaded CI machine needs; the scheduled test keeps 1 s rounds.
      registry: {
        poller: { ...fastPoller, timeout_seconds: 0.9, metadata_ttl_seconds: 0 },
        environments: { prod: surfaces },
      },
    });

  describe('conditions', () => {
    let exporter: TestExporter;
    const probe = (name: string) => exporter.poller.probeOnce(`prod/${name}`);

    before(async () => {
      const json = `${target.url}/health.json`;
      exporter = await exporterWith([
        {
          name: 'all-pass',
          provider: 'http',
          url: json,
          expect: {
            status: [200, 204],
            body_contains: '"status":"ok"',
            body_matches: '^\\{"status"',
            json: { status: 'ok', 'checks.cache': 'up', 'items[0].id': 7 },
            headers: { 'Content-Type': '^application/json' },
            max_duration_seconds: 30,
          },
        },
        {
          name: 'several-fail',
          provider: 'http',
          url: json,
          expect: {
            json: { 'checks.db': 'up' },
            headers: { 'content-type': '^text/plain' },
            max_duration_seconds: 0.000001,
          },
        },
        {
          name: 'body-before-json',
          provider: 'http',
          url: json,
          expect: { json: { 'items[0].id': '7' }, body_contains: 'healthy' },
        },
        {
          name: 'html-as-json',
          provider: 'http',
          url: `${target.url}/html`,
          expect: { json: { status: 'ok' } },
        },
        {
          name: 'html-excerpt',
          provider: 'http',
          url: `${target.url}/html`,
          expect: { body_matches: '"status"' },
        },
        { name: 'class', provider: 'http', url: `${target.url}/missing`, expect: { status: '4xx' } },
        { name: 'alias', provider: 'http', url: `${target.url}/missing`, expect_status: 404 },
        {
          name: 'status-list',
          provider: 'http',
          url: `${target.url}/missing`,
          expect: { status: [200, 204] },
        },
        { name: 'no-path', provider: 'http', url: json, expect: { json: { 'checks.queue': 'up' } } },
        {
          name: 'app',
          provider: 'heroku_app',
          app: 'checks-app',
          health_path: '/health.json',
          expect: { json: { 'checks.db': 'up' } },
        },
      ]);
    });

    after(async () => {
      await exporter.stop();
    });

    it('every condition met: UP, each one listed with what it saw', async () => {
      const result = await probe('all-pass');
      assert.equal(result.status, 'up', result.detail);
      assert.deepEqual(
        result.conditions?.map((condition) => [condition.rule, condition.passed]),
        [
          ['status in [200, 204]', true],
          ['body_contains "\\"status\\":\\"ok\\""', true],
          ['body_matches /^\\{"status"/', true],
          ['json status == "ok"', true],
          ['json checks.cache == "up"', true],
          ['json items[0].id == 7', true],
          ['header content-type =~ /^application/json/', true],
          ['duration <= 30 s', true],
        ],
      );
    });

    it('several failures: the fixed order picks the code (json before header before latency), the detail names the rule and what was seen', async () => {
      const result = await probe('several-fail');
      assert.equal(result.status, 'degraded');
      assert.equal(result.code, 'json_mismatch');
      assert.equal(result.detail, 'json checks.db == "up" failed: saw "\\"down\\""');
      assert.deepEqual(
        result.conditions?.map((condition) => condition.passed),
        [true, false, false, false],
        'status passed; json, header and latency each failed',
      );
      assert.equal(result.conditions?.[2]?.seen, '"application/json"');
    });

    it('body rules come before json; values compare exactly (7 is not "7")', async () => {
      const result = await probe('body-before-json');
      assert.equal(result.code, 'body_mismatch');
      assert.match(result.detail, /^body_contains "healthy" failed: saw "\{\\"status\\":\\"ok\\"/);
      assert.equal(result.conditions?.find((condition) => condition.rule.startsWith('json'))?.passed, false);
    });

    it('a body that is not JSON, a missing path: json_mismatch saying so', async () => {
      const html = await probe('html-as-json');
      assert.equal(html.code, 'json_mismatch');
      assert.match(html.detail, /a body that is not JSON/);
      const missing = await probe('no-path');
      assert.equal(missing.code, 'json_mismatch');
      assert.match(missing.detail, /saw no such path$/);
    });

    it('quotes a short excerpt of the body, never the whole of it', async () => {
      const result = await probe('html-excerpt');
      assert.equal(result.code, 'body_mismatch');
      assert.ok(result.detail.length < 160, result.detail);
      assert.doesNotMatch(result.detail, /x{100}/);
      assert.match(result.detail, /saw "<html><body>x+…"$/);
    });

    it('status as a class, as a list, and expect_status as an alias', async () => {
      assert.equal((await probe('class')).status, 'up');
      assert.equal((await probe('alias')).status, 'up');
      const list = await probe('status-list');
      assert.equal(list.code, 'health_http_404');
      assert.match(list.detail, /expected one of 200, 204$/);
    });

    it('heroku_app judges its health request by the same conditions', async () => {
      const result = await probe('app');
      assert.equal(result.code, 'json_mismatch', result.detail);
      assert.match(result.detail, /json checks\.db == "up" failed/);
      assert.equal(result.conditions?.length, 2);
    });

    it('`surface-exporter probe` prints each condition with its result', async () => {
      const file = await dir.file('conditions.yaml', {
        environments: {
          prod: [
            {
              name: 'api',
              provider: 'http',
              url: `${target.url}/health.json`,
              expect: { status: 200, json: { status: 'ok', 'checks.db': 'up' } },
            },
          ],
        },
      });
      const run = await cli(['probe', '--config', file, 'api']);
      assert.equal(run.code, 1, run.stdout + run.stderr);
      assert.match(run.stdout, /^ {2}conditions:$/m);
      assert.match(run.stdout, /^ {5}pass {2}status 200 {2}\(seen 200\)$/m);
      assert.match(run.stdout, /^ {5}pass {2}json status == "ok" {2}\(seen "\\"ok\\""\)$/m);
      assert.match(run.stdout, /^ {5}FAIL {2}json checks\.db == "up" {2}\(seen "\\"down\\""\)$/m);
      assert.match(run.stdout, /result: {3}DEGRADED json_mismatch/);
    });
  });

  it('(a+)+$ against a 64 KiB body finishes and cannot delay other surfaces', async () => {
    const exporter = await exporterWith(
      [
        {
          name: 'redos',
          provider: 'http',
          url: `${target.url}/pathological`,
          expect: { body_matches: '(a+)+$' },
        },
        { name: 'neighbour', provider: 'http', url: `${target.url}/neighbour` },
      ],
      {},
      true,
    );
    try {
      // Each surface probed several times on its 1 s schedule: a backtracking engine would never
      // return from the first match, and no other probe would run again.
      await waitFor(
        async () => {
          const text = (await scrape(exporter)).text;
          const count = (surface: string) =>
            Number(
              new RegExp(
                `surface_probe_duration_seconds_count\\{env="prod",surface="${surface}",provider="http"\\} (\\d+)`,
              ).exec(text)?.[1] ?? 0,
            );
          return count('redos') >= 3 && count('neighbour') >= 3;
        },
        { timeoutMs: 15_000, what: 'three probes of each surface' },
      );
      const redos = exporter.poller.status().surfaces.find((surface) => surface.surface === 'redos');
      assert.equal(redos?.error, 'body_mismatch');
      assert.match(redos?.detail ?? '', /^body_matches \/\(a\+\)\+\$\/ failed/);
      const neighbour = exporter.poller.status().surfaces.find((surface) => surface.surface === 'neighbour');
      assert.equal(neighbour?.status, 'up');
    } finally {
      await exporter.stop();
    }
  });

  describe('request options', () => {
    it('sends the method, static headers, headers_env and the body; the secret is masked in every detail, metric, status and log', async () => {
      const exporter = await exporterWith(
        [
          {
            name: 'post',
            provider: 'http',
            method: 'POST',
            url: `${target.url}/echo`,
            headers: { 'content-type': 'application/json', 'X-Probe': 'surface-exporter' },
            headers_env: { 'X-Api-Key': 'CHECKS_API_KEY' },
            body: '{"ping":true}',
            // Fails on purpose, so that the detail quotes the body that echoes the secret.
            expect: { body_contains: 'pong' },
          },
        ],
        { CHECKS_API_KEY: SECRET },
      );
      try {
        const before = received.length;
        const result = await exporter.poller.probeOnce('prod/post');
        const request = received.slice(before).find((req) => req.url === '/echo');
        assert.ok(request);
        assert.equal(request.method, 'POST');
        assert.equal(request.headers['x-api-key'], SECRET);
        assert.equal(request.headers['x-probe'], 'surface-exporter');
        assert.equal(request.headers['content-type'], 'application/json');
        assert.equal(bodies.get(request), '{"ping":true}');
        assert.equal(result.code, 'body_mismatch');
        assert.match(result.detail, /key=\*\*\*/);
        const everything = await publishedBy(exporter, result);
        assert.ok(!everything.includes(SECRET), 'the header secret leaked');
        assert.match(exporter.poller.status().surfaces[0]?.target ?? '', /^POST http:/);
      } finally {
        await exporter.stop();
      }
    });

    it('a 4-character headers_env secret echoed by the target is masked too (the floor is 4)', async () => {
      const short = 'q7Zx';
      const exporter = await exporterWith(
        [
          {
            name: 'short-key',
            provider: 'http',
            url: `${target.url}/echo`,
            headers_env: { 'X-Api-Key': 'SHORT_API_KEY' },
            expect: { body_contains: 'pong' },
          },
        ],
        { SHORT_API_KEY: short },
      );
      try {
        const result = await exporter.poller.probeOnce('prod/short-key');
        assert.equal(result.code, 'body_mismatch');
        assert.match(result.detail, /key=\*\*\*/);
        const everything = await publishedBy(exporter, result);
        assert.ok(!everything.includes(short), 'the 4-character header secret leaked');
      } finally {
        await exporter.stop();
      }
    });

    it('an unset headers_env variable: skipped_credentials naming it, nothing sent', async () => {
      const exporter = await exporterWith([
        {
          name: 'keyless',
          provider: 'http',
          url: `${target.url}/echo?keyless`,
          headers_env: { 'X-Api-Key': 'UNSET_KEY' },
        },
      ]);
      try {
        const before = received.length;
        const result = await exporter.poller.probeOnce('prod/keyless');
        assert.equal(result.code, 'skipped_credentials');
        assert.equal(result.missingCredential, 'UNSET_KEY');
        assert.match(result.detail, /UNSET_KEY unset/);
        assert.equal(received.length, before);
      } finally {
        await exporter.stop();
      }
    });

    it('the CLI masks headers_env values', async () => {
      const file = await dir.file('headers.yaml', {
        environments: {
          prod: [
            {
              name: 'echo',
              provider: 'http',
              url: `${target.url}/echo`,
              headers_env: { 'X-Api-Key': 'CHECKS_API_KEY' },
            },
          ],
        },
      });
      const run = await cli(['probe', '--json', '--config', file, 'echo'], { CHECKS_API_KEY: SECRET });
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.ok(!(run.stdout + run.stderr).includes(SECRET));
    });
  });

  describe('expect_gate', () => {
    it('a login redirect or an Access refusal without a token is UP; a 2xx is access_gate_missing; no token is ever sent', async () => {
      const exporter = await exporterWith([
        { name: 'gate-login', provider: 'http', url: `${target.url}/gate-login`, expect_gate: true },
        { name: 'gate-refused', provider: 'http', url: `${target.url}/gate-refused`, expect_gate: true },
        { name: 'gate-open', provider: 'http', url: `${target.url}/gate-open`, expect_gate: true },
        { name: 'gate-404', provider: 'http', url: `${target.url}/missing`, expect_gate: true },
      ]);
      try {
        const before = received.length;
        const login = await exporter.poller.probeOnce('prod/gate-login');
        assert.equal(login.status, 'up', login.detail);
        assert.match(
          login.detail,
          /behind Cloudflare Access, as expected: HTTP 302 to the Cloudflare Access login/,
        );
        const refused = await exporter.poller.probeOnce('prod/gate-refused');
        assert.equal(refused.status, 'up', refused.detail);
        const open = await exporter.poller.probeOnce('prod/gate-open');
        assert.equal(open.status, 'degraded');
        assert.equal(open.code, 'access_gate_missing');
        const other = await exporter.poller.probeOnce('prod/gate-404');
        assert.equal(other.code, 'health_http_404');
        for (const req of received.slice(before)) {
          assert.equal(req.headers['cf-access-client-id'], undefined);
          assert.equal(req.headers['cf-access-client-secret'], undefined);
        }
      } finally {
        await exporter.stop();
      }
    });
  });

  describe('load errors', () => {
    const load = (surface: Record<string, unknown>) =>
      parseRegistry(
        stringify({
          environments: { prod: [{ name: 'x', provider: 'http', url: 'http://127.0.0.1/', ...surface }] },
        }),
        'checks.yaml',
      );
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      [
        'an invalid regular expression',
        { expect: { body_matches: '(unclosed' } },
        /checks\.yaml: environments\.prod\[0\]\.expect\.body_matches: not a valid RE2 regular expression for body_matches: .*\(got "\(unclosed"\)/,
      ],
      [
        'a backreference, which only a backtracking engine runs',
        { expect: { body_matches: '(a)\\1' } },
        /environments\.prod\[0\]\.expect\.body_matches: not a valid RE2 regular expression .*\(got "\(a\)\\\\1"\)/,
      ],
      [
        'a header regular expression',
        { expect: { headers: { 'content-type': '[' } } },
        /environments\.prod\[0\]\.expect\.headers\.content-type: not a valid RE2 regular expression for a header/,
      ],
      [
        'a JSON path',
        { expect: { json: { 'checks..db': 'up' } } },
        /environments\.prod\[0\]\.expect\.json\.checks\.\.db: "checks\.\.db" is not a JSON path/,
      ],
      [
        'a body over 16 KiB',
        { body: 'x'.repeat(16 * 1024 + 1) },
        /environments\.prod\[0\]\.body: at most 16384 bytes/,
      ],
      ['a method', { method: 'DELETE' }, /environments\.prod\[0\]\.method: /],
      ['a header name', { headers: { 'bad header': 'v' } }, /environments\.prod\[0\]\.headers/],
      [
        'both status keys',
        { expect_status: 200, expect: { status: 204 } },
        /expect_status: set either expect_status or expect\.status/,
      ],
      [
        'expect_gate with a token',
        { expect_gate: true, access_token_env: 'CF_TOKEN' },
        /expect_gate: an expect_gate surface is probed without a token/,
      ],
      ['an unknown condition', { expect: { body_equals: 'ok' } }, /expect\.body_equals: unknown key/],
    ];
    for (const [what, surface, message] of cases) {
      it(`refuses ${what}, naming file, path and value`, () => {
        assert.throws(
          () => load(surface),
          (err: unknown) => {
            assert.ok(err instanceof RegistryError);
            assert.match(err.message, message);
            return true;
          },
        );
      });
    }
  });
});

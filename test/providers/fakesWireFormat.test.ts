import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type AccessGateFake, startAccessGate } from '../../src/providers/cloudflare/accessGateFake.js';
import { type CloudflareFake, startCloudflareApi } from '../../src/providers/cloudflare/fake.js';
import { type HerokuFake, startHerokuApi } from '../../src/providers/heroku_app/fake.js';
import { type InfisicalFake, startInfisical } from '../../src/providers/infisical/fake.js';

/*
 * The fakes must speak the wire format recorded in provider-apis.md (the doc the project was given);
 * the examples below are copied from it, trimmed to the keys and bodies that matter.
 */

// §1.2 App Info example: every top-level key.
const HEROKU_APP_KEYS = [
  'acm',
  'archived_at',
  'buildpack_provided_description',
  'build_stack',
  'created_at',
  'generation',
  'git_url',
  'id',
  'internal_routing',
  'maintenance',
  'name',
  'owner',
  'organization',
  'team',
  'region',
  'released_at',
  'repo_size',
  'slug_size',
  'space',
  'stack',
  'updated_at',
  'web_url',
];
// §1.3 formation list item.
const HEROKU_FORMATION_KEYS = [
  'app',
  'command',
  'created_at',
  'dyno_size',
  'id',
  'quantity',
  'size',
  'type',
  'updated_at',
];
// §1.4 dyno list item.
const HEROKU_DYNO_KEYS = [
  'attach_url',
  'command',
  'created_at',
  'id',
  'name',
  'release',
  'app',
  'size',
  'state',
  'type',
  'updated_at',
];
// §1.5 realistic bodies.
const HEROKU_401 = { id: 'unauthorized', message: 'Invalid credentials provided.' };
const HEROKU_404 = { resource: 'app', id: 'not_found', message: "Couldn't find that app." };
const HEROKU_429 = {
  id: 'rate_limit',
  message: 'Your account reached the API rate limit\nPlease wait a few minutes before making new requests',
  url: 'https://devcenter.heroku.com/articles/platform-api-reference#rate-limits',
};
// §2.3 deployment example keys (recorded response).
const CF_DEPLOYMENT_KEYS = [
  'id',
  'short_id',
  'project_id',
  'project_name',
  'environment',
  'url',
  'created_on',
  'modified_on',
  'latest_stage',
  'deployment_trigger',
  'stages',
  'build_config',
  'env_vars',
  'compatibility_date',
  'compatibility_flags',
  'build_image_major_version',
  'usage_model',
  'aliases',
  'is_skipped',
  'production_branch',
];
// §2.2 project example keys.
const CF_PROJECT_KEYS = [
  'id',
  'name',
  'subdomain',
  'domains',
  'build_config',
  'deployment_configs',
  'latest_deployment',
  'canonical_deployment',
  'created_on',
  'production_branch',
  'production_script_name',
  'preview_script_name',
  'uses_functions',
  'framework',
  'framework_version',
];
// §2.4 errors table.
const CF_404 = {
  result: null,
  success: false,
  errors: [
    {
      code: 8000007,
      message: 'Project not found. The specified project name does not match any of your existing projects.',
    },
  ],
  messages: [],
};
const CF_403_10000 = { success: false, errors: [{ code: 10000, message: 'Authentication error' }] };
// §7.1: the 403 body since 2026-08.
const CF_403_10000_2026 = {
  success: false,
  errors: [
    {
      code: 10000,
      message: 'Forbidden',
      documentation_url: 'https://developers.cloudflare.com/fundamentals/api/',
    },
  ],
  messages: [],
  result: null,
};
const CF_403_9109 = {
  success: false,
  errors: [{ code: 9109, message: 'Invalid access token' }],
  messages: [],
  result: null,
};
const CF_400_MALFORMED_AUTHORIZATION = {
  success: false,
  errors: [
    {
      code: 6003,
      message: 'Invalid request headers',
      error_chain: [{ code: 6111, message: 'Invalid format for Authorization header' }],
    },
  ],
  messages: [],
  result: null,
};
const CF_429 = {
  success: false,
  errors: [{ code: 971, message: 'Please wait and consider throttling your request speed' }],
  messages: [],
  result: null,
};
// §4 healthy /api/status example.
const INFISICAL_STATUS_KEYS = [
  'date',
  'message',
  'emailConfigured',
  'inviteOnlySignup',
  'redisConfigured',
  'secretScanningConfigured',
  'auditLogStorageDisabled',
];

const sortedKeys = (value: unknown) => Object.keys(value as object).sort();

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers, redirect: 'manual', signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}

describe('fakes speak the wire format of provider-apis.md', () => {
  describe('Heroku Platform API', () => {
    const key = 'HRKU-wire-0123456789abcdef';
    let heroku: HerokuFake;
    const auth = { Accept: 'application/vnd.heroku+json; version=3', Authorization: `Bearer ${key}` };

    before(async () => {
      heroku = await startHerokuApi({ apiKeys: [key] });
      heroku.addApp({ name: 'example', webQuantity: 2 });
      heroku.crashDynos('example', 1);
    });
    after(() => heroku.close());

    it('app info, formation and dynos carry the documented keys and headers', async () => {
      const app = await get(`${heroku.url}/apps/example`, auth);
      assert.equal(app.status, 200);
      assert.deepEqual(sortedKeys(app.json), [...HEROKU_APP_KEYS].sort());
      assert.match(app.headers.get('ratelimit-remaining') ?? '', /^\d+$/);
      assert.ok(app.headers.get('request-id'));

      const formation = await get(`${heroku.url}/apps/example/formation`, auth);
      assert.ok(Array.isArray(formation.json), 'a bare JSON array, no envelope');
      assert.deepEqual(sortedKeys((formation.json as unknown[])[0]), [...HEROKU_FORMATION_KEYS].sort());
      assert.equal(formation.headers.get('accept-ranges'), 'id, name');
      assert.match(formation.headers.get('content-range') ?? '', /^id \S+\.\.\S+; max=200$/);

      const dynos = await get(`${heroku.url}/apps/example/dynos`, auth);
      const items = dynos.json as Array<Record<string, unknown>>;
      assert.deepEqual(sortedKeys(items[0]), [...HEROKU_DYNO_KEYS].sort());
      assert.deepEqual(
        items.map((dyno) => [dyno.name, dyno.state]),
        [
          ['web.1', 'crashed'],
          ['web.2', 'up'],
        ],
      );
    });

    it('§7.4: 200 dynos a page by default, 206 with Content-Range and Next-Range, every type sorted by name', async () => {
      heroku.addApp({ name: 'paged', webQuantity: 1 });
      heroku.addDynos('paged', 'run', 250);
      heroku.setDynoState('paged', 'web.1', 'starting');
      const first = await get(`${heroku.url}/apps/paged/dynos`, auth);
      const page1 = first.json as Array<{ name: string; type: string; state: string }>;
      assert.equal(first.status, 206);
      assert.equal(page1.length, 200);
      const names = page1.map((dyno) => dyno.name);
      assert.deepEqual(names, [...names].sort(), 'sorted by name');
      assert.equal(first.headers.get('content-range'), `name ${names[0]}..${names.at(-1)}; max=200`);
      const next = first.headers.get('next-range') ?? '';
      assert.equal(next, `name ]${names.at(-1)}..; max=200`);
      const second = await get(`${heroku.url}/apps/paged/dynos`, { ...auth, Range: next });
      const page2 = second.json as Array<{ name: string; state: string }>;
      assert.equal(second.status, 200, 'the last page is complete');
      assert.equal(second.headers.get('next-range'), null);
      assert.equal(page1.length + page2.length, 251);
      assert.deepEqual(
        page2.find((dyno) => dyno.name === 'web.1')?.state,
        'starting',
        'a dyno in the middle of a restart',
      );
      const whole = await get(`${heroku.url}/apps/paged/dynos`, { ...auth, Range: 'name ..; max=1000' });
      assert.deepEqual([whole.status, (whole.json as unknown[]).length], [200, 251]);
    });

    it('error bodies', async () => {
      const badKey = await get(`${heroku.url}/apps/example`, { ...auth, Authorization: 'Bearer nope' });
      assert.deepEqual([badKey.status, badKey.json], [401, HEROKU_401]);
      const noKey = await get(`${heroku.url}/apps/example`, { Accept: auth.Accept });
      assert.equal(noKey.status, 401);
      assert.match(
        (noKey.json as { message: string }).message,
        /^There were no credentials in your `Authorization` header/,
      );
      const missing = await get(`${heroku.url}/apps/nope`, auth);
      assert.deepEqual([missing.status, missing.json], [404, HEROKU_404]);
      heroku.forbidApp('example', key);
      const forbidden = await get(`${heroku.url}/apps/example`, auth);
      assert.deepEqual(forbidden.json, {
        id: 'forbidden',
        message: 'You do not have access to the app example.',
      });
      heroku.forceRateLimit(42);
      const limited = await get(`${heroku.url}/apps/nope`, auth);
      heroku.clearRateLimit();
      assert.deepEqual(
        [limited.status, limited.json, limited.headers.get('retry-after')],
        [429, HEROKU_429, '42'],
      );
      const noVersion = await get(`${heroku.url}/apps/example`, { Authorization: auth.Authorization });
      assert.equal(noVersion.status, 406);
      assert.equal((noVersion.json as { id: string }).id, 'missing_version');
      assert.ok('error' in (noVersion.json as object), 'the observed body uses `error`, not `message`');
      // §1.1: RateLimit-Remaining is on every response, refusals included.
      for (const refused of [badKey, noKey, noVersion, missing, forbidden, limited]) {
        assert.match(refused.headers.get('ratelimit-remaining') ?? '', /^\d+$/, `HTTP ${refused.status}`);
      }
      heroku.useLegacyErrorKey(true);
      const legacy = await get(`${heroku.url}/apps/nope`, auth);
      heroku.useLegacyErrorKey(false);
      assert.deepEqual(legacy.json, { resource: 'app', id: 'not_found', error: "Couldn't find that app." });
    });
  });

  describe('Cloudflare API v4', () => {
    const token = 'cf-wire-0123456789abcdef';
    let cloudflare: CloudflareFake;
    const auth = { Authorization: `Bearer ${token}` };
    const base = () => `${cloudflare.url}/accounts/${cloudflare.accountId}/pages/projects`;

    before(async () => {
      cloudflare = await startCloudflareApi({ tokens: [token] });
      cloudflare.addProject('cloudflare-pages-action');
      cloudflare.addDeployment('cloudflare-pages-action', {
        stage: 'deploy',
        status: 'success',
        trigger: 'ad_hoc',
      });
      cloudflare.addDeployment('cloudflare-pages-action', { stage: 'build', status: 'active' });
    });
    after(() => cloudflare.close());

    it('the envelope, deployments newest first, and the direct-upload stages quirk', async () => {
      const list = await get(`${base()}/cloudflare-pages-action/deployments?env=production`, auth);
      assert.equal(list.status, 200);
      const body = list.json as { result: Array<Record<string, unknown>>; result_info: object };
      assert.deepEqual(sortedKeys(body), ['errors', 'messages', 'result', 'result_info', 'success']);
      assert.deepEqual(sortedKeys(body.result_info), [
        'count',
        'page',
        'per_page',
        'total_count',
        'total_pages',
      ]);
      // The recording is a direct upload; a git-built deployment also has `source` (cloudflare-go's fixture).
      assert.deepEqual(sortedKeys(body.result[1]), [...CF_DEPLOYMENT_KEYS].sort());
      assert.deepEqual(sortedKeys(body.result[0]), [...CF_DEPLOYMENT_KEYS, 'source'].sort());
      assert.deepEqual(sortedKeys((body.result[0] as { source: object }).source), ['config', 'type']);
      const [newest, older] = body.result as Array<{
        latest_stage: Record<string, unknown>;
        stages: Array<{ name: string; status: string; ended_on: string | null }>;
      }>;
      assert.deepEqual(sortedKeys(newest?.latest_stage), ['ended_on', 'name', 'started_on', 'status']);
      assert.deepEqual([newest?.latest_stage.name, newest?.latest_stage.status], ['build', 'active']);
      assert.deepEqual(
        older?.stages.map((stage) => stage.name),
        ['queued', 'initialize', 'clone_repo', 'build', 'deploy'],
      );
      assert.deepEqual(
        [older?.stages[0]?.status, older?.stages[0]?.ended_on, older?.latest_stage.status],
        ['active', null, 'success'],
        'a direct upload keeps queued active while latest_stage says success',
      );
      assert.match(
        String((body.result[0] as { created_on: string }).created_on),
        /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/,
      );

      const project = await get(`${base()}/cloudflare-pages-action`, auth);
      assert.deepEqual(sortedKeys((project.json as { result: object }).result), [...CF_PROJECT_KEYS].sort());
    });

    it('error bodies', async () => {
      const missing = await get(`${base()}/nope/deployments`, auth);
      assert.deepEqual([missing.status, missing.json], [404, CF_404]);
      const unauthorized = await get(`${base()}/cloudflare-pages-action/deployments`, {
        Authorization: 'Bearer x',
      });
      assert.deepEqual([unauthorized.status, unauthorized.json], [403, CF_403_10000_2026]);
      cloudflare.setErrorBodies('legacy');
      const legacy = await get(`${base()}/cloudflare-pages-action/deployments`, {
        Authorization: 'Bearer x',
      });
      assert.deepEqual([legacy.status, legacy.json], [403, CF_403_10000]);
      cloudflare.setAuthErrorCode(9109);
      const invalid = await get(`${base()}/cloudflare-pages-action/deployments`, {
        Authorization: 'Bearer x',
      });
      cloudflare.setAuthErrorCode(10000);
      cloudflare.setErrorBodies('2026');
      assert.deepEqual([invalid.status, invalid.json], [403, CF_403_9109]);
      cloudflare.forceRateLimit(300);
      const limited = await get(`${base()}/cloudflare-pages-action/deployments`, auth);
      cloudflare.clearRateLimit();
      assert.deepEqual(
        [limited.status, limited.json, limited.headers.get('retry-after')],
        [429, CF_429, '300'],
      );
      for (const malformed of [`Bearer ${token} extra`, `Bearer  ${token}`, `Basic ${token}`, token]) {
        const refused = await get(`${base()}/cloudflare-pages-action/deployments`, {
          Authorization: malformed,
        });
        assert.deepEqual([refused.status, refused.json], [400, CF_400_MALFORMED_AUTHORIZATION], malformed);
      }
    });

    it('§7.1: per_page above 25 is refused with 400 / 8000024 by default; the cap can be switched off', async () => {
      const url = `${base()}/cloudflare-pages-action/deployments`;
      const tooMany = await get(`${url}?per_page=26`, auth);
      assert.equal(tooMany.status, 400);
      assert.deepEqual((tooMany.json as { errors: Array<{ code: number }> }).errors[0]?.code, 8000024);
      assert.equal((await get(`${url}?per_page=25`, auth)).status, 200);
      const uncapped = await startCloudflareApi({ tokens: [token], enforceMaxPerPage: false });
      try {
        uncapped.addProject('cloudflare-pages-action');
        const large = `${uncapped.url}/accounts/${uncapped.accountId}/pages/projects/cloudflare-pages-action/deployments?per_page=100`;
        assert.equal((await get(large, auth)).status, 200);
      } finally {
        await uncapped.close();
      }
    });

    it('§7.1: skipped deployments (is_skipped, skip_reason, queued/idle), branches, and lists in any order', async () => {
      const fake = await startCloudflareApi({ tokens: [token] });
      try {
        fake.addProject('skips');
        const older = new Date('2026-11-30T10:00:00Z');
        fake.addDeployment('skips', { stage: 'deploy', status: 'success', createdOn: older, branch: 'main' });
        fake.addDeployment('skips', {
          stage: 'queued',
          status: 'idle',
          skipped: 'path_config',
          branch: 'feature/docs',
          createdOn: new Date('2026-11-30T11:00:00Z'),
        });
        const url = `${fake.url}/accounts/${fake.accountId}/pages/projects/skips/deployments`;
        type Listed = {
          result: Array<{
            is_skipped: boolean;
            skip_reason?: string | null;
            created_on: string;
            latest_stage: { name: string; status: string };
            deployment_trigger: { metadata: { branch: string } };
            aliases: string[];
          }>;
        };
        const [skipped, built] = ((await get(url, auth)).json as Listed).result;
        assert.deepEqual(
          [
            skipped?.is_skipped,
            skipped?.skip_reason,
            skipped?.latest_stage.name,
            skipped?.latest_stage.status,
          ],
          [true, 'path_config', 'queued', 'idle'],
        );
        assert.equal(skipped?.deployment_trigger.metadata.branch, 'feature/docs');
        assert.match(skipped?.aliases[0] ?? '', /^https:\/\/feature-docs\.skips-a5z\.pages\.dev$/);
        assert.deepEqual([built?.is_skipped, 'skip_reason' in (built ?? {})], [false, false]);
        fake.setListOrder('oldest_first');
        const reversed = ((await get(url, auth)).json as Listed).result;
        assert.deepEqual(
          reversed.map((deployment) => deployment.is_skipped),
          [false, true],
          'oldest first',
        );
      } finally {
        await fake.close();
      }
    });

    it('§7.2: Ratelimit and Ratelimit-Policy structured fields, and no x-ratelimit-*', async () => {
      const url = `${base()}/cloudflare-pages-action/deployments`;
      cloudflare.setRateLimitRemaining(2);
      try {
        const served = await get(url, auth);
        assert.match(served.headers.get('ratelimit') ?? '', /^"default";r=1;t=\d+$/);
        assert.equal(served.headers.get('ratelimit-policy'), '"default";q=1200;w=300');
        assert.equal(served.headers.get('x-ratelimit-remaining'), null);
        await get(url, auth);
        const limited = await get(url, auth);
        assert.equal(limited.status, 429);
        assert.match(limited.headers.get('ratelimit') ?? '', /^"default";r=0;t=\d+$/);
      } finally {
        cloudflare.setRateLimitRemaining(1200);
      }
    });

    it('§2.5: the 1,200 per 5 minutes budget runs out into 429 / 971 with the legacy rate-limit headers', async () => {
      const url = `${base()}/cloudflare-pages-action/deployments`;
      cloudflare.setRateLimitHeaders('legacy');
      cloudflare.setRateLimitRemaining(2);
      try {
        const served = await get(url, auth);
        assert.equal(served.status, 200);
        assert.equal(served.headers.get('x-ratelimit-limit'), '1200');
        assert.equal(served.headers.get('x-ratelimit-remaining'), '1');
        const reset = served.headers.get('x-ratelimit-reset') ?? '';
        assert.match(
          reset,
          /^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$/,
          'an RFC 1123 date',
        );
        assert.equal((await get(url, auth)).status, 200);
        const limited = await get(url, auth);
        assert.deepEqual([limited.status, limited.json], [429, CF_429]);
        assert.equal(limited.headers.get('x-ratelimit-remaining'), '0');
        assert.equal(limited.headers.get('x-ratelimit-reset'), reset);
        const retryAfter = Number(limited.headers.get('retry-after'));
        assert.ok(retryAfter > 290 && retryAfter <= 300, `retry-after ${retryAfter}: the rest of the window`);
        assert.equal(cloudflare.rateLimitRemaining(), 0);
      } finally {
        cloudflare.setRateLimitRemaining(1200);
        cloudflare.setRateLimitHeaders('structured');
      }
    });
  });

  describe('Infisical /api/status', () => {
    let infisical: InfisicalFake;
    before(async () => {
      infisical = await startInfisical();
    });
    after(() => infisical.close());

    it('the healthy body and the Fastify 500 body', async () => {
      const healthy = await get(`${infisical.url}/api/status`);
      assert.equal(healthy.status, 200);
      assert.deepEqual(sortedKeys(healthy.json), [...INFISICAL_STATUS_KEYS].sort());
      const status = healthy.json as { date: string; message: string };
      assert.equal(status.message, 'Ok');
      assert.ok(!Number.isNaN(Date.parse(status.date)));
      infisical.setMode('error_500');
      const failing = await get(`${infisical.url}/api/status`);
      infisical.setMode('healthy');
      const body = failing.json as Record<string, unknown>;
      assert.equal(failing.status, 500);
      assert.deepEqual(sortedKeys(body), ['error', 'message', 'reqId', 'statusCode']);
      assert.match(String(body.reqId), /^req-[A-Za-z0-9]{14}$/);
      assert.deepEqual(
        [body.statusCode, body.error, body.message],
        [500, 'InternalServerError', 'Something went wrong'],
      );
    });
  });

  describe('Cloudflare Access gate', () => {
    let origin: Server;
    let gate: AccessGateFake;
    const seen: IncomingHttpHeaders[] = [];

    before(async () => {
      origin = createServer((req, res) => {
        seen.push(req.headers);
        res.end('{"status":"ok"}');
      });
      await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
      gate = await startAccessGate({ target: `http://127.0.0.1:${(origin.address() as AddressInfo).port}` });
    });
    after(async () => {
      await gate.close();
      origin.closeAllConnections();
      await new Promise<void>((resolve) => origin.close(() => resolve()));
    });

    it('302 to the team login with kid, redirect_url and meta', async () => {
      const denied = await get(`${gate.url}/health`);
      assert.equal(denied.status, 302);
      assert.match(
        denied.headers.get('location') ?? '',
        /^https:\/\/myteam\.cloudflareaccess\.com\/cdn-cgi\/access\/login\/app\.example\.com\?kid=[0-9a-f]{64}&redirect_url=%2Fhealth&meta=[\w-]+\.[\w-]+\.[\w-]+$/,
      );
    });

    it('401 Bearer challenge and the 403 forms', async () => {
      gate.setDenyForm('401');
      const bearer = await get(`${gate.url}/health`);
      assert.equal(bearer.status, 401);
      assert.match(
        bearer.headers.get('www-authenticate') ?? '',
        /^Bearer realm="OAuth", error="invalid_token"/,
      );
      assert.deepEqual(sortedKeys(bearer.json), ['error', 'error_description', 'resource_metadata']);
      gate.setDenyForm('403');
      const forbidden = await get(`${gate.url}/health`);
      assert.equal(forbidden.status, 403);
      assert.ok(forbidden.headers.get('cf-access-error'));
      gate.setDenyForm('403-aud');
      const older = await get(`${gate.url}/health`);
      assert.equal(older.headers.get('cf-access-aud'), gate.aud);
      assert.equal(older.headers.get('cf-access-domain'), 'app.example.com');
      gate.setDenyForm('302');
    });

    it('§7.3: the bare 403 of a Service-Auth-only app and the bare 401 of service_auth_401_redirect', async () => {
      for (const [form, status] of [
        ['403-bare', 403],
        ['401-bare', 401],
      ] as const) {
        gate.setDenyForm(form);
        const bare = await get(`${gate.url}/health`);
        assert.equal(bare.status, status, form);
        assert.equal(bare.headers.get('server'), 'cloudflare');
        assert.match(bare.headers.get('cf-ray') ?? '', /^[0-9a-f]{16}-[A-Z]{3}$/);
        assert.match(bare.headers.get('content-type') ?? '', /^text\/html/);
        const accessHeaders = [...bare.headers.keys()].filter((name) => name.startsWith('cf-access-'));
        assert.deepEqual(accessHeaders, [], `${form} carries no Cf-Access-* header`);
        assert.equal(bare.headers.get('www-authenticate'), null);
      }
      gate.setDenyForm('deny-url');
      const deny = await get(`${gate.url}/health`);
      assert.equal(deny.status, 302);
      assert.match(deny.headers.get('location') ?? '', /^https:\/\/app\.example\.com\/access-denied\?kid=/);
      gate.setDenyForm('302');
    });

    it('§7.3: WAF/bot blocks before Access: cf-mitigated: challenge and "error code: 1010"', async () => {
      gate.setEdgeBlock('challenge');
      const challenge = await get(`${gate.url}/health`);
      assert.deepEqual([challenge.status, challenge.headers.get('cf-mitigated')], [403, 'challenge']);
      gate.setEdgeBlock('error-1010');
      const banned = await get(`${gate.url}/health`);
      assert.deepEqual([banned.status, banned.text], [403, 'error code: 1010']);
      gate.setEdgeBlock(undefined);
    });

    it('an enrolled service token reaches the origin, which sees the JWT and not the secret', async () => {
      const token = gate.createServiceToken();
      assert.match(token.clientId, /^[0-9a-f]{32}\.access$/);
      const headers = {
        'CF-Access-Client-Id': token.clientId,
        'CF-Access-Client-Secret': token.clientSecret,
      };
      assert.equal(
        (await get(`${gate.url}/health`, headers)).status,
        302,
        'a token in no policy is sent to login',
      );
      gate.enroll(token.clientId);
      const passed = await get(`${gate.url}/health`, headers);
      assert.equal(passed.status, 200);
      assert.match(passed.headers.get('set-cookie') ?? '', /^CF_Authorization=/);
      const received = seen.at(-1);
      assert.ok(received?.['cf-access-jwt-assertion']);
      assert.equal(received?.['cf-access-client-secret'], undefined);
    });
  });
});

import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import {
  type AccessDenyForm,
  type AccessGateFake,
  startAccessGate,
} from '../../../src/providers/cloudflare/accessGateFake.js';
import { type HerokuFake, startHerokuApi } from '../../../src/providers/heroku_app/fake.js';
import { type InfisicalFake, startInfisical } from '../../../src/providers/infisical/fake.js';
import { classifyEdgeResponse } from '../../../src/providers/shared/accessGate.js';
import type { HttpResponse } from '../../../src/transport/client.js';
import { type ExporterHarness, startHarness } from '../../helpers/exporter.js';
import { type LocalTarget, startTarget } from '../../helpers/support.js';

const API_KEY = 'HRKU-access-0123456789abcdef0123456789abcdef';
const TOKEN_ENV = 'CF_ACCESS_SERVICE_TOKEN_TEST';
const FORMS: AccessDenyForm[] = ['302', '401', '403', '403-aud', '403-bare', '401-bare', 'deny-url'];
/** What a probe that sent its token reports for each form (provider-apis.md §3.3, §7.3). */
const FORM_VERDICT: Record<AccessDenyForm, { code: string; detail: RegExp }> = {
  '302': {
    code: 'access_gate_redirect',
    detail: /HTTP 302 to the Cloudflare Access login \(myteam\.cloudflareaccess\.com\)/,
  },
  '401': { code: 'access_denied', detail: /HTTP 401 with a Bearer challenge/ },
  '403': { code: 'access_denied', detail: /HTTP 403 from Cloudflare Access \(Cf-Access-\* header\)/ },
  '403-aud': { code: 'access_denied', detail: /HTTP 403 from Cloudflare Access \(Cf-Access-\* header\)/ },
  '403-bare': {
    code: 'access_denied',
    detail:
      /^HTTP 403 served by Cloudflare \(server: cloudflare, cf-ray, HTML\): Cloudflare Access refused the token/,
  },
  '401-bare': {
    code: 'access_denied',
    detail: /^HTTP 401 served by Cloudflare \(server: cloudflare, cf-ray, HTML\)/,
  },
  'deny-url': { code: 'access_denied', detail: /^HTTP 302 to the Access deny URL \(access_deny_url\)/ },
};

/** Every provider with access_token_env, behind its own gate. */
describe('Cloudflare Access for every provider with access_token_env', () => {
  let heroku: HerokuFake;
  let infisical: InfisicalFake;
  const gates: Record<string, AccessGateFake> = {};
  const harnesses: ExporterHarness[] = [];

  const HOSTNAMES: Record<string, string> = {
    http: 'status.raxx.app',
    infisical: 'vault.raxx.app',
    heroku_app: 'console.raxx.app',
  };
  const surfaceFor = (provider: string): Record<string, unknown> => {
    const gate = gates[provider];
    assert.ok(gate);
    const access_deny_url = `https://${HOSTNAMES[provider]}/access-denied`;
    switch (provider) {
      case 'http':
        return { provider: 'http', url: `${gate.url}/api/status`, access_deny_url };
      case 'infisical':
        return { provider: 'infisical', url: gate.url, access_deny_url };
      default:
        return { provider: 'heroku_app', app: 'gated-web', access_deny_url };
    }
  };

  before(async () => {
    heroku = await startHerokuApi({ apiKeys: [API_KEY] });
    infisical = await startInfisical();
    gates.http = await startAccessGate({ target: infisical.url, hostname: HOSTNAMES.http });
    gates.infisical = await startAccessGate({ target: infisical.url, hostname: HOSTNAMES.infisical });
    gates.heroku_app = await startAccessGate({ target: heroku.router.url, hostname: HOSTNAMES.heroku_app });
    heroku.addApp({ name: 'gated-web', webUrl: `${gates.heroku_app.url}/gated-web/` });
  });

  after(async () => {
    await Promise.all(harnesses.map((harness) => harness.stop()));
    await Promise.all(Object.values(gates).map((gate) => gate.close()));
    await heroku.close();
    await infisical.close();
  });

  for (const provider of ['http', 'infisical', 'heroku_app']) {
    for (const form of FORMS) {
      const verdict = FORM_VERDICT[form];
      it(`${provider} behind a gate answering ${form}: enrolled UP, un-enrolled and revoked ${verdict.code}`, async () => {
        const gate = gates[provider];
        assert.ok(gate);
        gate.setDenyForm(form);
        const token = gate.createServiceToken();
        gate.enroll(token.clientId);
        const harness = await startHarness({
          registry: {
            poller: { interval_seconds: 5, timeout_seconds: 2, metadata_ttl_seconds: 0 },
            environments: { prod: [{ name: 'gated', access_token_env: TOKEN_ENV, ...surfaceFor(provider) }] },
          },
          env: {
            [TOKEN_ENV]: `${token.clientId}:${token.clientSecret}`,
            HEROKU_API_URL: heroku.url,
            HEROKU_API_KEY: API_KEY,
          },
        });
        harnesses.push(harness);

        const enrolled = await harness.probe('prod/gated');
        assert.deepEqual([enrolled.status, enrolled.code], ['up', null], enrolled.detail);

        gate.unenroll(token.clientId);
        const unenrolled = await harness.probe('prod/gated');
        assert.deepEqual([unenrolled.status, unenrolled.code], ['degraded', verdict.code], unenrolled.detail);
        assert.match(unenrolled.detail, verdict.detail);
        assert.match(unenrolled.detail, /Service Auth \(non_identity\) policy .* or it was revoked/);

        gate.enroll(token.clientId);
        assert.equal((await harness.probe('prod/gated')).status, 'up', 'enrolled again');
        gate.revoke(token.clientId);
        const revoked = await harness.probe('prod/gated');
        assert.equal(revoked.code, verdict.code);

        for (const text of [enrolled.detail, unenrolled.detail, revoked.detail]) {
          assert.ok(!text.includes(token.clientSecret), 'the client secret leaked into a detail');
        }
      });
    }
  }
});

describe('Cloudflare refusals that are not an Access decision on the token', () => {
  let origin: LocalTarget;
  let gate: AccessGateFake;
  const harnesses: ExporterHarness[] = [];
  const probeHttp = async (surface: Record<string, unknown>, env: Record<string, string> = {}) => {
    const harness = await startHarness({
      registry: {
        poller: { interval_seconds: 5, timeout_seconds: 2, metadata_ttl_seconds: 0 },
        environments: { prod: [{ name: 'edge', provider: 'http', url: `${gate.url}/health`, ...surface }] },
      },
      env,
    });
    harnesses.push(harness);
    return harness.probe('prod/edge');
  };

  before(async () => {
    origin = await startTarget((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok' }));
    });
    gate = await startAccessGate({ target: origin.url, hostname: 'edge.raxx.app' });
  });

  after(async () => {
    await Promise.all(harnesses.map((harness) => harness.stop()));
    await gate.close();
    await origin.close();
  });

  for (const block of ['challenge', 'error-1010'] as const) {
    it(`a WAF/bot block (${block}) is edge_blocked, with or without a token`, async () => {
      gate.setEdgeBlock(block);
      try {
        const token = gate.createServiceToken();
        gate.enroll(token.clientId);
        const withToken = await probeHttp(
          { access_token_env: TOKEN_ENV },
          { [TOKEN_ENV]: `${token.clientId}:${token.clientSecret}` },
        );
        assert.deepEqual([withToken.status, withToken.code], ['degraded', 'edge_blocked'], withToken.detail);
        assert.match(
          withToken.detail,
          block === 'challenge' ? /cf-mitigated: challenge/ : /error code: 1010/,
        );
        assert.match(withToken.detail, /WAF, bot or browser-integrity rule/);
        const without = await probeHttp({});
        assert.equal(without.code, 'edge_blocked');
      } finally {
        gate.setEdgeBlock(undefined);
      }
    });
  }

  it("a bare Cloudflare 403 without a token sent is the target's health_http_403, not access_denied", async () => {
    gate.setDenyForm('403-bare');
    const result = await probeHttp({});
    assert.deepEqual([result.status, result.code], ['degraded', 'health_http_403'], result.detail);
  });

  it('any 3xx to a cloudflareaccess.com host or a /cdn-cgi/access/ path is access_gate_redirect', () => {
    const redirect = (location: string): HttpResponse => ({
      kind: 'response',
      status: 302,
      headers: { location },
      body: Buffer.alloc(0),
      truncated: false,
      durationSeconds: 0,
    });
    for (const location of [
      'https://myteam.cloudflareaccess.com/cdn-cgi/access/login/app.example.com?kid=1',
      'https://myteam.cloudflareaccess.com/',
      'https://app.example.com/cdn-cgi/access/authorized',
      '/cdn-cgi/access/login/app.example.com',
    ]) {
      assert.equal(
        classifyEdgeResponse(redirect(location), { tokenSent: true }).kind,
        'login_redirect',
        location,
      );
    }
    for (const location of ['https://www.example.com/', 'https://cloudflareaccess.com.example.org/x']) {
      assert.equal(classifyEdgeResponse(redirect(location), { tokenSent: true }).kind, 'none', location);
    }
    const deny = classifyEdgeResponse(redirect('https://app.example.com/denied?kid=1'), {
      tokenSent: true,
      accessDenyUrl: 'https://app.example.com/denied',
    });
    assert.equal(deny.kind, 'access_refusal');
  });
});

/** Sends `path` verbatim as the request-target (fetch would normalise `//host/x` away). */
function rawGet(
  url: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, headers, signal: AbortSignal.timeout(5000) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the Access gate fake forwards only to its target', () => {
  let target: LocalTarget;
  let elsewhere: LocalTarget;
  let silent: LocalTarget;
  let gate: AccessGateFake;
  let headers: Record<string, string>;

  before(async () => {
    target = await startTarget((_req, res) => res.end('target'));
    elsewhere = await startTarget((_req, res) => res.end('elsewhere'));
    // Accepts the request and never answers, like an origin stuck on a slow query.
    silent = await startTarget(() => undefined);
    gate = await startAccessGate({ target: target.url, originTimeoutMs: 200 });
    const token = gate.createServiceToken();
    gate.enroll(token.clientId);
    headers = { 'cf-access-client-id': token.clientId, 'cf-access-client-secret': token.clientSecret };
  });

  after(async () => {
    await gate.close();
    await Promise.all([target.close(), elsewhere.close(), silent.close()]);
  });

  it('keeps a protocol-relative or absolute request-target on the target origin (no open proxy)', async () => {
    const elsewhereHost = new URL(elsewhere.url).host;
    const relative = await rawGet(gate.url, `//${elsewhereHost}/steal?x=1`, headers);
    assert.deepEqual([relative.status, relative.body], [200, 'target']);
    assert.equal(target.requests.at(-1)?.url, `//${elsewhereHost}/steal?x=1`, 'path and query kept verbatim');
    const absolute = await rawGet(gate.url, `${elsewhere.url}/steal`, headers);
    assert.equal(absolute.status, 400);
    assert.equal(elsewhere.requests.length, 0, 'the gate reached another host');
  });

  it("answers Cloudflare's 524 when the origin is too slow, and a probe reports health_http_524", async () => {
    gate.setTarget(silent.url);
    try {
      const slow = await rawGet(gate.url, '/health', headers);
      assert.equal(slow.status, 524);
      assert.match(slow.body, /Error code 524/);
      const token = `${headers['cf-access-client-id']}:${headers['cf-access-client-secret']}`;
      const harness = await startHarness({
        registry: {
          poller: { interval_seconds: 5, timeout_seconds: 2 },
          environments: {
            prod: [
              { name: 'slow', provider: 'http', url: `${gate.url}/health`, access_token_env: TOKEN_ENV },
            ],
          },
        },
        env: { [TOKEN_ENV]: token },
      });
      try {
        const result = await harness.probe('prod/slow');
        assert.deepEqual([result.status, result.code], ['degraded', 'health_http_524'], result.detail);
      } finally {
        await harness.stop();
      }
    } finally {
      gate.setTarget(target.url);
    }
  });
});

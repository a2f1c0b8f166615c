import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  closedPort,
  fastPoller,
  type LocalTarget,
  startTarget,
  startTestExporter,
  type TestExporter,
} from '../../helpers/support.js';

describe('http provider', () => {
  let target: LocalTarget;
  let exporter: TestExporter;
  let port: number;

  before(async () => {
    target = await startTarget((req, res) => {
      switch (req.url) {
        case '/ok':
          res.end('{"status":"ok"}');
          return;
        case '/bad-gateway':
          res.writeHead(502).end('bad gateway');
          return;
        case '/hang':
          return; // accepts the request and never answers
        case '/access-login':
          res
            .writeHead(302, {
              location:
                'https://team.cloudflareaccess.com/cdn-cgi/access/login/console.example.com?kid=4714c1358e65&redirect_url=%2Fhealth&meta=eyJ0eXAiOiJKV1Qi',
            })
            .end();
          return;
        case '/access-login-relative':
          // Access on the same host: a relative Location, which a client following redirects would fetch here.
          res
            .writeHead(302, { location: '/cdn-cgi/access/login/console.example.com?kid=4714c1358e65' })
            .end();
          return;
        case '/plain-redirect':
          res.writeHead(301, { location: '/somewhere-else' }).end();
          return;
        case '/created':
          res.writeHead(201).end();
          return;
        default:
          res.writeHead(404).end();
      }
    });
    port = await closedPort();
    const http = (name: string, path: string, extra: Record<string, unknown> = {}) => ({
      name,
      provider: 'http',
      url: `${target.url}${path}`,
      ...extra,
    });
    exporter = await startTestExporter({
      pollerEnabled: false,
      registry: {
        poller: fastPoller,
        environments: {
          prod: [
            http('ok', '/ok'),
            http('bad-gateway', '/bad-gateway'),
            http('hang', '/hang'),
            { name: 'closed', provider: 'http', url: `http://127.0.0.1:${port}/health` },
            { name: 'unresolvable', provider: 'http', url: 'http://surface-exporter-test.invalid/health' },
            http('gated', '/access-login', { access_token_env: 'CF_ACCESS_SERVICE_TOKEN_CONSOLE' }),
            http('gated-relative', '/access-login-relative'),
            http('plain-redirect', '/plain-redirect'),
            http('expect-200', '/created', { expect_status: 200 }),
            http('expect-201', '/created', { expect_status: 201 }),
            http('token-unset', '/ok', { access_token_env: 'CF_ACCESS_SERVICE_TOKEN_UNSET' }),
            http('token-malformed', '/ok', { access_token_env: 'CF_ACCESS_SERVICE_TOKEN_MALFORMED' }),
            http('token-set', '/ok', { access_token_env: 'CF_ACCESS_SERVICE_TOKEN_CONSOLE' }),
          ],
        },
      },
      env: {
        CF_ACCESS_SERVICE_TOKEN_CONSOLE: 'client-id.access:client-secret-value',
        CF_ACCESS_SERVICE_TOKEN_MALFORMED: 'no-colon-here',
      },
    });
  });

  after(async () => {
    await exporter.stop();
    await target.close();
  });

  const probe = (name: string) => exporter.poller.probeOnce(`prod/${name}`);

  it('is UP on a 2xx', async () => {
    const result = await probe('ok');
    assert.equal(result.status, 'up');
    assert.equal(result.code, null);
  });

  it('reports health_http_502 for a 502', async () => {
    const result = await probe('bad-gateway');
    assert.deepEqual([result.status, result.code], ['degraded', 'health_http_502']);
    assert.match(result.detail, /HTTP 502, expected a 2xx/);
  });

  it('reports probe_timeout for a socket that never answers, at the configured deadline', async () => {
    const result = await probe('hang');
    assert.deepEqual([result.status, result.code], ['degraded', 'probe_timeout']);
    assert.ok(
      result.durationSeconds >= 0.45 && result.durationSeconds < 2,
      `took ${result.durationSeconds} s`,
    );
  });

  it('reports health_no_response for a closed port', async () => {
    const result = await probe('closed');
    assert.deepEqual([result.status, result.code], ['degraded', 'health_no_response']);
    assert.match(result.detail, /connection refused/);
  });

  it('reports health_no_response for a name that does not resolve, saying DNS', async () => {
    const result = await probe('unresolvable');
    assert.equal(result.code, 'health_no_response');
    assert.match(result.detail, /DNS/);
  });

  it('reports access_gate_redirect for a 302 to a Cloudflare Access login, without following it', async () => {
    const before = target.requests.length;
    const result = await probe('gated');
    assert.deepEqual([result.status, result.code], ['degraded', 'access_gate_redirect']);
    assert.match(result.detail, /team\.cloudflareaccess\.com/);
    assert.match(result.detail, /Service Auth \(non_identity\) policy/);
    assert.equal(target.requests.length, before + 1);
  });

  it('recognises a relative Location to the Access login, and never requests it', async () => {
    const result = await probe('gated-relative');
    assert.deepEqual([result.status, result.code], ['degraded', 'access_gate_redirect']);
    assert.match(result.detail, /a relative Location/);
    assert.match(result.detail, /no service token is configured/);
    assert.ok(
      target.requests.every((req) => !req.url?.startsWith('/cdn-cgi/')),
      'the redirect was followed',
    );
  });

  it('treats another redirect as an unexpected status, without following it', async () => {
    const result = await probe('plain-redirect');
    assert.equal(result.code, 'health_http_301');
    assert.ok(
      target.requests.every((req) => req.url !== '/somewhere-else'),
      'the redirect was followed',
    );
  });

  it('honours expect_status both ways', async () => {
    const mismatch = await probe('expect-200');
    assert.equal(mismatch.code, 'health_http_201');
    assert.match(mismatch.detail, /expected 200/);
    assert.equal((await probe('expect-201')).status, 'up');
  });

  it('skips with skipped_credentials when the token variable is unset, sending nothing', async () => {
    const before = target.requests.length;
    const result = await probe('token-unset');
    assert.deepEqual([result.status, result.code], ['degraded', 'skipped_credentials']);
    assert.equal(result.detail, 'skipped: CF_ACCESS_SERVICE_TOKEN_UNSET unset');
    assert.equal(target.requests.length, before);
  });

  it('skips with skipped_credentials when the token is not client_id:client_secret', async () => {
    const result = await probe('token-malformed');
    assert.equal(result.code, 'skipped_credentials');
    assert.match(result.detail, /CF_ACCESS_SERVICE_TOKEN_MALFORMED malformed/);
    assert.doesNotMatch(result.detail, /no-colon-here/);
  });

  it('sends CF-Access-Client-Id and CF-Access-Client-Secret when a token is set', async () => {
    const result = await probe('token-set');
    assert.equal(result.status, 'up');
    const request = target.requests.at(-1);
    assert.equal(request?.headers['cf-access-client-id'], 'client-id.access');
    assert.equal(request?.headers['cf-access-client-secret'], 'client-secret-value');
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type AccessGateFake,
  type ServiceToken,
  startAccessGate,
} from '../../../src/providers/cloudflare/accessGateFake.js';
import { type InfisicalFake, startInfisical } from '../../../src/providers/infisical/fake.js';
import { closedPort, type ExporterHarness, startHarness } from '../../helpers/exporter.js';

const POLLER = { interval_seconds: 5, timeout_seconds: 1 };
const TOKEN_ENV = 'CF_ACCESS_SERVICE_TOKEN_VAULT';

describe('infisical provider (the vault tile)', () => {
  let infisical: InfisicalFake;
  let gate: AccessGateFake;
  let token: ServiceToken;
  const harnesses: ExporterHarness[] = [];

  const probeVault = async (
    url: string,
    extra: Record<string, unknown> = {},
    env: Record<string, string> = {},
    poller = POLLER,
  ) => {
    const harness = await startHarness({
      registry: { poller, environments: { prod: [{ name: 'vault', provider: 'infisical', url, ...extra }] } },
      env,
    });
    harnesses.push(harness);
    return harness.probe('prod/vault');
  };
  const tokenEnv = () => ({ [TOKEN_ENV]: `${token.clientId}:${token.clientSecret}` });
  const gated = () => probeVault(gate.url, { access_token_env: TOKEN_ENV }, tokenEnv());

  before(async () => {
    infisical = await startInfisical();
    gate = await startAccessGate({ target: infisical.url, hostname: 'vault.raxx.app' });
    token = gate.createServiceToken();
    gate.enroll(token.clientId);
  });

  after(async () => {
    await Promise.all(harnesses.map((harness) => harness.stop()));
    await gate.close();
    await infisical.close();
  });

  it('healthy: UP through the gate with an enrolled service token', async () => {
    infisical.resetCalls();
    const result = await gated();
    assert.deepEqual([result.status, result.code], ['up', null]);
    assert.match(result.detail, /Infisical says "Ok"/);
    assert.equal(infisical.calls('/api/status'), 1);
  });

  it('healthy without a gate', async () => {
    const result = await probeVault(`${infisical.url}/`);
    assert.equal(result.status, 'up', result.detail);
  });

  describe('gated', () => {
    it('no service token configured: access_gate_redirect, and Infisical never sees the request', async () => {
      infisical.resetCalls();
      const result = await probeVault(gate.url);
      assert.deepEqual([result.status, result.code], ['degraded', 'access_gate_redirect']);
      assert.match(result.detail, /no service token is configured/);
      assert.equal(infisical.calls(), 0);
    });

    it('token removed from the Service Auth policy: access_gate_redirect', async () => {
      gate.unenroll(token.clientId);
      try {
        const result = await gated();
        assert.equal(result.code, 'access_gate_redirect');
        assert.match(result.detail, /vault\.raxx\.app|cloudflareaccess\.com/);
        assert.match(result.detail, /Service Auth \(non_identity\) policy/);
      } finally {
        gate.enroll(token.clientId);
      }
    });

    it('revoked token: access_gate_redirect; a new enrolled token: UP', async () => {
      const old = token;
      gate.revoke(old.clientId);
      assert.equal((await gated()).code, 'access_gate_redirect');
      token = gate.createServiceToken();
      gate.enroll(token.clientId);
      assert.equal((await gated()).status, 'up');
    });

    it('skipped when the token variable is unset', async () => {
      const result = await probeVault(gate.url, { access_token_env: TOKEN_ENV });
      assert.deepEqual([result.code, result.detail], ['skipped_credentials', `skipped: ${TOKEN_ENV} unset`]);
    });
  });

  describe('down', () => {
    it('connection_error when the host refuses connections', async () => {
      await infisical.refuseConnections();
      try {
        const result = await probeVault(infisical.url);
        assert.deepEqual([result.status, result.code], ['degraded', 'connection_error']);
        assert.match(result.detail, /connection refused/);
      } finally {
        await infisical.acceptConnections();
      }
      assert.equal((await probeVault(infisical.url)).status, 'up', 'back once it listens again');
    });

    it('connection_error when the connection is reset', async () => {
      infisical.setMode('connection_reset');
      try {
        const result = await probeVault(infisical.url);
        assert.equal(result.code, 'connection_error');
        assert.match(result.detail, /reset|closed|socket/i);
      } finally {
        infisical.setMode('healthy');
      }
    });

    it('connection_error for a closed port', async () => {
      const result = await probeVault(`http://127.0.0.1:${await closedPort()}`);
      assert.equal(result.code, 'connection_error');
    });

    it('probe_timeout when /api/status hangs past timeout_seconds', async () => {
      infisical.setLatency(1500);
      try {
        const result = await probeVault(infisical.url, {}, {}, { ...POLLER, timeout_seconds: 0.3 });
        assert.equal(result.code, 'probe_timeout');
      } finally {
        infisical.setLatency(0);
      }
    });
  });

  describe('non-200 answers', () => {
    const cases = [
      ['error_500', 'http_500', /HTTP 500 \(InternalServerError: Something went wrong\)/],
      ['not_bootstrapped', 'http_404', /HTTP 404 \(NotFound: Admin config not found\)/],
      ['proxy_502', 'http_502', /HTTP 502$/],
    ] as const;
    for (const [mode, code, detail] of cases) {
      it(`${mode} is ${code}`, async () => {
        infisical.setMode(mode);
        try {
          const result = await gated();
          assert.deepEqual([result.status, result.code], ['degraded', code]);
          assert.match(result.detail, detail);
        } finally {
          infisical.setMode('healthy');
        }
      });
    }
  });

  describe('malformed 200 bodies are api_bad_response', () => {
    for (const kind of ['html', 'truncated_json', 'wrong_types', 'huge'] as const) {
      it(kind, async () => {
        infisical.setMalformed(kind);
        try {
          const result = await gated();
          assert.deepEqual([result.status, result.code], ['degraded', 'api_bad_response'], result.detail);
        } finally {
          infisical.setMalformed(undefined);
        }
      });
    }
  });

  it('never lets the service token secret reach logs, the status API or /metrics', async () => {
    const harness = await startHarness({
      registry: {
        poller: POLLER,
        environments: {
          prod: [{ name: 'vault', provider: 'infisical', url: gate.url, access_token_env: TOKEN_ENV }],
        },
      },
      env: tokenEnv(),
    });
    harnesses.push(harness);
    gate.unenroll(token.clientId);
    try {
      await harness.forcePoll();
    } finally {
      gate.enroll(token.clientId);
    }
    await harness.forcePoll();
    const exposed = [harness.logs.text(), JSON.stringify(await harness.status()), await harness.metrics()];
    for (const text of exposed)
      assert.ok(!text.includes(token.clientSecret), 'the Access client secret leaked');
  });
});

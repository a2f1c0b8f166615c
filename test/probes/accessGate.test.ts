import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type AccessDenyForm,
  type AccessGateFake,
  type HerokuFake,
  type InfisicalFake,
  startAccessGate,
  startHerokuApi,
  startInfisical,
} from '../../src/fakes/index.js';
import { type ExporterHarness, startHarness } from '../helpers/exporter.js';

const API_KEY = 'HRKU-access-0123456789abcdef0123456789abcdef';
const TOKEN_ENV = 'CF_ACCESS_SERVICE_TOKEN_TEST';
const FORMS: AccessDenyForm[] = ['302', '401', '403', '403-aud'];
const FORM_DETAIL: Record<AccessDenyForm, RegExp> = {
  '302': /HTTP 302 to the Cloudflare Access login \(myteam\.cloudflareaccess\.com\)/,
  '401': /HTTP 401 with a Bearer challenge/,
  '403': /HTTP 403 from Cloudflare Access/,
  '403-aud': /HTTP 403 from Cloudflare Access/,
};

/** Every provider with access_token_env, behind its own gate. */
describe('Cloudflare Access for every provider with access_token_env', () => {
  let heroku: HerokuFake;
  let infisical: InfisicalFake;
  const gates: Record<string, AccessGateFake> = {};
  const harnesses: ExporterHarness[] = [];

  const surfaceFor = (provider: string): Record<string, unknown> => {
    const gate = gates[provider];
    assert.ok(gate);
    switch (provider) {
      case 'http':
        return { provider: 'http', url: `${gate.url}/api/status` };
      case 'infisical':
        return { provider: 'infisical', url: gate.url };
      default:
        return { provider: 'heroku_app', app: 'gated-web' };
    }
  };

  before(async () => {
    heroku = await startHerokuApi({ apiKeys: [API_KEY] });
    infisical = await startInfisical();
    gates.http = await startAccessGate({ target: infisical.url, hostname: 'status.raxx.app' });
    gates.infisical = await startAccessGate({ target: infisical.url, hostname: 'vault.raxx.app' });
    gates.heroku_app = await startAccessGate({ target: heroku.router.url, hostname: 'console.raxx.app' });
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
      it(`${provider} behind a gate answering ${form}: enrolled UP, un-enrolled and revoked access_gate_redirect`, async () => {
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
        assert.deepEqual([unenrolled.status, unenrolled.code], ['degraded', 'access_gate_redirect']);
        assert.match(unenrolled.detail, FORM_DETAIL[form]);
        assert.match(unenrolled.detail, /Service Auth \(non_identity\) policy .* or it was revoked/);

        gate.enroll(token.clientId);
        assert.equal((await harness.probe('prod/gated')).status, 'up', 'enrolled again');
        gate.revoke(token.clientId);
        const revoked = await harness.probe('prod/gated');
        assert.equal(revoked.code, 'access_gate_redirect');

        for (const text of [enrolled.detail, unenrolled.detail, revoked.detail]) {
          assert.ok(!text.includes(token.clientSecret), 'the client secret leaked into a detail');
        }
      });
    }
  }
});

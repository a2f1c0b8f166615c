import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type InfisicalFake, startInfisical } from '../../src/providers/infisical/fake.js';
import { infisicalProvider } from '../../src/providers/infisical/provider.js';
import { refusedRegistryProblems, startTestExporter } from '../helpers/support.js';

const PASSWORD = 'hunter2-userinfo-password';

describe('fault matrix: URLs of the registry', () => {
  let infisical: InfisicalFake;
  before(async () => {
    infisical = await startInfisical();
  });
  after(async () => {
    await infisical.close();
  });

  it('an Infisical URL with a query string or a fragment still asks {path}/api/status', async () => {
    const exporter = await startTestExporter({
      pollerEnabled: false,
      registry: {
        poller: { interval_seconds: 5, timeout_seconds: 2 },
        environments: {
          prod: [
            { name: 'query', provider: 'infisical', url: `${infisical.url}/?tenant=blue` },
            { name: 'fragment', provider: 'infisical', url: `${infisical.url}/#vault` },
            { name: 'both', provider: 'infisical', url: `${infisical.url}?tenant=blue#vault` },
          ],
        },
      },
    });
    try {
      infisical.resetCalls();
      for (const name of ['query', 'fragment', 'both']) {
        const outcome = await exporter.poller.probeOnce(`prod/${name}`);
        assert.equal(outcome.status, 'up', `${name}: ${outcome.detail}`);
      }
      assert.equal(infisical.calls('/api/status'), 3);
      const targets = exporter.poller
        .surfaces()
        .map(({ config }) => (config.provider === 'infisical' ? infisicalProvider.target(config) : ''));
      assert.deepEqual(targets, [
        `${infisical.url}/api/status?tenant=***`,
        `${infisical.url}/api/status`,
        `${infisical.url}/api/status?tenant=***`,
      ]);
    } finally {
      await exporter.stop();
    }
  });

  it('userinfo in any URL key is refused at load, naming file and path, the password masked', () => {
    const userinfo = (host: string) => `https://deploy:${PASSWORD}@${host}/health`;
    const cases: Array<[string, string]> = [
      [
        `environments:\n  prod:\n    - { name: web, provider: http, url: "${userinfo('web.example')}" }\n`,
        'environments.prod[0].url',
      ],
      [
        `environments:\n  prod:\n    - { name: vault, provider: infisical, url: "${userinfo('vault.example')}" }\n`,
        'environments.prod[0].url',
      ],
      [
        `environments:\n  prod:\n    - { name: api, provider: heroku_app, app: api, health_url: "${userinfo('api.example')}" }\n`,
        'environments.prod[0].health_url',
      ],
      [
        `environments:\n  prod:\n    - { name: web, provider: http, url: "https://web.example/", access_token_env: CF_WEB, access_deny_url: "${userinfo('deny.example')}" }\n`,
        'environments.prod[0].access_deny_url',
      ],
      [
        `status_page: { runbook_url: "${userinfo('wiki.example')}" }\nenvironments:\n  prod:\n    - { name: web, provider: http, url: "https://web.example/" }\n`,
        'status_page.runbook_url',
      ],
    ];
    for (const [yaml, path] of cases) {
      const shown = refusedRegistryProblems(yaml);
      assert.match(shown, new RegExp(`^surfaces\\.yaml: ${path.replace(/[.[\]]/g, '\\$&')}: `, 'm'), shown);
      assert.match(shown, /user:password@/, shown);
      assert.match(shown, /\(got "https:\/\/\*\*\*@[a-z]+\.example\/health"\)/, shown);
      assert.ok(!shown.includes(PASSWORD) && !shown.includes('deploy:'), shown);
    }
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readRateLimit } from '../../../src/providers/cloudflare/client.js';
import { type CloudflareFake, startCloudflareApi } from '../../../src/providers/cloudflare/fake.js';
import type { HttpResponse } from '../../../src/transport/client.js';
import { harnessFactory, sampleValue, waitFor } from '../../helpers/exporter.js';

const TOKEN = 'cf-test-token-0123456789abcdef0123456789abcdef';
const POLLER = { interval_seconds: 5, timeout_seconds: 2, metadata_ttl_seconds: 0 };

const pages = (name: string, project: string, extra: Record<string, unknown> = {}) => ({
  name,
  provider: 'cloudflare_pages',
  project,
  ...extra,
});

describe('cloudflare_pages provider', () => {
  let cloudflare: CloudflareFake;
  let env: Record<string, string>;
  const { exporterWith, stopAll } = harnessFactory({ env: () => env, poller: POLLER });
  const probeProject = async (project: string, extra: Record<string, unknown> = {}, overrides = {}) => {
    const harness = await exporterWith([pages('site', project, extra)], overrides);
    return harness.probe('prod/site');
  };

  before(async () => {
    cloudflare = await startCloudflareApi({ tokens: [TOKEN] });
    env = {
      CLOUDFLARE_API_URL: cloudflare.url,
      CLOUDFLARE_PAGES_READ_TOKEN: TOKEN,
      CLOUDFLARE_ACCOUNT_ID: cloudflare.accountId,
    };
  });

  after(async () => {
    await stopAll();
    await cloudflare.close();
  });

  describe('skipped for a missing variable, without any request', () => {
    for (const variable of ['CLOUDFLARE_PAGES_READ_TOKEN', 'CLOUDFLARE_ACCOUNT_ID']) {
      it(`${variable} unset`, async () => {
        cloudflare.resetCalls();
        const result = await probeProject('getraxx', {}, { [variable]: undefined });
        assert.deepEqual(
          [result.status, result.code, result.detail],
          ['degraded', 'skipped_credentials', `skipped: ${variable} unset`],
        );
        assert.equal(cloudflare.calls(), 0);
      });
    }

    it('custom token_env and account_id_env are the ones named', async () => {
      const result = await probeProject(
        'getraxx',
        { token_env: 'PAGES_TOKEN_B', account_id_env: 'CF_ACCOUNT_B' },
        {
          PAGES_TOKEN_B: TOKEN,
        },
      );
      assert.equal(result.detail, 'skipped: CF_ACCOUNT_B unset');
    });
  });

  describe('the newest deployment decides', () => {
    it('deploy/success is UP and exported as surface_deployment_info', async () => {
      cloudflare.addProject('getraxx');
      cloudflare.addDeployment('getraxx', {
        stage: 'build',
        status: 'failure',
        createdOn: new Date(Date.now() - 3600_000),
      });
      cloudflare.addDeployment('getraxx', { stage: 'deploy', status: 'success' });
      const harness = await exporterWith([pages('getraxx', 'getraxx')]);
      const result = await harness.probe('prod/getraxx');
      assert.deepEqual([result.status, result.code], ['up', null]);
      assert.match(result.detail, /latest stage deploy success/);
      const metrics = await harness.metrics();
      const labels = { surface: 'getraxx', stage: 'deploy', status: 'success' };
      assert.equal(sampleValue(metrics, 'surface_deployment_info', labels), 1);
    });

    it('deploy_failure when the latest stage failed, whatever stage it is', async () => {
      cloudflare.addProject('mockups');
      cloudflare.addDeployment('mockups', { stage: 'deploy', status: 'success' });
      cloudflare.addDeployment('mockups', { stage: 'build', status: 'failure' });
      const result = await probeProject('mockups');
      assert.deepEqual([result.status, result.code], ['degraded', 'deploy_failure']);
      assert.match(result.detail, /latest stage build failure/);
      const info = result.samples?.find((sample) => sample.family === 'surface_deployment_info');
      assert.deepEqual(info?.labels, { stage: 'build', status: 'failure' });
    });

    for (const [stage, status] of [
      ['build', 'active'],
      ['queued', 'active'],
      ['initialize', 'idle'],
      ['deploy', 'active'],
    ] as const) {
      it(`deploy_building for ${stage}/${status}, with the start time exported`, async () => {
        const project = `building-${stage}-${status}`.replace('_', '-');
        const createdOn = new Date(Date.now() - 12 * 60_000);
        cloudflare.addProject(project);
        cloudflare.addDeployment(project, { stage, status, createdOn });
        const harness = await exporterWith([pages('building', project)]);
        const result = await harness.probe('prod/building');
        assert.deepEqual([result.status, result.code], ['degraded', 'deploy_building']);
        assert.match(result.detail, /building for 12 min/);
        const started = sampleValue(await harness.metrics(), 'surface_deployment_started_timestamp_seconds', {
          surface: 'building',
        });
        assert.equal(started, createdOn.getTime() / 1000);
      });
    }

    it('deploy_canceled', async () => {
      cloudflare.addProject('canceled-site');
      cloudflare.addDeployment('canceled-site', { stage: 'build', status: 'canceled' });
      const result = await probeProject('canceled-site');
      assert.deepEqual([result.status, result.code], ['degraded', 'deploy_canceled']);
    });

    it('no_deployments for a project without one in the environment', async () => {
      cloudflare.addProject('empty-site');
      cloudflare.addDeployment('empty-site', { stage: 'deploy', status: 'success', environment: 'preview' });
      const result = await probeProject('empty-site');
      assert.deepEqual([result.status, result.code], ['degraded', 'no_deployments']);
      assert.match(result.detail, /no production deployment/);
      const preview = await probeProject('empty-site', { environment: 'preview' });
      assert.equal(preview.status, 'up', preview.detail);
    });

    it('a direct upload is UP although its stages[] keep `queued` active', async () => {
      cloudflare.addProject('direct-upload');
      cloudflare.addDeployment('direct-upload', { stage: 'deploy', status: 'success', trigger: 'ad_hoc' });
      const result = await probeProject('direct-upload');
      assert.equal(result.status, 'up', result.detail);
    });

    it('follows the fake as its latest stage moves', async () => {
      cloudflare.addProject('moving');
      const harness = await exporterWith([pages('moving', 'moving')]);
      cloudflare.setLatestStage('moving', 'build', 'active');
      assert.equal((await harness.probe('prod/moving')).code, 'deploy_building');
      cloudflare.setLatestStage('moving', 'deploy', 'success');
      assert.equal((await harness.probe('prod/moving')).status, 'up');
      const metrics = await harness.metrics();
      assert.equal(
        sampleValue(metrics, 'surface_deployment_info', {
          surface: 'moving',
          stage: 'build',
          status: 'active',
        }),
        undefined,
        'the previous stage series is gone',
      );
    });
  });

  describe('errors', () => {
    it('http_404 for a project missing from the account (8000007)', async () => {
      const result = await probeProject('raxx-app-previews');
      assert.deepEqual([result.status, result.code], ['degraded', 'http_404']);
      assert.match(result.detail, /project raxx-app-previews is not in the account/);
      assert.match(result.detail, /8000007 Project not found/);
    });

    it('api_auth_failed for a revoked token (403, code 10000, no messages/result keys)', async () => {
      cloudflare.addProject('auth-site');
      cloudflare.revokeToken(TOKEN);
      cloudflare.setErrorBodies('legacy');
      try {
        const result = await probeProject('auth-site');
        assert.deepEqual([result.status, result.code], ['degraded', 'api_auth_failed']);
        assert.match(result.detail, /CLOUDFLARE_PAGES_READ_TOKEN.*10000 Authentication error/);
        assert.ok(!result.detail.includes(TOKEN));
        cloudflare.setAuthErrorCode(9109);
        const invalid = await probeProject('auth-site');
        assert.equal(invalid.code, 'api_auth_failed');
        assert.match(invalid.detail, /9109 Invalid access token/);
      } finally {
        cloudflare.addToken(TOKEN);
        cloudflare.setAuthErrorCode(10000);
        cloudflare.setErrorBodies('2026');
      }
    });

    it('api_auth_failed for the 2026 refusal body (messages, result: null, documentation_url)', async () => {
      cloudflare.addProject('auth-2026');
      cloudflare.revokeToken(TOKEN);
      try {
        const result = await probeProject('auth-2026');
        assert.deepEqual([result.status, result.code], ['degraded', 'api_auth_failed']);
        assert.match(
          result.detail,
          /refused the token in CLOUDFLARE_PAGES_READ_TOKEN \(HTTP 403: 10000 Forbidden\)/,
        );
      } finally {
        cloudflare.addToken(TOKEN);
      }
    });

    it('api_auth_failed for code 10001 "Unable to authenticate request", whatever the HTTP status', async () => {
      cloudflare.addProject('auth-10001');
      cloudflare.revokeToken(TOKEN);
      cloudflare.setAuthErrorCode(10001);
      try {
        const result = await probeProject('auth-10001');
        assert.deepEqual([result.status, result.code], ['degraded', 'api_auth_failed'], result.detail);
        assert.match(result.detail, /HTTP 400: 10001 Unable to authenticate request/);
      } finally {
        cloudflare.addToken(TOKEN);
        cloudflare.setAuthErrorCode(10000);
      }
    });

    it("api_auth_failed for a malformed Authorization header (400, 6003/6111), asking whether the variable includes 'Bearer '", async () => {
      cloudflare.addProject('auth-bearer');
      const result = await probeProject(
        'auth-bearer',
        {},
        { CLOUDFLARE_PAGES_READ_TOKEN: `Bearer ${TOKEN}` },
      );
      assert.deepEqual([result.status, result.code], ['degraded', 'api_auth_failed'], result.detail);
      assert.match(
        result.detail,
        /^malformed Authorization header \(does the variable include 'Bearer '\?\): CLOUDFLARE_PAGES_READ_TOKEN \(HTTP 400: 6003 Invalid request headers\)/,
      );
      assert.ok(!result.detail.includes(TOKEN));
    });

    it('api_auth_failed for an account the token does not belong to', async () => {
      cloudflare.addProject('other-account');
      const result = await probeProject(
        'other-account',
        {},
        { CLOUDFLARE_ACCOUNT_ID: 'ffffffffffffffffffffffffffffffff' },
      );
      assert.equal(result.code, 'api_auth_failed');
    });

    it('api_error with the code for any other success:false', async () => {
      cloudflare.addProject('odd-error');
      cloudflare.failWith(400, [{ code: 8000024, message: 'Invalid list options provided.' }]);
      try {
        const result = await probeProject('odd-error');
        assert.deepEqual([result.status, result.code], ['degraded', 'api_error']);
        assert.match(result.detail, /8000024 Invalid list options provided\./);
      } finally {
        cloudflare.failWith(undefined);
      }
    });

    it('rate_limited on 429 / 971, then no call until Retry-After has passed', async () => {
      cloudflare.addProject('limited');
      cloudflare.addDeployment('limited', { stage: 'deploy', status: 'success' });
      const harness = await exporterWith([pages('limited', 'limited')]);
      cloudflare.forceRateLimit(1);
      cloudflare.resetCalls();
      const first = await harness.probe('prod/limited');
      assert.deepEqual([first.status, first.code], ['degraded', 'rate_limited']);
      assert.match(first.detail, /971 Please wait and consider throttling your request speed/);
      cloudflare.clearRateLimit();
      const during = await harness.probe('prod/limited');
      assert.equal(during.code, 'rate_limited');
      assert.equal(cloudflare.calls(), 1, 'no request while Retry-After runs');
      await waitFor(async () => (await harness.probe('prod/limited')).status === 'up', {
        timeoutMs: 3000,
        intervalMs: 200,
        what: 'the probe to resume after Retry-After',
      });
    });

    it('rate_limited once the 1,200 calls per 5 minutes run out, silent until the Retry-After it was sent', async () => {
      cloudflare.addProject('exhausted');
      cloudflare.addDeployment('exhausted', { stage: 'deploy', status: 'success' });
      const harness = await exporterWith([pages('exhausted', 'exhausted')]);
      // One call left in a window that ends in 2 s: the 429 then says Retry-After: 2.
      cloudflare.setRateLimitRemaining(1, 2);
      cloudflare.resetCalls();
      try {
        const last = await harness.probe('prod/exhausted');
        assert.equal(last.status, 'up', last.detail);
        const limited = await harness.probe('prod/exhausted');
        assert.deepEqual([limited.status, limited.code], ['degraded', 'rate_limited']);
        assert.match(limited.detail, /HTTP 429: 971 .*no call before/);
        const remaining = sampleValue(await harness.metrics(), 'surface_provider_rate_limit_remaining', {
          provider: 'cloudflare',
        });
        assert.equal(remaining, 0);
        const during = await harness.probe('prod/exhausted');
        assert.equal(during.code, 'rate_limited');
        assert.equal(cloudflare.calls(), 2, 'no request while Retry-After runs');
        await waitFor(async () => (await harness.probe('prod/exhausted')).status === 'up', {
          timeoutMs: 5000,
          intervalMs: 200,
          what: 'the probe to resume once the window has passed',
        });
        assert.equal(cloudflare.calls(), 3, 'the first call after Retry-After is the one that succeeded');
      } finally {
        cloudflare.setRateLimitRemaining(1200);
      }
    });

    it('exports the Ratelimit / Ratelimit-Policy structured fields as remaining and quota', async () => {
      cloudflare.addProject('counted');
      cloudflare.addDeployment('counted', { stage: 'deploy', status: 'success' });
      const harness = await exporterWith([pages('counted', 'counted')]);
      cloudflare.setRateLimitRemaining(700);
      try {
        await harness.probe('prod/counted');
        const metrics = await harness.metrics();
        const labels = { provider: 'cloudflare' };
        assert.equal(sampleValue(metrics, 'surface_provider_rate_limit_remaining', labels), 699);
        assert.equal(sampleValue(metrics, 'surface_provider_rate_limit_quota', labels), 1200);
      } finally {
        cloudflare.setRateLimitRemaining(1200);
      }
    });

    it('with several Ratelimit items the lowest r binds, and its quota is the policy of the same name', () => {
      const response = (headers: Record<string, string>): HttpResponse => ({
        kind: 'response',
        status: 200,
        headers,
        body: Buffer.alloc(0),
        truncated: false,
        durationSeconds: 0,
      });
      assert.deepEqual(
        readRateLimit(
          response({
            ratelimit: '"default";r=900;t=120, "pages-burst";r=12;t=9',
            'ratelimit-policy': '"default";q=1200;w=300, "pages-burst";q=50;w=10',
            'x-ratelimit-remaining': '5',
          }),
        ),
        { remaining: 12, quota: 50 },
      );
      assert.deepEqual(readRateLimit(response({ ratelimit: 'default;r=7;t=1' })), {
        remaining: 7,
        quota: undefined,
      });
      assert.deepEqual(
        readRateLimit(response({ ratelimit: '"default";t=1', 'x-ratelimit-remaining': '3' })),
        {
          remaining: 3,
          quota: undefined,
        },
      );
    });

    it('falls back to x-ratelimit-remaining and x-ratelimit-limit', async () => {
      cloudflare.addProject('counted-legacy');
      cloudflare.addDeployment('counted-legacy', { stage: 'deploy', status: 'success' });
      const harness = await exporterWith([pages('counted', 'counted-legacy')]);
      cloudflare.setRateLimitHeaders('legacy');
      cloudflare.setRateLimitRemaining(500);
      try {
        await harness.probe('prod/counted');
        const metrics = await harness.metrics();
        const labels = { provider: 'cloudflare' };
        assert.equal(sampleValue(metrics, 'surface_provider_rate_limit_remaining', labels), 499);
        assert.equal(sampleValue(metrics, 'surface_provider_rate_limit_quota', labels), 1200);
      } finally {
        cloudflare.setRateLimitHeaders('structured');
        cloudflare.setRateLimitRemaining(1200);
      }
    });
  });

  describe('skipped deployments, list order and branches (provider-apis.md §7.1)', () => {
    const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000);

    it('judges the newest deployment that was not skipped, and says what was skipped', async () => {
      cloudflare.addProject('watch-paths');
      cloudflare.addDeployment('watch-paths', {
        stage: 'deploy',
        status: 'success',
        createdOn: minutesAgo(30),
      });
      for (const minutes of [20, 10]) {
        cloudflare.addDeployment('watch-paths', {
          stage: 'queued',
          status: 'idle',
          skipped: 'path_config',
          createdOn: minutesAgo(minutes),
        });
      }
      const harness = await exporterWith([pages('site', 'watch-paths')]);
      const result = await harness.probe('prod/site');
      assert.deepEqual([result.status, result.code], ['up', null], result.detail);
      assert.match(
        result.detail,
        /latest stage deploy success; newest 2 deployments skipped \(path_config\)$/,
      );
      const info = result.samples?.find((sample) => sample.family === 'surface_deployment_info');
      assert.deepEqual(info?.labels, { stage: 'deploy', status: 'success' });
    });

    it('no_deployments when every deployment of the first 2 pages was skipped, without reading a third', async () => {
      cloudflare.addProject('all-skipped');
      for (let index = 0; index < 60; index++) {
        cloudflare.addDeployment('all-skipped', {
          stage: 'queued',
          status: 'idle',
          skipped: index % 2 === 0 ? 'commit_message' : 'branch_config',
          createdOn: minutesAgo(100 - index),
        });
      }
      cloudflare.deploymentPagesRequested();
      const result = await probeProject('all-skipped');
      assert.deepEqual([result.status, result.code], ['degraded', 'no_deployments'], result.detail);
      assert.match(
        result.detail,
        /has no production deployment that was not skipped in the newest 2 page\(s\) of the list: newest 50 deployments skipped \((commit_message, branch_config|branch_config, commit_message)\)/,
      );
      assert.deepEqual(cloudflare.deploymentPagesRequested(), [1, 2]);
    });

    it('reads page 2 only when nothing on page 1 counts', async () => {
      cloudflare.addProject('deep');
      cloudflare.addDeployment('deep', { stage: 'build', status: 'failure', createdOn: minutesAgo(90) });
      for (let index = 0; index < 25; index++) {
        cloudflare.addDeployment('deep', {
          stage: 'queued',
          status: 'idle',
          skipped: 'path_config',
          createdOn: minutesAgo(60 - index),
        });
      }
      cloudflare.deploymentPagesRequested();
      const result = await probeProject('deep');
      assert.deepEqual([result.status, result.code], ['degraded', 'deploy_failure'], result.detail);
      assert.match(result.detail, /newest 25 deployments skipped \(path_config\)/);
      assert.deepEqual(cloudflare.deploymentPagesRequested(), [1, 2]);
      cloudflare.addDeployment('deep', { stage: 'deploy', status: 'success' });
      assert.equal((await probeProject('deep')).status, 'up');
      assert.deepEqual(cloudflare.deploymentPagesRequested(), [1]);
    });

    for (const order of ['oldest_first', 'by_id'] as const) {
      it(`the newest created_on decides whatever the list order (${order})`, async () => {
        const project = `unordered-${order.replace('_', '-')}`;
        cloudflare.addProject(project);
        for (let index = 0; index < 6; index++) {
          cloudflare.addDeployment(project, {
            stage: 'build',
            status: 'failure',
            createdOn: minutesAgo(60 - index),
          });
        }
        cloudflare.addDeployment(project, { stage: 'deploy', status: 'success', createdOn: minutesAgo(1) });
        cloudflare.setListOrder(order);
        try {
          const result = await probeProject(project);
          assert.deepEqual([result.status, result.code], ['up', null], result.detail);
        } finally {
          cloudflare.setListOrder('newest_first');
        }
      });
    }

    it('asks for at most 25 per page, which Cloudflare enforces (400 / 8000024 above)', async () => {
      cloudflare.addProject('page-size');
      cloudflare.addDeployment('page-size', { stage: 'deploy', status: 'success' });
      const result = await probeProject('page-size');
      assert.equal(result.status, 'up', result.detail);
      const tooBig = await fetch(
        `${cloudflare.url}/accounts/${cloudflare.accountId}/pages/projects/page-size/deployments?per_page=26`,
        { headers: { authorization: `Bearer ${TOKEN}` } },
      );
      assert.equal(tooBig.status, 400);
      assert.equal(((await tooBig.json()) as { errors: { code: number }[] }).errors[0]?.code, 8000024);
    });

    it('with `branch`, only that branch counts; without it, any branch', async () => {
      cloudflare.addProject('branches');
      cloudflare.addDeployment('branches', {
        environment: 'preview',
        stage: 'deploy',
        status: 'success',
        branch: 'main',
        createdOn: minutesAgo(30),
      });
      cloudflare.addDeployment('branches', {
        environment: 'preview',
        stage: 'build',
        status: 'failure',
        branch: 'feature/broken-pr',
        createdOn: minutesAgo(5),
      });
      const any = await probeProject('branches', { environment: 'preview' });
      assert.equal(any.code, 'deploy_failure', any.detail);
      const main = await probeProject('branches', { environment: 'preview', branch: 'main' });
      assert.deepEqual([main.status, main.code], ['up', null], main.detail);
      const none = await probeProject('branches', { environment: 'preview', branch: 'release' });
      assert.deepEqual([none.status, none.code], ['degraded', 'no_deployments']);
      assert.match(none.detail, /has no preview deployment of branch release/);
    });
  });

  describe('malformed bodies are api_bad_response', () => {
    for (const kind of ['html', 'truncated_json', 'wrong_types', 'huge'] as const) {
      it(kind, async () => {
        cloudflare.addProject('bad-body');
        cloudflare.addDeployment('bad-body', { stage: 'deploy', status: 'success' });
        cloudflare.setMalformed(kind);
        try {
          const result = await probeProject('bad-body');
          assert.deepEqual([result.status, result.code], ['degraded', 'api_bad_response'], result.detail);
        } finally {
          cloudflare.setMalformed(undefined);
        }
      });
    }
  });

  describe('caching', () => {
    it('reuses a terminal stage for metadata_ttl_seconds but polls every time while building', async () => {
      cloudflare.addProject('cached');
      cloudflare.addDeployment('cached', { stage: 'deploy', status: 'success' });
      const harness = await exporterWith(
        [pages('cached', 'cached')],
        {},
        { ...POLLER, metadata_ttl_seconds: 300 },
      );
      cloudflare.resetCalls();
      await harness.probe('prod/cached');
      await harness.probe('prod/cached');
      assert.equal(cloudflare.calls(), 1);

      cloudflare.addProject('cached-building');
      cloudflare.addDeployment('cached-building', { stage: 'build', status: 'active' });
      const building = await exporterWith(
        [pages('building', 'cached-building')],
        {},
        {
          ...POLLER,
          metadata_ttl_seconds: 300,
        },
      );
      cloudflare.resetCalls();
      await building.probe('prod/building');
      await building.probe('prod/building');
      assert.equal(cloudflare.calls(), 2);
    });
  });

  it('names the account id, an identifier, when Cloudflare quotes it back', async () => {
    // A malformed id is refused with 7003 "Could not route to /client/v4/accounts/<id>/...".
    const result = await probeProject('getraxx', {}, { CLOUDFLARE_ACCOUNT_ID: 'raxx-prod-account' });
    assert.deepEqual([result.status, result.code], ['degraded', 'api_error']);
    assert.match(result.detail, /7003 Could not route to \/client\/v4\/accounts\/raxx-prod-account\//);
  });

  it('never lets the token reach logs, the status API or /metrics', async () => {
    cloudflare.addProject('secret-site');
    cloudflare.addDeployment('secret-site', { stage: 'build', status: 'failure' });
    const harness = await exporterWith([pages('secret', 'secret-site'), pages('missing', 'not-there')]);
    cloudflare.revokeToken(TOKEN);
    try {
      await harness.forcePoll();
    } finally {
      cloudflare.addToken(TOKEN);
    }
    await harness.forcePoll();
    const exposed = [harness.logs.text(), JSON.stringify(await harness.status()), await harness.metrics()];
    for (const text of exposed) assert.ok(!text.includes(TOKEN), 'the Cloudflare token leaked');
  });
});

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadRegistryFile } from '../../src/config/load.js';
import { cli, REPO_ROOT } from '../cli/support.js';

const EXAMPLE = join(REPO_ROOT, 'examples/surfaces.yaml');

describe('examples/surfaces.yaml', () => {
  it('is a valid registry holding the runbook surface set', async () => {
    const registry = await loadRegistryFile(EXAMPLE);
    const byProvider = (provider: string) =>
      registry.surfaces
        .filter((surface) => surface.config.provider === provider)
        .map((surface) => surface.key);
    assert.deepEqual(byProvider('heroku_app').sort(), [
      'prod/api-prod',
      'prod/console-prod',
      'staging/api-staging',
      'staging/console-staging',
    ]);
    assert.equal(byProvider('cloudflare_pages').length, 3);
    assert.deepEqual(byProvider('infisical'), ['prod/vault']);
    const gated = registry.surfaces.filter(
      (surface) => surface.config.provider === 'http' && surface.config.access_token_env,
    );
    assert.equal(gated.length, 1, 'the Access-gated console');
    assert.equal(registry.poller.interval_seconds, 30, "the runbook's poll period");
    assert.equal(registry.poller.stale_after_seconds, 120);
  });

  it('uses placeholder names only', async () => {
    const registry = await loadRegistryFile(EXAMPLE);
    for (const { config } of registry.surfaces) {
      // A push surface names no host: its job calls the exporter.
      if (config.provider === 'push') continue;
      const named =
        'app' in config ? config.app : 'project' in config ? config.project : new URL(config.url).host;
      assert.match(named, /^example[.-]|\.example\.com$/, `${config.name}: ${named}`);
    }
  });

  it('passes check-config', async () => {
    const run = await cli(['check-config', EXAMPLE]);
    assert.equal(run.code, 0, run.stdout);
  });
});

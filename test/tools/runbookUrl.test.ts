import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  DEFAULT_RUNBOOK_BASE_URL,
  PLACEHOLDER_RUNBOOK_BASE_URL,
  repositoryRunbookUrl,
} from '../../tools/observability/alerts.js';
import { REPO_ROOT, type TempDir, TSX_LOADER, tempDir } from '../cli/support.js';

describe('runbook_url', () => {
  let dir: TempDir;
  before(async () => {
    dir = await tempDir();
  });
  after(async () => {
    await dir.remove();
  });

  it('defaults to the package repository, or to a placeholder that cannot resolve, never to a made-up repository', async () => {
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      repository?: unknown;
    };
    assert.equal(
      DEFAULT_RUNBOOK_BASE_URL,
      repositoryRunbookUrl(pkg.repository) ?? PLACEHOLDER_RUNBOOK_BASE_URL,
    );
    assert.match(PLACEHOLDER_RUNBOOK_BASE_URL, /^https:\/\/[^/]+\.invalid\//);
    const rules = await readFile(join(REPO_ROOT, 'alerts/surface-exporter.rules.yml'), 'utf8');
    assert.doesNotMatch(rules, /github\.com\/surface-exporter\/surface-exporter/);
    assert.ok(rules.includes(`runbook_url: ${DEFAULT_RUNBOOK_BASE_URL}#surfacedown`));
  });

  it('reads the repository field as npm writes it', () => {
    const runbook = 'https://github.com/acme/surface-exporter/blob/HEAD/docs/runbook.md';
    assert.equal(repositoryRunbookUrl('git+https://github.com/acme/surface-exporter.git'), runbook);
    assert.equal(
      repositoryRunbookUrl({ type: 'git', url: 'git@github.com:acme/surface-exporter.git' }),
      runbook,
    );
    assert.equal(
      repositoryRunbookUrl('https://gitlab.com/acme/ops/surface-exporter'),
      'https://gitlab.com/acme/ops/surface-exporter/-/blob/HEAD/docs/runbook.md',
    );
    assert.equal(repositoryRunbookUrl(undefined), undefined);
    assert.equal(repositoryRunbookUrl('github:acme/x'), undefined);
  });

  it('is set, with the job selector, by the command the README shows', async () => {
    const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
    const alerts = readme.slice(readme.indexOf('## Alerts'), readme.indexOf('<!-- BEGIN GENERATED alerts'));
    assert.ok(
      alerts.includes(`npm run generate -- --runbook-base-url URL --job-selector 'job="NAME"'`),
      'the Alerts section shows the command',
    );
    const run = spawnSync(
      process.execPath,
      [
        '--import',
        TSX_LOADER,
        join(REPO_ROOT, 'tools/generate.ts'),
        '--out-dir',
        dir.path,
        '--runbook-base-url',
        'https://wiki.example.com/runbooks/surface-exporter',
        '--job-selector',
        'job="surfaces"',
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(run.status, 0, run.stderr);
    const rules = await readFile(join(dir.path, 'alerts/surface-exporter.rules.yml'), 'utf8');
    assert.ok(rules.includes('runbook_url: https://wiki.example.com/runbooks/surface-exporter#surfacedown'));
    assert.ok(rules.includes('surface_up{job="surfaces"}') || rules.includes('{job="surfaces"'));
    assert.ok(!rules.includes('runbook-base-url.invalid'));
  });
});

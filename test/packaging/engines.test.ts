import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../cli/support.js';

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  engines: { node: string };
  scripts: Record<string, string>;
};
const ci = readFileSync(join(REPO_ROOT, '.ci/run'), 'utf8');
const imageMajor = Number(
  /^ARG NODE_MAJOR=(\d+)$/m.exec(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'))?.[1],
);

/** The majors a range admits, one per `||` alternative: `20.x`, `^20.18.1` or `20.18.1`. */
function majorsOf(range: string): number[] {
  return range.split('||').map((alternative) => {
    const match = /^\s*(?:\^?(\d+)\.\d+\.\d+|(\d+)\.x)\s*$/.exec(alternative);
    assert.ok(
      match,
      `"${alternative.trim()}" is not bounded to one major (Heroku resolves open ranges to its newest Node)`,
    );
    return Number(match[1] ?? match[2]);
  });
}

describe('engines.node', () => {
  it('admits exactly the majors CI runs: the machines’ Node for npm test, the Dockerfile’s for the second run', () => {
    const majors = majorsOf(pkg.engines.node);
    const machineMajor = Number(process.versions.node.split('.')[0]);
    assert.ok(Number.isInteger(imageMajor), 'the Dockerfile has ARG NODE_MAJOR=<major>');
    assert.ok(
      majors.includes(machineMajor),
      `Node ${machineMajor} runs this test but ${pkg.engines.node} excludes it`,
    );
    assert.ok(
      majors.includes(imageMajor),
      `the image runs Node ${imageMajor} but ${pkg.engines.node} excludes it`,
    );
    // Heroku installs the newest Node a range admits: that one must be the image's, which CI tests.
    assert.equal(Math.max(...majors), imageMajor);
    assert.deepEqual([...new Set(majors)].sort(), [...new Set([20, imageMajor])].sort());
    assert.match(ci, /NODE_MAJOR/, '.ci/run runs the suite under the image major');
  });
});

describe('npm ci', () => {
  it('has every dependency install script reviewed in allowScripts, so installs print no approval prompt', () => {
    const run = spawnSync('npm', ['install-scripts', 'ls'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /No packages with unreviewed install scripts/, run.stdout);
  });
});

describe('test output', () => {
  it('npm test and the second CI run use one reporter, which ends with a one-line summary', () => {
    const reporter = /--test-reporter=(\S+)/.exec(pkg.scripts['test:node'] ?? '')?.[1];
    assert.equal(reporter, './test/helpers/reporter.mjs');
    assert.match(pkg.scripts.test ?? '', /npm run test:node$/);
    assert.match(ci, /PATH="\$image_node_dir\/node_modules\/\.bin:\$PATH" npm run --silent test:node/);
    const run = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--test',
        `--test-reporter=${reporter}`,
        'test/fixtures/reporter/sample.fixture.ts',
      ],
      // Without this variable the child would report to this run instead of through the reporter.
      {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, NODE_TEST_CONTEXT: undefined },
      },
    );
    const lines = run.stdout.trimEnd().split('\n');
    assert.match(
      lines.at(-1) ?? '',
      /^FAILED: 2 of 3 tests passed, 1 failed, 0 cancelled, 0 skipped, 0 todo \(\d+\.\d s\)$/,
    );
    // node's own closing lines stay, for whoever reads them.
    assert.ok(
      lines.some((line) => /^ℹ pass 2$/.test(line)),
      run.stdout,
    );
    assert.ok(
      lines.some((line) => /^ℹ fail 1$/.test(line)),
      run.stdout,
    );
  });
});

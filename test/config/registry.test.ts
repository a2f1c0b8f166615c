import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { formatProblem, loadRegistryFile, parseRegistry, RegistryError } from '../../src/config/load.js';

const fixture = (name: string) => new URL(`../fixtures/registry/${name}`, import.meta.url).pathname;

async function problemsOf(name: string): Promise<string[]> {
  try {
    await loadRegistryFile(fixture(name));
  } catch (err) {
    assert.ok(err instanceof RegistryError, `expected a RegistryError, got ${String(err)}`);
    return err.problems.map(formatProblem);
  }
  assert.fail(`${name} loaded without error`);
}

describe('registry', () => {
  it('loads a valid file with defaults filled in', async () => {
    const registry = await loadRegistryFile(fixture('valid.yaml'));
    assert.deepEqual(
      registry.surfaces.map((surface) => surface.key),
      ['prod/console-prod', 'prod/api-prod', 'staging/console-staging'],
    );
    assert.equal(registry.poller.stale_after_seconds, 120);
    assert.equal(registry.poller.max_backoff_seconds, 300);
    assert.equal(registry.poller.concurrency, 64);
  });

  it('limits the run to SURFACE_ENV', async () => {
    const registry = await loadRegistryFile(fixture('valid.yaml'), 'staging');
    assert.deepEqual(
      registry.surfaces.map((surface) => surface.key),
      ['staging/console-staging'],
    );
  });

  it('rejects a SURFACE_ENV that is not in the file', async () => {
    await assert.rejects(
      loadRegistryFile(fixture('valid.yaml'), 'qa'),
      /SURFACE_ENV names an environment not in the registry/,
    );
  });

  // One fixture per class of mistake, with the exact line an operator would read.
  const cases: Array<[string, RegExp]> = [
    [
      'unknown-key.yaml',
      /unknown-key\.yaml: environments\.prod\[0\]\.expected_status: unknown key \(a typo\?\)$/,
    ],
    [
      'bad-name.yaml',
      /bad-name\.yaml: environments\.prod\[0\]\.name: .*\[a-z0-9-\].* \(got "Console_Prod"\)$/,
    ],
    [
      'duplicate-name.yaml',
      /duplicate-name\.yaml: environments\.prod\[1\]\.name: duplicate surface name \(also at index 0\) \(got "console-prod"\)$/,
    ],
    [
      'timeout-not-below-interval.yaml',
      /poller\.timeout_seconds: must be less than interval_seconds, which is 5 \(got 5\)$/,
    ],
    [
      'unknown-provider.yaml',
      /environments\.prod\[0\]\.provider: unknown or missing provider: expected one of http.* \(got "htttp"\)$/,
    ],
    ['missing-url.yaml', /environments\.prod\[0\]\.url: required: an http\(s\) URL$/],
    [
      'bad-url.yaml',
      /environments\.prod\[0\]\.url: an http\(s\) URL \(got "ftp:\/\/console\.example\.com\/health"\)$/,
    ],
    ['unknown-poller-key.yaml', /poller\.intervall_seconds: unknown key \(a typo\?\)$/],
    ['not-yaml.yaml', /not-yaml\.yaml: line \d+, column \d+: invalid YAML/],
  ];
  for (const [name, expected] of cases) {
    it(`explains ${name}`, async () => {
      const problems = await problemsOf(name);
      assert.ok(
        problems.some((problem) => expected.test(problem)),
        `no problem matched ${expected}:\n${problems.join('\n')}`,
      );
    });
  }

  it('reports every problem at once', async () => {
    const problems = await problemsOf('many-errors.yaml');
    assert.equal(problems.length, 3, problems.join('\n'));
    assert.match(problems.join('\n'), /poller\.concurrency/);
    assert.match(problems.join('\n'), /environments\.prod\[1\]\.name/);
    assert.match(problems.join('\n'), /environments\.prod\[1\]\.url/);
  });

  it('hides a value under a *_env key (a pasted token) and masks URL credentials', async () => {
    const problems = (await problemsOf('token-in-env-key.yaml')).join('\n');
    assert.match(
      problems,
      /access_token_env: .*\(got <hidden: \d+ characters where a variable name belongs>\)/,
    );
    assert.doesNotMatch(problems, /verysecretvalue|0f3c9d2a/);
  });

  it('names a missing file', async () => {
    const problems = await problemsOf('does-not-exist.yaml');
    assert.match(problems[0] ?? '', /does-not-exist\.yaml: cannot read the registry: file not found/);
  });

  it('throws only RegistryError for documents of the wrong shape', () => {
    for (const text of ['', '[]', '42', 'environments: 3', 'environments:\n  prod: {}', 'poller: null']) {
      try {
        parseRegistry(text, 'x.yaml');
      } catch (err) {
        assert.ok(err instanceof RegistryError, `${JSON.stringify(text)} threw ${String(err)}`);
      }
    }
  });

  it('makes the service exit 1 without starting, printing every problem', () => {
    const result = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/main.ts',
        '--config',
        fixture('many-errors.yaml'),
        '--listen-address',
        '127.0.0.1:0',
      ],
      { encoding: 'utf8', timeout: 20_000, cwd: new URL('../..', import.meta.url).pathname },
    );
    assert.equal(result.status, 1, result.stderr);
    assert.match(result.stderr, /many-errors\.yaml: 3 problem\(s\)/);
    assert.match(result.stderr, /environments\.prod\[1\]\.url/);
    assert.doesNotMatch(result.stdout, /listening/);
    assert.ok(readFileSync(fixture('many-errors.yaml'), 'utf8').length > 0);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { parseRegistry, RegistryError } from '../../src/config/load.js';
import { TIMEOUT_SHARE_OF_INTERVAL } from '../../src/config/schema.js';

const load = (poller: Record<string, unknown>) =>
  parseRegistry(stringify({ poller, environments: {} }), 'surfaces.yaml').poller;

function problemsOf(poller: Record<string, unknown>): string[] {
  try {
    load(poller);
  } catch (err) {
    if (err instanceof RegistryError) return err.message.split('\n').slice(1);
    throw err;
  }
  assert.fail('expected a RegistryError');
}

describe('poller.timeout_seconds default', () => {
  it('is the smaller of 10 and 0.8 x interval_seconds when unset', () => {
    assert.equal(TIMEOUT_SHARE_OF_INTERVAL, 0.8);
    assert.equal(load({ interval_seconds: 10 }).timeout_seconds, 8);
    assert.equal(load({ interval_seconds: 5 }).timeout_seconds, 4);
    assert.equal(load({ interval_seconds: 1 }).timeout_seconds, 0.8);
    assert.equal(load({ interval_seconds: 12.5 }).timeout_seconds, 10);
    assert.equal(load({ interval_seconds: 300 }).timeout_seconds, 10);
    assert.equal(load({}).timeout_seconds, 10);
    assert.equal(load({ interval_seconds: 10, timeout_seconds: 9.5 }).timeout_seconds, 9.5);
  });

  it('names both values when a written timeout is not below the interval', () => {
    assert.deepEqual(problemsOf({ interval_seconds: 10, timeout_seconds: 10 }), [
      'surfaces.yaml: poller.timeout_seconds: must be less than interval_seconds, which is 10 (got 10)',
    ]);
    assert.deepEqual(problemsOf({ timeout_seconds: 45 }), [
      'surfaces.yaml: poller.timeout_seconds: must be less than interval_seconds, which is 30 (got 45)',
    ]);
  });

  it('never blames the timeout the user did not write, and never prints undefined', () => {
    for (const poller of [{ interval_seconds: 0.5 }, { interval_seconds: 'ten' }, { interval_seconds: -3 }]) {
      const problems = problemsOf(poller);
      assert.ok(
        problems.every((problem) => problem.includes('poller.interval_seconds')),
        problems.join('\n'),
      );
      assert.ok(
        problems.every((problem) => !problem.includes('undefined')),
        problems.join('\n'),
      );
    }
  });
});

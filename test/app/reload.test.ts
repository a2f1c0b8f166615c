import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { coalesce } from '../../src/app/reload.js';

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

describe('reload coalescing', () => {
  it('runs one load at a time and folds every call during it into one more', async () => {
    const runs: Array<ReturnType<typeof deferred<number>>> = [];
    const reload = coalesce(() => {
      const run = deferred<number>();
      runs.push(run);
      return run.promise;
    });
    const first = reload();
    const second = reload();
    const third = reload();
    assert.equal(runs.length, 1, 'calls during a load wait');
    assert.equal(second, third, 'they share one pending load');
    runs[0]?.resolve(1);
    assert.equal(await first, 1);
    await waitForRuns(runs, 2);
    // The load that began before this call may have read the file before it changed: wait for another.
    const fourth = reload();
    const fifth = reload();
    assert.notEqual(fourth, second);
    assert.equal(fourth, fifth);
    runs[1]?.resolve(2);
    assert.deepEqual(await Promise.all([second, third]), [2, 2]);
    await waitForRuns(runs, 3);
    runs[2]?.resolve(3);
    assert.deepEqual(await Promise.all([fourth, fifth]), [3, 3]);
    assert.equal(runs.length, 3, 'five calls, three loads, never two at once');
  });

  it('starts the pending load after a failed one, and a fresh load once idle', async () => {
    let calls = 0;
    const gate = deferred<void>();
    const reload = coalesce(async () => {
      calls++;
      if (calls === 1) {
        await gate.promise;
        throw new Error('invalid registry');
      }
      return calls;
    });
    const failing = reload();
    const pending = reload();
    gate.resolve();
    await assert.rejects(failing, /invalid registry/);
    assert.equal(await pending, 2);
    assert.equal(await reload(), 3);
  });
});

async function waitForRuns(runs: unknown[], count: number): Promise<void> {
  // The pending load starts in a promise callback once the first settles; let those run.
  for (let turn = 0; turn < 10 && runs.length < count; turn++) await Promise.resolve();
  assert.equal(runs.length, count);
}

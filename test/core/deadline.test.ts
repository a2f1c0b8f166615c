import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Deadline } from '../../src/core/deadline.js';

/** Waits for a deadline; its timer is unref'd, so the test holds the event loop open meanwhile. */
const passes = (deadline: Deadline) =>
  new Promise<void>((resolve) => {
    const hold = setInterval(() => {}, 1000);
    deadline.watch(() => {
      clearInterval(hold);
      setImmediate(resolve);
    });
  });

describe('Deadline', () => {
  it('calls each watcher once when it passes, and a late watcher at once', async () => {
    const deadline = new Deadline(5);
    const calls: string[] = [];
    const unwatched = () => calls.push('unwatched');
    deadline.watch(() => calls.push('first'));
    deadline.watch(unwatched);
    deadline.unwatch(unwatched);
    assert.equal(deadline.expired, false);
    await passes(deadline);
    assert.equal(deadline.expired, true);
    deadline.watch(() => calls.push('late'));
    assert.deepEqual(calls, ['first', 'late']);
  });

  it('settled before it passes: no watcher is called', async () => {
    const settled = new Deadline(5);
    let called = false;
    settled.watch(() => {
      called = true;
    });
    settled.settle();
    await passes(new Deadline(20));
    assert.equal(called, false);
    assert.equal(settled.expired, false);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProbeCancelledError, Semaphore } from '../../src/poller/semaphore.js';

/** A clock the test moves; the semaphore's expiry timer still runs on real time, so waits are short. */
function steppedClock() {
  let now = 0;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('Semaphore', () => {
  it('a waiter whose signal aborted is cancelled, never granted, and the queue moves on', async () => {
    const semaphore = new Semaphore(1);
    const first = await semaphore.acquire();
    const stopping = new AbortController();
    const cancelled = semaphore.acquire({ signal: stopping.signal });
    const next = semaphore.acquire({ signal: new AbortController().signal });
    assert.equal(semaphore.queued, 2);
    stopping.abort();
    semaphore.cancelAborted();
    await assert.rejects(cancelled, ProbeCancelledError);
    assert.equal(semaphore.queued, 1);
    first.release();
    (await next).release();
    assert.equal(semaphore.inUse, 0);
  });

  it('a slot freed before the sweep runs skips the aborted waiter', async () => {
    const semaphore = new Semaphore(1);
    const first = await semaphore.acquire();
    const stopping = new AbortController();
    const cancelled = semaphore.acquire({ signal: stopping.signal });
    stopping.abort();
    first.release();
    await assert.rejects(cancelled, ProbeCancelledError);
    assert.equal(semaphore.inUse, 0);
  });

  it('a waiter runs in the slow lane once it has waited maxWaitMs, without a slot coming free', async () => {
    const clock = steppedClock();
    const semaphore = new Semaphore(1, clock.now);
    const hanging = await semaphore.acquire({ maxWaitMs: 50 });
    const waiting = semaphore.acquire({ maxWaitMs: 50 });
    assert.deepEqual(semaphore.usage(), { inUse: 1, slow: 0, queued: 1 });
    clock.advance(50);
    const slot = await waiting;
    assert.equal(slot.lane, 'slow');
    assert.equal(slot.waitedMs, 50);
    assert.deepEqual(semaphore.usage(), { inUse: 1, slow: 1, queued: 0 });
    slot.release();
    hanging.release();
    assert.deepEqual(semaphore.usage(), { inUse: 0, slow: 0, queued: 0 });
  });

  it('`slow` never waits, and its slot does not count against the limit', async () => {
    const semaphore = new Semaphore(1);
    const held = await semaphore.acquire();
    const slow = await semaphore.acquire({ slow: true });
    assert.equal(slow.lane, 'slow');
    slow.release();
    const next = semaphore.acquire();
    held.release();
    assert.equal((await next).lane, 'queue');
  });

  it('expedite moves a queued waiter to the slow lane at once; the queue skips it afterwards', async () => {
    const semaphore = new Semaphore(1);
    const held = await semaphore.acquire();
    let expedite: (() => void) | undefined;
    const pulled = semaphore.acquire({ onQueued: (run) => (expedite = run) });
    const after = semaphore.acquire();
    assert.equal(semaphore.queued, 2);
    expedite?.();
    assert.equal((await pulled).lane, 'slow');
    assert.equal(semaphore.queued, 1);
    held.release();
    assert.equal((await after).lane, 'queue');
    assert.equal(semaphore.queued, 0);
  });
});

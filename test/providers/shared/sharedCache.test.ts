import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CACHE_SWEEP_INTERVAL_MS, SharedCache } from '../../../src/providers/shared/cache.js';

describe('SharedCache', () => {
  it('concurrent loads of one key share one call, and the value is kept for its TTL', async () => {
    let now = 0;
    const cache = new SharedCache(() => now);
    let calls = 0;
    const load = async () => {
      calls++;
      return { value: calls, ttlMs: 1000 };
    };
    assert.deepEqual(await Promise.all([cache.getOrLoad('a', load), cache.getOrLoad('a', load)]), [1, 1]);
    now = 999;
    assert.equal(await cache.getOrLoad('a', load), 1);
    now = 1000;
    assert.equal(await cache.getOrLoad('a', load), 2);
  });

  it('sweeps out expired entries of keys nobody asks for any more', async () => {
    let now = 0;
    const cache = new SharedCache(() => now);
    for (const app of ['gone-1', 'gone-2', 'kept']) {
      await cache.getOrLoad(app, async () => ({
        value: app,
        ttlMs: app === 'kept' ? 10 * CACHE_SWEEP_INTERVAL_MS : 1000,
      }));
    }
    assert.equal(cache.size, 3);
    now = CACHE_SWEEP_INTERVAL_MS - 1;
    await cache.getOrLoad('kept', async () => ({ value: 'reloaded', ttlMs: 1 }));
    assert.equal(cache.size, 3, 'no sweep before the interval');
    now = CACHE_SWEEP_INTERVAL_MS;
    assert.equal(await cache.getOrLoad('kept', async () => ({ value: 'reloaded', ttlMs: 1 })), 'kept');
    assert.equal(cache.size, 1, 'the expired entries of gone-1 and gone-2 are dropped');
  });
});

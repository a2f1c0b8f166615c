import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BudgetPlans, RecentRefreshes } from '../../../src/providers/shared/budget.js';

describe('RecentRefreshes', () => {
  it('forgets only what was not refreshed within the kept time, a refresh moving a key to the newest', () => {
    const recent = new RecentRefreshes<number>();
    recent.refreshed('a', 0, 1);
    recent.refreshed('b', 1000, 2);
    recent.refreshed('c', 2000, 3);
    // Refreshed again: no longer the oldest, so a stays while b (older now) goes.
    recent.refreshed('a', 3000, 4);
    assert.deepEqual(recent.forget(3500, 2000), [2]);
    assert.equal(recent.size, 2);
    assert.equal(recent.get('a'), 4);
    assert.equal(recent.get('b'), undefined);
    assert.deepEqual(recent.forget(10_000, 2000), [3, 4]);
    assert.equal(recent.size, 0);
  });
});

describe('BudgetPlans', () => {
  it('makes a plan once per key and keeps it', () => {
    const plans = new BudgetPlans();
    let made = 0;
    const make = () => ({ id: ++made });
    const first = plans.of('x:plan', make);
    assert.equal(plans.of('x:plan', make), first);
    assert.notEqual(plans.of('y:plan', make), first);
    assert.equal(made, 2);
  });
});

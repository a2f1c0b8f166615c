import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WindowedMax } from '../../src/metrics/windowedMax.js';

describe('WindowedMax', () => {
  it('keeps the worst value for the window, whoever reads it, then forgets it', () => {
    let now = 0;
    const max = new WindowedMax(60_000, 6, () => now);
    max.note(0.2);
    max.note(2.5);
    now = 15_000;
    max.note(0.1);
    assert.equal(max.max(), 2.5);
    assert.equal(max.max(), 2.5, 'reading does not reset');
    now = 55_000;
    assert.equal(max.max(), 2.5, 'still inside the minute');
    now = 65_000;
    assert.equal(max.max(), 0.1, 'the 2.5 s block left the window; the 0.1 s one at 15 s has not');
    now = 200_000;
    assert.equal(max.max(), 0);
  });
});

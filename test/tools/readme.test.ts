import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { pollerSchema } from '../../src/config/schema.js';
import { ExporterMetrics } from '../../src/metrics/metrics.js';
import { updateGeneratedSections } from '../../tools/docs/reference.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('leads with the two commands', () => {
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    assert.match(firstBlock, /^npm ci && npm start/m);
    assert.match(firstBlock, /^npm test/m);
  });

  it('has generated tables identical to what the code renders (run `npm run generate`)', () => {
    assert.equal(updateGeneratedSections(readme), readme);
  });

  it('names every metric and every poller key', () => {
    const metrics = new ExporterMetrics({ version: 'x', defaultMetrics: false });
    for (const { name } of metrics.families()) assert.ok(readme.includes(`\`${name}\``), name);
    for (const key of Object.keys(pollerSchema.shape)) assert.ok(readme.includes(`\`poller.${key}\``), key);
  });
});

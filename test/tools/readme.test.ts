import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { pollerSchema } from '../../src/config/schema.js';
import { ExporterMetrics } from '../../src/metrics/metrics.js';
import { GENERATED_SECTIONS, updateGeneratedSections } from '../../tools/docs/reference.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('leads with the two commands', () => {
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    assert.match(firstBlock, /^npm ci && npm start/m);
    assert.match(firstBlock, /^npm test/m);
  });

  it('has generated tables identical to what the code renders (run `npm run generate`)', () => {
    // Section by section, so that a failure names the stale table instead of printing the README twice.
    for (const [name, render] of Object.entries(GENERATED_SECTIONS)) {
      const block = new RegExp(
        `<!-- BEGIN GENERATED ${name}:[^>]*-->\\n([\\s\\S]*?)\\n<!-- END GENERATED ${name} -->`,
      );
      const committed = block.exec(readme)?.[1];
      assert.ok(committed !== undefined, `README has the generated block ${name}`);
      assert.equal(committed, render(), `README section ${name} is stale: run npm run generate`);
    }
    assert.equal(updateGeneratedSections(readme), readme);
  });

  it('names every metric and every poller key', () => {
    const metrics = new ExporterMetrics({ version: 'x', defaultMetrics: false });
    for (const { name } of metrics.families()) assert.ok(readme.includes(`\`${name}\``), name);
    for (const key of Object.keys(pollerSchema.shape)) assert.ok(readme.includes(`\`poller.${key}\``), key);
  });

  it('says nothing about the machine it was built on, and nothing untrue about /health or the dashboards', () => {
    assert.doesNotMatch(readme, /build machine/);
    assert.doesNotMatch(readme, /also right after start/, '/health is 200 right after start');
    assert.match(
      readme.replace(/\s+/g, ' '),
      /Right after start it is 200 with `"poller_last_poll_at":null`/,
    );
    assert.doesNotMatch(readme.replace(/\s+/g, ' '), /import into Grafana 10 and 11/);
    assert.match(
      readme.replace(/\s+/g, ' '),
      /What they were checked against: `test\/tools\/dashboards\.test\.ts`/,
    );
    assert.match(readme, /the _seed runbook_ below/, 'the term is explained where it first appears');
    assert.doesNotMatch(readme, /src\/observability\//, 'the generators live in tools/');
  });

  it('cites only test and source files that exist (paths move with the rooms)', () => {
    const docs = ['README.md', 'CONTRIBUTING.md', 'docs/runbook.md', 'bench/RESULTS.md'];
    const missing = docs.flatMap((doc) =>
      [
        ...readFileSync(new URL(`../../${doc}`, import.meta.url), 'utf8').matchAll(
          /\b((?:test|src|tools)\/[\w./-]+\.ts)\b/g,
        ),
      ]
        .map((match) => match[1] as string)
        .filter((path) => !existsSync(new URL(`../../${path}`, import.meta.url)))
        .map((path) => `${doc}: ${path}`),
    );
    assert.deepEqual(missing, []);
  });
});

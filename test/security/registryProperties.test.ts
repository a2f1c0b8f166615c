import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { parseRegistry, RegistryError } from '../../src/config/load.js';

/** Either a valid registry or a RegistryError: anything else escaping the loader is a bug. */
function loadOrExplain(text: string): 'valid' | 'invalid' {
  try {
    const registry = parseRegistry(text, 'fuzz.yaml');
    assert.ok(Array.isArray(registry.surfaces));
    return 'valid';
  } catch (err) {
    if (err instanceof RegistryError) {
      assert.ok(err.problems.length > 0, 'a RegistryError names at least one problem');
      for (const problem of err.problems) assert.equal(problem.file, 'fuzz.yaml');
      return 'invalid';
    }
    throw err;
  }
}

const surfaceLike = fc.record(
  {
    name: fc.oneof(fc.constantFrom('api-prod', 'vault', 'x'), fc.string()),
    provider: fc.oneof(fc.constantFrom('http', 'heroku_app', 'cloudflare_pages', 'infisical'), fc.string()),
    url: fc.oneof(fc.webUrl(), fc.string(), fc.integer()),
    expect_status: fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.string()),
    app: fc.string(),
    project: fc.string(),
    environment: fc.constantFrom('production', 'preview', 'staging'),
    access_token_env: fc.oneof(fc.constantFrom('CF_TOKEN'), fc.string()),
  },
  { requiredKeys: [] },
);

const registryLike = fc.record(
  {
    poller: fc.oneof(
      fc.record(
        {
          interval_seconds: fc.oneof(fc.double(), fc.integer(), fc.string()),
          timeout_seconds: fc.oneof(fc.double(), fc.integer()),
          concurrency: fc.integer(),
        },
        { requiredKeys: [] },
      ),
      fc.anything(),
    ),
    environments: fc.oneof(
      fc.dictionary(fc.string(), fc.array(surfaceLike, { maxLength: 4 })),
      fc.anything(),
    ),
  },
  { requiredKeys: [] },
);

describe('registry loader, property-based', () => {
  it('never throws anything but RegistryError on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (text) => {
        loadOrExplain(text);
      }),
      { numRuns: 400 },
    );
  });

  it('never throws anything but RegistryError on arbitrary YAML documents', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        loadOrExplain(stringify(value) ?? '');
      }),
      { numRuns: 300 },
    );
  });

  it('never throws anything but RegistryError on registry-shaped objects, and accepts the valid ones', () => {
    let valid = 0;
    fc.assert(
      fc.property(registryLike, (value) => {
        if (loadOrExplain(stringify(value)) === 'valid') valid++;
      }),
      { numRuns: 400 },
    );
    assert.ok(valid > 0, 'the generator reaches valid registries too');
  });
});

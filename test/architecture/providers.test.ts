import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, it } from 'node:test';
import type { z } from 'zod';
import { runbookAnchor } from '../../src/core/codes.js';
import { PROVIDERS } from '../../src/providers/index.js';
import { githubAnchors, REPO_ROOT } from '../e2e/stack.js';
import { SHARED_PROVIDER_FOLDERS } from './rooms.js';

const PROVIDERS_DIR = join(REPO_ROOT, 'src/providers');
const folders = readdirSync(PROVIDERS_DIR).filter((entry) =>
  statSync(join(PROVIDERS_DIR, entry)).isDirectory(),
);
const names = PROVIDERS.map((provider) => provider.name);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

/** Source without comments, so that prose may name a provider. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

describe('the provider list', () => {
  it('has every provider folder, and every provider has a folder and tests', () => {
    const providerFolders = folders.filter((folder) => !SHARED_PROVIDER_FOLDERS.includes(folder));
    assert.deepEqual([...providerFolders].sort(), [...names].sort());
    for (const name of names) {
      const tests = join(REPO_ROOT, 'test/providers', name);
      assert.ok(
        existsSync(tests) && files(tests).some((file) => file.endsWith('.test.ts')),
        `test/providers/${name}/ has no test`,
      );
    }
  });

  it('names each provider as its schema does', () => {
    for (const provider of PROVIDERS) {
      const literal = (provider.schema.shape as Record<string, z.ZodType>).provider as z.ZodLiteral<string>;
      assert.equal(literal.value, provider.name);
    }
  });

  it('gives every declared code a runbook section', () => {
    const anchors = githubAnchors(readFileSync(join(REPO_ROOT, 'docs/runbook.md'), 'utf8'));
    for (const provider of PROVIDERS) {
      for (const doc of provider.codes) {
        assert.ok(
          anchors.has(runbookAnchor(doc)),
          `${provider.name}: runbook has no section for ${doc.code}`,
        );
      }
    }
  });

  it('is the only place in src/ outside its folder that names a provider (demo data aside)', () => {
    const named: string[] = [];
    for (const file of files(join(REPO_ROOT, 'src')).filter((path) => path.endsWith('.ts'))) {
      const path = relative(join(REPO_ROOT, 'src'), file).split(sep).join('/');
      if (path === 'providers/index.ts' || path.startsWith('demo/')) continue;
      const text = code(readFileSync(file, 'utf8'));
      for (const name of names) {
        if (path.startsWith(`providers/${name}/`)) continue;
        if (new RegExp(`['"\`]${name}['"\`]|providers/${name}/`).test(text))
          named.push(`${path} names ${name}`);
      }
    }
    assert.deepEqual(named, []);
  });
});

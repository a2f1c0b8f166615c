import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../e2e/stack.js';

function jsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? jsFiles(path) : path.endsWith('.js') ? [path] : [];
  });
}

/** `@scope/name/sub` and `name/sub` as the package they come from. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
}

describe('the build', () => {
  it('imports nothing in dist/ but runtime dependencies and Node built-ins', (t) => {
    const outDir = mkdtempSync(join(tmpdir(), 'dist-imports-'));
    t.after(() => rmSync(outDir, { recursive: true, force: true }));
    const tsc = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
    const build = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', outDir], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(build.status, 0, build.stdout + build.stderr);
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const allowed = new Set([...Object.keys(pkg.dependencies), ...builtinModules]);
    const files = jsFiles(outDir);
    assert.ok(files.length > 20, 'the build wrote the modules');
    const outside: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'".][^'"]*)['"]/g)) {
        const specifier = (match[1] as string).replace(/^node:/, '');
        if (!allowed.has(packageOf(specifier))) outside.push(`${file.slice(outDir.length + 1)}: ${match[1]}`);
      }
    }
    assert.deepEqual(outside, []);
  });
});

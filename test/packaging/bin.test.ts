import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('the surface-exporter binary', () => {
  it('is what package.json names, built by `npm ci` (prepare), executable, and answers --help through npx', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
      scripts: Record<string, string>;
    };
    assert.match(`${pkg.scripts.prepare} ${pkg.scripts.build}`, /npm run build.*tsc/);
    const bin = pkg.bin['surface-exporter'];
    assert.ok(bin, 'package.json has a surface-exporter bin');
    const path = join(ROOT, bin);
    accessSync(path, constants.X_OK);
    assert.match(readFileSync(path, 'utf8'), /^#!\/usr\/bin\/env node\n/);
    const run = spawnSync('npx', ['--no-install', 'surface-exporter', '--help'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^Usage: surface-exporter/);
    assert.match(run.stdout, /check-config/);
  });
});

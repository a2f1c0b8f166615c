import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadRegistryFile, MAX_REGISTRY_BYTES, parseRegistry } from '../../src/config/load.js';
import { refusedRegistryProblems } from '../helpers/support.js';

const surface = (url: string) =>
  `environments:\n  prod:\n    - { name: web, provider: http, url: "${url}" }\n`;

describe('fault matrix: hostile registries', () => {
  it('a URL password is masked before the value is cut, however long, and when it holds a /', () => {
    const longPassword = `p${'x'.repeat(120)}`;
    for (const [url, secret] of [
      [`ftp://admin:${longPassword}@host.example/health`, longPassword.slice(0, 40)],
      ['ftp://admin:pa/ss?w#rd@host.example/health', 'pa/ss'],
      ['ftp://admin:s3cr3t-value@host.example/health?token=abc123', 's3cr3t-value'],
    ] as const) {
      const shown = refusedRegistryProblems(surface(url));
      assert.match(shown, /environments\.prod\[0\]\.url/);
      assert.ok(!shown.includes(secret), `${secret} shown in: ${shown}`);
      assert.ok(!shown.includes('w#rd') && !shown.includes('abc123'), shown);
      assert.match(shown, /ftp:\/\/\*\*\*@/);
    }
  });

  it('a seconds field past what a Node timer can hold is refused, not clamped to 1 ms', () => {
    const monthly = 31 * 86_400;
    const shown = refusedRegistryProblems(
      `poller: { interval_seconds: ${monthly}, timeout_seconds: 10 }\n${surface('https://a.example/')}`,
    );
    assert.match(shown, /poller\.interval_seconds: .*86400.*\(got 2678400\)/);
    for (const field of ['stale_after_seconds', 'max_backoff_seconds', 'metadata_ttl_seconds'])
      assert.match(
        refusedRegistryProblems(`poller: { ${field}: ${monthly} }\n${surface('https://a.example/')}`),
        new RegExp(`poller\\.${field}`),
      );
    assert.match(
      refusedRegistryProblems(
        `lifecycle: { interval_seconds: ${monthly} }\n${surface('https://a.example/')}`,
      ),
      /lifecycle\.interval_seconds/,
    );
  });

  it('environment names that collide once converted, and __proto__, are refused instead of dropped', () => {
    const env = (name: string) =>
      `  ${name}:\n    - { name: web, provider: http, url: "https://a.example/" }\n`;
    const numbers = refusedRegistryProblems(`environments:\n${env('10')}${env('"10"')}`);
    assert.match(numbers, /environments\.10: an environment name must be a string.*\(got 10\)/);
    const booleans = refusedRegistryProblems(`environments:\n${env('true')}${env('"true"')}`);
    assert.match(booleans, /environments\.true: an environment name must be a string/);
    assert.match(
      refusedRegistryProblems(`environments:\n${env('__proto__')}${env('prod')}`),
      /environments\.__proto__: not a usable/,
    );
    // Quoted, the same names are fine.
    assert.equal(parseRegistry(`environments:\n${env('"10"')}`, 'surfaces.yaml').surfaces.length, 1);
  });

  it('a registry over the size cap, or a FIFO, is refused before parsing; a parse error quotes at most 80 characters', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'registry-'));
    try {
      const huge = join(dir, 'huge.yaml');
      writeFileSync(huge, `# ${'x'.repeat(MAX_REGISTRY_BYTES)}\nenvironments: {}\n`);
      await assert.rejects(
        loadRegistryFile(huge),
        /huge\.yaml: cannot read the registry: \d+ bytes, over the 8388608-byte cap/,
      );
      const fifo = join(dir, 'fifo.yaml');
      execFileSync('mkfifo', [fifo]);
      await assert.rejects(loadRegistryFile(fifo), /cannot read the registry: not a regular file/);
      const token = `tok_${'s'.repeat(200)}`;
      const shown = refusedRegistryProblems(`environments:\n  prod: [ { name: web, url: "${token}" ]\n`);
      assert.ok(!shown.includes('s'.repeat(100)), shown);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

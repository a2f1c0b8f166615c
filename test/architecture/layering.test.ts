import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../e2e/stack.js';
import { SHARED_PROVIDER_FOLDERS } from './rooms.js';

const SRC = join(REPO_ROOT, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Every relative import of a file (static, dynamic, re-export, type-only), as a path under src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)'(\.{1,2}\/[^']+)'/g)].map(
    (match) => match[1] as string,
  );
  return specifiers.map((specifier) =>
    relative(SRC, resolve(dirname(file), specifier))
      .split(sep)
      .join('/'),
  );
}

const room = (path: string) => path.split('/')[0] as string;
const FILES = sourceFiles(SRC).map((file) => ({
  path: relative(SRC, file).split(sep).join('/'),
  imports: importsOf(file),
  text: readFileSync(file, 'utf8'),
}));

/** Which rooms each room may import from (its own is always allowed). */
const ALLOWED: Record<string, readonly string[]> = {
  core: [],
  transport: ['core'],
  providers: ['core', 'transport'],
  config: ['core', 'providers'],
  metrics: ['core'],
  tracing: ['core', 'transport'],
  poller: ['core', 'transport', 'providers', 'config'],
  api: ['core', 'poller', 'metrics', 'config', 'providers', 'statuspage'],
  statuspage: ['core', 'poller', 'config', 'providers', 'metrics'],
  app: ['*'],
  cli: ['*'],
  demo: ['*'],
};

describe('layering', () => {
  it('every room imports only from the rooms below it', () => {
    const broken: string[] = [];
    for (const file of FILES) {
      const from = room(file.path);
      const allowed = ALLOWED[from];
      if (file.path === 'main.ts') continue;
      assert.ok(allowed, `src/${from}/ is a room the layering test does not know: add it to ALLOWED`);
      for (const target of file.imports) {
        const to = room(target);
        if (target.startsWith('..')) broken.push(`${file.path} imports outside src/: ${target}`);
        else if (to !== from && !allowed.includes('*') && !allowed.includes(to))
          broken.push(`${file.path} imports ${target}`);
      }
    }
    assert.deepEqual(broken, []);
  });

  it('a provider folder imports only itself, the shared folders and the provider contract', () => {
    const broken: string[] = [];
    for (const file of FILES.filter((candidate) => candidate.path.startsWith('providers/'))) {
      const folder = file.path.split('/')[1] as string;
      for (const target of file.imports.filter((path) => path.startsWith('providers/'))) {
        const targetFolder = target.split('/')[1] as string;
        const isFile = targetFolder.endsWith('.js');
        const fine =
          targetFolder === folder ||
          SHARED_PROVIDER_FOLDERS.includes(targetFolder) ||
          (isFile && targetFolder !== 'index.js') ||
          file.path === 'providers/index.ts';
        if (!fine) broken.push(`${file.path} imports ${target}`);
      }
    }
    assert.deepEqual(broken, []);
  });

  it('only app/ constructs and wires the poller, the HTTP client, the metrics, tracing and the HTTP app', () => {
    const constructs = /\bnew (Poller|HttpClient|ExporterMetrics)\(|\b(startTracing|createApp)\(/g;
    const outside = FILES.filter((file) => !['app', 'demo'].includes(room(file.path))).flatMap((file) =>
      [...file.text.matchAll(constructs)]
        .filter((match) => !isDefinition(file.text, match.index ?? 0))
        .map((match) => `${file.path}: ${match[0]}`),
    );
    assert.deepEqual(outside, []);
  });
});

/** `export function createApp(` is where it is defined, not a construction. */
function isDefinition(text: string, index: number): boolean {
  return /function\s+$/.test(text.slice(Math.max(0, index - 20), index));
}

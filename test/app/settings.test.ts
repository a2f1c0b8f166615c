import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { readSettings, SettingsError, VARIABLE_DOCS } from '../../src/app/settings.js';
import { DEFAULT_CLOUDFLARE_API_URL } from '../../src/providers/cloudflare/client.js';
import { DEFAULT_HEROKU_API_URL } from '../../src/providers/heroku_app/api.js';
import { cli, REPO_ROOT } from '../cli/support.js';

function sourceFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every variable src/ reads by a fixed name outside the declarations, with the files that read it. */
function variablesReadInSource(): Map<string, string[]> {
  const patterns = [
    /\benv\.([A-Z][A-Z0-9_]*)\b/g,
    /\benv\[['"]([A-Z][A-Z0-9_]*)['"]\]/g,
    /\bread\(['"]([A-Z][A-Z0-9_]*)['"]\)/g,
    /['"`](OTEL_[A-Z0-9_]+)['"`]/g,
  ];
  const found = new Map<string, string[]>();
  for (const file of sourceFiles(join(REPO_ROOT, 'src'))) {
    if (relative(REPO_ROOT, file) === 'src/app/settings.ts') continue;
    const text = readFileSync(file, 'utf8');
    for (const pattern of patterns) {
      for (const [, name] of text.matchAll(pattern)) {
        const files = found.get(name as string) ?? [];
        files.push(relative(REPO_ROOT, file));
        found.set(name as string, files);
      }
    }
  }
  return found;
}

const declared = new Set(VARIABLE_DOCS.map((variable) => variable.name));

describe('settings', () => {
  it('declares every process variable that src/ reads by name', () => {
    const undeclared = [...variablesReadInSource()].filter(([name]) => !declared.has(name));
    assert.deepEqual(undeclared, [], 'read in src/ but missing from src/app/settings.ts');
    for (const expected of [
      'METRICS_TOKEN',
      'METRICS_BASIC_AUTH',
      'TRUST_PROXY',
      'LOG_LEVEL',
      'PORT',
      'TESTING',
    ]) {
      assert.ok(declared.has(expected), expected);
    }
  });

  it('leaves reading by name to settings, but for the OTel group parser and the providers’ API URLs', () => {
    // The tracing layer parses the OTEL_* snapshot that readSettings hands it; providers take their
    // API base URL from the env of the probe (validated once at start by readSettings).
    const allowed = (name: string, file: string) =>
      (name.startsWith('OTEL_') && file === 'src/tracing/config.ts') ||
      (['HEROKU_API_URL', 'CLOUDFLARE_API_URL'].includes(name) && file.startsWith('src/providers/')) ||
      // Flags and variables combine there; serve hands it the values readSettings read.
      (['SURFACE_SHARD', 'SURFACE_TOTAL_SHARDS'].includes(name) && file === 'src/app/sharding.ts');
    const elsewhere = [...variablesReadInSource()].flatMap(([name, files]) =>
      files.filter((file) => !allowed(name, file)).map((file) => `${name} in ${file}`),
    );
    assert.deepEqual(elsewhere, []);
    const processEnv = sourceFiles(join(REPO_ROOT, 'src'))
      .filter((file) => /process\.env\b/.test(readFileSync(file, 'utf8').replace(/^\s*\/\/.*$/gm, '')))
      .map((file) => relative(REPO_ROOT, file));
    assert.deepEqual(
      processEnv.sort(),
      ['src/demo/runStack.ts', 'src/main.ts'],
      'only entry points touch process.env',
    );
  });

  it('puts every declared variable in the README table', () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    const table = /<!-- BEGIN GENERATED environment-variables[^>]*-->([\s\S]*?)<!-- END GENERATED/.exec(
      readme,
    )?.[1];
    assert.ok(table, 'README has the generated environment-variables block');
    for (const name of [...declared, ...variablesReadInSource().keys()]) {
      assert.ok(table.includes(`| \`${name}\` |`), `${name} has a row`);
    }
    assert.match(table, /\| credential variables \|.*`api_key_env` \(default `HEROKU_API_KEY`\)/);
  });

  it('documents the provider API defaults the providers use', () => {
    const byName = new Map(VARIABLE_DOCS.map((variable) => [variable.name, variable.default]));
    assert.ok(byName.get('HEROKU_API_URL')?.includes(DEFAULT_HEROKU_API_URL));
    assert.ok(byName.get('CLOUDFLARE_API_URL')?.includes(DEFAULT_CLOUDFLARE_API_URL));
  });

  it('reads each variable into one typed object, trimming and treating blank as unset', () => {
    const settings = readSettings({
      SURFACE_EXPORTER_CONFIG: ' /etc/surfaces.yaml ',
      LISTEN_ADDRESS: '[::1]:9100',
      PORT: '41234',
      SURFACE_ENV: '   ',
      FORCE_POLL_TOKEN: 'operator-token',
      METRICS_TOKEN: 'scrape-token',
      METRICS_BASIC_AUTH: 'prom:secret',
      TRUST_PROXY: '1',
      LOG_LEVEL: 'DEBUG',
      TESTING: 'yes',
      HEROKU_API_URL: 'http://127.0.0.1:1234/',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
    });
    assert.equal(settings.configFile, '/etc/surfaces.yaml');
    assert.deepEqual(settings.listenAddress, { host: '::1', port: 9100 });
    assert.equal(settings.platformPort, 41234);
    assert.equal(settings.onlyEnv, undefined);
    assert.equal(settings.operatorToken, 'operator-token');
    assert.equal(settings.metricsToken, 'scrape-token');
    assert.equal(settings.metricsBasicAuth, 'prom:secret');
    assert.equal(settings.trustProxy, '1');
    assert.equal(settings.logLevel, 'debug');
    assert.equal(settings.testing, true);
    assert.equal(settings.herokuApiUrl, 'http://127.0.0.1:1234');
    assert.equal(settings.cloudflareApiUrl, undefined);
    assert.equal(settings.tracing.enabled, true);
    assert.equal(readSettings({}).testing, false);
    assert.equal(readSettings({}).tracing.enabled, false);
  });

  it('refuses a value it cannot use, naming the variable and the value (never a URL’s credentials)', () => {
    const refused = (env: Record<string, string>, message: RegExp) =>
      assert.throws(
        () => readSettings(env),
        (err: unknown) => err instanceof SettingsError && message.test(err.message),
      );
    refused({ LISTEN_ADDRESS: 'localhost' }, /^LISTEN_ADDRESS: expected HOST:PORT .*got "localhost"$/);
    refused({ PORT: 'eighty' }, /^PORT: expected a port number .*got "eighty"$/);
    refused({ PORT: '70000' }, /^PORT: .*got "70000"$/);
    refused({ TRUST_PROXY: 'true' }, /^TRUST_PROXY="true": expected the number of proxies/);
    refused(
      { LOG_LEVEL: 'verbose' },
      /^LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "verbose"$/,
    );
    refused(
      { HEROKU_API_URL: 'ftp://user:hunter2@proxy' },
      /^HEROKU_API_URL: expected an http\(s\) URL, got "ftp:\/\/\*\*\*@proxy"$/,
    );
    refused(
      { CLOUDFLARE_API_URL: 'proxy.internal/cf?token=hunter2&x=1' },
      /^CLOUDFLARE_API_URL: expected an http\(s\) URL, got "proxy\.internal\/cf\?token=\*\*\*&x=\*\*\*"$/,
    );
  });

  it('stops every command on a bad variable with one line and the usage status, 3', async () => {
    for (const argv of [[], ['list'], ['check-config', 'surfaces.yaml']]) {
      const run = await cli(argv, { LOG_LEVEL: 'loud', METRICS_TOKEN: 'scrape-secret-0123456789' });
      assert.equal(run.code, 3, `${argv.join(' ')}: ${run.stderr}`);
      assert.equal(
        run.stderr,
        'surface-exporter: LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"\n',
      );
      assert.ok(!`${run.stdout}${run.stderr}`.includes('scrape-secret'));
    }
  });
});

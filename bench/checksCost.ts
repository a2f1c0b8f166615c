/**
 * `node --import tsx bench/checksCost.ts [probes]`: CPU per probe of the issue-15 checks, in one
 * process, against loopback targets: plain http, http with every kind of condition, HTTPS on a
 * kept-alive connection (certificate read once per connection) and HTTPS with fresh_connection
 * (a handshake and a chain read every probe). Prints one Markdown row per case.
 */
import { stringify } from 'yaml';
import { startExporter } from '../src/app/exporter.js';
import { parseRegistry } from '../src/config/load.js';
import { createLogger } from '../src/core/log.js';
import { aroundNow, startTlsFake, TestPki } from '../src/providers/shared/tlsFake.js';
import { startTarget } from '../test/helpers/support.js';

const PROBES = Number(process.argv[2] ?? 3000);
const BODY = JSON.stringify({
  status: 'ok',
  checks: { db: 'up', cache: 'up' },
  items: [{ id: 7 }],
  pad: 'x'.repeat(600),
});

const plain = await startTarget((_req, res) =>
  res.writeHead(200, { 'content-type': 'application/json' }).end(BODY),
);
const pki = new TestPki();
const root = pki.root('Bench Root');
const leaf = pki.issue({
  subject: 'localhost',
  issuer: root,
  validity: aroundNow(30),
  sans: ['IP:127.0.0.1'],
});
const secure = await startTlsFake(leaf, [], (_req, res) =>
  res.writeHead(200, { 'content-type': 'application/json' }).end(BODY),
);

const conditions = {
  status: [200],
  body_contains: '"status":"ok"',
  body_matches: '"db":\\s*"up"',
  json: { status: 'ok', 'checks.db': 'up', 'items[0].id': 7 },
  headers: { 'content-type': '^application/json' },
  max_duration_seconds: 5,
};
const cases: Record<string, Record<string, unknown>> = {
  'plain http, no conditions': { provider: 'http', url: `${plain.url}/health` },
  'http, every kind of condition (6 rules)': {
    provider: 'http',
    url: `${plain.url}/health`,
    expect: conditions,
  },
  'https, kept-alive (chain read once per connection)': {
    provider: 'http',
    url: `${secure.url}/health`,
    ca_file: root.certPath,
  },
  'https, fresh_connection (handshake and chain every probe)': {
    provider: 'http',
    url: `${secure.url}/health`,
    ca_file: root.certPath,
    fresh_connection: true,
  },
};

const rows: string[] = ['| case | CPU µs per probe |', '| --- | --- |'];
for (const [name, surface] of Object.entries(cases)) {
  const registry = parseRegistry(
    stringify({
      poller: { interval_seconds: 60, timeout_seconds: 5 },
      environments: { bench: [{ name: 'one', ...surface }] },
    }),
    'bench',
  );
  const exporter = await startExporter({
    registry,
    host: '127.0.0.1',
    port: 0,
    pollerEnabled: false,
    env: {},
    log: createLogger({ level: 'silent' }),
  });
  for (let warm = 0; warm < 300; warm++) await exporter.poller.probeOnce('bench/one');
  const before = process.cpuUsage();
  for (let probe = 0; probe < PROBES; probe++) {
    const outcome = await exporter.poller.probeOnce('bench/one');
    if (outcome.status !== 'up') throw new Error(`${name}: ${outcome.detail}`);
  }
  const used = process.cpuUsage(before);
  rows.push(`| ${name} | ${Math.round((used.user + used.system) / PROBES)} |`);
  await exporter.stop();
}
await plain.close();
await secure.close();
pki.remove();
console.log(rows.join('\n'));

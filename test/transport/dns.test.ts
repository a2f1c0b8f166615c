import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { DnsCache } from '../../src/transport/dns.js';

/** A private network and mount namespace needs root (CI runs as root); REQUIRE_STACK=1 makes it mandatory. */
function canUnshare(t: TestContext): boolean {
  const probe = spawnSync('unshare', ['-n', '-m', 'true']);
  if (probe.status === 0) return true;
  const message = `unshare -n -m failed (root and util-linux needed): ${probe.stderr?.toString().trim()}`;
  if (process.env.REQUIRE_STACK === '1') throw new Error(`REQUIRE_STACK=1 but ${message}`);
  t.skip(message);
  return false;
}

describe('DNS without the thread pool', () => {
  it('200 surfaces whose name server never answers: localhost surfaces stay UP, one pending lookup per name', (t) => {
    if (!canUnshare(t)) return;
    const dir = mkdtempSync(join(tmpdir(), 'hanging-dns-'));
    try {
      // glibc's own timeouts, so that getaddrinfo would hold a thread-pool thread for 10 s per name.
      writeFileSync(join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\noptions timeout:5 attempts:2\n');
      const fixture = join(import.meta.dirname, 'fixtures', 'hangingDns.ts');
      const script = [
        'set -e',
        'ip link set lo up',
        // Only inside this mount namespace: the machine's resolv.conf is untouched.
        `mount --bind ${join(dir, 'resolv.conf')} /etc/resolv.conf`,
        `exec ${process.execPath} --import tsx ${fixture}`,
      ].join('\n');
      const run = spawnSync('unshare', ['-n', '-m', 'sh', '-c', script], {
        encoding: 'utf8',
        timeout: 60_000,
        cwd: join(import.meta.dirname, '..', '..'),
      });
      assert.equal(run.status, 0, run.stderr);
      const outcome = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as {
        healthyReached: boolean;
        healthy: string[];
        hangingCodes: string[];
        requestsByPath: Record<string, number>;
        maxPacketsPerName: number;
        namesAsked: number;
      };
      assert.ok(outcome.healthyReached, `localhost surfaces starved: ${JSON.stringify(outcome)}`);
      assert.deepEqual(outcome.healthy, ['up', 'up', 'up']);
      assert.deepEqual(outcome.hangingCodes, ['probe_timeout']);
      assert.equal(outcome.namesAsked, 20, 'every hanging name was asked');
      // One pending lookup per name: an A and an AAAA query, each tried twice, over the run's ~5 s.
      assert.ok(outcome.maxPacketsPerName <= 8, `${outcome.maxPacketsPerName} queries for one name`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('IP literals and hosts-file names never reach a name server; answers and failures are cached', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dns-cache-'));
    try {
      const hostsFile = join(dir, 'hosts');
      writeFileSync(hostsFile, '# comment\n10.1.2.3 internal.example internal\n::1 v6only.example\n');
      // Nothing listens on this port: a query fails with ECONNREFUSED or times out.
      const dns = new DnsCache({ hostsFile, servers: ['127.0.0.1:9'], timeoutMs: 200, tries: 1 });
      assert.deepEqual(await dns.resolve('192.0.2.1'), [{ address: '192.0.2.1', family: 4 }]);
      assert.deepEqual(await dns.resolve('INTERNAL'), [{ address: '10.1.2.3', family: 4 }]);
      assert.deepEqual(await dns.resolve('v6only.example'), [{ address: '::1', family: 6 }]);
      assert.equal((await dns.resolve('app.localhost'))[0]?.address, '127.0.0.1');
      assert.equal(dns.queriesSent, 0);
      const [first, second] = await Promise.allSettled([dns.resolve('a.test'), dns.resolve('a.test')]);
      assert.equal(first.status, 'rejected');
      assert.equal(second.status, 'rejected');
      assert.match(String((first as PromiseRejectedResult).reason.code), /^(ENOTFOUND|EAI_AGAIN)$/);
      await assert.rejects(dns.resolve('a.test'));
      assert.equal(dns.queriesSent, 1, 'one query for two concurrent lookups and a cached failure');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

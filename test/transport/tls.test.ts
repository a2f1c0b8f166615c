import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PhaseTimings, ProbeOutcome } from '../../src/core/result.js';
import {
  aroundNow,
  type IssuedCertificate,
  startTlsFake,
  TestPki,
  type TlsFake,
} from '../../src/providers/shared/tlsFake.js';
import { cli, type TempDir, tempDir } from '../cli/support.js';
import { fastPoller, parseSamples, sampleKey, scrape, startTestExporter } from '../helpers/support.js';

const DAY_MS = 86_400_000;

describe('TLS certificate chain of a probe’s target', () => {
  const pki = new TestPki();
  const fakes: TlsFake[] = [];
  let root: IssuedCertificate;
  let intermediate: IssuedCertificate;
  let good: TlsFake;
  const bad: Record<string, TlsFake> = {};
  let dir: TempDir;

  const serve = async (leaf: IssuedCertificate, chain: IssuedCertificate[]) => {
    const fake = await startTlsFake(leaf, chain, (req, res) => {
      if (req.url === '/api/status') {
        res.setHeader('content-type', 'application/json');
        res.end('{"message":"Ok"}');
        return;
      }
      res.end('ok');
    });
    fakes.push(fake);
    return fake;
  };

  before(async () => {
    root = pki.root('Surface Test Root');
    // The intermediate expires before the leaf: the exported expiry is the chain's earliest.
    intermediate = pki.issue({
      subject: 'Surface Test Intermediate',
      issuer: root,
      validity: aroundNow(10),
      ca: true,
    });
    const leaf = pki.issue({
      subject: 'localhost',
      issuer: intermediate,
      validity: aroundNow(60),
      sans: ['DNS:localhost', 'IP:127.0.0.1'],
    });
    good = await serve(leaf, [intermediate]);
    const sans = ['DNS:localhost', 'IP:127.0.0.1'];
    bad.expired = await serve(
      pki.issue({ subject: 'localhost', issuer: root, validity: aroundNow(-1), sans }),
      [],
    );
    const tomorrow = Date.now() + DAY_MS;
    bad.notYetValid = await serve(
      pki.issue({
        subject: 'localhost',
        issuer: root,
        validity: { notBefore: new Date(tomorrow), notAfter: new Date(tomorrow + 30 * DAY_MS) },
        sans,
      }),
      [],
    );
    bad.mismatch = await serve(
      pki.issue({
        subject: 'other.example',
        issuer: root,
        validity: aroundNow(30),
        sans: ['DNS:other.example'],
      }),
      [],
    );
    dir = await tempDir();
  });

  after(async () => {
    for (const fake of fakes) await fake.close();
    pki.remove();
    await dir.remove();
  });

  it('exports the earliest notAfter of the chain, shows the leaf, and keeps the chain with a reused connection', async () => {
    const exporter = await startTestExporter({
      pollerEnabled: false,
      registry: {
        poller: { ...fastPoller, timeout_seconds: 0.9 },
        environments: {
          prod: [
            { name: 'console', provider: 'http', url: `${good.url}/health`, ca_file: root.certPath },
            { name: 'vault', provider: 'infisical', url: good.url },
          ],
        },
      },
    });
    try {
      const probes: ProbeOutcome[] = [];
      for (let round = 0; round < 3; round++) probes.push(await exporter.poller.probeOnce('prod/console'));
      for (const probe of probes) {
        assert.equal(probe.status, 'up', probe.detail);
        assert.equal(probe.tls?.subject, 'CN=localhost');
        assert.equal(probe.tls?.issuer, 'CN=Surface Test Intermediate');
        assert.deepEqual(probe.tls?.sans, ['DNS:localhost', 'IP Address:127.0.0.1']);
        assert.equal(probe.tls?.earliestExpirySeconds, Math.floor(intermediate.notAfter.getTime() / 1000));
      }
      const phase = (probe: ProbeOutcome, name: keyof PhaseTimings) => probe.phases?.[name];
      assert.ok(good.handshakes < probes.length, 'at least one probe rode on an earlier connection');
      const reused = probes.filter((probe) => phase(probe, 'tls') === 0);
      assert.equal(reused.length, probes.length - good.handshakes, 'tls is 0 exactly on reused connections');
      for (const probe of reused) assert.equal(phase(probe, 'connect'), 0);
      assert.ok(
        (phase(probes[0] as ProbeOutcome, 'tls') ?? 0) > 0,
        'the first request paid for the handshake',
      );

      const vault = await exporter.poller.probeOnce('prod/vault');
      assert.equal(vault.code, 'tls_error', 'the vault has no ca_file: the private root is unknown');
      assert.match(vault.detail, /unknown issuer/);

      const samples = parseSamples((await scrape(exporter)).text);
      assert.equal(
        samples.get(
          sampleKey('surface_tls_cert_expiry_timestamp_seconds', {
            env: 'prod',
            provider: 'http',
            surface: 'console',
          }),
        ),
        Math.floor(intermediate.notAfter.getTime() / 1000),
      );
      assert.ok(
        samples.has(
          sampleKey('surface_probe_phase_seconds', {
            env: 'prod',
            provider: 'http',
            surface: 'console',
            phase: 'processing',
          }),
        ),
      );
      const console = exporter.poller.status().surfaces.find((surface) => surface.surface === 'console');
      assert.equal(console?.tls?.subject, 'CN=localhost');
      assert.equal(console?.tls?.issuer, 'CN=Surface Test Intermediate');
      assert.deepEqual(console?.tls?.sans, ['DNS:localhost', 'IP Address:127.0.0.1']);
      assert.equal(
        console?.tls?.earliest_expiry,
        new Date(Math.floor(intermediate.notAfter.getTime() / 1000) * 1000).toISOString(),
      );
    } finally {
      await exporter.stop();
    }
  });

  it('tls_error says which failure it was: expired, not yet valid, unknown issuer, name mismatch', async () => {
    const surface = (name: string, fake: TlsFake, caFile: string | null = root.certPath) => ({
      name,
      provider: 'http',
      url: `${fake.url}/health`,
      ...(caFile ? { ca_file: caFile } : {}),
    });
    const exporter = await startTestExporter({
      pollerEnabled: false,
      registry: {
        poller: { ...fastPoller, timeout_seconds: 0.9 },
        environments: {
          prod: [
            surface('expired', bad.expired as TlsFake),
            surface('not-yet-valid', bad.notYetValid as TlsFake),
            surface('unknown-issuer', good, null),
            surface('mismatch', bad.mismatch as TlsFake),
          ],
        },
      },
    });
    try {
      const expected: Record<string, RegExp> = {
        expired: /\(certificate expired\)/,
        'not-yet-valid': /\(certificate not yet valid\)/,
        'unknown-issuer': /\(unknown issuer\)/,
        mismatch: /\(name mismatch\)/,
      };
      for (const [name, detail] of Object.entries(expected)) {
        const probe = await exporter.poller.probeOnce(`prod/${name}`);
        assert.equal(probe.code, 'tls_error', `${name}: ${probe.detail}`);
        assert.match(probe.detail, detail, name);
      }
    } finally {
      await exporter.stop();
    }
  });

  it('`surface-exporter probe` prints the leaf’s subject, issuer, SANs and notAfter', async () => {
    const file = await dir.file('surfaces.yaml', {
      environments: {
        prod: [{ name: 'console', provider: 'http', url: `${good.url}/health`, ca_file: root.certPath }],
      },
    });
    const run = await cli(['probe', '--config', file, 'console']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /tls: subject CN=localhost; issuer CN=Surface Test Intermediate/);
    assert.match(run.stdout, /SANs DNS:localhost, IP Address:127\.0\.0\.1/);
    assert.match(run.stdout, /notAfter \d{4}-\d\d-\d\dT/);
    assert.match(run.stdout, /phases: resolve 0 ms, connect [\d.]+ ms, tls [\d.]+ ms/);
  });
});

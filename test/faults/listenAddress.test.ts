import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { startExporter } from '../../src/app/exporter.js';
import { parseListenAddress } from '../../src/app/settings.js';
import { parseRegistry } from '../../src/config/load.js';
import { spawnCli, startedUrl, tempDir } from '../cli/support.js';
import { captureLogs, waitFor } from '../helpers/support.js';

const REGISTRY = 'environments:\n  prod:\n    - { name: one, provider: http, url: "http://127.0.0.1:1/" }\n';

async function startedRecord(listenAddress: string) {
  const { log, capture } = captureLogs('info');
  const { host, port } = parseListenAddress(listenAddress);
  const exporter = await startExporter({
    registry: parseRegistry(REGISTRY, 'listen.yaml'),
    host,
    port,
    pollerEnabled: false,
    env: {},
    log,
    defaultMetrics: false,
  });
  try {
    const record = capture.lines().find((line) => line.event === 'started');
    return { record, bound: exporter.server.address() as AddressInfo };
  } finally {
    await exporter.stop();
  }
}

describe('fault matrix: what the start-up log says about the listen address', () => {
  it('`:PORT` binds every IPv4 interface, and the started line says so from server.address()', async () => {
    const { record, bound } = await startedRecord(':0');
    assert.equal(bound.address, '0.0.0.0');
    assert.equal(record?.listening, `0.0.0.0:${bound.port} (every IPv4 interface)`);
    // The URL to open on this host stays loopback; it no longer stands for what was bound.
    assert.equal(record?.url, `http://127.0.0.1:${bound.port}`);
  });

  it('a loopback address is named as bound, with no claim of other interfaces', async () => {
    const { record, bound } = await startedRecord('127.0.0.1:0');
    assert.equal(record?.listening, `127.0.0.1:${bound.port}`);
  });

  it('the served process logs the same for `--listen-address :0`', async () => {
    const dir = await tempDir();
    const file = await dir.file('listen.yaml', REGISTRY);
    const child = spawnCli(['--config', file, '--listen-address', ':0', '--no-poller'], {
      env: { LOG_LEVEL: 'info' },
    });
    try {
      const url = await waitFor(() => startedUrl(child.stdout()), { timeoutMs: 15_000, what: 'started' });
      const port = new URL(url).port;
      const started = child
        .stdout()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .find((line) => line.event === 'started');
      assert.equal(started?.listening, `0.0.0.0:${port} (every IPv4 interface)`);
    } finally {
      await child.stop();
      await dir.remove();
    }
  });
});

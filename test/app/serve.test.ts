import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { serveProcess } from '../../src/app/serve.js';
import { spawnCli, type TempDir, tempDir } from '../cli/support.js';
import { closedPort, type LocalTarget, parseSamples, startTarget, waitFor } from '../helpers/support.js';

function events(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}

const _logged = (stdout: () => string, event: string, message?: RegExp) => () =>
  events(stdout()).find((line) => line.event === event && (!message || message.test(String(line.msg))));

describe('serve', { concurrency: true }, () => {
  let dir: TempDir;
  let target: LocalTarget;
  let registry: string;
  before(async () => {
    dir = await tempDir();
    target = await startTarget((_req, res) => res.end('ok'));
    registry = stringify({
      poller: { interval_seconds: 30 },
      environments: { prod: [{ name: 'local', provider: 'http', url: `${target.url}/health` }] },
    });
    await dir.file('surfaces.yaml', registry);
  });
  after(async () => {
    await target.close();
    await dir.remove();
  });

  it('says in one line that the listen address is in use, and exits 4 (not 1, the invalid-registry status)', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as { port: number };
    try {
      const child = spawnCli(
        ['--config', join(dir.path, 'surfaces.yaml'), '--listen-address', `127.0.0.1:${port}`],
        {
          env: { LOG_LEVEL: 'silent' },
        },
      );
      const { code } = await child.exited;
      assert.equal(child.stderr(), `surface-exporter: 127.0.0.1:${port} is in use; pass --listen-address\n`);
      assert.equal(code, 4);
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });

  it('with PORT set and no registry, refuses the demo unless --demo is given', async () => {
    const cwd = join(dir.path, 'empty');
    await mkdir(cwd);
    const port = await closedPort();
    const refused = spawnCli([], { cwd, env: { PORT: String(port) } });
    const { code } = await refused.exited;
    assert.equal(code, 3);
    assert.match(
      refused.stderr(),
      /^surface-exporter: no registry .* and PORT is set, as on Heroku: .*--demo/,
    );
    assert.equal(refused.stdout(), '', 'no demo banner');

    // With --demo it runs; LISTEN_ADDRESS keeps this test on loopback.
    const demo = spawnCli(['--demo'], { cwd, env: { PORT: String(port), LISTEN_ADDRESS: '127.0.0.1:0' } });
    try {
      await waitFor(() => /surface-exporter demo: no registry given/.test(demo.stdout()), {
        timeoutMs: 20_000,
        what: `the demo banner (stderr: ${demo.stderr()})`,
      });
    } finally {
      assert.equal((await demo.stop()).code, 0, demo.stderr());
    }
  });

  it('survives a SIGHUP during start-up and reloads once started', async () => {
    // serveProcess runs without a pause until it awaits the registry read, so a hangup emitted right
    // after the call arrives while starting, every time. The emitter stands in for the process
    // (main.ts holds the real one's hangups from its first instruction and hands them over).
    const port = await closedPort();
    const signals = new EventEmitter();
    const serving = serveProcess(
      {
        configFile: join(dir.path, 'surfaces.yaml'),
        listenAddress: `127.0.0.1:${port}`,
        noPoller: true,
        watchConfig: false,
        demo: false,
        shard: {},
      },
      { env: { LOG_LEVEL: 'silent' }, stdout: { write: () => true }, stderr: { write: () => true } },
      signals,
    );
    signals.emit('SIGHUP');
    const successfulLoads = async () => {
      const response = await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
      if (!response?.ok) return undefined;
      return parseSamples(await response.text()).get('surface_exporter_config_loads_total{result="success"}');
    };
    try {
      // The load at start, then exactly one reload for the hangup held while starting.
      await waitFor(async () => ((await successfulLoads()) === 2 ? true : undefined), {
        timeoutMs: 20_000,
        what: 'the held SIGHUP to reload the registry once started',
      });
      assert.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200);
    } finally {
      signals.emit('SIGTERM');
    }
    assert.equal(await serving, 0);
    assert.equal(await successfulLoads(), undefined, 'stopped');
    assert.equal(signals.listenerCount('SIGTERM') + signals.listenerCount('SIGHUP'), 0, 'listeners released');
  });

  it('stops gracefully on a SIGTERM that arrives once it listens but before it waits for signals', async () => {
    // The demo prints its banner between listening and waiting: a supervisor that signals as soon as
    // it reads the banner lands in that window. The emitter stands in for the process.
    const signals = new EventEmitter();
    let banner = '';
    const code = await serveProcess(
      { noPoller: true, watchConfig: false, demo: true, shard: {} },
      {
        env: { LISTEN_ADDRESS: '127.0.0.1:0', LOG_LEVEL: 'silent' },
        stdout: {
          write: (chunk: string | Uint8Array) => {
            banner += String(chunk);
            signals.emit('SIGTERM');
            return true;
          },
        },
        stderr: { write: () => true },
      },
      signals,
    );
    assert.equal(code, 0);
    assert.match(banner, /surface-exporter demo/);
    assert.equal(signals.listenerCount('SIGTERM') + signals.listenerCount('SIGHUP'), 0, 'listeners released');
  });
});

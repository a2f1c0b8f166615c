import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { serveProcess } from '../../src/app/serve.js';
import { spawnCli, startedUrl, type TempDir, tempDir } from '../cli/support.js';
import { closedPort, type LocalTarget, startTarget, waitFor } from '../helpers/support.js';

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

const logged = (stdout: () => string, event: string, message?: RegExp) => () =>
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
    // Reading a FIFO blocks until someone writes it: start-up waits on the test, deterministically.
    const fifo = join(dir.path, 'registry.fifo');
    execFileSync('mkfifo', [fifo]);
    const feed = () =>
      waitFor(
        () => {
          let fd: number;
          try {
            fd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
          } catch (err) {
            // No reader yet.
            if ((err as NodeJS.ErrnoException).code === 'ENXIO') return undefined;
            throw err;
          }
          writeSync(fd, registry);
          closeSync(fd);
          return true;
        },
        { timeoutMs: 20_000, what: 'the exporter to open the registry FIFO' },
      );
    const child = spawnCli(['--config', fifo, '--listen-address', '127.0.0.1:0'], { env: {} });
    try {
      await waitFor(logged(child.stdout, 'starting'), { timeoutMs: 20_000, what: 'the starting line' });
      child.child.kill('SIGHUP');
      await waitFor(logged(child.stdout, 'sighup', /while starting/), {
        timeoutMs: 10_000,
        what: `the SIGHUP to be held (stderr: ${child.stderr()})`,
      });
      await feed();
      const url = await waitFor(() => startedUrl(child.stdout()), { timeoutMs: 20_000, what: 'started' });
      // The held SIGHUP turns into one reload once the exporter is up, which reads the FIFO again.
      await feed();
      await waitFor(logged(child.stdout, 'config_reloaded'), { timeoutMs: 10_000, what: 'config_reloaded' });
      assert.equal((await fetch(`${url}/health`)).status, 200);
      assert.equal(child.child.exitCode, null, 'still running');
    } finally {
      const { code, signal } = await child.stop();
      assert.equal(signal, null);
      assert.equal(code, 0, child.stderr());
    }
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

import assert from 'node:assert/strict';
import { appendFileSync, writeFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { watchConfigFile } from '../../src/app/watch.js';
import { tempDir } from '../cli/support.js';
import { captureLogs, startFileExporter, waitFor } from '../helpers/support.js';

const POLLER = 'poller: { interval_seconds: 30, timeout_seconds: 2 }\nenvironments:\n  prod:\n';
const surfaceLine = (index: number) =>
  `    - { name: s${String(index).padStart(3, '0')}, provider: http, url: "http://127.0.0.1:1/" }\n`;
const registryOf = (count: number) =>
  POLLER + Array.from({ length: count }, (_, index) => surfaceLine(index)).join('');

describe('fault matrix: a registry written slowly, in place, under --watch-config', () => {
  it('a file seen half written is read again until two reads agree: no surface is ever removed', async () => {
    const dir = await tempDir();
    const file = join(dir.path, 'surfaces.yaml');
    writeFileSync(file, registryOf(100));
    const { log, capture } = captureLogs('info');
    // The second half goes in right after the first read that sees only the first: the writer
    // stalls exactly there, whatever the machine's speed.
    const full = registryOf(102);
    const half = registryOf(50);
    let halfSeen = 0;
    const exporter = await startFileExporter(file, {
      log,
      reloadSettle: {
        delayMs: 50,
        maxReads: 5,
        onRead: (text) => {
          if (text !== half) return;
          halfSeen++;
          if (halfSeen === 1) appendFileSync(file, full.slice(half.length));
        },
      },
    });
    const watcher = watchConfigFile(file, exporter.reload, { log, debounceMs: 20, rearmIntervalMs: 20 });
    const surfaceCount = () => exporter.poller.surfaces().length;
    try {
      // An atomic save first: once it is applied, the watch is armed on the file.
      await writeFile(`${file}.tmp`, registryOf(101));
      await rename(`${file}.tmp`, file);
      await waitFor(() => surfaceCount() === 101, { what: 'the atomic save applied' });

      writeFileSync(file, half);
      await waitFor(() => surfaceCount() === 102, { what: 'the slow write applied whole' });
      assert.equal(halfSeen, 1, 'the reload read the half-written file once, then the whole');

      const reloads = capture.lines().filter((line) => line.event === 'config_reloaded');
      assert.ok(reloads.length >= 2, JSON.stringify(reloads));
      for (const reload of reloads) assert.equal(reload.removed, 0, JSON.stringify(reload));
    } finally {
      watcher.close();
      await exporter.stop();
      await dir.remove();
    }
  });

  it('a file that never settles is refused like any bad registry: the running one stays', async () => {
    const dir = await tempDir();
    const file = join(dir.path, 'surfaces.yaml');
    writeFileSync(file, registryOf(10));
    const { log, capture } = captureLogs('info');
    let reads = 0;
    const exporter = await startFileExporter(file, {
      log,
      // A writer that appends between every two reads.
      reloadSettle: {
        delayMs: 10,
        maxReads: 4,
        onRead: () => {
          reads++;
          appendFileSync(file, surfaceLine(100 + reads));
        },
      },
    });
    try {
      const outcome = await exporter.reload();
      assert.equal(outcome.ok, false);
      assert.match(
        outcome.errors.join('\n'),
        /surfaces\.yaml: the file was still changing: 4 reads 10 ms apart/,
      );
      assert.equal(exporter.poller.surfaces().length, 10);
      assert.ok(capture.lines().some((line) => line.event === 'config_reload_failed'));
      const metrics = await (await fetch(`${exporter.url}/metrics`)).text();
      assert.match(metrics, /^surface_exporter_config_last_reload_successful 0$/m);
    } finally {
      await exporter.stop();
      await dir.remove();
    }
  });
});

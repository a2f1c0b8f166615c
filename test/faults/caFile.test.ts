import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startTarget, startTestExporter } from '../helpers/support.js';

const TOKEN = 'ca-file-test-token';

describe('fault matrix: a ca_file that blocks or is not a CA bundle', () => {
  it('a FIFO, or a file over the size cap, is a tls_error of its surface; the exporter keeps answering', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ca-file-'));
    const fifo = join(dir, 'ca.fifo');
    execFileSync('mkfifo', [fifo]); // no writer ever opens it: a blocking read would never return
    const huge = join(dir, 'huge.pem');
    writeFileSync(huge, Buffer.alloc(2 * 1024 * 1024, 0x41));
    const healthy = await startTarget((_req, res) => res.end('ok'));
    const exporter = await startTestExporter({
      pollerEnabled: false,
      env: { FORCE_POLL_TOKEN: TOKEN },
      registry: {
        poller: { interval_seconds: 5, timeout_seconds: 1, force_poll_deadline_seconds: 3 },
        environments: {
          prod: [
            { name: 'fifo-ca', provider: 'http', url: 'https://127.0.0.1:1/', ca_file: fifo },
            { name: 'huge-ca', provider: 'http', url: 'https://127.0.0.1:1/', ca_file: huge },
            { name: 'ok', provider: 'http', url: `${healthy.url}/` },
          ],
        },
      },
    });
    try {
      const res = await fetch(`${exporter.url}/api/force-poll`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}` },
        signal: AbortSignal.timeout(10_000),
      });
      const { results } = (await res.json()) as {
        results: Array<{ surface: string; status: string; error: string | null; detail: string | null }>;
      };
      const bySurface = Object.fromEntries(results.map((entry) => [entry.surface, entry]));
      assert.equal(bySurface.ok?.status, 'up');
      for (const [surface, reason] of [
        ['fifo-ca', /not a regular file|ENOTREGULAR/],
        ['huge-ca', /too large|EFBIG/],
      ] as const) {
        assert.equal(bySurface[surface]?.error, 'tls_error', JSON.stringify(bySurface[surface]));
        assert.match(bySurface[surface]?.detail ?? '', reason);
      }
      assert.equal((await fetch(`${exporter.url}/health`)).status, 200);
    } finally {
      await exporter.stop();
      await healthy.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

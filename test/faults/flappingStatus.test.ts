import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_EXACT_ERROR_CODES } from '../../src/metrics/surfaceSeries.js';
import { parseSamples, scrape, startTarget, startTestExporter } from '../helpers/support.js';

describe('fault matrix: a target that answers a different status each time', () => {
  it('100 distinct 5xx statuses: the error counter keeps 16 exact codes and one class; one change line a minute', async () => {
    let next = 500;
    const target = await startTarget((_req, res) => {
      res.writeHead(next++).end('no');
    });
    const exporter = await startTestExporter({
      pollerEnabled: false,
      logLevel: 'info',
      registry: {
        poller: { interval_seconds: 5, timeout_seconds: 1 },
        environments: { prod: [{ name: 'flap', provider: 'http', url: `${target.url}/` }] },
      },
    });
    try {
      const seen: Array<string | null> = [];
      for (let probe = 0; probe < 100; probe++)
        seen.push((await exporter.poller.probeOnce('prod/flap')).code);
      assert.equal(new Set(seen).size, 100, 'each probe saw its own status, exact in the result');
      const series = [...parseSamples((await scrape(exporter)).text).entries()].filter(([key]) =>
        key.startsWith('surface_probe_errors_total{'),
      );
      const codes = series.map(([key]) => /code="([^"]+)"/.exec(key)?.[1]);
      assert.equal(series.length, MAX_EXACT_ERROR_CODES + 1, codes.join(','));
      assert.ok(codes.includes('health_http_5xx'));
      const total = series.reduce((sum, [, value]) => sum + value, 0);
      assert.equal(total, 100, 'every probe counted, folded or not');
      const changeLines = exporter.logs
        .lines()
        .filter((line) => line.msg === 'poll_once: surface changed state');
      // The first result, then the code-only changes of the next minute held back.
      assert.equal(changeLines.length, 1, JSON.stringify(changeLines.slice(0, 3)));
    } finally {
      await exporter.stop();
      await target.close();
    }
  });
});

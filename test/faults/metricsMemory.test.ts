import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { closedPort, startTestExporter, type TestExporter, waitFor } from '../helpers/support.js';

function collectGarbage(): void {
  setFlagsFromString('--expose_gc');
  (runInNewContext('gc') as () => void)();
}

const openConnections = (exporter: TestExporter) =>
  new Promise<number>((resolve, reject) =>
    exporter.server.getConnections((err, count) => (err ? reject(err) : resolve(count))),
  );

/** A client that sends `requests` pipelined scrapes at once and never reads an answer. */
function neverReadingClient(port: number, requests: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.pause();
      socket.write('GET /metrics HTTP/1.1\r\nHost: exporter\r\n\r\n'.repeat(requests));
      resolve(socket);
    });
    socket.on('error', () => {}); // the exporter closing it is the expected end
    socket.once('error', reject);
  });
}

async function exporterWithSurfaces(count: number, serverBounds: Record<string, number>) {
  const port = await closedPort();
  const exporter = await startTestExporter({
    pollerEnabled: false,
    serverBounds,
    registry: {
      poller: { interval_seconds: 60, timeout_seconds: 1 },
      environments: {
        prod: Array.from({ length: count }, (_, index) => ({
          name: `s-${index}`,
          provider: 'http',
          url: `http://127.0.0.1:${port}/health`,
        })),
      },
    },
  });
  // Every surface probed once (refused at once), so each has its full set of series.
  await exporter.poller.forcePoll();
  return exporter;
}

describe('fault matrix: /metrics memory under clients that pipeline and never read', () => {
  it('3 connections x 200 pipelined scrapes at 2,000 surfaces: closed at the pipelining bound, RSS +<100 MB', async () => {
    // A write timeout far beyond the test: only the pipelining bound can close these connections.
    const exporter = await exporterWithSurfaces(2000, { writeTimeoutMs: 600_000 });
    const sockets: Socket[] = [];
    try {
      const bodyBytes = (await (await fetch(`${exporter.url}/metrics`)).arrayBuffer()).byteLength;
      assert.ok(bodyBytes > 1_000_000, `a 2,000-surface scrape is ${bodyBytes} bytes`);
      collectGarbage();
      const before = process.memoryUsage.rss();
      let peak = before;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage.rss());
      }, 5);
      try {
        for (let client = 0; client < 3; client++) sockets.push(await neverReadingClient(exporter.port, 200));
        await waitFor(async () => (await openConnections(exporter)) === 0, {
          timeoutMs: 10_000,
          what: 'the exporter to close the three pipelining connections',
        });
      } finally {
        clearInterval(sampler);
      }
      peak = Math.max(peak, process.memoryUsage.rss());
      const grownMb = (peak - before) / 1024 / 1024;
      assert.ok(grownMb < 100, `RSS grew ${grownMb.toFixed(0)} MB (bodies of ${bodyBytes} bytes)`);
    } finally {
      for (const socket of sockets) socket.destroy();
      await exporter.stop();
    }
  });

  it('a client that stops reading one answer is cut off by the write timeout', async () => {
    const exporter = await exporterWithSurfaces(2000, { writeTimeoutMs: 500 });
    let socket: Socket | undefined;
    try {
      assert.equal(exporter.server.maxConnections, 512);
      socket = await neverReadingClient(exporter.port, 2);
      await waitFor(async () => (await openConnections(exporter)) === 1, { what: 'the connection open' });
      await waitFor(async () => (await openConnections(exporter)) === 0, {
        timeoutMs: 5_000,
        what: 'the write timeout to close the connection',
      });
    } finally {
      socket?.destroy();
      await exporter.stop();
    }
  });

  it('concurrent scrapes share one rendered body', async () => {
    const exporter = await exporterWithSurfaces(10, {});
    try {
      const [first, second] = await Promise.all([
        exporter.metrics.render('text/plain'),
        exporter.metrics.render('text/plain'),
      ]);
      assert.equal(first.body, second.body, 'the same Buffer, not two renders');
      const later = await exporter.metrics.render('text/plain');
      assert.notEqual(later.body, first.body, 'a scrape after the render is fresh');
    } finally {
      await exporter.stop();
    }
  });
});

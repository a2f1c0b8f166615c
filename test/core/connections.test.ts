import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { HttpClient } from '../../src/net/client.js';
import { Deadline } from '../../src/net/deadline.js';
import { fastPoller, type LocalTarget, startTarget, startTestExporter } from '../helpers/support.js';

function socketsOf(target: LocalTarget, path: string): number {
  return new Set(target.requests.filter((req) => req.url === path).map((req) => req.socket)).size;
}

describe('connections', () => {
  let target: LocalTarget;
  const held: ServerResponse[] = [];

  before(async () => {
    target = await startTarget((req, res) => {
      if (req.url === '/held') {
        held.push(res);
        return;
      }
      res.end('{"status":"ok"}');
    });
  });

  after(async () => {
    for (const res of held) res.end();
    await target.close();
  });

  it('reuses one kept-alive connection, unless a surface asks for fresh_connection', async () => {
    const exporter = await startTestExporter({
      pollerEnabled: false,
      registry: {
        poller: fastPoller,
        environments: {
          prod: [
            { name: 'reused', provider: 'http', url: `${target.url}/reused` },
            { name: 'fresh', provider: 'http', url: `${target.url}/fresh`, fresh_connection: true },
          ],
        },
      },
    });
    try {
      for (let round = 0; round < 3; round++) {
        for (const key of ['prod/reused', 'prod/fresh']) {
          const probe = await exporter.poller.probeOnce(key);
          assert.equal(probe.status, 'up', `${key}: ${probe.detail}`);
        }
      }
    } finally {
      await exporter.stop();
    }
    assert.equal(socketsOf(target, '/reused'), 1);
    assert.equal(
      socketsOf(target, '/fresh'),
      3,
      'a new connection, with its own DNS and connect, every probe',
    );
  });

  it('a request whose deadline passes while it waits for a connection settles at once and is never sent', async () => {
    const client = new HttpClient({ connectionsPerOrigin: 1 });
    try {
      const first = client.send({ url: `${target.url}/held`, deadline: new Deadline(5000) });
      while (held.length === 0) await new Promise((resolve) => setImmediate(resolve));
      const queued = client.send({ url: `${target.url}/queued`, deadline: new Deadline(20) });
      const outcome = await queued;
      assert.equal(outcome.kind, 'failure');
      assert.equal(outcome.kind === 'failure' && outcome.failure, 'timeout');
      assert.equal(outcome.kind === 'failure' && outcome.message, 'no answer before the probe deadline');

      held[0]?.end('{"status":"ok"}');
      assert.equal((await first).kind, 'response');
      const next = await client.send({ url: `${target.url}/next`, deadline: new Deadline(5000) });
      assert.equal(next.kind === 'response' && next.status, 200);
      assert.deepEqual(
        target.requests.map((req) => req.url).filter((url) => url !== '/reused' && url !== '/fresh'),
        ['/held', '/next'],
        'the abandoned request never reached the target',
      );
    } finally {
      await client.close();
    }
  });
});

import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { Deadline } from '../../src/core/deadline.js';
import { HttpClient } from '../../src/transport/client.js';
import { fastPoller, type LocalTarget, startTarget, startTestExporter, waitFor } from '../helpers/support.js';

const CAP = 16;

function socketsOf(target: LocalTarget, path: string): number {
  return new Set(target.requests.filter((req) => req.url === path).map((req) => req.socket)).size;
}

describe('connections', () => {
  let target: LocalTarget;
  const held: ServerResponse[] = [];

  before(async () => {
    target = await startTarget((req, res) => {
      switch (req.url) {
        case '/held':
          held.push(res);
          return;
        case '/at-cap':
          res.end('x'.repeat(CAP));
          return;
        case '/over-cap':
          res.end('x'.repeat(CAP + 1));
          return;
        case '/no-content':
          res.writeHead(204).end();
          return;
        case '/early-hints':
          res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
          res.end('{"status":"ok"}');
          return;
        default:
          res.end('{"status":"ok"}');
      }
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
          const phases = Object.entries(probe.phases ?? {});
          assert.equal(phases.length, 5);
          for (const [phase, value] of phases) {
            assert.equal(Math.round(value * 1e6) / 1e6, value, `${key} ${phase}: whole microseconds`);
          }
          if (key === 'prod/fresh') {
            assert.ok((probe.phases?.connect ?? 0) > 0, 'a fresh connection shows its connect time');
          }
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
      await waitFor(() => held.length > 0, { what: 'the first request at the target' });
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

  describe('responses, read straight from the dispatcher', () => {
    const client = new HttpClient({ connectionsPerOrigin: 1 });
    after(() => client.close());
    const send = (path: string, method: 'GET' | 'HEAD' = 'GET') =>
      client.send({ url: `${target.url}${path}`, method, maxBodyBytes: CAP, deadline: new Deadline(5000) });
    const response = async (path: string, method: 'GET' | 'HEAD' = 'GET') => {
      const outcome = await send(path, method);
      assert.equal(outcome.kind, 'response', JSON.stringify(outcome));
      return outcome as Extract<typeof outcome, { kind: 'response' }>;
    };

    it('a body exactly at the cap is whole; one byte more is cut to the cap', async () => {
      const atCap = await response('/at-cap');
      assert.deepEqual([atCap.body.length, atCap.truncated], [CAP, false]);
      const overCap = await response('/over-cap');
      assert.deepEqual([overCap.body.length, overCap.truncated], [CAP, true]);
    });

    it('a cut response that had fully arrived leaves its connection reusable', async () => {
      await response('/over-cap');
      const [cut] = target.requests.filter((req) => req.url === '/over-cap').slice(-1);
      await response('/after-cut');
      const [next] = target.requests.filter((req) => req.url === '/after-cut');
      assert.equal(next?.socket, cut?.socket);
    });

    it('HEAD, 204 and a 103 before the answer', async () => {
      const head = await response('/ok', 'HEAD');
      assert.deepEqual([head.status, head.body.length], [200, 0]);
      const noContent = await response('/no-content');
      assert.deepEqual([noContent.status, noContent.body.length], [204, 0]);
      const hinted = await response('/early-hints');
      assert.deepEqual([hinted.status, hinted.body.toString()], [200, '{"status":"ok"}']);
    });
  });
});

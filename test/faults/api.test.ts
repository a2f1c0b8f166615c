import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  type LocalTarget,
  startTarget,
  startTestExporter,
  type TestExporter,
  waitFor,
} from '../helpers/support.js';

const TOKEN = 'load-test-token';

/** Sends raw bytes and resolves with whatever the server answered before closing. */
function rawExchange(port: number, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(payload));
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk;
    });
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

describe('fault matrix: the HTTP API under load and abuse', () => {
  let target: LocalTarget;
  let exporter: TestExporter;
  const hitsBySurface = new Map<string, number>();
  const arrivalsBySurface = new Map<string, number[]>();
  let answerDelayMs = 100;

  before(async () => {
    target = await startTarget((req, res) => {
      const surface = (req.url ?? '').slice(1);
      hitsBySurface.set(surface, (hitsBySurface.get(surface) ?? 0) + 1);
      arrivalsBySurface.set(surface, [...(arrivalsBySurface.get(surface) ?? []), Date.now()]);
      setTimeout(() => res.end('ok'), answerDelayMs);
    });
    exporter = await startTestExporter({
      env: { FORCE_POLL_TOKEN: TOKEN },
      headersTimeoutMs: 1000,
      registry: {
        poller: { interval_seconds: 1, timeout_seconds: 0.9, force_poll_deadline_seconds: 2 },
        environments: {
          prod: Array.from({ length: 10 }, (_, index) => ({
            name: `s${index}`,
            provider: 'http',
            url: `${target.url}/s${index}`,
          })),
        },
      },
    });
  });

  after(async () => {
    await exporter.stop();
    await target.close();
  });

  it('200 concurrent force-polls: one round, every caller answered within the deadline', async () => {
    await exporter.poller.stop(); // no scheduled probe may blur the count
    // Probes that outlast the arrival of all 200 requests, so that they are truly concurrent.
    answerDelayMs = 800;
    const before = new Map(hitsBySurface);
    const started = Date.now();
    const responses = await Promise.all(
      Array.from({ length: 200 }, () =>
        fetch(`${exporter.url}/api/force-poll`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}` },
        }),
      ),
    );
    const elapsed = Date.now() - started;
    assert.ok(
      responses.every((res) => res.status === 200),
      responses.map((res) => res.status).join(','),
    );
    assert.ok(elapsed < 2000 + 1000, `answered in ${elapsed} ms with a 2 s deadline`);
    for (let index = 0; index < 10; index++) {
      const surface = `s${index}`;
      assert.equal(
        (hitsBySurface.get(surface) ?? 0) - (before.get(surface) ?? 0),
        1,
        `${surface} probed more than once`,
      );
    }
    answerDelayMs = 100;
    exporter.poller.start();
  });

  it('a scrape storm (50 concurrent /metrics loops) does not delay the probes', async () => {
    arrivalsBySurface.clear();
    const stormEndsAt = Date.now() + 4000;
    let scrapes = 0;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (Date.now() < stormEndsAt) {
          const res = await fetch(`${exporter.url}/metrics`);
          await res.arrayBuffer();
          scrapes++;
        }
      }),
    );
    assert.ok(scrapes > 100, `only ${scrapes} scrapes`);
    for (const [surface, arrivals] of arrivalsBySurface) {
      const gaps = arrivals.slice(1).map((at, index) => at - (arrivals[index] ?? at));
      assert.ok(arrivals.length >= 3, `${surface} probed ${arrivals.length} times in 4 s`);
      for (const gap of gaps) assert.ok(gap < 1600, `${surface} gap ${gap} ms during the storm`);
    }
  });

  it('oversized headers: 431', async () => {
    const answer = await rawExchange(
      exporter.port,
      `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    assert.match(answer, /^HTTP\/1\.1 431/);
  });

  it('oversized and malformed bodies, traversal, unknown methods: 4xx JSON, never a stack trace', async () => {
    const cases: Array<[string, RequestInit, number]> = [
      [
        '/api/force-poll',
        { method: 'POST', body: 'x'.repeat(100_000), headers: { authorization: `Bearer ${TOKEN}` } },
        413,
      ],
      [
        '/api/force-poll',
        {
          method: 'POST',
          body: '{"env":',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        },
        400,
      ],
      ['/%2e%2e/%2e%2e/etc/passwd', {}, 404],
      ['/static/..%2f..%2fpackage.json', {}, 404],
      // A known route with another method: 405 with Allow (checked in test/statuspage/statusPage.test.ts).
      ['/api/force-poll', { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}` } }, 405],
      ['/metrics', { method: 'PATCH' }, 405],
      [
        '/api/force-poll?env=prod&env=staging',
        { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } },
        400,
      ],
    ];
    for (const [path, init, status] of cases) {
      const res = await fetch(`${exporter.url}${path}`, init);
      const body = await res.text();
      assert.equal(res.status, status, `${init.method ?? 'GET'} ${path}: ${body}`);
      assert.doesNotMatch(body, /\bat .+:\d+:\d+|node_modules|Error:/, `${path} leaked a stack`);
      assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    }
  });

  it('a raw path traversal request gets 404', async () => {
    const answer = await rawExchange(
      exporter.port,
      'GET /../../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    assert.match(answer, /^HTTP\/1\.1 (400|404)/);
    assert.doesNotMatch(answer, /root:/);
  });

  it('slowloris: a client that never finishes its headers is cut off by the headers timeout', async () => {
    const socket = connect(exporter.port, '127.0.0.1');
    socket.on('error', () => {});
    let closed = false;
    socket.on('close', () => {
      closed = true;
    });
    socket.write('GET /health HTTP/1.1\r\nHost: x\r\n');
    const drip = setInterval(() => {
      if (!socket.destroyed) socket.write('X-Drip: 1\r\n');
    }, 200);
    try {
      await waitFor(() => closed, { timeoutMs: 4000, what: 'the server to close a slow-header connection' });
    } finally {
      clearInterval(drip);
      socket.destroy();
    }
  });

  it('keeps serving normal requests after all of the above', async () => {
    const res = await new Promise<number>((resolve, reject) => {
      httpRequest(`${exporter.url}/health`, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      })
        .on('error', reject)
        .end();
    });
    assert.equal(res, 200);
  });
});

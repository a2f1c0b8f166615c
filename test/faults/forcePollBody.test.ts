import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startTarget, startTestExporter } from '../helpers/support.js';

const TOKEN = 'force-poll-body-token';

describe('fault matrix: force-poll bodies', () => {
  it('a body that is not JSON, or JSON with an unknown key, is a 400 and probes nothing', async () => {
    const target = await startTarget((_req, res) => res.end('ok'));
    const exporter = await startTestExporter({
      pollerEnabled: false,
      env: { FORCE_POLL_TOKEN: TOKEN },
      registry: {
        environments: {
          prod: ['a', 'b'].map((name) => ({ name, provider: 'http', url: `${target.url}/${name}` })),
        },
      },
    });
    const post = (body: string, contentType: string) =>
      fetch(`${exporter.url}/api/force-poll`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': contentType },
        body,
      });
    try {
      for (const [body, contentType] of [
        ['surface=a', 'application/x-www-form-urlencoded'],
        ['{"surface":"a"}', 'text/plain'],
        ['{"surfce":"a"}', 'application/json'],
        ['["a"]', 'application/json'],
        ['{"surface":', 'application/json'],
      ] as const) {
        const res = await post(body, contentType);
        assert.equal(res.status, 400, `${contentType} ${body}`);
        assert.match(((await res.json()) as { error: string }).error, /JSON|unknown key/);
      }
      assert.equal(target.requests.length, 0, 'a refused body probed a surface');
      const one = await post('{"surface":"a"}', 'application/json');
      assert.equal(((await one.json()) as { polled: number }).polled, 1);
      assert.deepEqual(
        target.requests.map((req) => req.url),
        ['/a'],
      );
    } finally {
      await exporter.stop();
      await target.close();
    }
  });
});

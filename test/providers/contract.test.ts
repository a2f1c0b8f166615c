import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defineProvider, type Provider } from '../../src/providers/contract.js';
import { httpProvider } from '../../src/providers/http/provider.js';
import { publishedBy, startTarget, startTestExporter } from '../helpers/support.js';

const SECRET = 'crash-secret-4f1c9a0d2b';

describe('defineProvider', () => {
  it('a probe that throws with a secret in its message: probe_crashed, and the secret is in no log line, status or metric', async () => {
    const target = await startTarget((_req, res) => res.end('ok'));
    // A provider's bug that quotes what it sent (or a server echoed) in its error message.
    const crashing = defineProvider({
      ...httpProvider,
      probe: async () => {
        throw new TypeError(`cannot parse the answer to X-Api-Key: ${SECRET}`);
      },
    }) as Provider;
    const exporter = await startTestExporter({
      pollerEnabled: false,
      env: { CRASH_API_KEY: SECRET },
      registry: {
        poller: { interval_seconds: 5, timeout_seconds: 1 },
        environments: {
          prod: [
            {
              name: 'crashing',
              provider: 'http',
              url: `${target.url}/`,
              headers_env: { 'X-Api-Key': 'CRASH_API_KEY' },
            },
          ],
        },
      },
      resolveProvider: () => crashing,
    });
    try {
      const result = await exporter.poller.probeOnce('prod/crashing');
      assert.equal(result.code, 'probe_crashed');
      const crash = exporter.logs.lines().find((line) => line.event === 'probe_crashed');
      const err = crash?.err as { type?: string; message?: string; stack?: string } | undefined;
      assert.equal(err?.message, 'cannot parse the answer to X-Api-Key: ***');
      assert.match(err?.stack ?? '', /^TypeError: cannot parse the answer to X-Api-Key: \*\*\*\n/);
      const everything = await publishedBy(exporter, result);
      assert.ok(!everything.includes(SECRET), 'the secret in the thrown message leaked');
    } finally {
      await exporter.stop();
      await target.close();
    }
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fastPoller, scrape, startTarget, startTestExporter } from '../helpers/support.js';

describe('secret hygiene (core)', () => {
  it('never shows a token value in logs, metrics or API responses', async () => {
    const markers = {
      FORCE_POLL_TOKEN: 'forcepoll-MARKER-3f9a',
      CF_ACCESS_SERVICE_TOKEN_CONSOLE: 'clientid-MARKER-71c2:clientsecret-MARKER-b804',
      CF_ACCESS_SERVICE_TOKEN_BROKEN: 'malformed-MARKER-0d1e',
    };
    const target = await startTarget((req, res) => {
      if (req.url === '/gated') {
        res
          .writeHead(302, {
            location: 'https://team.cloudflareaccess.com/cdn-cgi/access/login/app.example.com?kid=abc',
          })
          .end();
        return;
      }
      // An origin that echoes what it got must not make the exporter repeat it either.
      res.writeHead(req.url === '/echo-fail' ? 500 : 200).end(JSON.stringify(req.headers));
    });
    const exporter = await startTestExporter({
      logLevel: 'trace',
      env: markers,
      registry: {
        poller: fastPoller,
        environments: {
          prod: [
            {
              name: 'ok',
              provider: 'http',
              url: `${target.url}/ok`,
              access_token_env: 'CF_ACCESS_SERVICE_TOKEN_CONSOLE',
            },
            {
              name: 'gated',
              provider: 'http',
              url: `${target.url}/gated`,
              access_token_env: 'CF_ACCESS_SERVICE_TOKEN_CONSOLE',
            },
            {
              name: 'fail',
              provider: 'http',
              url: `${target.url}/echo-fail`,
              access_token_env: 'CF_ACCESS_SERVICE_TOKEN_CONSOLE',
            },
            {
              name: 'broken',
              provider: 'http',
              url: `${target.url}/ok`,
              access_token_env: 'CF_ACCESS_SERVICE_TOKEN_BROKEN',
            },
          ],
        },
      },
    });
    const seen: string[] = [];
    try {
      const auth = { authorization: `Bearer ${markers.FORCE_POLL_TOKEN}` };
      const forced = await fetch(`${exporter.url}/api/force-poll`, { method: 'POST', headers: auth });
      assert.equal(forced.status, 200);
      seen.push(await forced.text());
      seen.push(
        await (
          await fetch(`${exporter.url}/dashboard/_force_poll`, { method: 'POST', headers: auth })
        ).text(),
      );
      seen.push(await (await fetch(`${exporter.url}/api/_internal/poller-status`, { headers: auth })).text());
      seen.push(await (await fetch(`${exporter.url}/health`)).text());
      seen.push(await (await fetch(`${exporter.url}/`)).text());
      seen.push(
        await (
          await fetch(`${exporter.url}/api/force-poll`, {
            method: 'POST',
            headers: { authorization: 'Bearer wrong' },
          })
        ).text(),
      );
      seen.push((await scrape(exporter)).text);
      seen.push((await scrape(exporter, 'application/openmetrics-text')).text);
      assert.ok(
        target.requests.some((req) => req.headers['cf-access-client-secret'] === 'clientsecret-MARKER-b804'),
      );
    } finally {
      await exporter.stop();
      await target.close();
    }
    seen.push(exporter.logs.text());
    assert.ok(exporter.logs.lines().length > 3, 'logs were captured');
    const everything = seen.join('\n');
    for (const value of [
      'forcepoll-MARKER-3f9a',
      'clientid-MARKER-71c2',
      'clientsecret-MARKER-b804',
      'malformed-MARKER-0d1e',
    ]) {
      assert.ok(!everything.includes(value), `${value} leaked`);
    }
  });
});

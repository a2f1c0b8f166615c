import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { captureLogs } from '../helpers/support.js';

describe('log redaction', () => {
  it('redacts credential headers and keys whatever their case and depth', () => {
    const { log, capture } = captureLogs('info');
    log.info({ headers: { Authorization: 'Bearer SECRET-1', 'CF-Access-Client-Secret': 'SECRET-2' } }, 'a');
    log.info({ req: { headers: { authorization: 'Bearer SECRET-3', cookie: 'session=SECRET-4' } } }, 'b');
    log.info({ call: { request: { headers: { Authorization: 'Bearer SECRET-5' } } } }, 'c');
    log.info({ token: 'SECRET-6', surface: { apiKey: 'SECRET-7' } }, 'd');
    const text = capture.text();
    assert.equal(capture.lines().length, 4);
    for (let index = 1; index <= 7; index++)
      assert.ok(!text.includes(`SECRET-${index}`), `SECRET-${index} in ${text}`);
    assert.match(text, /\[redacted\]/);
  });
});

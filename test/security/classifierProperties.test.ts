import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import pino from 'pino';
import { codeFamily } from '../../src/core/codes.js';
import { Deadline } from '../../src/core/deadline.js';
import { SURFACE_STATUSES } from '../../src/core/result.js';
import type { ProbeContext } from '../../src/providers/contract.js';
import { ERROR_CODE_DOCS, providerFor, type SurfaceConfig } from '../../src/providers/index.js';
import { BudgetPlans } from '../../src/providers/shared/budget.js';
import { SharedCache } from '../../src/providers/shared/cache.js';
import type { HttpOutcome } from '../../src/transport/client.js';

// The closed set as documented: every code a classifier returns must have its row in ERROR_CODE_DOCS.
const DOCUMENTED = new Set(ERROR_CODE_DOCS.map((doc) => doc.code));
const isKnownCode = (code: string) => DOCUMENTED.has(codeFamily(code));

const SURFACES: SurfaceConfig[] = [
  { name: 'h', provider: 'http', url: 'https://h.example.com/health', access_token_env: 'ACCESS' },
  {
    name: 'k',
    provider: 'heroku_app',
    app: 'example',
    health_path: '/health',
    api_key_env: 'HEROKU_API_KEY',
    access_token_env: 'ACCESS',
  },
  {
    name: 'p',
    provider: 'cloudflare_pages',
    project: 'site',
    environment: 'production',
    token_env: 'CLOUDFLARE_PAGES_READ_TOKEN',
    account_id_env: 'CLOUDFLARE_ACCOUNT_ID',
  },
  { name: 'v', provider: 'infisical', url: 'https://vault.example.com', access_token_env: 'ACCESS' },
] as SurfaceConfig[];

const ENV = {
  ACCESS: 'id.access:secret',
  HEROKU_API_KEY: 'key',
  CLOUDFLARE_PAGES_READ_TOKEN: 'token',
  CLOUDFLARE_ACCOUNT_ID: '0123456789abcdef0123456789abcdef',
  HEROKU_API_URL: 'http://127.0.0.1:1',
  CLOUDFLARE_API_URL: 'http://127.0.0.1:1/client/v4',
};

const jsonish = fc.oneof(
  fc.json(),
  fc.jsonValue().map((value) => JSON.stringify(value)),
  fc.constantFrom(
    '{"success":false,"errors":[{"code":10000,"message":"Authentication error"}]}',
    '{"success":true,"errors":[],"messages":[],"result":[]}',
    '{"result":[{"latest_stage":{"name":"build","status":"active"},"created_on":"x"}],"success":true,"errors":[]}',
    '[{"type":"web","quantity":0}]',
    '{"web_url":"http://127.0.0.1:1/","maintenance":true,"name":"example"}',
    '{"message":"Ok","date":"2026-01-01T00:00:00Z"}',
    '<html>login</html>',
    '{"truncated":',
  ),
  fc.string(),
);

const outcome: fc.Arbitrary<HttpOutcome> = fc.oneof(
  fc.record({
    kind: fc.constant('response' as const),
    status: fc.integer({ min: 0, max: 1000 }),
    headers: fc.dictionary(
      fc.constantFrom(
        'location',
        'www-authenticate',
        'cf-access-error',
        'cf-access-aud',
        'retry-after',
        'ratelimit-remaining',
        'content-type',
        'x-ratelimit-remaining',
      ),
      fc.oneof(
        fc.string(),
        fc.constantFrom(
          'https://t.cloudflareaccess.com/cdn-cgi/access/login/x',
          '/cdn-cgi/access/login/app.example.com?kid=1',
          '//',
          'http://[::1',
          'Bearer realm="x"',
          '5',
          '-1',
          'Wed, 21 Oct 2015 07:28:00 GMT',
        ),
      ),
    ),
    body: jsonish.map((text) => Buffer.from(text)),
    truncated: fc.boolean(),
    durationSeconds: fc.double({ min: 0, max: 5, noNaN: true }),
  }),
  fc.record({
    kind: fc.constant('failure' as const),
    failure: fc.constantFrom('timeout', 'refused', 'reset', 'dns', 'tls', 'other') as fc.Arbitrary<
      'timeout' | 'refused' | 'reset' | 'dns' | 'tls' | 'other'
    >,
    message: fc.string(),
    durationSeconds: fc.double({ min: 0, max: 5, noNaN: true }),
  }),
);

function scriptedContext(answers: HttpOutcome[]): ProbeContext {
  let call = 0;
  return {
    env: ENV,
    deadline: new Deadline(60_000),
    log: pino({ level: 'silent' }),
    cache: new SharedCache(),
    plans: new BudgetPlans(),
    metadataTtlSeconds: 300,
    budgetShare: 1,
    now: () => Date.now(),
    monotonic: () => performance.now(),
    surfaceSinceMonotonic: 0,
    lastPush: () => undefined,
    reportRateLimit: () => {},
    request: async () => answers[call++ % answers.length] as HttpOutcome,
    requestShared: async () => answers[call++ % answers.length] as HttpOutcome,
  };
}

describe('provider classifiers, property-based', () => {
  for (const surface of SURFACES) {
    it(`${surface.provider}: any status, headers and body give a status and a code from the closed set`, async () => {
      const provider = providerFor(surface);
      await fc.assert(
        fc.asyncProperty(fc.array(outcome, { minLength: 1, maxLength: 4 }), async (answers) => {
          let hangTimer: NodeJS.Timeout | undefined;
          const result = await Promise.race([
            provider.probe(surface, scriptedContext(answers)),
            new Promise<never>((_, reject) => {
              hangTimer = setTimeout(() => reject(new Error('classifier hung')), 2000);
            }),
          ]).finally(() => clearTimeout(hangTimer));
          assert.ok(SURFACE_STATUSES.includes(result.status), `status ${result.status}`);
          if (result.status === 'up') assert.equal(result.code, null);
          else assert.ok(result.code !== null && isKnownCode(result.code), `code ${result.code}`);
          assert.equal(typeof result.detail, 'string');
        }),
        { numRuns: 300 },
      );
    });
  }
});

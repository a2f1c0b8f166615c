import { z } from 'zod';
import { readAccessToken } from '../../core/env.js';
import { skipped } from '../../core/result.js';
import { surfaceBase } from '../../core/surface.js';
import { redactUrl } from '../../transport/redact.js';
import { defineProvider } from '../contract.js';
import { ACCESS_APP, ACCESS_DENY_URL, ACCESS_TOKEN_ENV, accessTokenUse } from '../shared/accessGate.js';
import { ACCESS_GATE_CODE_DOCS, HEALTH_CODE_DOCS, TRANSPORT_CODE_DOCS } from '../shared/codes.js';
import { TARGET_RESPONSE_FAMILIES } from '../shared/evidence.js';
import { checkHealth } from '../shared/healthCheck.js';

export const httpSurface = surfaceBase
  .extend({
    provider: z.literal('http').describe('A plain HTTP(S) endpoint, judged by its status.'),
    url: z.url({ protocol: /^https?$/, error: 'an http(s) URL' }).describe('The URL to GET.'),
    expect_status: z.number().int().min(100).max(599).optional().describe('Healthy status; default any 2xx.'),
    access_token_env: ACCESS_TOKEN_ENV,
    access_deny_url: ACCESS_DENY_URL,
    access_app: ACCESS_APP,
    ca_file: z.string().min(1).optional().describe('PEM file of extra CAs to trust (a private CA).'),
    fresh_connection: z
      .boolean()
      .optional()
      .describe(
        'Open a new connection for every probe, so DNS, TCP connect and TLS are checked each time; default: reuse a kept-alive one.',
      ),
  })
  .strict();

export type HttpSurface = z.infer<typeof httpSurface>;

const CODES = [...HEALTH_CODE_DOCS, ...ACCESS_GATE_CODE_DOCS, ...TRANSPORT_CODE_DOCS] as const;

export const httpProvider = defineProvider({
  name: 'http',
  schema: httpSurface,
  codes: CODES,
  async probe(surface, ctx) {
    let accessToken: Parameters<typeof checkHealth>[1]['accessToken'];
    if (surface.access_token_env) {
      const token = readAccessToken(ctx.env, surface.access_token_env);
      if (!token.ok) return skipped(token);
      accessToken = token.value;
    }
    return checkHealth(ctx, {
      url: surface.url,
      expectStatus: surface.expect_status,
      accessToken,
      accessDenyUrl: surface.access_deny_url,
      caFile: surface.ca_file,
      freshConnection: surface.fresh_connection,
    });
  },
  target: (surface) => redactUrl(surface.url),
  online: {
    credentials: (surface) => (surface.access_token_env ? [accessTokenUse(surface.access_token_env)] : []),
    accessTarget: (surface) =>
      surface.access_token_env ? { variable: surface.access_token_env, url: surface.url } : undefined,
  },
  credentials: (surface) => (surface.access_token_env ? [surface.access_token_env] : []),
  families: TARGET_RESPONSE_FAMILIES,
});

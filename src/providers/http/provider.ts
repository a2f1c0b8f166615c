import { z } from 'zod';
import { readAccessToken, readSecret } from '../../core/env.js';
import { skipped } from '../../core/result.js';
import { ENV_VAR_NAME, HTTP_URL, surfaceBase } from '../../core/surface.js';
import { redactUrl } from '../../transport/redact.js';
import { defineProvider } from '../contract.js';
import { ACCESS_APP, ACCESS_DENY_URL, ACCESS_TOKEN_ENV, accessTokenUse } from '../shared/accessGate.js';
import {
  ACCESS_GATE_CODE_DOCS,
  ACCESS_GATE_MISSING_CODE_DOCS,
  CONDITION_CODE_DOCS,
  HEALTH_CODE_DOCS,
  TRANSPORT_CODE_DOCS,
} from '../shared/codes.js';
import { expectSchema, headerName } from '../shared/conditions.js';
import { TARGET_RESPONSE_FAMILIES } from '../shared/evidence.js';
import { checkHealth, type HealthCheck } from '../shared/healthCheck.js';

// A health request, not an upload: 16 KiB fits any JSON-RPC or GraphQL health query.
const MAX_BODY_BYTES = 16 * 1024;

export const httpSurface = surfaceBase
  .extend({
    provider: z
      .literal('http')
      .describe('A plain HTTP(S) endpoint, judged by its status and `expect:` conditions.'),
    url: HTTP_URL.describe('The URL to request.'),
    method: z
      .enum(['GET', 'HEAD', 'POST', 'PUT'])
      .default('GET')
      .describe('HTTP method of the probe request.'),
    headers: z
      .record(headerName, z.string())
      .optional()
      .describe('Static request headers (header name -> value); never put a secret here, use headers_env.'),
    headers_env: z
      .record(headerName, ENV_VAR_NAME)
      .optional()
      .describe(
        'Request headers whose values are secrets: header name -> the variable holding the value. Masked like tokens; an unset variable is skipped_credentials.',
      ),
    body: z
      .string()
      .refine((body) => Buffer.byteLength(body) <= MAX_BODY_BYTES, `at most ${MAX_BODY_BYTES} bytes`)
      .optional()
      .describe('Request body sent as is (set a content-type in headers); at most 16 KiB.'),
    expect: expectSchema
      .optional()
      .describe('Conditions the answer must meet; each failing one has its own code.'),
    expect_status: z
      .number()
      .int()
      .min(100)
      .max(599)
      .optional()
      .describe('Healthy status; default any 2xx. An alias of `expect.status`.'),
    expect_gate: z
      .boolean()
      .optional()
      .describe(
        'The URL must stay behind Cloudflare Access: probed without a token, an Access login redirect or refusal is UP and a 2xx is access_gate_missing.',
      ),
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
  .strict()
  .superRefine((surface, ctx) => {
    if (surface.expect_status !== undefined && surface.expect?.status !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['expect_status'],
        message: 'set either expect_status or expect.status (they are the same rule)',
      });
    }
    if (
      surface.expect_gate &&
      (surface.access_token_env || surface.expect || surface.expect_status !== undefined)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['expect_gate'],
        message:
          'an expect_gate surface is probed without a token and judged by the gate alone: drop access_token_env, expect and expect_status, or make a second surface for them',
      });
    }
    for (const name of Object.keys(surface.headers_env ?? {})) {
      const clash = Object.keys(surface.headers ?? {}).find(
        (other) => other.toLowerCase() === name.toLowerCase(),
      );
      if (clash) {
        ctx.addIssue({ code: 'custom', path: ['headers', clash], message: `also set in headers_env` });
      }
    }
  });

export type HttpSurface = z.infer<typeof httpSurface>;

const CODES = [
  ...HEALTH_CODE_DOCS,
  ...CONDITION_CODE_DOCS,
  ...ACCESS_GATE_CODE_DOCS,
  ...ACCESS_GATE_MISSING_CODE_DOCS,
  ...TRANSPORT_CODE_DOCS,
] as const;

export const httpProvider = defineProvider({
  name: 'http',
  schema: httpSurface,
  codes: CODES,
  async probe(surface, ctx) {
    let accessToken: HealthCheck['accessToken'];
    if (surface.access_token_env) {
      const token = readAccessToken(ctx.env, surface.access_token_env);
      if (!token.ok) return skipped(token);
      accessToken = token.value;
    }
    // The transport copies the headers it is given, so a surface without secret ones sends its own.
    let headers = surface.headers;
    const secrets: string[] = accessToken ? [accessToken.clientId, accessToken.clientSecret] : [];
    if (surface.headers_env) {
      headers = { ...surface.headers };
      for (const [name, variable] of Object.entries(surface.headers_env)) {
        const value = readSecret(ctx.env, variable);
        if (!value.ok) return skipped(value);
        headers[name] = value.value;
        secrets.push(value.value);
      }
    }
    const status = surface.expect?.status ?? surface.expect_status;
    return checkHealth(ctx, {
      url: surface.url,
      method: surface.method,
      headers,
      body: surface.body,
      secrets,
      expect: surface.expect || status !== undefined ? { ...surface.expect, status } : undefined,
      expectGate: surface.expect_gate,
      accessToken,
      accessDenyUrl: surface.access_deny_url,
      caFile: surface.ca_file,
      freshConnection: surface.fresh_connection,
    });
  },
  target: (surface) => `${surface.method === 'GET' ? '' : `${surface.method} `}${redactUrl(surface.url)}`,
  online: {
    credentials: (surface) => (surface.access_token_env ? [accessTokenUse(surface.access_token_env)] : []),
    accessTarget: (surface) =>
      surface.access_token_env ? { variable: surface.access_token_env, url: surface.url } : undefined,
  },
  credentials: (surface) => [
    ...(surface.access_token_env ? [surface.access_token_env] : []),
    ...Object.values(surface.headers_env ?? {}),
  ],
  families: TARGET_RESPONSE_FAMILIES,
});

import { z } from 'zod';
import { httpStatusCode } from '../../core/codes.js';
import { type AccessServiceToken, readAccessToken } from '../../core/env.js';
import { degraded, skipped, up } from '../../core/result.js';
import { HTTP_URL, surfaceBase } from '../../core/surface.js';
import type { HttpResponse } from '../../transport/client.js';
import { redactUrl } from '../../transport/redact.js';
import { defineProvider } from '../contract.js';
import {
  ACCESS_APP,
  ACCESS_DENY_URL,
  ACCESS_TOKEN_ENV,
  accessHeaders,
  accessTokenUse,
  type EdgeContext,
  judgeEdge,
} from '../shared/accessGate.js';
import { parseJsonBody, providerText, transportFailure, tryParseJsonBody } from '../shared/api.js';
import {
  ACCESS_GATE_CODE_DOCS,
  ENDPOINT_STATUS_CODE_DOCS,
  PROVIDER_API_CODE_DOCS,
  TRANSPORT_CODE_DOCS,
} from '../shared/codes.js';
import { TARGET_RESPONSE_FAMILIES, withTargetEvidence } from '../shared/evidence.js';

export const infisicalSurface = surfaceBase
  .extend({
    provider: z
      .literal('infisical')
      .describe('An Infisical server (the vault), judged by GET {url}/api/status.'),
    url: HTTP_URL.describe(
      'Base URL of the Infisical server; /api/status is appended to its path (a query string is kept, a fragment dropped); required, no default.',
    ),
    access_token_env: ACCESS_TOKEN_ENV,
    access_deny_url: ACCESS_DENY_URL,
    access_app: ACCESS_APP,
  })
  .strict();

export type InfisicalSurface = z.infer<typeof infisicalSurface>;

// The healthy body is about 250 bytes; anything near this cap is not Infisical.
const BODY_CAP_BYTES = 64 * 1024;

// Infisical's handler always sets `message: "Ok"`; `date` and the feature flags are not needed here.
const statusSchema = z.looseObject({ message: z.string() });
// Fastify's error handler: {reqId, statusCode, error, message}.
const errorSchema = z.looseObject({ error: z.string().optional(), message: z.string().optional() });

/**
 * `/api/status` under the base URL's path, built on its parts: appended to the text, a query string
 * or a fragment would swallow it (`https://vault/?a=b#x/api/status`). The query is kept and sent
 * (a gateway in front may route on it); a fragment is dropped, as HTTP never sends one.
 */
function statusUrl(base: string): string {
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/api/status`;
  url.hash = '';
  return url.toString();
}

const CODES = [
  ...TRANSPORT_CODE_DOCS,
  ...ACCESS_GATE_CODE_DOCS,
  ...ENDPOINT_STATUS_CODE_DOCS,
  PROVIDER_API_CODE_DOCS[0], // api_bad_response: a body that is not Infisical's JSON
] as const;

export const infisicalProvider = defineProvider({
  name: 'infisical',
  schema: infisicalSurface,
  codes: CODES,
  async probe(surface, ctx) {
    let accessToken: AccessServiceToken | undefined;
    if (surface.access_token_env) {
      const token = readAccessToken(ctx.env, surface.access_token_env);
      if (!token.ok) return skipped(token);
      accessToken = token.value;
    }
    const outcome = await ctx.request({
      url: statusUrl(surface.url),
      headers: { Accept: 'application/json', ...accessHeaders(accessToken) },
      maxBodyBytes: BODY_CAP_BYTES,
    });
    if (outcome.kind === 'failure')
      return transportFailure(outcome, 'connection_error', 'Infisical /api/status');
    const edge = { tokenSent: accessToken !== undefined, accessDenyUrl: surface.access_deny_url };
    // Masked before the text is cut, so a cut through an echoed secret leaves none of it behind.
    const sent = accessToken ? [accessToken.clientId, accessToken.clientSecret] : [];
    return withTargetEvidence(judgeStatus(outcome, edge, sent), outcome);
  },
  target: (surface) => redactUrl(statusUrl(surface.url)),
  online: {
    credentials: (surface) => (surface.access_token_env ? [accessTokenUse(surface.access_token_env)] : []),
    accessTarget: (surface) =>
      surface.access_token_env
        ? { variable: surface.access_token_env, url: statusUrl(surface.url) }
        : undefined,
  },
  credentials: (surface) => (surface.access_token_env ? [surface.access_token_env] : []),
  families: TARGET_RESPONSE_FAMILIES,
});

function judgeStatus(outcome: HttpResponse, edgeContext: EdgeContext, secrets: readonly string[]) {
  const edge = judgeEdge(outcome, edgeContext);
  if (edge) return edge;
  if (outcome.status !== 200) {
    const body = tryParseJsonBody(outcome, errorSchema);
    const said = [body?.error, body?.message].filter(Boolean).join(': ');
    return degraded(
      httpStatusCode('http_', outcome.status),
      `Infisical /api/status answered HTTP ${outcome.status}${said ? ` (${providerText(said, secrets)})` : ''}`,
    );
  }
  const parsed = parseJsonBody(outcome, statusSchema, 'Infisical /api/status');
  if (!parsed.ok) return degraded('api_bad_response', parsed.detail);
  const ms = Math.round(outcome.durationSeconds * 1000);
  return up(`Infisical says "${providerText(parsed.value.message, secrets)}" in ${ms} ms`);
}

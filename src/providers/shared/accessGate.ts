import { z } from 'zod';
import { type AccessServiceToken, readAccessToken } from '../../core/env.js';
import { degraded, type ProbeResult } from '../../core/result.js';
import { ENV_VAR_NAME, HTTP_URL } from '../../core/surface.js';
import { type HttpResponse, headerValue } from '../../transport/client.js';
import {
  type CredentialUse,
  notChecked,
  type OnlineContext,
  type OnlineFinding,
  unreachable,
} from '../online.js';
import { providerText } from './api.js';
import type { AccessGateCode } from './codes.js';

/** Shared by every provider that can sit behind Cloudflare Access. */
export const ACCESS_TOKEN_ENV = ENV_VAR_NAME.optional().describe(
  'Variable holding a Cloudflare Access service token as `client_id:client_secret`; sent as CF-Access-Client-Id/Secret.',
);

export const ACCESS_APP = z
  .string()
  .min(1)
  .max(200)
  .optional()
  .describe(
    'The Cloudflare Access application (name or id) that gates this surface, when its URL does not match the application domain (a Heroku web_url, say); read by the credential watch.',
  );

export function accessHeaders(token: AccessServiceToken | undefined): Record<string, string> {
  if (!token) return {};
  return { 'CF-Access-Client-Id': token.clientId, 'CF-Access-Client-Secret': token.clientSecret };
}

/** Optional, beside ACCESS_TOKEN_ENV: where an application with a custom non-identity deny URL redirects a refused token. */
export const ACCESS_DENY_URL = HTTP_URL.optional().describe(
  "The Access application's custom non-identity deny URL (`custom_non_identity_deny_url`), if it has one: a redirect there is Access refusing the service token.",
);

const GATE_CAUSE =
  'the service token is not in a Service Auth (non_identity) policy of this Access application, or it was revoked';
const NO_TOKEN_CAUSE = 'no service token is configured for a gated URL';

/**
 * What Cloudflare's edge, rather than the origin, answered:
 * - `login_redirect`: a 3xx to the team's `*.cloudflareaccess.com` domain or any `/cdn-cgi/access/` path;
 * - `access_refusal`: Access refused the request without a login (a Service-Auth-only application's
 *   403, a 401 with service_auth_401_redirect, a Bearer challenge, a Cf-Access-* header, or a 3xx
 *   to the configured deny URL);
 * - `edge_block`: a WAF, bot or browser-integrity rule stopped it before Access (`cf-mitigated`,
 *   or Cloudflare's "error code: 1010" page);
 * - `none`: the origin answered, as far as can be told.
 * `form` names what was seen, for a detail ("HTTP 403 served by Cloudflare (server, cf-ray, HTML)").
 */
export type EdgeVerdict =
  | { kind: 'login_redirect' | 'access_refusal' | 'edge_block'; form: string }
  | { kind: 'none' };

export interface EdgeContext {
  /** Whether the request carried CF-Access-Client-Id/Secret. */
  tokenSent: boolean;
  /** The surface's access_deny_url. */
  accessDenyUrl?: string;
}

/** Classifies a response as Cloudflare's edge refusing it, in any of the forms above. */
export function classifyEdgeResponse(response: HttpResponse, context: EdgeContext): EdgeVerdict {
  const { status, headers } = response;
  if (status >= 300 && status < 400) {
    const location = headerValue(headers, 'location');
    if (!location) return { kind: 'none' };
    const login = accessLoginUrl(location);
    if (login) {
      const where = login.host === RELATIVE_BASE.host ? 'a relative Location' : login.host;
      return { kind: 'login_redirect', form: `HTTP ${status} to the Cloudflare Access login (${where})` };
    }
    if (context.accessDenyUrl && sameResource(location, context.accessDenyUrl)) {
      return { kind: 'access_refusal', form: `HTTP ${status} to the Access deny URL (access_deny_url)` };
    }
    return { kind: 'none' };
  }
  if (status !== 401 && status !== 403) return { kind: 'none' };
  const mitigated = headerValue(headers, 'cf-mitigated');
  if (mitigated)
    return { kind: 'edge_block', form: `HTTP ${status} with cf-mitigated: ${providerText(mitigated)}` };
  if (status === 403 && servedByCloudflare(response) && /error code: 1010\b/.test(bodyStart(response))) {
    return { kind: 'edge_block', form: 'HTTP 403 "error code: 1010" (browser integrity check)' };
  }
  if (status === 401 && /^bearer\b/i.test(headerValue(headers, 'www-authenticate') ?? '')) {
    return { kind: 'access_refusal', form: 'HTTP 401 with a Bearer challenge from Cloudflare Access' };
  }
  if (status === 403 && (headerValue(headers, 'cf-access-error') || headerValue(headers, 'cf-access-aud'))) {
    return { kind: 'access_refusal', form: 'HTTP 403 from Cloudflare Access (Cf-Access-* header)' };
  }
  // Which headers a Service-Auth-only 403 (or a service_auth_401_redirect 401) carries is not
  // documented; Cloudflare serving an HTML page itself is all there is to go on. An origin's own
  // 401/403 proxied by Cloudflare looks the same, so it is only read as Access when a token was sent.
  if (context.tokenSent && servedByCloudflare(response) && isHtml(response)) {
    return {
      kind: 'access_refusal',
      form: `HTTP ${status} served by Cloudflare (server: cloudflare, cf-ray, HTML)`,
    };
  }
  return { kind: 'none' };
}

/**
 * The probe result for a response Cloudflare's edge refused, or undefined when the origin answered.
 * A refusal of a sent token is `access_denied`; a gated URL reached without one, or any login
 * redirect, is `access_gate_redirect`; a WAF or bot block is `edge_blocked`.
 */
export function judgeEdge(
  response: HttpResponse,
  context: EdgeContext,
): ProbeResult<AccessGateCode> | undefined {
  const verdict = classifyEdgeResponse(response, context);
  if (verdict.kind === 'none') return undefined;
  if (verdict.kind === 'edge_block') {
    return degraded(
      'edge_blocked',
      `${verdict.form}: a Cloudflare WAF, bot or browser-integrity rule blocked the probe before Access and the app`,
    );
  }
  if (verdict.kind === 'access_refusal' && context.tokenSent) {
    return degraded('access_denied', `${verdict.form}: Cloudflare Access refused the token: ${GATE_CAUSE}`);
  }
  return degraded(
    'access_gate_redirect',
    `${verdict.form}: ${context.tokenSent ? GATE_CAUSE : NO_TOKEN_CAUSE}`,
  );
}

function servedByCloudflare(response: HttpResponse): boolean {
  const server = headerValue(response.headers, 'server') ?? '';
  return /^cloudflare\b/i.test(server.trim()) && headerValue(response.headers, 'cf-ray') !== undefined;
}

function isHtml(response: HttpResponse): boolean {
  return /^text\/html\b/i.test(headerValue(response.headers, 'content-type') ?? '');
}

// Cloudflare's block pages are small; only their start is looked at.
function bodyStart(response: HttpResponse): string {
  return response.body.subarray(0, 4096).toString('utf8');
}

/** Same scheme, host and path (a deny page may add its own query). */
function sameResource(location: string, expected: string): boolean {
  try {
    const a = new URL(location);
    const b = new URL(expected);
    return a.origin === b.origin && a.pathname.replace(/\/+$/, '') === b.pathname.replace(/\/+$/, '');
  } catch {
    return false;
  }
}

const RELATIVE_BASE = new URL('http://relative.invalid');

/**
 * The Location as a URL when it points at Cloudflare Access (absolute or relative), else undefined:
 * any host under `cloudflareaccess.com` (team login, deny and certs pages) or any `/cdn-cgi/access/` path.
 */
export function accessLoginUrl(location: string): URL | undefined {
  try {
    const url = new URL(location, RELATIVE_BASE);
    const accessHost = /(^|\.)cloudflareaccess\.com$/i.test(url.hostname);
    return accessHost || url.pathname.startsWith('/cdn-cgi/access/') ? url : undefined;
  } catch {
    return undefined;
  }
}

/** A Cloudflare Access service token variable, as `check-config --online` inspects it. */
export function accessTokenUse(variable: string): CredentialUse {
  return {
    variable,
    noun: 'Cloudflare Access service token',
    lifecycle: 'access_service_token',
    problem: (value) =>
      readAccessToken({ token: value }, 'token').ok ? undefined : 'expected client_id:client_secret',
  };
}

// The origin's answer behind the gate is not read: only whether Access let the request through.
const ACCESS_BODY_CAP = 4 * 1024;

/** Sends each gated URL its service token once and reports whether Access let it through. */
export async function checkAccessTargets(
  variable: string,
  targets: Map<string, string[]>,
  ctx: OnlineContext,
): Promise<OnlineFinding[]> {
  const findings: OnlineFinding[] = [];
  const token = readAccessToken(ctx.env, variable);
  for (const [url, surfaces] of targets) {
    const subject = `${variable} @ ${new URL(url).host}`;
    if (!ctx.usable(variable) || !token.ok) {
      findings.push({
        check: 'access_token',
        subject,
        surfaces,
        ...notChecked(`not checked: ${variable} is not usable`),
      });
      continue;
    }
    const outcome = await ctx.send({
      url,
      headers: accessHeaders(token.value),
      maxBodyBytes: ACCESS_BODY_CAP,
    });
    if (outcome.kind === 'failure') {
      findings.push({
        check: 'access_token',
        subject,
        surfaces,
        ...unreachable(`GET ${url}`, outcome),
        severity: 'warn',
      });
      continue;
    }
    const verdict = classifyEdgeResponse(outcome, { tokenSent: true });
    if (verdict.kind === 'edge_block') {
      findings.push({
        check: 'access_token',
        subject,
        surfaces,
        result: 'error',
        severity: 'warn',
        detail: `${verdict.form}: a Cloudflare WAF or bot rule blocked the check before Access; the token was not judged`,
      });
      continue;
    }
    const gate = judgeEdge(outcome, { tokenSent: true })?.detail;
    if (gate) {
      ctx.reject(variable, `Cloudflare Access stopped it at ${new URL(url).host}`);
      findings.push({
        check: 'access_token',
        subject,
        surfaces,
        result: 'rejected',
        severity: 'fail',
        detail: gate,
      });
    } else {
      ctx.accept(variable, 'Cloudflare Access');
      findings.push({
        check: 'access_token',
        subject,
        surfaces,
        result: 'ok',
        severity: 'ok',
        detail: `let through to the origin, which answered HTTP ${outcome.status}`,
      });
    }
  }
  return findings;
}

import { type AccessServiceToken, readAccessToken } from '../../core/env.js';
import { ENV_VAR_NAME } from '../../core/surface.js';
import { type HttpResponse, headerValue } from '../../transport/client.js';
import {
  type CredentialUse,
  notChecked,
  type OnlineContext,
  type OnlineFinding,
  unreachable,
} from '../online.js';

/** Shared by every provider that can sit behind Cloudflare Access. */
export const ACCESS_TOKEN_ENV = ENV_VAR_NAME.optional().describe(
  'Variable holding a Cloudflare Access service token as `client_id:client_secret`; sent as CF-Access-Client-Id/Secret.',
);

export function accessHeaders(token: AccessServiceToken | undefined): Record<string, string> {
  if (!token) return {};
  return { 'CF-Access-Client-Id': token.clientId, 'CF-Access-Client-Secret': token.clientSecret };
}

const GATE_CAUSE =
  'the service token is not in a Service Auth (non_identity) policy of this Access application, or it was revoked';

/**
 * Recognises Cloudflare Access refusing a request, in the three forms Access uses.
 * Returns the detail to report, or undefined when the response came from the origin.
 */
export function detectAccessGate(response: HttpResponse, tokenSent: boolean): string | undefined {
  const { status, headers } = response;
  const why = tokenSent ? GATE_CAUSE : 'no service token is configured for a gated URL';
  if (status >= 300 && status < 400) {
    const location = headerValue(headers, 'location');
    const login = location ? accessLoginUrl(location) : undefined;
    if (login) {
      const where = login.host === RELATIVE_BASE.host ? 'a relative Location' : login.host;
      return `HTTP ${status} to the Cloudflare Access login (${where}): ${why}`;
    }
    return undefined;
  }
  if (status === 401 && /^bearer\b/i.test(headerValue(headers, 'www-authenticate') ?? '')) {
    return `HTTP 401 with a Bearer challenge from Cloudflare Access: ${why}`;
  }
  if (status === 403 && (headerValue(headers, 'cf-access-error') || headerValue(headers, 'cf-access-aud'))) {
    return `HTTP 403 from Cloudflare Access: ${why}`;
  }
  return undefined;
}

const RELATIVE_BASE = new URL('http://relative.invalid');

/** The Location as a URL when it points at an Access login page (absolute or relative), else undefined. */
export function accessLoginUrl(location: string): URL | undefined {
  try {
    const url = new URL(location, RELATIVE_BASE);
    return url.pathname.startsWith('/cdn-cgi/access/login') ? url : undefined;
  } catch {
    return undefined;
  }
}

/** A Cloudflare Access service token variable, as `check-config --online` inspects it. */
export function accessTokenUse(variable: string): CredentialUse {
  return {
    variable,
    noun: 'Cloudflare Access service token',
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
    const gate = detectAccessGate(outcome, true);
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

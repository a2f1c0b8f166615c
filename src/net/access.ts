import { type HttpResponse, headerValue } from './client.js';

export type Env = Readonly<Record<string, string | undefined>>;

export type CredentialLookup<T> = { ok: true; value: T } | { ok: false; detail: string; variable: string };

/** Reads a required secret variable; the detail matches the runbook's `skipped: X unset`. */
export function readSecret(env: Env, variable: string): CredentialLookup<string> {
  const value = env[variable]?.trim();
  if (!value) return { ok: false, detail: `skipped: ${variable} unset`, variable };
  return { ok: true, value };
}

export interface AccessServiceToken {
  clientId: string;
  clientSecret: string;
}

/** Reads a Cloudflare Access service token stored as `client_id:client_secret`. */
export function readAccessToken(env: Env, variable: string): CredentialLookup<AccessServiceToken> {
  const raw = readSecret(env, variable);
  if (!raw.ok) return raw;
  const separator = raw.value.indexOf(':');
  const clientId = raw.value.slice(0, separator).trim();
  const clientSecret = raw.value.slice(separator + 1).trim();
  if (separator < 0 || !clientId || !clientSecret) {
    return {
      ok: false,
      detail: `skipped: ${variable} malformed (expected client_id:client_secret)`,
      variable,
    };
  }
  return { ok: true, value: { clientId, clientSecret } };
}

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

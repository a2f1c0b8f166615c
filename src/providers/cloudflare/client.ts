import { z } from 'zod';
import type { Env } from '../../core/env.js';
import type { HttpResponse } from '../../transport/client.js';
import { integerHeader, providerText, tryParseJsonBody } from '../shared/api.js';

/**
 * The Cloudflare v4 API as every Cloudflare provider and its online check speak to it: the base
 * URL, the envelope, which error codes mean what, and the rate budget it reports.
 */
export const DEFAULT_CLOUDFLARE_API_URL = 'https://api.cloudflare.com/client/v4';

export function cloudflareApiUrl(env: Env): string {
  return (env.CLOUDFLARE_API_URL?.trim() || DEFAULT_CLOUDFLARE_API_URL).replace(/\/+$/, '');
}

export function cloudflareHeaders(token: string): Record<string, string> {
  return { Authorization: `Bearer ${token}`, Accept: 'application/json' };
}

/** The token is refused: invalid (10000), not allowed here (9109), or an unreadable Authorization header (6003, 6111). */
export const CLOUDFLARE_AUTH_CODES: ReadonlySet<number> = new Set([10000, 9109, 6003, 6111]);
/** No such route for this account: the account id is wrong. */
export const CLOUDFLARE_ROUTE_CODES: ReadonlySet<number> = new Set([7000, 7003]);
export const CLOUDFLARE_RATE_LIMITED_CODE = 971;

// Real auth failures carry neither `messages` nor `result`, so only `success` is required.
const envelopeSchema = z.looseObject({
  success: z.boolean(),
  errors: z.array(z.looseObject({ code: z.number(), message: z.string() })).optional(),
  result: z.unknown().optional(),
  result_info: z.looseObject({ page: z.number().optional(), total_pages: z.number().optional() }).optional(),
});

export interface CloudflareAnswer {
  status: number;
  /** undefined when the body is not a Cloudflare envelope (a proxy's page, say). */
  envelope: z.infer<typeof envelopeSchema> | undefined;
  codes: ReadonlySet<number>;
  /** "HTTP 403: 10000 Authentication error", short and without the credentials sent. */
  answer: string;
}

export function readCloudflareAnswer(response: HttpResponse, secrets: readonly string[]): CloudflareAnswer {
  const envelope = tryParseJsonBody(response, envelopeSchema);
  const errors = envelope?.errors ?? [];
  const said = errors.map((error) => `${error.code} ${error.message}`).join('; ');
  return {
    status: response.status,
    envelope,
    codes: new Set(errors.map((error) => error.code)),
    answer: providerText(`HTTP ${response.status}${said ? `: ${said}` : ''}`, secrets),
  };
}

export function isRateLimited(answer: CloudflareAnswer): boolean {
  return answer.status === 429 || answer.codes.has(CLOUDFLARE_RATE_LIMITED_CODE);
}

export function isAuthRefusal(answer: CloudflareAnswer): boolean {
  return (
    answer.status === 401 ||
    answer.status === 403 ||
    [...answer.codes].some((code) => CLOUDFLARE_AUTH_CODES.has(code))
  );
}

export function isUnknownAccount(answer: CloudflareAnswer): boolean {
  return [...answer.codes].some((code) => CLOUDFLARE_ROUTE_CODES.has(code));
}

/** Calls left in the token's budget, as the response reports it. */
export function remainingBudget(response: HttpResponse): number | undefined {
  return integerHeader(response, 'x-ratelimit-remaining');
}

/** An account id is 32 hexadecimal characters; an identifier, not a secret. */
export function accountIdProblem(value: string): string | undefined {
  return /^[0-9a-f]{32}$/i.test(value) ? undefined : 'expected 32 hexadecimal characters';
}

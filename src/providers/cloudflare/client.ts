import { z } from 'zod';
import type { Env } from '../../core/env.js';
import { type HttpResponse, headerValue } from '../../transport/client.js';
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

/**
 * The token is refused: invalid or not allowed (10000), unusable from here (9109), unauthenticated
 * (10001), or an unreadable Authorization header (6003, 6111).
 */
export const CLOUDFLARE_AUTH_CODES: ReadonlySet<number> = new Set([10000, 10001, 9109, 6003, 6111]);
/** "Invalid request headers" / "Invalid format for Authorization header": the value, not the token, is wrong. */
const MALFORMED_AUTHORIZATION_CODES: ReadonlySet<number> = new Set([6003, 6111]);
/** No such route for this account: the account id is wrong. */
export const CLOUDFLARE_ROUTE_CODES: ReadonlySet<number> = new Set([7000, 7003]);
export const CLOUDFLARE_RATE_LIMITED_CODE = 971;

// Real auth failures carry neither `messages` nor `result`, so only `success` is required.
const errorSchema = z.looseObject({
  code: z.number(),
  message: z.string(),
  // 6003 carries the precise cause (6111) one level down.
  error_chain: z.array(z.looseObject({ code: z.number(), message: z.string() })).optional(),
});
const envelopeSchema = z.looseObject({
  success: z.boolean(),
  errors: z.array(errorSchema).optional(),
  result: z.unknown().optional(),
  result_info: z.looseObject({ page: z.number().optional(), total_pages: z.number().optional() }).optional(),
});

export interface CloudflareAnswer {
  status: number;
  /** undefined when the body is not a Cloudflare envelope (a proxy's page, say). */
  envelope: z.infer<typeof envelopeSchema> | undefined;
  /** Every error code, those of `error_chain` included. */
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
    codes: new Set(
      errors.flatMap((error) => [error.code, ...(error.error_chain ?? []).map((link) => link.code)]),
    ),
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

/**
 * Why the credentials were refused, for a detail: a malformed header is a configuration mistake
 * (most often a variable that already holds "Bearer <token>"), not a token to rotate.
 */
export function authRefusalCause(answer: CloudflareAnswer, variable: string): string {
  if ([...answer.codes].some((code) => MALFORMED_AUTHORIZATION_CODES.has(code))) {
    return `malformed Authorization header (does the variable include 'Bearer '?): ${variable} (${answer.answer})`;
  }
  return `Cloudflare refused the token in ${variable} (${answer.answer})`;
}

export function isUnknownAccount(answer: CloudflareAnswer): boolean {
  return [...answer.codes].some((code) => CLOUDFLARE_ROUTE_CODES.has(code));
}

/** What a response says of the token's rate budget; either part may be unknown. */
export interface RateLimitReading {
  remaining?: number;
  quota?: number;
}

/**
 * The budget as the response reports it. Since 2025-09 Cloudflare sends the IETF structured fields
 * `Ratelimit: "<name>";r=<remaining>;t=<s>` and `Ratelimit-Policy: "<name>";q=<quota>;w=<s>`, and
 * no longer `x-ratelimit-*`, which older answers (and proxies replaying them) still carry. With
 * several items the one with the lowest `r` binds, and its quota is the policy of the same name.
 */
export function readRateLimit(response: HttpResponse): RateLimitReading {
  const limits = structuredItems(headerValue(response.headers, 'ratelimit'));
  const policies = structuredItems(headerValue(response.headers, 'ratelimit-policy'));
  let binding: StructuredItem | undefined;
  for (const item of limits) {
    const remaining = item.params.get('r');
    if (remaining === undefined) continue;
    if (binding === undefined || remaining < (binding.params.get('r') as number)) binding = item;
  }
  const policyQuota = (policy: StructuredItem | undefined) => policy?.params.get('q');
  const named = policies.find((policy) => policy.name === binding?.name);
  const quotas = policies.map(policyQuota).filter((quota): quota is number => quota !== undefined);
  const structuredQuota = policyQuota(named) ?? (quotas.length > 0 ? Math.min(...quotas) : undefined);
  return {
    remaining: binding?.params.get('r') ?? integerHeader(response, 'x-ratelimit-remaining'),
    quota: structuredQuota ?? integerHeader(response, 'x-ratelimit-limit'),
  };
}

interface StructuredItem {
  name: string;
  /** Only the whole-number parameters: r, t, q and w are all integers. */
  params: Map<string, number>;
}

/** A structured-field list of `"name";key=int;...` items (RFC 9651), read leniently: unreadable parts are skipped. */
function structuredItems(field: string | undefined): StructuredItem[] {
  if (!field) return [];
  return field.split(',').flatMap((member) => {
    const [rawName = '', ...rawParams] = member.split(';').map((part) => part.trim());
    const name = /^"([^"]*)"$/.exec(rawName)?.[1] ?? rawName;
    if (!name) return [];
    const params = new Map<string, number>();
    for (const param of rawParams) {
      const match = /^([a-z*][a-z0-9_.*-]*)=(\d{1,15})$/.exec(param);
      if (match?.[1] && match[2]) params.set(match[1], Number(match[2]));
    }
    return [{ name, params }];
  });
}

/** An account id is 32 hexadecimal characters; an identifier, not a secret. */
export function accountIdProblem(value: string): string | undefined {
  return /^[0-9a-f]{32}$/i.test(value) ? undefined : 'expected 32 hexadecimal characters';
}

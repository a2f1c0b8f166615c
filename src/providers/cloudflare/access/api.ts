import { z } from 'zod';
import type { HttpOutcome, HttpRequest, HttpResponse } from '../../../transport/client.js';
import { parseJsonBody, parseValue } from '../../shared/api.js';
import {
  type CloudflareAnswer,
  cloudflareHeaders,
  isAuthRefusal,
  isRateLimited,
  readCloudflareAnswer,
  readRateLimit,
} from '../client.js';
import type { AccessApplication, AccessPolicy, AccessRule } from './matcher.js';

/**
 * The Access management API reads of the credential watch (provider-apis.md §8): service tokens,
 * applications with their policies, and API token verify. Each answer is parsed strictly on the
 * fields read; a list is followed to its last page.
 */

export type Send = (req: Omit<HttpRequest, 'deadline'>) => Promise<HttpOutcome>;

export interface ApiCall {
  send: Send;
  baseUrl: string;
  token: string;
  accountId: string;
  /** Every credential value of the round: masked in any text an answer feeds, whoever's it is. */
  secrets: readonly string[];
  /** Each answer's rate budget, so the reads count in the Cloudflare budget like the probes' calls. */
  onBudget?: (budget: { remaining?: number; quota?: number }) => void;
}

export interface ServiceToken {
  id: string;
  clientId: string;
  name: string;
  enabled: boolean;
  /** Milliseconds since the epoch; undefined for `duration: forever`. */
  expiresAt: number | undefined;
}

export type Read<T> =
  | { ok: true; value: T }
  | { ok: false; detail: string; refused: boolean; rateLimited?: boolean };

// 50 items per page: small answers, and an account with 2,000 tokens or apps still reads in 40 calls.
const PER_PAGE = 50;
const MAX_PAGES = 40;
const BODY_CAP_BYTES = 2 * 1024 * 1024;

const listEnvelope = z.looseObject({
  success: z.literal(true),
  result: z.array(z.unknown()),
  result_info: z.looseObject({ total_pages: z.number().optional() }).optional(),
});

const serviceTokenSchema = z.looseObject({
  id: z.string(),
  client_id: z.string(),
  name: z.string().default(''),
  // A token listed without the flag is one the account has not disabled.
  enabled: z.boolean().default(true),
  expires_at: z.string().nullable().optional(),
});

const ruleSchema = z.looseObject({}) as unknown as z.ZodType<AccessRule>;
const policySchema = z.looseObject({
  id: z.string().default(''),
  name: z.string().default(''),
  decision: z.string(),
  include: z.array(ruleSchema).nullable().default([]),
  exclude: z.array(ruleSchema).nullable().default([]),
});
const applicationSchema = z.looseObject({
  id: z.string(),
  name: z.string().default(''),
  type: z.string().optional(),
  domain: z.string().nullable().optional(),
  self_hosted_domains: z.array(z.string()).nullable().optional(),
  destinations: z
    .array(z.looseObject({ type: z.string().optional(), uri: z.string().optional() }))
    .nullable()
    .optional(),
  policies: z.array(policySchema).optional(),
});
const verifySchema = z.looseObject({
  success: z.literal(true),
  result: z.looseObject({
    id: z.string().optional(),
    status: z.string(),
    expires_on: z.string().nullable().optional(),
  }),
});

export interface TokenVerdict {
  status: string;
  /** Milliseconds since the epoch; undefined when the token never expires. */
  expiresAt: number | undefined;
  /** Which verify endpoint answered. */
  owner: 'user' | 'account';
}

function failedAnswer(what: string, answer: CloudflareAnswer): Read<never> {
  if (isRateLimited(answer))
    return {
      ok: false,
      refused: false,
      rateLimited: true,
      detail: `${what}: rate limited (${answer.answer})`,
    };
  if (isAuthRefusal(answer))
    return { ok: false, refused: true, detail: `${what}: refused (${answer.answer})` };
  return { ok: false, refused: false, detail: `${what}: ${answer.answer}` };
}

async function getJson(call: ApiCall, path: string, what: string): Promise<Read<HttpResponse>> {
  const outcome = await call.send({
    url: `${call.baseUrl}${path}`,
    headers: cloudflareHeaders(call.token),
    maxBodyBytes: BODY_CAP_BYTES,
  });
  if (outcome.kind === 'failure') return { ok: false, refused: false, detail: `${what}: ${outcome.message}` };
  call.onBudget?.(readRateLimit(outcome));
  return { ok: true, value: outcome };
}

async function listAll<T>(call: ApiCall, path: string, item: z.ZodType<T>, what: string): Promise<Read<T[]>> {
  const items: T[] = [];
  for (let page = 1; page <= MAX_PAGES; page++) {
    const got = await getJson(call, `${path}?page=${page}&per_page=${PER_PAGE}`, what);
    if (!got.ok) return got;
    const answer = readCloudflareAnswer(got.value, [call.token, ...call.secrets]);
    if (got.value.status !== 200 || !answer.envelope?.success) {
      if (answer.envelope) return failedAnswer(what, answer);
      const parsed = parseJsonBody(got.value, listEnvelope, what);
      return { ok: false, refused: false, detail: parsed.ok ? `${what}: ${answer.answer}` : parsed.detail };
    }
    const parsed = parseJsonBody(got.value, listEnvelope, what);
    if (!parsed.ok) return { ok: false, refused: false, detail: parsed.detail };
    for (const [index, raw] of parsed.value.result.entries()) {
      const one = parseValue(raw, item, what, ['result', index]);
      if (!one.ok) return { ok: false, refused: false, detail: one.detail };
      items.push(one.value);
    }
    const totalPages = parsed.value.result_info?.total_pages ?? 1;
    if (page >= totalPages || parsed.value.result.length === 0) return { ok: true, value: items };
  }
  return { ok: false, refused: false, detail: `${what}: more than ${MAX_PAGES} pages, not read further` };
}

function timestamp(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

const accountPath = (call: ApiCall) => `/accounts/${encodeURIComponent(call.accountId)}`;

/** GET /accounts/{id}/access/service_tokens, every page. Lists never carry a client_secret. */
export async function listServiceTokens(call: ApiCall): Promise<Read<ServiceToken[]>> {
  const listed = await listAll(
    call,
    `${accountPath(call)}/access/service_tokens`,
    serviceTokenSchema,
    'GET /accounts/{account_id}/access/service_tokens',
  );
  if (!listed.ok) return listed;
  return {
    ok: true,
    value: listed.value.map((token) => ({
      id: token.id,
      clientId: token.client_id,
      name: token.name,
      enabled: token.enabled,
      expiresAt: timestamp(token.expires_at),
    })),
  };
}

function toPolicy(policy: z.infer<typeof policySchema>): AccessPolicy {
  return {
    id: policy.id,
    name: policy.name,
    decision: policy.decision,
    include: policy.include ?? [],
    exclude: policy.exclude ?? [],
  };
}

/**
 * GET /accounts/{id}/access/apps, every page, with each application's policies: embedded in the list
 * when Cloudflare sends them there, else read from /apps/{app_id}/policies.
 */
export async function listApplications(call: ApiCall): Promise<Read<AccessApplication[]>> {
  const listed = await listAll(
    call,
    `${accountPath(call)}/access/apps`,
    applicationSchema,
    'GET /accounts/{account_id}/access/apps',
  );
  if (!listed.ok) return listed;
  const applications: AccessApplication[] = [];
  for (const app of listed.value) {
    let policies = app.policies?.map(toPolicy);
    if (policies === undefined) {
      const own = await listAll(
        call,
        `${accountPath(call)}/access/apps/${encodeURIComponent(app.id)}/policies`,
        policySchema,
        'GET /accounts/{account_id}/access/apps/{app_id}/policies',
      );
      if (!own.ok) return own;
      policies = own.value.map(toPolicy);
    }
    const domains = [
      ...(app.domain ? [app.domain] : []),
      ...(app.self_hosted_domains ?? []),
      ...(app.destinations ?? [])
        .filter((destination) => (destination.type ?? 'public') === 'public' && destination.uri)
        .map((destination) => destination.uri as string),
    ];
    applications.push({
      id: app.id,
      name: app.name,
      type: app.type,
      domains: [...new Set(domains)],
      policies,
    });
  }
  return { ok: true, value: applications };
}

/**
 * GET /user/tokens/verify, then, when a user-token check refuses it, /accounts/{id}/tokens/verify
 * (account-owned tokens are unknown to the user endpoint). A refusal by both means the token is
 * invalid: revoked, deleted or never valid.
 */
export async function verifyApiToken(
  call: Omit<ApiCall, 'accountId'> & { accountId: string | undefined },
): Promise<Read<TokenVerdict>> {
  const attempts: Array<{ owner: TokenVerdict['owner']; path: string }> = [
    { owner: 'user', path: '/user/tokens/verify' },
  ];
  if (call.accountId)
    attempts.push({
      owner: 'account',
      path: `/accounts/${encodeURIComponent(call.accountId)}/tokens/verify`,
    });
  let last: Extract<Read<TokenVerdict>, { ok: false }> | undefined;
  for (const { owner, path } of attempts) {
    const what = `GET ${owner === 'user' ? '/user/tokens/verify' : '/accounts/{account_id}/tokens/verify'}`;
    const got = await getJson({ ...call, accountId: call.accountId ?? '' }, path, what);
    if (!got.ok) return got;
    const answer = readCloudflareAnswer(got.value, [call.token, ...call.secrets]);
    if (got.value.status === 200 && answer.envelope?.success) {
      const parsed = parseJsonBody(got.value, verifySchema, what);
      if (!parsed.ok) return { ok: false, refused: false, detail: parsed.detail };
      const { status, expires_on } = parsed.value.result;
      return { ok: true, value: { status, expiresAt: timestamp(expires_on), owner } };
    }
    if (!answer.envelope) {
      const parsed = parseJsonBody(got.value, verifySchema, what);
      return { ok: false, refused: false, detail: parsed.ok ? `${what}: ${answer.answer}` : parsed.detail };
    }
    const failed = failedAnswer(what, answer);
    if (!failed.ok) {
      last = failed;
      if (!failed.refused) return failed;
    }
  }
  return last ?? { ok: false, refused: false, detail: 'no verify endpoint answered' };
}

import { z } from 'zod';
import type { CodeOf, CoreCode } from '../../core/codes.js';
import { httpStatusCode } from '../../core/codes.js';
import { readSecret } from '../../core/env.js';
import type { MetricFamily } from '../../core/metricFamily.js';
import { degraded, type FamilySample, type ProbeResult, skipped, up } from '../../core/result.js';
import { ENV_VAR_NAME, surfaceBase } from '../../core/surface.js';
import type { HttpResponse } from '../../transport/client.js';
import {
  cloudflareApiUrl,
  cloudflareHeaders,
  isAuthRefusal,
  isRateLimited,
  readCloudflareAnswer,
  remainingBudget,
} from '../cloudflare/client.js';
import { CLOUDFLARE_API_CODE_DOCS } from '../cloudflare/codes.js';
import { defineProvider, type ProbeContext } from '../contract.js';
import {
  Cooldown,
  parseJsonBody,
  parseValue,
  providerText,
  retryAfterMs,
  transportFailure,
} from '../shared/api.js';
import { ENDPOINT_STATUS_CODE_DOCS, PROVIDER_API_CODE_DOCS, TRANSPORT_CODE_DOCS } from '../shared/codes.js';
import { CLOUDFLARE_PAGES_CODE_DOCS } from './codes.js';
import { cloudflarePagesOnline } from './online.js';

export const cloudflarePagesSurface = surfaceBase
  .extend({
    provider: z
      .literal('cloudflare_pages')
      .describe('A Cloudflare Pages project, judged by the latest stage of its newest deployment.'),
    project: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'a Pages project name ([a-z0-9-])')
      .describe('The Pages project name in the account; required, no default.'),
    environment: z
      .enum(['production', 'preview'])
      .default('production')
      .describe('Which deployments to judge, production or preview; default production.'),
    token_env: ENV_VAR_NAME.default('CLOUDFLARE_PAGES_READ_TOKEN').describe(
      'Variable holding a Cloudflare API token with Pages read access; default CLOUDFLARE_PAGES_READ_TOKEN.',
    ),
    account_id_env: ENV_VAR_NAME.default('CLOUDFLARE_ACCOUNT_ID').describe(
      'Variable holding the Cloudflare account id (an identifier, not a secret); default CLOUDFLARE_ACCOUNT_ID.',
    ),
  })
  .strict();

export type CloudflarePagesSurface = z.infer<typeof cloudflarePagesSurface>;

// Results come newest first and only the first is read, so a small page keeps the body small. 10 is
// what Cloudflare's own SDK test asks for and below the default page of 25 seen in recordings; no
// bound is documented (a cap of 25 is only inferred), so the probe stays well inside what is known to work.
const DEPLOYMENTS_PER_PAGE = 10;
const BODY_CAP_BYTES = 512 * 1024;
// "If you exceed this limit, all API calls for the next five minutes will be blocked."
const DEFAULT_RATE_LIMIT_WAIT_MS = 300_000;
// An error answer (revoked token, missing project) may be fixed at any moment; it is re-checked at least every minute.
const ERROR_TTL_CAP_MS = 60_000;

const CODE_PROJECT_NOT_FOUND = 8000007;

/** The documented stage names and statuses; anything else is exported as `unknown` to keep labels bounded. */
const STAGE_NAMES = new Set(['queued', 'initialize', 'clone_repo', 'build', 'deploy']);
const STAGE_STATUSES = new Set(['success', 'idle', 'active', 'failure', 'canceled']);

const listSchema = z.looseObject({ success: z.literal(true), result: z.array(z.unknown()) });
const deploymentSchema = z.looseObject({
  id: z.string(),
  short_id: z.string().optional(),
  created_on: z.string(),
  // Only latest_stage: for direct uploads stages[] keeps `queued` active forever.
  latest_stage: z.looseObject({ name: z.string(), status: z.string() }),
});

type Deployment = z.infer<typeof deploymentSchema>;

/** The newest deployment's latest stage, beside the common per-surface series. */
const DEPLOYMENT_FAMILIES = [
  {
    name: 'surface_deployment_info',
    help: '1 for the latest stage and status of the newest Cloudflare Pages deployment.',
    type: 'gauge',
    labelNames: ['env', 'surface', 'provider', 'stage', 'status'],
  },
  {
    name: 'surface_deployment_started_timestamp_seconds',
    help: 'created_on of the newest Cloudflare Pages deployment.',
    type: 'gauge',
    labelNames: ['env', 'surface', 'provider'],
  },
] as const satisfies readonly MetricFamily[];

const CODES = [
  ...CLOUDFLARE_PAGES_CODE_DOCS,
  ...PROVIDER_API_CODE_DOCS,
  ...CLOUDFLARE_API_CODE_DOCS,
  ...ENDPOINT_STATUS_CODE_DOCS,
  ...TRANSPORT_CODE_DOCS,
] as const;
type Code = CodeOf<typeof CODES> | CoreCode;

export const cloudflarePagesProvider = defineProvider({
  name: 'cloudflare_pages',
  schema: cloudflarePagesSurface,
  codes: CODES,
  families: DEPLOYMENT_FAMILIES,
  async probe(surface, ctx) {
    const token = readSecret(ctx.env, surface.token_env);
    if (!token.ok) return skipped(token);
    const accountId = readSecret(ctx.env, surface.account_id_env);
    if (!accountId.ok) return skipped(accountId);
    const baseUrl = cloudflareApiUrl(ctx.env);
    // Keys name variables, never their values.
    const tokenKey = `cloudflare:${baseUrl} ${surface.token_env}`;
    const cacheKey = `${tokenKey} ${surface.account_id_env} ${surface.project} ${surface.environment}`;
    return ctx.cache.getOrLoad(cacheKey, async () => {
      const cooldown = new Cooldown(ctx.cache, `${tokenKey}:not-before`);
      const waitUntil = await cooldown.until();
      if (waitUntil !== undefined) {
        const when = new Date(waitUntil).toISOString();
        return {
          value: degraded('rate_limited', `Cloudflare API rate limited: no call before ${when}`),
          ttlMs: 0,
        };
      }
      const url =
        `${baseUrl}/accounts/${encodeURIComponent(accountId.value)}/pages/projects/` +
        `${encodeURIComponent(surface.project)}/deployments?env=${surface.environment}&per_page=${DEPLOYMENTS_PER_PAGE}`;
      // Other surfaces on this project may join this load: it runs under its own deadline, not this probe's.
      const outcome = await ctx.requestShared({
        url,
        headers: cloudflareHeaders(token.value),
        maxBodyBytes: BODY_CAP_BYTES,
      });
      if (outcome.kind === 'failure') {
        return { value: transportFailure(outcome, 'connection_error', 'Cloudflare API'), ttlMs: 0 };
      }
      const remaining = remainingBudget(outcome);
      if (remaining !== undefined) ctx.reportRateLimit('cloudflare', remaining);
      // The account id is an identifier, not a credential: it is in every API URL and trace anyway,
      // and naming it helps an operator see which account answered. Only the token is scrubbed.
      const judged = await judgeResponse(ctx, surface, outcome, { cooldown, secrets: [token.value] });
      const errorTtlMs = Math.min(ctx.metadataTtlSeconds * 1000, ERROR_TTL_CAP_MS);
      const ttlMs =
        judged.cache === 'terminal'
          ? ctx.metadataTtlSeconds * 1000
          : judged.cache === 'error'
            ? errorTtlMs
            : 0;
      return { value: judged.result, ttlMs };
    });
  },
  target: (surface) => `cloudflare pages ${surface.project} (${surface.environment})`,
  online: cloudflarePagesOnline,
  credentials: (surface) => [surface.token_env, surface.account_id_env],
});

/** How long a result may be reused: terminal stages for the TTL, errors briefly, anything in flight never. */
type Reuse = 'terminal' | 'error' | 'never';

async function judgeResponse(
  ctx: ProbeContext,
  surface: CloudflarePagesSurface,
  response: HttpResponse,
  call: { cooldown: Cooldown; secrets: string[] },
): Promise<{ result: ProbeResult<Code>; cache: Reuse }> {
  const cloudflare = readCloudflareAnswer(response, call.secrets);
  const { status, envelope, codes, answer } = cloudflare;

  if (isRateLimited(cloudflare)) {
    const now = ctx.now();
    const until = now + (retryAfterMs(response, now) ?? DEFAULT_RATE_LIMIT_WAIT_MS);
    await call.cooldown.start(until, now);
    return {
      result: degraded(
        'rate_limited',
        `Cloudflare API ${answer}; no call before ${new Date(until).toISOString()}`,
      ),
      cache: 'never',
    };
  }
  if (status === 404 || codes.has(CODE_PROJECT_NOT_FOUND)) {
    return {
      result: degraded(
        'http_404',
        `project ${surface.project} is not in the account named by ${surface.account_id_env} (${answer})`,
      ),
      cache: 'error',
    };
  }
  if (isAuthRefusal(cloudflare)) {
    return {
      result: degraded(
        'api_auth_failed',
        `Cloudflare refused the token in ${surface.token_env} for this account or project (${answer})`,
      ),
      cache: 'error',
    };
  }
  if (envelope?.success === false) {
    return { result: degraded('api_error', `Cloudflare API error (${answer})`), cache: 'error' };
  }
  if (status < 200 || status >= 300) {
    return {
      result: degraded(httpStatusCode('api_http_', status), `Cloudflare API answered ${answer}`),
      cache: status < 500 ? 'error' : 'never',
    };
  }
  const what = 'Cloudflare API deployments';
  const list = parseJsonBody(response, listSchema, what);
  if (!list.ok) return { result: degraded('api_bad_response', list.detail), cache: 'error' };
  if (list.value.result.length === 0) {
    return {
      result: degraded(
        'no_deployments',
        `project ${surface.project} has no ${surface.environment} deployment`,
      ),
      cache: 'terminal',
    };
  }
  const newest = parseValue(list.value.result[0], deploymentSchema, what, ['result', 0]);
  if (!newest.ok) return { result: degraded('api_bad_response', newest.detail), cache: 'error' };
  return judgeDeployment(ctx, newest.value);
}

function judgeDeployment(
  ctx: ProbeContext,
  deployment: Deployment,
): { result: ProbeResult<Code>; cache: Reuse } {
  const { name, status } = deployment.latest_stage;
  const createdMs = Date.parse(deployment.created_on);
  const samples: FamilySample[] = [
    {
      family: 'surface_deployment_info',
      labels: {
        stage: STAGE_NAMES.has(name) ? name : 'unknown',
        status: STAGE_STATUSES.has(status) ? status : 'unknown',
      },
      value: 1,
    },
  ];
  if (!Number.isNaN(createdMs))
    samples.push({ family: 'surface_deployment_started_timestamp_seconds', value: createdMs / 1000 });
  const which = providerText(
    `deployment ${deployment.short_id ?? deployment.id} created ${deployment.created_on}: latest stage ${name} ${status}`,
  );
  const withFacts = (result: ProbeResult<Code>, cache: Reuse) => ({
    result: { ...result, samples },
    cache,
  });
  if (status === 'failure') return withFacts(degraded('deploy_failure', which), 'terminal');
  if (status === 'canceled') return withFacts(degraded('deploy_canceled', which), 'terminal');
  if (status === 'success' && name === 'deploy') return withFacts(up(which), 'terminal');
  const minutes = Number.isNaN(createdMs)
    ? undefined
    : Math.max(0, Math.floor((ctx.now() - createdMs) / 60_000));
  const since = minutes === undefined ? '' : `; building for ${minutes} min`;
  return withFacts(degraded('deploy_building', `${which}${since}`), 'never');
}

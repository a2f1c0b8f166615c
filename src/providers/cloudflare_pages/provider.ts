import { z } from 'zod';
import type { CodeOf, CoreCode } from '../../core/codes.js';
import { httpStatusCode } from '../../core/codes.js';
import { readSecret } from '../../core/env.js';
import type { MetricFamily } from '../../core/metricFamily.js';
import { degraded, type FamilySample, type ProbeResult, skipped, up } from '../../core/result.js';
import { ENV_VAR_NAME, surfaceBase } from '../../core/surface.js';
import type { HttpResponse } from '../../transport/client.js';
import { CLOUDFLARE_WINDOW_CALLS, cloudflareBudget } from '../cloudflare/budget.js';
import {
  authRefusalCause,
  cloudflareApiUrl,
  cloudflareHeaders,
  isAuthRefusal,
  isRateLimited,
  readCloudflareAnswer,
  readRateLimit,
} from '../cloudflare/client.js';
import { CLOUDFLARE_API_CODE_DOCS } from '../cloudflare/codes.js';
import { defineProvider, type ProbeContext } from '../contract.js';
import { Cooldown, parseJsonBody, providerText, retryAfterMs, transportFailure } from '../shared/api.js';
import { ERROR_TTL_CAP_MS } from '../shared/budget.js';
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
    branch: z
      .string()
      .min(1)
      .max(255)
      .optional()
      .describe(
        'Only deployments built from this branch count (`deployment_trigger.metadata.branch`); default: any branch, so a preview surface follows the newest build of any PR.',
      ),
    token_env: ENV_VAR_NAME.default('CLOUDFLARE_PAGES_READ_TOKEN').describe(
      'Variable holding a Cloudflare API token with Pages read access; default CLOUDFLARE_PAGES_READ_TOKEN.',
    ),
    account_id_env: ENV_VAR_NAME.default('CLOUDFLARE_ACCOUNT_ID').describe(
      'Variable holding the Cloudflare account id (an identifier, not a secret); default CLOUDFLARE_ACCOUNT_ID.',
    ),
  })
  .strict();

export type CloudflarePagesSurface = z.infer<typeof cloudflarePagesSurface>;

// Cloudflare refuses per_page above 25 (400, code 8000024). The list has no documented order, and
// skipped builds are listed like the others, so a full page gives the most deployments to choose from.
const DEPLOYMENTS_PER_PAGE = 25;
// A project whose newest 50 deployments are all skipped (or all of other branches) is reported as
// having none: reading deeper would spend the shared budget on every probe of it.
const MAX_DEPLOYMENT_PAGES = 2;
// 25 deployments of ~3 KB each.
const BODY_CAP_BYTES = 512 * 1024;
// "If you exceed this limit, all API calls for the next five minutes will be blocked."
const DEFAULT_RATE_LIMIT_WAIT_MS = 300_000;

const CODE_PROJECT_NOT_FOUND = 8000007;

/** The documented stage names and statuses; anything else is exported as `unknown` to keep labels bounded. */
const STAGE_NAMES = new Set(['queued', 'initialize', 'clone_repo', 'build', 'deploy']);
const STAGE_STATUSES = new Set(['success', 'idle', 'active', 'failure', 'canceled']);

const deploymentSchema = z.looseObject({
  id: z.string(),
  short_id: z.string().optional(),
  environment: z.string().optional(),
  created_on: z.string(),
  // Only latest_stage: for direct uploads stages[] keeps `queued` active forever.
  latest_stage: z.looseObject({ name: z.string(), status: z.string() }),
  // Skipped builds (watch paths, branch rules, [CI Skip]) sit in the list with a queued/idle stage.
  is_skipped: z.boolean().optional(),
  skip_reason: z.string().nullable().optional(),
  deployment_trigger: z
    .looseObject({ metadata: z.looseObject({ branch: z.string().optional() }).nullable().optional() })
    .nullable()
    .optional(),
});
const listSchema = z.looseObject({
  success: z.literal(true),
  result: z.array(deploymentSchema),
  result_info: z.looseObject({ total_pages: z.number().optional() }).optional(),
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
    const cacheKey = `${tokenKey} ${surface.account_id_env} ${surface.project} ${surface.environment} ${surface.branch ?? '*'}`;
    return ctx.cache.getOrLoad(cacheKey, async () => {
      const budget = cloudflareBudget(ctx.plans, ctx.budgetShare);
      let calls = 0;
      // How long the answer is reused: the shard's Cloudflare plan decides, once the calls are known.
      // An answer never reused (a deployment still building, a transport failure) is read again at
      // the next poll whatever the plan: it is not planned, and leaves the project's phase unused.
      const reuse = (cache: Reuse) => {
        if (cache === 'never') return 0;
        const planned = budget.pagesRefreshed(cacheKey, {
          calls,
          configuredTtlMs: ctx.metadataTtlSeconds * 1000,
          atMonotonic: ctx.monotonic(),
          log: ctx.log,
        });
        return ttlFor(ctx, cache, planned);
      };
      const cooldown = new Cooldown(ctx.cache, `${tokenKey}:not-before`);
      const waitUntil = await cooldown.until();
      if (waitUntil !== undefined) {
        const when = new Date(waitUntil).toISOString();
        return {
          value: degraded('rate_limited', `Cloudflare API rate limited: no call before ${when}`),
          ttlMs: 0,
        };
      }
      const deployments: Deployment[] = [];
      let pagesRead = 0;
      let morePages = false;
      // Later pages are read only when no deployment on the earlier ones counts.
      for (let page = 1; page <= MAX_DEPLOYMENT_PAGES; page++) {
        const url =
          `${baseUrl}/accounts/${encodeURIComponent(accountId.value)}/pages/projects/` +
          `${encodeURIComponent(surface.project)}/deployments?env=${surface.environment}&page=${page}&per_page=${DEPLOYMENTS_PER_PAGE}`;
        calls++;
        // Other surfaces on this project may join this load: it runs under its own deadline, not this probe's.
        const outcome = await ctx.requestShared({
          url,
          headers: cloudflareHeaders(token.value),
          maxBodyBytes: BODY_CAP_BYTES,
        });
        if (outcome.kind === 'failure') {
          return {
            value: transportFailure(outcome, 'connection_error', 'Cloudflare API'),
            ttlMs: reuse('never'),
          };
        }
        const reported = readRateLimit(outcome);
        if (reported.remaining !== undefined)
          ctx.reportRateLimit('cloudflare', reported.remaining, reported.quota ?? CLOUDFLARE_WINDOW_CALLS);
        // The account id is an identifier, not a credential: it is in every API URL and trace anyway,
        // and naming it helps an operator see which account answered. Only the token is scrubbed.
        const read = await readDeploymentsPage(ctx, surface, outcome, { cooldown, secrets: [token.value] });
        if (!read.ok) return { value: read.result, ttlMs: reuse(read.cache) };
        deployments.push(...read.deployments);
        pagesRead = page;
        morePages = read.totalPages > page;
        if (!morePages || newestCounting(surface, deployments).judged !== undefined) break;
      }
      const judged = judgeDeployments(ctx, surface, deployments, { pagesRead, morePages });
      return { value: judged.result, ttlMs: reuse(judged.cache) };
    });
  },
  target: (surface) =>
    `cloudflare pages ${surface.project} (${surface.environment}${surface.branch === undefined ? '' : `, branch ${surface.branch}`})`,
  online: cloudflarePagesOnline,
  credentials: (surface) => [surface.token_env, surface.account_id_env],
  identifiers: (surface) => [surface.account_id_env],
});

/** How long a result may be reused: terminal stages for the TTL, errors briefly, anything in flight never. */
type Reuse = 'terminal' | 'error' | 'never';

/**
 * The TTL as the shard's Cloudflare plan lengthened it; an error's shorter reuse is lengthened in
 * the same proportion, or a registry of failing projects would spend the budget the plan saved.
 */
function ttlFor(ctx: ProbeContext, reuse: Reuse, planned: { ttlMs: number; stretch: number }): number {
  if (reuse === 'terminal') return planned.ttlMs;
  if (reuse === 'error') return Math.min(ctx.metadataTtlSeconds * 1000, ERROR_TTL_CAP_MS) * planned.stretch;
  return 0;
}

type PageRead =
  | { ok: true; deployments: Deployment[]; totalPages: number }
  | { ok: false; result: ProbeResult<Code>; cache: Reuse };

/** One page of the deployments list, or what the answer means when it is not one. */
async function readDeploymentsPage(
  ctx: ProbeContext,
  surface: CloudflarePagesSurface,
  response: HttpResponse,
  call: { cooldown: Cooldown; secrets: string[] },
): Promise<PageRead> {
  const cloudflare = readCloudflareAnswer(response, call.secrets);
  const { status, envelope, codes, answer } = cloudflare;

  if (isRateLimited(cloudflare)) {
    const now = ctx.now();
    const until = await call.cooldown.start(retryAfterMs(response, now) ?? DEFAULT_RATE_LIMIT_WAIT_MS, now);
    return {
      ok: false,
      result: degraded(
        'rate_limited',
        `Cloudflare API ${answer}; no call before ${new Date(until).toISOString()}`,
      ),
      cache: 'never',
    };
  }
  if (status === 404 || codes.has(CODE_PROJECT_NOT_FOUND)) {
    return {
      ok: false,
      result: degraded(
        'http_404',
        `project ${surface.project} is not in the account named by ${surface.account_id_env} (${answer})`,
      ),
      cache: 'error',
    };
  }
  if (isAuthRefusal(cloudflare)) {
    return {
      ok: false,
      result: degraded(
        'api_auth_failed',
        `${authRefusalCause(cloudflare, surface.token_env)} for this account or project`,
      ),
      cache: 'error',
    };
  }
  if (envelope?.success === false) {
    return { ok: false, result: degraded('api_error', `Cloudflare API error (${answer})`), cache: 'error' };
  }
  if (status < 200 || status >= 300) {
    return {
      ok: false,
      result: degraded(httpStatusCode('api_http_', status), `Cloudflare API answered ${answer}`),
      cache: status < 500 ? 'error' : 'never',
    };
  }
  const list = parseJsonBody(response, listSchema, 'Cloudflare API deployments');
  if (!list.ok) return { ok: false, result: degraded('api_bad_response', list.detail), cache: 'error' };
  const { result, result_info } = list.value;
  // Without result_info, a full page is the only hint that another one follows.
  const totalPages = result_info?.total_pages ?? (result.length >= DEPLOYMENTS_PER_PAGE ? Infinity : 1);
  return { ok: true, deployments: result, totalPages };
}

/**
 * The deployments of the surface's environment and branch, newest `created_on` first (the list has
 * no documented order), and the newest that was not skipped: the one that decides.
 */
function newestCounting(
  surface: CloudflarePagesSurface,
  deployments: readonly Deployment[],
): { counting: Deployment[]; judged: Deployment | undefined; skippedNewer: Deployment[] } {
  const counting = deployments
    .filter((deployment) => (deployment.environment ?? surface.environment) === surface.environment)
    .filter(
      (deployment) =>
        surface.branch === undefined || deployment.deployment_trigger?.metadata?.branch === surface.branch,
    )
    .sort((a, b) => createdMs(b) - createdMs(a));
  const index = counting.findIndex((deployment) => deployment.is_skipped !== true);
  return {
    counting,
    judged: index < 0 ? undefined : counting[index],
    skippedNewer: index < 0 ? counting : counting.slice(0, index),
  };
}

function createdMs(deployment: Deployment): number {
  const ms = Date.parse(deployment.created_on);
  return Number.isNaN(ms) ? Number.NEGATIVE_INFINITY : ms;
}

/** "newest 2 deployments skipped (path_config)". */
function skippedNote(skipped: readonly Deployment[]): string {
  const reasons = [...new Set(skipped.map((deployment) => deployment.skip_reason ?? 'no reason given'))];
  const which = skipped.length === 1 ? 'newest deployment' : `newest ${skipped.length} deployments`;
  return providerText(`${which} skipped (${reasons.join(', ')})`);
}

function judgeDeployments(
  ctx: ProbeContext,
  surface: CloudflarePagesSurface,
  deployments: readonly Deployment[],
  read: { pagesRead: number; morePages: boolean },
): { result: ProbeResult<Code>; cache: Reuse } {
  const { counting, judged, skippedNewer } = newestCounting(surface, deployments);
  const which = `${surface.environment} deployment${surface.branch === undefined ? '' : ` of branch ${surface.branch}`}`;
  if (judged === undefined) {
    const where = read.morePages ? ` in the newest ${read.pagesRead} page(s) of the list` : '';
    const detail =
      counting.length === 0
        ? `project ${surface.project} has no ${which}${where}`
        : `project ${surface.project} has no ${which} that was not skipped${where}: ${skippedNote(skippedNewer)}`;
    return { result: degraded('no_deployments', providerText(detail)), cache: 'terminal' };
  }
  const verdict = judgeDeployment(ctx, judged);
  if (skippedNewer.length === 0) return verdict;
  return {
    ...verdict,
    result: { ...verdict.result, detail: `${verdict.result.detail}; ${skippedNote(skippedNewer)}` },
  };
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

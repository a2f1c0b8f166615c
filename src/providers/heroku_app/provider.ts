import { z } from 'zod';
import type { CodeOf, CoreCode } from '../../core/codes.js';
import { httpStatusCode } from '../../core/codes.js';
import { type AccessServiceToken, readAccessToken, readSecret } from '../../core/env.js';
import { degraded, down, type ProbeResult, skipped, up } from '../../core/result.js';
import { ENV_VAR_NAME, HTTP_URL, surfaceBase } from '../../core/surface.js';
import { type HttpResponse, headerValue } from '../../transport/client.js';
import { redactUrl } from '../../transport/redact.js';
import { defineProvider, type ProbeContext } from '../contract.js';
import { ACCESS_APP, ACCESS_DENY_URL, ACCESS_TOKEN_ENV } from '../shared/accessGate.js';
import {
  Cooldown,
  integerHeader,
  parseJsonBody,
  providerText,
  retryAfterMs,
  transportFailure,
} from '../shared/api.js';
import {
  ERROR_TTL_CAP_MS,
  OPERATOR_FRESHNESS_BELOW_MS,
  PLANNED_FRACTION_OF_SHARE,
  REFRESH_FORGOTTEN_AFTER_MS,
  RecentRefreshes,
} from '../shared/budget.js';
import {
  ACCESS_GATE_CODE_DOCS,
  CONDITION_CODE_DOCS,
  HEALTH_CODE_DOCS,
  PROVIDER_API_CODE_DOCS,
  TRANSPORT_CODE_DOCS,
} from '../shared/codes.js';
import { expectSchema } from '../shared/conditions.js';
import { TARGET_RESPONSE_FAMILIES, targetEvidenceOf } from '../shared/evidence.js';
import { checkHealth } from '../shared/healthCheck.js';
import { herokuApiUrl, herokuErrorId, herokuHeaders, herokuSaid } from './api.js';
import { HEROKU_APP_CODE_DOCS } from './codes.js';
import { herokuAppOnline } from './online.js';

const APP_NAME = /^[a-z][a-z0-9-]{1,28}[a-z0-9]$/;
const APP_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const herokuAppSurface = surfaceBase
  .extend({
    provider: z
      .literal('heroku_app')
      .describe(
        'A Heroku app: its formation, dynos and maintenance flag from the Platform API, then web_url + health_path.',
      ),
    app: z
      .string()
      .refine((value) => APP_NAME.test(value) || APP_ID.test(value), 'a Heroku app name or id')
      .describe('The Heroku app name or id; required, no default.'),
    health_path: z
      .string()
      .regex(/^\/\S*$/, 'a path starting with /')
      .default('/health')
      .describe("Path requested on the app's own web_url (never a custom domain); default /health."),
    health_url: HTTP_URL.optional().describe(
      'A full health URL that replaces web_url + health_path: for an app whose herokuapp.com URL redirects to its custom domain or refuses that host, or a Private Space app with internal routing.',
    ),
    api_key_env: ENV_VAR_NAME.default('HEROKU_API_KEY').describe(
      'Variable holding the Heroku API key sent as a Bearer token; default HEROKU_API_KEY.',
    ),
    access_token_env: ACCESS_TOKEN_ENV,
    access_deny_url: ACCESS_DENY_URL,
    access_app: ACCESS_APP,
    expect: expectSchema
      .optional()
      .describe('Conditions the health answer must meet, as on an http surface; default any 2xx.'),
  })
  .strict();

export type HerokuAppSurface = z.infer<typeof herokuAppSurface>;

// Heroku gives an account 4,500 calls an hour (refilled at ~75 a minute) shared with every other
// client of that account: CI, the CLI, dashboards. Below 10 % the exporter lengthens its metadata
// refresh in proportion to how empty the pool is, up to tenfold, so that it leaves the refill to the
// others instead of draining the pool into 429s that would blind every Heroku surface at once.
const HEROKU_HOURLY_BUDGET = 4500;
const LOW_BUDGET_THRESHOLD = HEROKU_HOURLY_BUDGET * 0.1;
const MAX_TTL_STRETCH = 10;
// With caching switched off (metadata_ttl_seconds: 0) a low pool would still be drained; a minute is the
// refill period Heroku quotes, so stretching starts from there.
const LOW_BUDGET_MIN_TTL_MS = 60_000;
// Feed-forward beside that feedback: a refresh of one app costs three calls (app, formation, dynos),
// so refreshing A apps every TTL spends 3A x 3600 / TTL calls an hour. The TTL is lengthened until
// that fits the part of the hourly budget this process may plan for (its budgetShare: 1/N of the
// account for one of N shards, which all spend the same account), keeping a fifth of it for the
// account's other clients, so that N shards never plan more than one account's refill together.
// A TTL configured under a minute (OPERATOR_FRESHNESS_BELOW_MS) is taken as given, and the pool
// feedback above remains its guard.
const CALLS_PER_REFRESH = 3;
// A 429 without Retry-After: a minute refills 75 calls, enough for this exporter to resume.
const DEFAULT_RATE_LIMIT_WAIT_MS = 60_000;
// A page of 1,000 dynos (the most Heroku sends) is about 500 KB.
const LIST_BODY_CAP_BYTES = 1024 * 1024;
// The dyno list holds every process type (one-off `run` dynos too), 200 per page unless asked for
// more: the largest page is asked for, and at most 5 pages are followed, 5,000 dynos.
const DYNO_RANGE = 'name ..; max=1000';
const MAX_DYNO_PAGES = 5;
const APP_BODY_CAP_BYTES = 64 * 1024;

/**
 * The documented dyno states (crashed, down, idle, starting, up) and `created`, seen in router logs
 * before `starting`. `idle` is a sleeping eco dyno, which wakes on the next request. Any other state
 * is named in the detail and counted neither as serving nor as crashed.
 */
type DynoCondition = 'serving' | 'sleeping' | 'starting' | 'crashed' | 'unknown';
const DYNO_CONDITIONS: Readonly<Record<string, DynoCondition>> = {
  up: 'serving',
  idle: 'sleeping',
  starting: 'starting',
  created: 'starting',
  crashed: 'crashed',
  down: 'crashed',
};

const appSchema = z.looseObject({
  name: z.string(),
  maintenance: z.boolean(),
  web_url: z.string().nullable(),
  internal_routing: z.boolean().nullable().optional(),
});
const formationSchema = z.array(z.looseObject({ type: z.string(), quantity: z.number().int().min(0) }));
const dynosSchema = z.array(z.looseObject({ type: z.string(), name: z.string(), state: z.string() }));

interface WebDyno {
  name: string;
  state: string;
}

interface AppSnapshot {
  name: string;
  webUrl: string | null;
  maintenance: boolean;
  /** Private Space app not routable from the internet. */
  internalRouting: boolean;
  /** undefined when the app has no `web` process type. */
  webQuantity: number | undefined;
  webDynos: WebDyno[];
  /** False when the dyno list had more pages than were read. */
  dynoListComplete: boolean;
}

type Loaded<T> = { ok: true; value: T } | { ok: false; result: ProbeResult<Code>; cacheable: boolean };

const CODES = [
  ...HEROKU_APP_CODE_DOCS,
  ...PROVIDER_API_CODE_DOCS,
  ...HEALTH_CODE_DOCS,
  ...CONDITION_CODE_DOCS,
  ...ACCESS_GATE_CODE_DOCS,
  ...TRANSPORT_CODE_DOCS,
] as const;
type Code = CodeOf<typeof CODES> | CoreCode;

export const herokuAppProvider = defineProvider({
  name: 'heroku_app',
  schema: herokuAppSurface,
  codes: CODES,
  async probe(surface, ctx) {
    const apiKey = readSecret(ctx.env, surface.api_key_env);
    if (!apiKey.ok) return skipped(apiKey);
    let accessToken: AccessServiceToken | undefined;
    if (surface.access_token_env) {
      const token = readAccessToken(ctx.env, surface.access_token_env);
      if (!token.ok) return skipped(token);
      accessToken = token.value;
    }
    const api = new HerokuApi(ctx, surface.api_key_env, apiKey.value);
    const loaded = await loadSnapshot(ctx, api, surface.app);
    if (!loaded.ok) return loaded.result;
    return judgeApp(ctx, surface, loaded.value, accessToken);
  },
  target: (surface) =>
    surface.health_url === undefined
      ? `heroku app ${surface.app}: web_url${surface.health_path}`
      : `heroku app ${surface.app}: ${redactUrl(surface.health_url)}`,
  online: herokuAppOnline,
  credentials: (surface) => [
    surface.api_key_env,
    ...(surface.access_token_env ? [surface.access_token_env] : []),
  ],
  families: TARGET_RESPONSE_FAMILIES,
});

/**
 * App metadata, formation and dynos, cached per app for metadata_ttl_seconds: surfaces naming the
 * same app share one entry, and concurrent probes share one load.
 */
async function loadSnapshot(ctx: ProbeContext, api: HerokuApi, app: string): Promise<Loaded<AppSnapshot>> {
  return ctx.cache.getOrLoad(`heroku:${api.account}:app:${app}`, async () => {
    const refreshedApps = api.noteRefresh(app);
    const loaded = await fetchSnapshot(api, app);
    let ttlMs = 0;
    if (loaded.ok) ttlMs = api.metadataTtlMs(refreshedApps);
    else if (loaded.cacheable) ttlMs = Math.min(ctx.metadataTtlSeconds * 1000, ERROR_TTL_CAP_MS);
    return { value: loaded, ttlMs };
  });
}

async function fetchSnapshot(api: HerokuApi, app: string): Promise<Loaded<AppSnapshot>> {
  const path = `/apps/${encodeURIComponent(app)}`;
  const info = await api.get(path, appSchema, APP_BODY_CAP_BYTES);
  if (!info.ok) return info;
  const [formation, dynos] = await Promise.all([
    api.get(`${path}/formation`, formationSchema, LIST_BODY_CAP_BYTES),
    api.getRanged(`${path}/dynos`, dynosSchema, { range: DYNO_RANGE, maxPages: MAX_DYNO_PAGES }),
  ]);
  if (!formation.ok) return formation;
  if (!dynos.ok) return dynos;
  return {
    ok: true,
    value: {
      name: info.value.name,
      webUrl: info.value.web_url,
      maintenance: info.value.maintenance,
      internalRouting: info.value.internal_routing === true,
      webQuantity: formation.value.find((entry) => entry.type === 'web')?.quantity,
      webDynos: dynos.value.items
        .filter((dyno) => dyno.type === 'web')
        .map((dyno) => ({ name: dyno.name, state: dyno.state })),
      dynoListComplete: dynos.value.complete,
    },
  };
}

/** Names the root cause: formation and dynos, then maintenance, then sleep, then the health check. */
async function judgeApp(
  ctx: ProbeContext,
  surface: HerokuAppSurface,
  app: AppSnapshot,
  accessToken: AccessServiceToken | undefined,
): Promise<ProbeResult<Code>> {
  const dynos = judgeDynos(app);
  // With no web dyno serving, a failing /health says nothing new; the app is not even asked.
  if (dynos.verdict?.status === 'down' || dynos.verdict?.code === 'dyno_starting') return dynos.verdict;
  const target = healthTarget(surface, app);
  if (target.kind === 'bad') return degraded('api_bad_response', target.detail);
  // A request would wake an eco app that sleeps (and keep it awake with every probe): while every
  // web dyno is idle the app is judged by its dynos alone.
  const asleep = dynos.sleeping && surface.health_url === undefined && !app.maintenance && !dynos.verdict;
  let health: ProbeResult<Code> | undefined;
  if (target.kind === 'url' && !asleep) {
    // Without expectGate the health check cannot answer access_gate_missing.
    health = (await checkHealth(ctx, {
      url: target.url,
      accessToken,
      accessDenyUrl: surface.access_deny_url,
      // The herokuapp.com URL redirecting (to a custom domain, usually) is not the app failing.
      redirectHint: surface.health_url === undefined ? 'set health_url to the URL to probe' : undefined,
      expect: surface.expect,
    })) as ProbeResult<Code>;
  }
  // checkHealth's details start with "health check" for failures but not for a 2xx.
  const healthSaid = health?.detail.replace(/^health check:? /, '');
  const healthNote = health ? `; health check: ${healthSaid}` : '';
  // What the health request showed (certificate, phases, conditions) stays whatever the verdict.
  const evidence = health ? targetEvidenceOf(health) : {};
  if (dynos.verdict) return { ...dynos.verdict, ...evidence, detail: `${dynos.verdict.detail}${healthNote}` };
  if (app.maintenance) {
    return {
      ...degraded(
        'maintenance_mode',
        `${app.name} is in maintenance mode, so Heroku serves its maintenance page${healthNote}`,
      ),
      ...evidence,
    };
  }
  if (asleep) {
    return up(`${dynos.summary}: the eco app sleeps; health check skipped so as not to wake it`);
  }
  if (target.kind === 'none') return up(`${dynos.summary}; ${target.detail}, health check skipped`);
  if (!health) return up(dynos.summary);
  if (health.status !== 'up') return { ...health, detail: `${health.detail}; dynos: ${dynos.summary}` };
  return { ...up(`${dynos.summary}${healthNote}`), ...evidence };
}

type HealthTarget = { kind: 'url'; url: string } | { kind: 'none' | 'bad'; detail: string };

/** health_url when set; else the app's own web_url, unless it has none or is only routable inside its Private Space. */
function healthTarget(surface: HerokuAppSurface, app: AppSnapshot): HealthTarget {
  if (surface.health_url !== undefined) return { kind: 'url', url: surface.health_url };
  if (app.internalRouting) {
    return {
      kind: 'none',
      detail:
        'internal routing (Private Space): web_url is not reachable from outside the space; set health_url to a URL the exporter can reach',
    };
  }
  if (app.webUrl === null) return { kind: 'none', detail: 'no web_url' };
  const url = healthUrl(app.webUrl, surface.health_path);
  if (url === undefined)
    return { kind: 'bad', detail: `Heroku API: web_url of ${app.name} is not an http(s) URL` };
  return { kind: 'url', url };
}

interface DynoJudgement {
  /** A dyno problem that decides (or qualifies) the result; undefined when the dynos are fine. */
  verdict?: ProbeResult<Code>;
  /** Every listed web dyno is idle: an eco app asleep. */
  sleeping: boolean;
  /** "2 web dynos up, web.3 starting", for the detail. */
  summary: string;
}

/**
 * A missing dyno is never read as a crash: a dyno being created is not listed yet, and a list cut
 * short (more pages than were read) leaves dynos out. Only listed states count.
 */
function judgeDynos(app: AppSnapshot): DynoJudgement {
  if (app.webQuantity === undefined) {
    return {
      verdict: down('no_web_dyno', `${app.name} has no web process type: deploy the app first`),
      sleeping: false,
      summary: 'no web process type',
    };
  }
  if (app.webQuantity === 0) {
    return {
      verdict: down('no_web_dyno', `${app.name} has web scaled to 0 dynos (heroku ps:scale web=1)`),
      sleeping: false,
      summary: 'web scaled to 0',
    };
  }
  const by = (condition: DynoCondition) =>
    app.webDynos.filter((dyno) => (DYNO_CONDITIONS[dyno.state] ?? 'unknown') === condition);
  const serving = by('serving');
  const sleeping = by('sleeping');
  const starting = by('starting');
  const crashed = by('crashed');
  const unknown = by('unknown');
  const named = (dynos: WebDyno[]) =>
    dynos
      .slice(0, 5)
      .map((dyno) => providerText(`${dyno.name} ${dyno.state}`))
      .concat(dynos.length > 5 ? [`${dynos.length - 5} more`] : []);
  const notServing = [...starting, ...crashed, ...unknown];
  const unlisted = Math.max(0, app.webQuantity - app.webDynos.length);
  const notes = [
    ...(notServing.length > 0 ? [named(notServing).join(', ')] : []),
    ...(unlisted > 0 && app.dynoListComplete ? [`${unlisted} of ${app.webQuantity} not listed yet`] : []),
    ...(app.dynoListComplete
      ? []
      : [`the dyno list has more than ${MAX_DYNO_PAGES} pages; only the first ${MAX_DYNO_PAGES} were read`]),
  ];
  const counts = [
    ...(serving.length > 0 ? [`${serving.length} web dyno(s) up`] : []),
    ...(sleeping.length > 0 ? [`${sleeping.length} idle (eco, asleep)`] : []),
  ];
  const summary = [...(counts.length > 0 ? counts : ['no web dyno up']), ...notes].join(', ');
  const listed = app.webDynos.length;
  const result = (verdict: ProbeResult<Code> | undefined): DynoJudgement => ({
    verdict,
    sleeping: listed > 0 && sleeping.length === listed,
    summary,
  });
  if (serving.length + sleeping.length === 0 && listed > 0) {
    if (starting.length > 0) {
      return result(
        degraded(
          'dyno_starting',
          `no web dyno of ${app.name} serves and ${starting.length} are starting (restart or deploy in progress): ${summary}`,
        ),
      );
    }
    if (crashed.length > 0) {
      return result(
        down('dyno_crashed', `none of ${listed} web dynos of ${app.name} is up (${notes.join(', ')})`),
      );
    }
  }
  if (crashed.length > 0) {
    return result(
      degraded(
        'dyno_crashed',
        `${crashed.length} of ${listed} web dynos of ${app.name} crashed or down (${summary})`,
      ),
    );
  }
  return result(undefined);
}

/** The direct herokuapp.com URL: never a custom domain, which may sit behind Cloudflare Access. */
function healthUrl(webUrl: string, healthPath: string): string | undefined {
  try {
    const base = new URL(webUrl);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') return undefined;
    return `${base.origin}${base.pathname.replace(/\/+$/, '')}${healthPath}`;
  } catch {
    return undefined;
  }
}

/** Calls to one Heroku account (one API key), with the rate budget it reports. */
class HerokuApi {
  readonly account: string;
  private readonly baseUrl: string;
  private readonly cooldown: Cooldown;
  private remaining: number | undefined;

  constructor(
    private readonly ctx: ProbeContext,
    private readonly keyVariable: string,
    private readonly apiKey: string,
  ) {
    this.baseUrl = herokuApiUrl(ctx.env);
    // Keyed by the variable's name, never its value: the budget is per account, i.e. per key.
    this.account = `${this.baseUrl} ${keyVariable}`;
    this.cooldown = new Cooldown(ctx.cache, `heroku:${this.account}:not-before`);
  }

  /** `refreshedApps`: how many apps of this account the process refreshes (noteRefresh). */
  metadataTtlMs(refreshedApps: number): number {
    const configured = this.ctx.metadataTtlSeconds * 1000;
    const plannedCallsPerHour = HEROKU_HOURLY_BUDGET * this.ctx.budgetShare * PLANNED_FRACTION_OF_SHARE;
    const planned =
      configured < OPERATOR_FRESHNESS_BELOW_MS
        ? configured
        : Math.max(configured, (refreshedApps * CALLS_PER_REFRESH * 3_600_000) / plannedCallsPerHour);
    if (this.remaining === undefined || this.remaining >= LOW_BUDGET_THRESHOLD) return planned;
    const stretch = Math.min(MAX_TTL_STRETCH, LOW_BUDGET_THRESHOLD / Math.max(this.remaining, 1));
    return Math.max(planned, LOW_BUDGET_MIN_TTL_MS) * stretch;
  }

  /** Records a refresh of `app` and answers how many apps of this account were refreshed within the hour. */
  noteRefresh(app: string): number {
    const refreshed = this.ctx.plans.of(`heroku:${this.account}:refreshed-apps`, () => new RecentRefreshes());
    const now = this.ctx.monotonic();
    refreshed.refreshed(app, now, true);
    refreshed.forget(now, REFRESH_FORGOTTEN_AFTER_MS);
    return refreshed.size;
  }

  async get<T>(path: string, schema: z.ZodType<T>, maxBodyBytes: number): Promise<Loaded<T>> {
    const sent = await this.send(path, maxBodyBytes, {});
    if (!sent.ok) return sent;
    const parsed = parseJsonBody(sent.value, schema, `Heroku API GET ${path}`);
    if (parsed.ok) return parsed;
    return { ok: false, cacheable: true, result: degraded('api_bad_response', parsed.detail) };
  }

  /**
   * A list read range by range: a 206 carries `Next-Range`, sent back as `Range` for the next page,
   * up to `maxPages`. `complete` is false when a Next-Range was left unfollowed.
   */
  async getRanged<T>(
    path: string,
    schema: z.ZodType<T[]>,
    ranged: { range: string; maxPages: number },
  ): Promise<Loaded<{ items: T[]; complete: boolean }>> {
    const items: T[] = [];
    let range: string | undefined = ranged.range;
    for (let page = 1; page <= ranged.maxPages && range !== undefined; page++) {
      const sent = await this.send(path, LIST_BODY_CAP_BYTES, { Range: range });
      if (!sent.ok) return sent;
      const parsed = parseJsonBody(sent.value, schema, `Heroku API GET ${path}`);
      if (!parsed.ok)
        return { ok: false, cacheable: true, result: degraded('api_bad_response', parsed.detail) };
      items.push(...parsed.value);
      range =
        sent.value.status === 206
          ? headerValue(sent.value.headers, 'next-range')?.trim() || undefined
          : undefined;
    }
    return { ok: true, value: { items, complete: range === undefined } };
  }

  /** One call: a 2xx response, or what the failure means. */
  private async send(
    path: string,
    maxBodyBytes: number,
    extraHeaders: Record<string, string>,
  ): Promise<Loaded<HttpResponse>> {
    const waitUntil = await this.cooldown.until();
    if (waitUntil !== undefined) {
      return {
        ok: false,
        cacheable: false,
        result: degraded(
          'rate_limited',
          `Heroku API rate limited: no call before ${new Date(waitUntil).toISOString()} (Retry-After)`,
        ),
      };
    }
    // Only ever called inside a shared load (loadSnapshot): a surface that joins it late must not be
    // cut short by the deadline of the surface that started it.
    const outcome = await this.ctx.requestShared({
      url: `${this.baseUrl}${path}`,
      headers: { ...herokuHeaders(this.apiKey), ...extraHeaders },
      maxBodyBytes,
    });
    if (outcome.kind === 'failure') {
      return {
        ok: false,
        cacheable: false,
        result: transportFailure(outcome, 'connection_error', `Heroku API GET ${path}`),
      };
    }
    const remaining = integerHeader(outcome, 'ratelimit-remaining');
    if (remaining !== undefined) {
      this.remaining = remaining;
      // Heroku reports what is left but not the pool's size: the documented 4,500 stands for it.
      this.ctx.reportRateLimit('heroku', remaining, HEROKU_HOURLY_BUDGET);
    }
    if (outcome.status >= 200 && outcome.status < 300) return { ok: true, value: outcome };
    return this.failed(path, outcome);
  }

  private async failed(path: string, response: HttpResponse): Promise<Loaded<never>> {
    const answer = `HTTP ${response.status}${herokuSaid(response, this.apiKey)}`;
    const status = response.status;
    if (status === 429) {
      const now = this.ctx.now();
      const until = await this.cooldown.start(retryAfterMs(response, now) ?? DEFAULT_RATE_LIMIT_WAIT_MS, now);
      return {
        ok: false,
        cacheable: false,
        result: degraded(
          'rate_limited',
          `Heroku API GET ${path}: ${answer}; no call before ${new Date(until).toISOString()}`,
        ),
      };
    }
    const id = herokuErrorId(response);
    if (status === 402 || id === 'delinquent' || id === 'suspended') {
      const problem = id === 'suspended' ? 'suspended' : 'delinquent (unpaid invoices)';
      return {
        ok: false,
        cacheable: true,
        result: degraded(
          'api_auth_failed',
          `Heroku account problem, not a key to rotate: the account of ${this.keyVariable} is ${problem} (GET ${path}: ${answer}); its owner must settle it with Heroku`,
        ),
      };
    }
    if (status === 401 || status === 403) {
      return {
        ok: false,
        cacheable: true,
        result: degraded(
          'api_auth_failed',
          `Heroku API refused the key in ${this.keyVariable} for GET ${path}: ${answer}`,
        ),
      };
    }
    if (status === 404) {
      return {
        ok: false,
        cacheable: true,
        result: degraded('app_not_found', `Heroku API GET ${path}: ${answer}: no such app for this key`),
      };
    }
    return {
      ok: false,
      cacheable: status < 500,
      result: degraded(httpStatusCode('api_http_', status), `Heroku API GET ${path}: ${answer}`),
    };
  }
}

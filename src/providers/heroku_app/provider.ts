import { z } from 'zod';
import type { CodeOf, CoreCode } from '../../core/codes.js';
import { httpStatusCode } from '../../core/codes.js';
import { type AccessServiceToken, readAccessToken, readSecret } from '../../core/env.js';
import { degraded, down, type ProbeResult, skipped, up } from '../../core/result.js';
import { ENV_VAR_NAME, surfaceBase } from '../../core/surface.js';
import type { HttpResponse } from '../../transport/client.js';
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
  ACCESS_GATE_CODE_DOCS,
  HEALTH_CODE_DOCS,
  PROVIDER_API_CODE_DOCS,
  TRANSPORT_CODE_DOCS,
} from '../shared/codes.js';
import { TARGET_RESPONSE_FAMILIES } from '../shared/evidence.js';
import { checkHealth } from '../shared/healthCheck.js';
import { herokuApiUrl, herokuHeaders, herokuSaid } from './api.js';
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
    api_key_env: ENV_VAR_NAME.default('HEROKU_API_KEY').describe(
      'Variable holding the Heroku API key sent as a Bearer token; default HEROKU_API_KEY.',
    ),
    access_token_env: ACCESS_TOKEN_ENV,
    access_deny_url: ACCESS_DENY_URL,
    access_app: ACCESS_APP,
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
// A TTL configured under the refill minute is an operator choosing freshness over budget (or a test):
// it is taken as given, and the pool feedback above remains its guard.
const CALLS_PER_REFRESH = 3;
const PLANNED_FRACTION_OF_SHARE = 0.8;
// An app not refreshed for an hour has left the registry (or this shard): it no longer counts.
const APP_FORGOTTEN_AFTER_MS = 3_600_000;
// A 429 without Retry-After: a minute refills 75 calls, enough for this exporter to resume.
const DEFAULT_RATE_LIMIT_WAIT_MS = 60_000;
// An error answer (bad key, unknown app) may be fixed at any moment; it is re-checked at least every minute.
const ERROR_TTL_CAP_MS = 60_000;
// A list of 200 dynos (the default page) is about 100 KB.
const LIST_BODY_CAP_BYTES = 1024 * 1024;
const APP_BODY_CAP_BYTES = 64 * 1024;

/** States in which a web dyno serves or will serve requests; `idle` is a sleeping eco dyno that wakes on a request. */
const SERVING_DYNO_STATES = new Set(['up', 'idle', 'starting']);

const appSchema = z.looseObject({
  name: z.string(),
  maintenance: z.boolean(),
  web_url: z.string().nullable(),
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
  /** undefined when the app has no `web` process type. */
  webQuantity: number | undefined;
  webDynos: WebDyno[];
}

type Loaded<T> = { ok: true; value: T } | { ok: false; result: ProbeResult<Code>; cacheable: boolean };

const CODES = [
  ...HEROKU_APP_CODE_DOCS,
  ...PROVIDER_API_CODE_DOCS,
  ...HEALTH_CODE_DOCS,
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
  target: (surface) => `heroku app ${surface.app}: web_url${surface.health_path}`,
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
    const refreshedApps = await api.noteRefresh(app);
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
    api.get(`${path}/dynos`, dynosSchema, LIST_BODY_CAP_BYTES),
  ]);
  if (!formation.ok) return formation;
  if (!dynos.ok) return dynos;
  return {
    ok: true,
    value: {
      name: info.value.name,
      webUrl: info.value.web_url,
      maintenance: info.value.maintenance,
      webQuantity: formation.value.find((entry) => entry.type === 'web')?.quantity,
      webDynos: dynos.value
        .filter((dyno) => dyno.type === 'web')
        .map((dyno) => ({ name: dyno.name, state: dyno.state })),
    },
  };
}

/** Names the root cause: formation and dynos, then maintenance, then the health check. */
async function judgeApp(
  ctx: ProbeContext,
  surface: HerokuAppSurface,
  app: AppSnapshot,
  accessToken: AccessServiceToken | undefined,
): Promise<ProbeResult<Code>> {
  const dynos = judgeDynos(app);
  // With no web dyno serving, a failing /health says nothing new; the app is not even asked.
  if (dynos?.status === 'down') return dynos;
  let health: ProbeResult<Code> | undefined;
  if (app.webUrl !== null) {
    const url = healthUrl(app.webUrl, surface.health_path);
    if (url === undefined) {
      return degraded('api_bad_response', `Heroku API: web_url of ${app.name} is not an http(s) URL`);
    }
    health = await checkHealth(ctx, { url, accessToken, accessDenyUrl: surface.access_deny_url });
  }
  // checkHealth's details start with "health check" for failures but not for a 2xx.
  const healthSaid = health?.detail.replace(/^health check:? /, '');
  const healthNote = health ? `; health check: ${healthSaid}` : '';
  // What the health request showed (certificate, phases, conditions) stays whatever the verdict.
  const evidence = health ? targetEvidenceOf(health) : {};
  if (dynos) return { ...dynos, ...evidence, detail: `${dynos.detail}${healthNote}` };
  if (app.maintenance) {
    return {
      ...degraded(
        'maintenance_mode',
        `${app.name} is in maintenance mode, so Heroku serves its maintenance page${healthNote}`,
      ),
      ...evidence,
    };
  }
  const dynoSummary = `${app.webDynos.length} web dyno(s) up`;
  if (!health) return up(`${dynoSummary}; no web_url, health check skipped`);
  if (health.status !== 'up') return health;
  return { ...up(`${dynoSummary}${healthNote}`), ...evidence };
}

function targetEvidenceOf(health: ProbeResult): Pick<ProbeResult, 'tls' | 'samples' | 'conditions'> {
  const { tls, samples, conditions } = health;
  return {
    ...(tls ? { tls } : {}),
    ...(samples ? { samples } : {}),
    ...(conditions ? { conditions } : {}),
  };
}

function judgeDynos(app: AppSnapshot): ProbeResult<Code> | undefined {
  if (app.webQuantity === undefined) {
    return down('no_web_dyno', `${app.name} has no web process type: deploy the app first`);
  }
  if (app.webQuantity === 0) {
    return down('no_web_dyno', `${app.name} has web scaled to 0 dynos (heroku ps:scale web=1)`);
  }
  const notServing = app.webDynos.filter((dyno) => !SERVING_DYNO_STATES.has(dyno.state));
  const missing = Math.max(0, app.webQuantity - app.webDynos.length);
  const expected = Math.max(app.webQuantity, app.webDynos.length);
  const notUp = notServing.length + missing;
  if (notUp === 0) return undefined;
  const listed = notServing
    .slice(0, 5)
    .map((dyno) => providerText(`${dyno.name} ${dyno.state}`))
    .concat(missing > 0 ? [`${missing} missing`] : [])
    .join(', ');
  if (notUp >= expected) {
    return down('dyno_crashed', `none of ${expected} web dynos of ${app.name} is up (${listed})`);
  }
  return degraded('dyno_crashed', `${notUp} of ${expected} web dynos of ${app.name} not up (${listed})`);
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
      configured < LOW_BUDGET_MIN_TTL_MS
        ? configured
        : Math.max(configured, (refreshedApps * CALLS_PER_REFRESH * 3_600_000) / plannedCallsPerHour);
    if (this.remaining === undefined || this.remaining >= LOW_BUDGET_THRESHOLD) return planned;
    const stretch = Math.min(MAX_TTL_STRETCH, LOW_BUDGET_THRESHOLD / Math.max(this.remaining, 1));
    return Math.max(planned, LOW_BUDGET_MIN_TTL_MS) * stretch;
  }

  /** Records a refresh of `app` and answers how many apps of this account were refreshed within the hour. */
  async noteRefresh(app: string): Promise<number> {
    const refreshed = await this.ctx.cache.getOrLoad(`heroku:${this.account}:refreshed-apps`, async () => ({
      value: new Map<string, number>(),
      ttlMs: 365 * 24 * 3_600_000,
    }));
    const now = this.ctx.now();
    refreshed.delete(app);
    refreshed.set(app, now);
    // Pruned once per app per hour at most: the oldest entries come first in a Map re-set in time order.
    for (const [name, at] of refreshed) {
      if (now - at < APP_FORGOTTEN_AFTER_MS) break;
      refreshed.delete(name);
    }
    return refreshed.size;
  }

  async get<T>(path: string, schema: z.ZodType<T>, maxBodyBytes: number): Promise<Loaded<T>> {
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
      headers: herokuHeaders(this.apiKey),
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
    if (outcome.status >= 200 && outcome.status < 300) {
      const parsed = parseJsonBody(outcome, schema, `Heroku API GET ${path}`);
      if (parsed.ok) return parsed;
      return { ok: false, cacheable: true, result: degraded('api_bad_response', parsed.detail) };
    }
    return this.failed(path, outcome);
  }

  private async failed(path: string, response: HttpResponse): Promise<Loaded<never>> {
    const answer = `HTTP ${response.status}${herokuSaid(response, this.apiKey)}`;
    const status = response.status;
    if (status === 429) {
      const now = this.ctx.now();
      const until = now + (retryAfterMs(response, now) ?? DEFAULT_RATE_LIMIT_WAIT_MS);
      await this.cooldown.start(until, now);
      return {
        ok: false,
        cacheable: false,
        result: degraded(
          'rate_limited',
          `Heroku API GET ${path}: ${answer}; no call before ${new Date(until).toISOString()}`,
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

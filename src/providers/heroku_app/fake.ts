import { randomUUID } from 'node:crypto';
// Types only, never imported at runtime: Heroku's schema keeps the builders honest.
import type { App, Dyno, Formation } from '@heroku-cli/schema';
import {
  controlsOf,
  type Documented,
  type FakeControls,
  FakeHttp,
  type FakeReply,
  type FakeRequest,
} from '../shared/fakeServer.js';

/**
 * A fake Heroku Platform API (apps, formation, dynos in Range pages, errors, RateLimit-Remaining,
 * 429) and a fake Heroku router serving each app's web_url, both on loopback. Wire format:
 * provider-apis.md §1 and §7.4.
 */

export const HEROKU_ACCEPT = 'application/vnd.heroku+json; version=3';
const RATE_POOL_MAX = 4500;
const RATE_REFILL_PER_MS = 75 / 60_000;
const TIMESTAMP = '2012-01-01T12:00:00Z';
// §7.4: 200 items per page unless the Range asks for more, 1,000 at most.
const DEFAULT_PAGE_SIZE = 200;
const MAX_PAGE_SIZE = 1000;

export type DynoState = 'crashed' | 'down' | 'idle' | 'starting' | 'up' | (string & {});

export interface FakeHerokuAppSpec {
  name: string;
  /** Overrides the router URL, e.g. to a closed port or another server. */
  webUrl?: string | null;
  maintenance?: boolean;
  /** Web dynos to run (default 1); null for an app without a web process type. */
  webQuantity?: number | null;
  /** Status of `GET <web_url>/health` while a web dyno serves (default 200). */
  healthStatus?: number;
  /** A Private Space app: `space` is set, and `internal_routing` as given. */
  privateSpace?: { internalRouting: boolean };
}

interface FakeDyno {
  id: string;
  name: string;
  type: string;
  state: DynoState;
  updatedAt: string;
}

interface FakeApp {
  id: string;
  name: string;
  webUrl: string | null;
  maintenance: boolean;
  web: { id: string; quantity: number } | null;
  dynos: FakeDyno[];
  healthStatus: number;
  healthDropped: boolean;
  /** The router answers every request with a 301 here (a custom domain), when set. */
  redirectTo: string | undefined;
  privateSpace: { internalRouting: boolean } | undefined;
  forbiddenKeys: Set<string>;
}

export interface HerokuFakeOptions {
  /** Keys accepted in `Authorization: Bearer`. */
  apiKeys?: string[];
}

export interface HerokuFake extends FakeControls {
  /** The fake router: apps' web_url live under it as `<router>/<app>/`. */
  readonly router: FakeControls;
  addApp(spec: FakeHerokuAppSpec): { id: string; webUrl: string | null };
  removeApp(name: string): void;
  setMaintenance(app: string, on: boolean): void;
  /** `heroku ps:scale web=N`: N dynos, all up; 0 leaves none. */
  scaleWeb(app: string, quantity: number): void;
  /** The app loses its web process type (never deployed, or a worker-only Procfile). */
  removeWebProcessType(app: string): void;
  /** Marks the first `count` web dynos (default all) as crashed. */
  crashDynos(app: string, count?: number): void;
  setDynoState(app: string, dyno: string, state: DynoState): void;
  /** Sets the formation's web quantity without touching the dynos (a scale whose dynos are not listed yet). */
  setFormationQuantity(app: string, quantity: number): void;
  /** Adds `count` dynos of another process type (`run` one-offs, `worker`...), named `<type>.<n>`. */
  addDynos(app: string, type: string, count: number, state?: DynoState): void;
  /** The router redirects every request for the app to this URL (301), until undefined. */
  redirectWebUrl(app: string, location: string | undefined): void;
  /**
   * Caps the page the dyno list answers (default 1,000, Heroku's maximum), so a test can see the
   * 206 / Next-Range paging without thousands of dynos.
   */
  setMaxPageSize(size: number): void;
  /** The Range headers the dyno lists were asked with, oldest first; reading clears them. */
  dynoRangesRequested(): string[];
  /** The status the app's /health answers while it serves. */
  setHealthStatus(app: string, status: number): void;
  /** The app's /health resets the connection without answering. */
  dropHealth(app: string, drop: boolean): void;
  /** Requests to `<web_url>/health` received by the router for this app. */
  healthHits(app: string): number;
  addKey(key: string): void;
  revokeKey(key: string): void;
  /**
   * When the key's OAuth authorization expires (GET /oauth/authorizations answers `expires_in`
   * from it); null, the default, is an authorization with indefinite lifetime.
   */
  setKeyExpiry(key: string, expiresAt: Date | null): void;
  /** This key gets 403 forbidden on this app. */
  forbidApp(app: string, key: string): void;
  setRateLimitRemaining(remaining: number): void;
  rateLimitRemaining(): number;
  /**
   * Every call answers 429 with this Retry-After until cleared: seconds, or a Date sent in the HTTP-date
   * form (undefined sends none).
   */
  forceRateLimit(retryAfter: number | Date | undefined): void;
  clearRateLimit(): void;
  /** Every API call answers this status with a Heroku error body, until cleared. */
  failWith(status: number | undefined, id?: string, message?: string): void;
  /** Error bodies carry the pre-2016 `error` key instead of `message`. */
  useLegacyErrorKey(legacy: boolean): void;
}

export async function startHerokuApi(options: HerokuFakeOptions = {}): Promise<HerokuFake> {
  const apps = new Map<string, FakeApp>();
  const keys = new Set(options.apiKeys ?? []);
  const keyExpiry = new Map<string, Date | null>();
  const rate = {
    pool: RATE_POOL_MAX,
    at: Date.now(),
    forcedRetryAfter: undefined as number | Date | undefined | null,
  };
  let failure: { status: number; id: string; message: string } | undefined;
  let legacyErrorKey = false;
  let maxPageSize = MAX_PAGE_SIZE;
  let dynoRanges: string[] = [];

  const findApp = (idOrName: string) =>
    apps.get(idOrName) ?? [...apps.values()].find((app) => app.id === idOrName);
  const mustFind = (name: string) => {
    const app = findApp(name);
    if (!app) throw new Error(`fake Heroku: no app ${name}`);
    return app;
  };

  /** Refills the pool for the time passed and returns what is in it. */
  const refill = (): number => {
    const now = Date.now();
    rate.pool = Math.min(RATE_POOL_MAX, rate.pool + (now - rate.at) * RATE_REFILL_PER_MS);
    rate.at = now;
    return Math.floor(rate.pool);
  };

  /** Heroku's pool: every call takes a token, ~75 a minute come back; undefined when it is empty. */
  const takeToken = (): number | undefined => {
    refill();
    if (rate.pool < 1) return undefined;
    rate.pool -= 1;
    return Math.floor(rate.pool);
  };

  const errorReply = (status: number, id: string, message: string, extra: Record<string, string> = {}) => ({
    status,
    body: { ...extra, id, [legacyErrorKey ? 'error' : 'message']: message },
  });

  const handleApi = (req: FakeRequest): FakeReply => {
    const common = { 'request-id': randomUUID() };
    const withHeaders = (reply: FakeReply, remaining: number): FakeReply => ({
      ...reply,
      headers: { ...common, 'ratelimit-remaining': String(remaining), ...reply.headers },
    });
    // RateLimit-Remaining is on every response (§1.1), refusals included; whether those cost a token
    // is not documented, so they only report the pool.
    if (req.headers.accept !== HEROKU_ACCEPT) {
      return withHeaders(
        {
          status: 406,
          body: {
            id: 'missing_version',
            error:
              "Please specify a version along with Heroku's API MIME type. For example, `Accept: application/vnd.heroku+json; version=3`.\n",
          },
        },
        refill(),
      );
    }
    const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    if (!auth) {
      return withHeaders(
        errorReply(
          401,
          'unauthorized',
          'There were no credentials in your `Authorization` header. Try `Authorization: Bearer <OAuth access token>` or `Authorization: Basic <base64-encoded email + ":" + password>`.',
        ),
        refill(),
      );
    }
    const key = auth[1] ?? '';
    if (!keys.has(key))
      return withHeaders(errorReply(401, 'unauthorized', 'Invalid credentials provided.'), refill());
    if (rate.forcedRetryAfter !== undefined) return withHeaders(rateLimited(rate.forcedRetryAfter), 0);
    const remaining = takeToken();
    if (remaining === undefined) return withHeaders(rateLimited(1), 0);
    if (failure) return withHeaders(errorReply(failure.status, failure.id, failure.message), remaining);
    return withHeaders(route(req, key), remaining);
  };

  const rateLimited = (retryAfter: number | Date | null): FakeReply => ({
    ...errorReply(
      429,
      'rate_limit',
      'Your account reached the API rate limit\nPlease wait a few minutes before making new requests',
      { url: 'https://devcenter.heroku.com/articles/platform-api-reference#rate-limits' },
    ),
    headers:
      retryAfter === null
        ? {}
        : { 'retry-after': retryAfter instanceof Date ? retryAfter.toUTCString() : String(retryAfter) },
  });

  const route = (req: FakeRequest, key: string): FakeReply => {
    if (req.method === 'GET' && req.path === '/oauth/authorizations') return list(authorizationsJson());
    const match = /^\/apps\/([^/]+)(?:\/(formation|dynos))?\/?$/.exec(req.path);
    if (req.method !== 'GET' || !match) {
      return errorReply(404, 'not_found', 'The requested API endpoint was not found.');
    }
    const app = findApp(decodeURIComponent(match[1] ?? ''));
    if (!app) return errorReply(404, 'not_found', "Couldn't find that app.", { resource: 'app' });
    if (app.forbiddenKeys.has(key)) {
      return errorReply(403, 'forbidden', `You do not have access to the app ${app.name}.`);
    }
    if (match[2] === 'formation') return list(app.web ? [formationJson(app)] : []);
    if (match[2] === 'dynos') {
      dynoRanges.push(req.headers.range ?? '');
      return rangedByName(
        app.dynos.map((dyno) => dynoJson(app, dyno)),
        req.headers.range,
        maxPageSize,
      );
    }
    return { status: 200, body: appJson(app) };
  };

  // One account holds every key: its OAuth authorizations, as `heroku authorizations` lists them.
  const authorizationsJson = () =>
    [...keys].map((token, index) => {
      const expiresAt = keyExpiry.get(token) ?? null;
      return {
        id: `0000000${index}-89ab-cdef-0123-456789abcdef`,
        description: `key ${index + 1}`,
        scope: ['global'],
        access_token: {
          id: `1111111${index}-89ab-cdef-0123-456789abcdef`,
          token,
          expires_in: expiresAt === null ? null : Math.round((expiresAt.getTime() - Date.now()) / 1000),
        },
        client: null,
        grant: null,
        refresh_token: null,
        session: null,
        user: { id: '01234567-89ab-cdef-0123-456789abcdef', email: 'ops@example.com', full_name: 'Ops' },
        created_at: TIMESTAMP,
        updated_at: TIMESTAMP,
      };
    });

  const api = await FakeHttp.start({
    handle: (req) => handleApi(req),
    wrongTypes: (req) => wrongTypesFor(req.path),
  });

  const router = await FakeHttp.start({
    handle: (req) => {
      const [, appName = '', ...rest] = req.path.split('/');
      const app = apps.get(appName);
      if (!app) return routerError(404, 'No such app', 'There is no app configured at that hostname.');
      if (app.maintenance) {
        return routerError(503, 'Offline for Maintenance', 'This app is undergoing maintenance right now.');
      }
      if (app.redirectTo) return { status: 301, headers: { location: app.redirectTo }, body: '' };
      // An idle (eco) dyno wakes on the request and serves it, after a delay a real router adds.
      const serving = app.dynos.filter(
        (dyno) => dyno.type === 'web' && (dyno.state === 'up' || dyno.state === 'idle'),
      );
      if (!app.web || app.web.quantity === 0) {
        return routerError(503, 'Application Error', 'H14 - No web processes running');
      }
      if (serving.length === 0) return routerError(503, 'Application Error', 'H10 - App crashed');
      if (`/${rest.join('/')}` !== '/health') return { status: 404, body: 'Not Found' };
      if (app.healthDropped) return 'drop';
      return { status: app.healthStatus, body: { status: app.healthStatus < 400 ? 'ok' : 'error' } };
    },
  });

  const webDynos = (app: FakeApp) => app.dynos.filter((dyno) => dyno.type === 'web');
  const touch = (dyno: FakeDyno, state: DynoState) => {
    dyno.state = state;
    dyno.updatedAt = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  };
  const scale = (app: FakeApp, quantity: number) => {
    app.web = { id: app.web?.id ?? randomUUID(), quantity };
    app.dynos = app.dynos.filter((dyno) => dyno.type !== 'web');
    for (let index = 1; index <= quantity; index++) {
      app.dynos.push({
        id: randomUUID(),
        name: `web.${index}`,
        type: 'web',
        state: 'up',
        updatedAt: TIMESTAMP,
      });
    }
  };

  const controls: HerokuFake = {
    ...controlsOf(api),
    router,
    async close() {
      await Promise.all([api.close(), router.close()]);
    },
    addApp(spec) {
      const app: FakeApp = {
        id: randomUUID(),
        name: spec.name,
        webUrl: spec.webUrl === undefined ? `${router.url}/${spec.name}/` : spec.webUrl,
        maintenance: spec.maintenance ?? false,
        web: null,
        dynos: [],
        healthStatus: spec.healthStatus ?? 200,
        healthDropped: false,
        redirectTo: undefined,
        privateSpace: spec.privateSpace,
        forbiddenKeys: new Set(),
      };
      if (spec.webQuantity !== null) scale(app, spec.webQuantity ?? 1);
      apps.set(app.name, app);
      return { id: app.id, webUrl: app.webUrl };
    },
    removeApp: (name) => {
      apps.delete(name);
    },
    setMaintenance: (name, on) => {
      mustFind(name).maintenance = on;
    },
    scaleWeb: (name, quantity) => scale(mustFind(name), quantity),
    removeWebProcessType: (name) => {
      const app = mustFind(name);
      app.web = null;
      app.dynos = app.dynos.filter((dyno) => dyno.type !== 'web');
    },
    crashDynos(name, count) {
      const dynos = webDynos(mustFind(name));
      for (const dyno of dynos.slice(0, count ?? dynos.length)) touch(dyno, 'crashed');
    },
    setDynoState(name, dynoName, state) {
      const dyno = mustFind(name).dynos.find((candidate) => candidate.name === dynoName);
      if (!dyno) throw new Error(`fake Heroku: no dyno ${dynoName} on ${name}`);
      touch(dyno, state);
    },
    addDynos(name, type, count, state = 'up') {
      const app = mustFind(name);
      const existing = app.dynos.filter((dyno) => dyno.type === type).length;
      for (let index = 1; index <= count; index++) {
        app.dynos.push({
          id: randomUUID(),
          name: `${type}.${existing + index}`,
          type,
          state,
          updatedAt: TIMESTAMP,
        });
      }
    },
    setFormationQuantity: (name, quantity) => {
      const app = mustFind(name);
      app.web = { id: app.web?.id ?? randomUUID(), quantity };
    },
    redirectWebUrl: (name, location) => {
      mustFind(name).redirectTo = location;
    },
    setMaxPageSize: (size) => {
      maxPageSize = Math.max(1, Math.min(MAX_PAGE_SIZE, size));
    },
    dynoRangesRequested: () => {
      const ranges = dynoRanges;
      dynoRanges = [];
      return ranges;
    },
    setHealthStatus: (name, status) => {
      mustFind(name).healthStatus = status;
    },
    dropHealth: (name, drop) => {
      mustFind(name).healthDropped = drop;
    },
    healthHits: (name) => router.calls(`/${name}/health`),
    addKey: (key) => {
      keys.add(key);
    },
    setKeyExpiry: (key, expiresAt) => {
      keyExpiry.set(key, expiresAt);
    },
    revokeKey: (key) => {
      keys.delete(key);
    },
    forbidApp: (name, key) => {
      mustFind(name).forbiddenKeys.add(key);
    },
    setRateLimitRemaining(remaining) {
      rate.pool = remaining;
      rate.at = Date.now();
    },
    rateLimitRemaining: () => Math.floor(rate.pool),
    forceRateLimit(retryAfter) {
      rate.forcedRetryAfter = retryAfter === undefined ? null : retryAfter;
    },
    clearRateLimit() {
      rate.forcedRetryAfter = undefined;
    },
    failWith(status, id = 'internal_server_error', message = 'Internal server error.') {
      failure = status === undefined ? undefined : { status, id, message };
    },
    useLegacyErrorKey(legacy) {
      legacyErrorKey = legacy;
    },
  };
  return controls;
}

function list(items: unknown[]): FakeReply {
  const range = items.length > 0 ? `id ${firstId(items)}..${lastId(items)}; max=200` : 'id ..; max=200';
  return { status: 200, headers: { 'accept-ranges': 'id, name', 'content-range': range }, body: items };
}

/**
 * §1.1/§7.4: a list sorted by name, sent `max` items at a time: `Range: name ..; max=N` asks for the
 * first page, `Range: name ]<last name>..; max=N` (the Next-Range of the page before) for the next. A truncated page is a 206 with
 * Content-Range and Next-Range.
 */
function rangedByName(items: Array<{ name: string }>, range: string | undefined, cap: number): FakeReply {
  const sorted = [...items].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const parsed = /^name\s+(\]?)([^.;\s]*(?:\.[^.;\s]+)*)\.\.\s*(?:;\s*max=(\d+))?\s*$/.exec(
    range?.trim() ?? '',
  );
  const after = parsed?.[1] === ']' ? parsed[2] : undefined;
  const from = parsed?.[1] === ']' ? undefined : parsed?.[2] || undefined;
  const max = Math.min(cap, Number(parsed?.[3] ?? DEFAULT_PAGE_SIZE) || DEFAULT_PAGE_SIZE);
  const rest = sorted.filter((item) =>
    after !== undefined ? item.name > after : from !== undefined ? item.name >= from : true,
  );
  const page = rest.slice(0, max);
  const first = page[0]?.name ?? '';
  const last = page[page.length - 1]?.name ?? '';
  const headers: Record<string, string> = {
    'accept-ranges': 'id, name',
    'content-range': `name ${first}..${last}; max=${max}`,
  };
  if (rest.length > page.length) {
    headers['next-range'] = `name ]${last}..; max=${max}`;
    return { status: 206, headers, body: page };
  }
  return { status: 200, headers, body: page };
}

const idOf = (item: unknown) => (item as { id: string }).id;
const firstId = (items: unknown[]) => idOf(items[0]);
const lastId = (items: unknown[]) => idOf(items[items.length - 1]);

/** App Info as the API sends it: the schema's App plus `generation`, newer than @heroku-cli/schema (§1.2). */
type AppBody = Documented<App> & { generation: { id: string; name: string } };

function appJson(app: FakeApp): AppBody {
  const stack = { id: '01234567-89ab-cdef-0123-456789abcdef', name: 'heroku-24' };
  return {
    acm: false,
    archived_at: null,
    buildpack_provided_description: 'Node.js',
    build_stack: stack,
    created_at: TIMESTAMP,
    generation: { id: '01234567-89ab-cdef-0123-456789abcdef', name: 'cedar' },
    git_url: `https://git.heroku.com/${app.name}.git`,
    id: app.id,
    internal_routing: app.privateSpace ? app.privateSpace.internalRouting : null,
    maintenance: app.maintenance,
    name: app.name,
    owner: { email: 'username@example.com', id: '01234567-89ab-cdef-0123-456789abcdef' },
    organization: null,
    team: null,
    region: { id: '01234567-89ab-cdef-0123-456789abcdef', name: 'us' },
    released_at: TIMESTAMP,
    repo_size: null,
    slug_size: 0,
    space: app.privateSpace
      ? { id: '11234567-89ab-cdef-0123-456789abcdef', name: 'raxx-private', shield: false }
      : null,
    stack,
    updated_at: TIMESTAMP,
    web_url: app.webUrl,
  } satisfies AppBody;
}

/** A formation item: the schema's Formation plus `dyno_size`, newer than @heroku-cli/schema (§1.3). */
type FormationBody = Documented<Formation> & { dyno_size: { id: string; name: string } };

function formationJson(app: FakeApp): FormationBody {
  return {
    app: { name: app.name, id: app.id },
    command: 'npm start',
    created_at: TIMESTAMP,
    dyno_size: { id: '01234567-89ab-cdef-0123-456789abcdef', name: 'Standard-1X' },
    id: app.web?.id ?? randomUUID(),
    quantity: app.web?.quantity ?? 0,
    size: 'Standard-1X',
    type: 'web',
    updated_at: TIMESTAMP,
  } satisfies FormationBody;
}

function dynoJson(app: FakeApp, dyno: FakeDyno): Documented<Dyno> {
  return {
    attach_url: null,
    command: 'npm start',
    created_at: TIMESTAMP,
    id: dyno.id,
    name: dyno.name,
    release: { id: '01234567-89ab-cdef-0123-456789abcdef', version: 11 },
    app: { name: app.name, id: app.id },
    size: 'Standard-1X',
    state: dyno.state,
    type: dyno.type,
    updated_at: dyno.updatedAt,
  } satisfies Documented<Dyno>;
}

/** The documented keys with values of the wrong type. */
function wrongTypesFor(path: string): unknown {
  if (/\/formation\/?$/.test(path)) return [{ type: 'web', quantity: '1' }];
  if (/\/dynos\/?$/.test(path)) return [{ type: 'web', name: 'web.1', state: 1 }];
  return { name: 'example', maintenance: 'false', web_url: 42 };
}

/** Heroku's router error pages are HTML served with 503 (or 404 for an unknown host). */
function routerError(status: number, title: string, text: string): FakeReply {
  return {
    status,
    headers: { 'content-type': 'text/html; charset=utf-8' },
    body: `<!DOCTYPE html><html><head><title>${title}</title></head><body><p>${text}</p></body></html>`,
  };
}

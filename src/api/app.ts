import express, { type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import type { Logger } from 'pino';
import { type Env, readSecret } from '../core/env.js';
import type { PushLedger } from '../core/push.js';
import type { ExporterMetrics } from '../metrics/metrics.js';
import { type Poller, type SurfaceFilter, UnknownSurfaceError } from '../poller/poller.js';
import { providerFor } from '../providers/index.js';
import {
  ASSET_PATH,
  buildStatusModel,
  MalformedCursorError,
  type ProbeHistory,
  renderBadge,
  renderCodesPage,
  renderEnvironmentBadge,
  renderMissingBadge,
  renderStatusPageBytes,
  STATUS_API_PATH,
  STATUS_ASSETS,
  STATUS_PATH,
  type StatusPageMode,
  type StatusSource,
  statusAnswer,
  TileChanges,
  UnknownEnvironmentError,
} from '../statuspage/index.js';
import { bearerMatches, FailedAuthLimiter, parseTrustProxy, type ScrapeAuth, scrapeAllowed } from './auth.js';
import { landingPage } from './landing.js';
import { PushInputError, parsePushInput } from './push.js';

export interface ReloadOutcome {
  ok: boolean;
  errors: string[];
  added?: number;
  removed?: number;
  changed?: number;
}

export interface AppDeps {
  poller: Poller;
  metrics: ExporterMetrics;
  log: Logger;
  pollerEnabled: boolean;
  /** FORCE_POLL_TOKEN; undefined disables the authenticated endpoints. */
  operatorToken: string | undefined;
  reload?: () => Promise<ReloadOutcome>;
  /** What the credential watch knows of a surface's credentials (expiry, validity, enrollment), for poller-status. */
  credentialsOf?: (env: string, surface: string) => readonly object[] | undefined;
  version: string;
  /** Optional protection of /metrics; open when neither is set. */
  scrapeAuth?: ScrapeAuth;
  /** One budget per credential, so failed operator guesses never cost Prometheus its scrapes. */
  authLimiters?: { scrape: FailedAuthLimiter; operator: FailedAuthLimiter; push?: FailedAuthLimiter };
  /** Where push surfaces' jobs' reports go; without it, /api/push answers 404 for every surface. */
  pushes?: PushLedger;
  /** The process variables: push tokens, and the credentials masked in a push's detail. */
  env?: Env;
  /**
   * TRUST_PROXY, a hop count (1 behind the Heroku router): the failed-auth limit then also counts
   * the client address from X-Forwarded-For, besides the socket's.
   */
  trustProxy?: string;
  /** With shards: the ordinal of the shard owning a surface this one does not (force-poll answers 421). */
  owningShard?: (filter: SurfaceFilter) => number | undefined;
  /** The status page; without it, `/` is the plain landing page and the page's routes 404. */
  statusPage?: StatusPageDeps;
}

export interface StatusPageDeps {
  /** STATUS_PAGE: `token` asks for the /metrics credentials; `off` serves none of it. */
  mode: StatusPageMode;
  source: StatusSource;
  history: ProbeHistory;
  /** Read on each request, since a reload may change `status_page`. */
  view(): { showTargets: boolean; runbookUrl?: string };
}

export const MAX_REQUEST_BODY = '16kb';

/**
 * Browsers honour HSTS only over TLS, and `upgrade-insecure-requests` sends every link and asset of a
 * page opened over plain HTTP (under any name but loopback) to https, where the exporter does not
 * listen. Both are sent only when the request arrived over TLS, which with TRUST_PROXY a proxy
 * vouches for with X-Forwarded-Proto.
 */
const CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  baseUri: ["'self'"],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'self'"],
  imgSrc: ["'self'"],
  objectSrc: ["'none'"],
  scriptSrc: ["'self'"],
  scriptSrcAttr: ["'none'"],
  styleSrc: ["'self'"],
};
const PLAIN_HTTP_HEADERS = helmet({
  contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
  strictTransportSecurity: false,
});
const TLS_HEADERS = helmet({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: { ...CSP_DIRECTIVES, upgradeInsecureRequests: [] },
  },
});

const ENV_NAME = /^[a-z0-9_-]{1,64}$/;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function createApp(deps: AppDeps): express.Express {
  const { poller, metrics, log } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  const trustedHops = parseTrustProxy(deps.trustProxy);
  if (trustedHops > 0) app.set('trust proxy', trustedHops);
  app.use((req, res, next) => (req.secure ? TLS_HEADERS : PLAIN_HTTP_HEADERS)(req, res, next));
  app.use(express.raw({ type: () => true, limit: MAX_REQUEST_BODY }));

  /** A known path with another method answers 405 and names the methods it takes. */
  const only = (methods: string) => (req: Request, res: Response) => {
    res.set('Allow', methods);
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    throw new HttpError(405, `method ${req.method} not allowed; use ${methods}`);
  };
  const GET = 'GET, HEAD';

  app
    .route('/health')
    .get((_req, res) => {
      const health = poller.health();
      if (!deps.pollerEnabled) {
        res.json({ status: 'ok', poller: 'disabled', poller_last_poll_at: health.lastPollAt });
        return;
      }
      res
        .status(health.stale ? 503 : 200)
        .json({ status: health.stale ? 'stale' : 'ok', poller_last_poll_at: health.lastPollAt });
    })
    .all(only(GET));

  const limiters = deps.authLimiters ?? {
    scrape: new FailedAuthLimiter(),
    operator: new FailedAuthLimiter(),
  };
  /** A right credential always passes; a wrong one counts, and is refused once its client is over budget. */
  const authenticate = (
    req: Request,
    res: Response,
    limiter: FailedAuthLimiter,
    accepted: (authorization: string | undefined) => boolean,
  ) => {
    const authorization = req.get('authorization');
    if (accepted(authorization)) return;
    // Nothing was guessed: a scraper or browser asking without credentials first is not an attack.
    if (!authorization) throw new HttpError(401, 'unauthorized');
    const keys = clientKeys(req);
    const retryAfter = limiter.retryAfterSeconds(keys);
    if (retryAfter > 0) {
      res.set('Retry-After', String(retryAfter));
      throw new HttpError(429, 'too many failed authentications');
    }
    limiter.recordFailure(keys);
    throw new HttpError(401, 'unauthorized');
  };

  const scrapeAuth = deps.scrapeAuth ?? {};
  const requireScrapeCredentials = (req: Request, res: Response) => {
    if (!scrapeAuth.bearer && !scrapeAuth.basic) return;
    res.set('WWW-Authenticate', 'Basic realm="surface-exporter", charset="UTF-8"');
    authenticate(req, res, limiters.scrape, (authorization) => scrapeAllowed(authorization, scrapeAuth));
    res.removeHeader('WWW-Authenticate');
  };

  app
    .route('/metrics')
    .get(async (req, res) => {
      requireScrapeCredentials(req, res);
      const scrape = await metrics.render(req.get('accept'));
      res.set('Content-Type', scrape.contentType).send(scrape.body);
    })
    .all(only(GET));

  const statusPage = deps.statusPage?.mode === 'off' ? undefined : deps.statusPage;
  if (statusPage) {
    const changes = new TileChanges();
    const guard = (req: Request, res: Response, next: NextFunction) => {
      if (statusPage.mode === 'token') {
        // Fail closed: `token` with nothing to compare against never means an open page.
        if (!scrapeAuth.bearer && !scrapeAuth.basic)
          throw new HttpError(403, 'STATUS_PAGE=token needs METRICS_TOKEN or METRICS_BASIC_AUTH');
        requireScrapeCredentials(req, res);
      }
      res.set('Cache-Control', 'no-store');
      next();
    };
    const model = (req: Request) => {
      const env = req.query.env;
      if (env !== undefined && (typeof env !== 'string' || !ENV_NAME.test(env)))
        throw new HttpError(400, 'invalid env');
      try {
        return {
          env,
          model: buildStatusModel(
            statusPage.source,
            statusPage.history,
            { ...statusPage.view(), version: deps.version, env },
            changes,
          ),
        };
      } catch (err) {
        if (err instanceof UnknownEnvironmentError) throw new HttpError(404, err.message);
        throw err;
      }
    };
    /** Server-Timing: the model and its rendering, which the bench reads as the page's server time. */
    const sendTimed = (res: Response, started: Timer, type: string, body: string | Buffer) => {
      // Encoded inside the timed span, so a body that arrives as a string (JSON, a badge) has its
      // UTF-8 encoding counted like the page's, which arrives encoded.
      const bytes = typeof body === 'string' ? Buffer.from(body) : body;
      const cpu = process.cpuUsage(started.cpu);
      res.set(
        'Server-Timing',
        `render;dur=${(performance.now() - started.wall).toFixed(1)}, cpu;dur=${((cpu.user + cpu.system) / 1000).toFixed(1)}`,
      );
      res.type(type).send(bytes);
    };
    const page = (req: Request, res: Response) => {
      const started = startTimer();
      const { env, model: built } = model(req);
      const cursor = changes.observe(built, env);
      sendTimed(res, started, 'html', renderStatusPageBytes(built, env, { changes, cursor }));
    };
    app.route('/').get(guard, page).all(only(GET));
    app.route(STATUS_PATH).get(guard, page).all(only(GET));
    app
      .route(`${STATUS_PATH}/codes`)
      .get((_req, res) => {
        res.type('html').send(renderCodesPage(deps.version));
      })
      .all(only(GET));
    app
      .route(`${ASSET_PATH}/:name`)
      .get((req, res) => {
        const asset = Object.hasOwn(STATUS_ASSETS, req.params.name)
          ? STATUS_ASSETS[req.params.name]
          : undefined;
        if (!asset) throw new HttpError(404, 'not found');
        res.set('Cache-Control', 'public, max-age=300').type(asset.contentType).send(asset.body);
      })
      .all(only(GET));
    app
      .route(STATUS_API_PATH)
      .get(guard, (req, res) => {
        const started = startTimer();
        const { since } = req.query;
        if (since !== undefined && typeof since !== 'string') throw new HttpError(400, 'invalid since');
        const { env, model: built } = model(req);
        try {
          sendTimed(res, started, 'json', JSON.stringify(statusAnswer(built, changes, env, since)));
        } catch (err) {
          if (err instanceof MalformedCursorError) throw new HttpError(400, err.message);
          throw err;
        }
      })
      .all(only(GET));

    const sendBadge = (res: Response, status: number, svg: string, started: Timer) => {
      // Badges are meant to be embedded in other sites' pages (a wiki, a README).
      res.set('Cross-Origin-Resource-Policy', 'cross-origin');
      sendTimed(res.status(status), started, 'image/svg+xml', svg);
    };
    const badgeModel = (env: string) => {
      try {
        return buildStatusModel(statusPage.source, statusPage.history, {
          ...statusPage.view(),
          version: deps.version,
          env,
        }).environments[0];
      } catch (err) {
        if (err instanceof UnknownEnvironmentError) return undefined;
        throw err;
      }
    };
    app
      .route('/badge/:env.svg')
      .get(guard, (req, res) => {
        const started = startTimer();
        const { env } = req.params as { env: string };
        const view = badgeModel(env);
        if (!view) return sendBadge(res, 404, renderMissingBadge(env), started);
        sendBadge(res, 200, renderEnvironmentBadge(view), started);
      })
      .all(only(GET));
    app
      .route('/badge/:env/:surface.svg')
      .get(guard, (req, res) => {
        const started = startTimer();
        const { env, surface } = req.params as { env: string; surface: string };
        const tile = badgeModel(env)?.surfaces.find((candidate) => candidate.surface === surface);
        if (!tile) return sendBadge(res, 404, renderMissingBadge(`${env}/${surface}`), started);
        sendBadge(res, 200, renderBadge(`${env}/${surface}`, tile.state, tile.label), started);
      })
      .all(only(GET));
  } else {
    app
      .route('/')
      .get((_req, res) => {
        res.type('html').send(landingPage(deps.version));
      })
      .all(only(GET));
  }

  const requireOperator = (req: Request, res: Response, next: NextFunction) => {
    const token = deps.operatorToken;
    if (token === undefined) throw new HttpError(403, 'force poll disabled');
    authenticate(req, res, limiters.operator, (authorization) => bearerMatches(authorization, token));
    next();
  };

  const forcePoll = async (req: Request, res: Response) => {
    const filter = surfaceFilter(req);
    try {
      res.json(await poller.forcePoll(filter));
    } catch (err) {
      if (!(err instanceof UnknownSurfaceError)) throw err;
      const owner = deps.owningShard?.(filter);
      // 421 Misdirected Request: the surface exists, and this shard may not probe it; the caller retries there.
      if (owner !== undefined) {
        res.status(421).json({ error: `surface owned by shard ${owner}`, owning_shard: owner });
        return;
      }
      const envs = [...new Set(poller.surfaces().map((surface) => surface.env))];
      if (filter.env !== undefined && !envs.includes(filter.env))
        throw new HttpError(
          404,
          `unknown environment ${JSON.stringify(filter.env)} (known: ${envs.join(', ') || 'none'})`,
        );
      throw new HttpError(404, 'unknown surface');
    }
  };
  app.route('/api/force-poll').post(requireOperator, forcePoll).all(only('POST'));
  app.route('/dashboard/_force_poll').post(requireOperator, forcePoll).all(only('POST'));

  app
    .route('/api/_internal/poller-status')
    .get(requireOperator, (_req, res) => {
      const status = poller.status();
      const credentialsOf = deps.credentialsOf;
      if (!credentialsOf) {
        res.json(status);
        return;
      }
      const surfaces = status.surfaces.map((surface) => {
        const credentials = credentialsOf(surface.env, surface.surface);
        return credentials ? { ...surface, credentials } : surface;
      });
      res.json({ ...status, surfaces });
    })
    .all(only(GET));

  app
    .route('/-/reload')
    .post(requireOperator, async (_req, res) => {
      if (!deps.reload)
        throw new HttpError(404, 'reload is not available: the exporter runs without a registry file');
      const outcome = await deps.reload();
      res.status(outcome.ok ? 200 : 400).json(outcome);
    })
    .all(only('POST'));

  const pushLimiter = limiters.push ?? new FailedAuthLimiter();
  app
    .route('/api/push/:env/:surface')
    .post(async (req, res) => {
      const { env, surface } = req.params as { env: string; surface: string };
      const registered = poller.surfaces().find((s) => s.env === env && s.config.name === surface);
      const variable = registered && providerFor(registered.config).pushTokenEnv?.(registered.config);
      // One answer for "no such surface" and "not a push surface": a caller learns nothing of the others.
      if (!deps.pushes || !registered || !variable) throw new HttpError(404, 'not found');
      const token = readSecret(deps.env ?? {}, variable);
      authenticate(
        req,
        res,
        pushLimiter,
        (authorization) => token.ok && bearerMatches(authorization, token.value),
      );
      let input: ReturnType<typeof parsePushInput>;
      try {
        input = parsePushInput(req, knownSecrets());
      } catch (err) {
        if (err instanceof PushInputError) throw new HttpError(400, err.message);
        throw err;
      }
      deps.pushes.record(env, surface, input);
      // The push is published now, not at the surface's next scheduled probe.
      const round = await poller.forcePoll({ env, surface });
      const { status, error, detail } = round.results[0] ?? { status: 'pending', error: null, detail: null };
      res.json({ env, surface, status, error, detail });
    })
    .all(only('POST'));

  /** Every credential the exporter knows of, so that a job quoting one in its detail never publishes it. */
  const knownSecrets = (): string[] => {
    const values = poller
      .surfaces()
      .flatMap(({ config }) => providerFor(config).credentials(config))
      .map((variable) => deps.env?.[variable]?.trim());
    values.push(deps.operatorToken, scrapeAuth.bearer, scrapeAuth.basic);
    return values.filter((value): value is string => Boolean(value));
  };

  app.use((_req, _res) => {
    throw new HttpError(404, 'not found');
  });

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = errorStatus(err);
    if (status >= 500) log.error({ err, method: req.method, path: req.path }, 'request failed');
    const message = status >= 500 ? 'internal error' : err instanceof Error ? err.message : 'bad request';
    res.status(status).json({ error: message });
  });

  return app;
}

/**
 * Wall and CPU time from here: on a shared machine the wall time stretches with the load, the
 * process's CPU time much less, so Server-Timing gives both.
 */
interface Timer {
  wall: number;
  cpu: NodeJS.CpuUsage;
}

function startTimer(): Timer {
  return { wall: performance.now(), cpu: process.cpuUsage() };
}

/**
 * The socket's address, and the forwarded one when TRUST_PROXY trusts it: a client rotating a
 * forged X-Forwarded-For still spends its socket's budget.
 */
function clientKeys(req: Request): string[] {
  const socket = `socket ${req.socket.remoteAddress ?? 'unknown'}`;
  const forwarded = req.ip && req.ip !== req.socket.remoteAddress ? `forwarded ${req.ip}` : undefined;
  return forwarded ? [socket, forwarded] : [socket];
}

function surfaceFilter(req: Request): SurfaceFilter {
  const body = parseJsonBody(req);
  const pick = (key: 'env' | 'surface'): string | undefined => {
    const value = req.query[key] ?? body[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || !/^[a-z0-9_-]{1,64}$/.test(value))
      throw new HttpError(400, `invalid ${key}`);
    return value;
  };
  return { env: pick('env'), surface: pick('surface') };
}

const FILTER_KEYS = new Set(['env', 'surface']);

/**
 * The optional JSON filter of a force-poll. A body that is not a JSON object of env and surface is
 * refused: read as "no filter", a typo would probe every surface.
 */
function parseJsonBody(req: Request): Record<string, unknown> {
  const raw = req.body;
  if (!Buffer.isBuffer(raw) || raw.length === 0) return {};
  if (!req.is('application/json'))
    throw new HttpError(400, 'a body must be JSON (Content-Type: application/json)');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new HttpError(400, 'malformed JSON body');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new HttpError(400, 'the JSON body must be an object with env and/or surface');
  const unknown = Object.keys(parsed).filter((key) => !FILTER_KEYS.has(key));
  if (unknown.length > 0)
    throw new HttpError(400, `unknown key in the JSON body: ${unknown.slice(0, 3).join(', ')}`);
  return parsed as Record<string, unknown>;
}

function errorStatus(err: unknown): number {
  if (err instanceof HttpError) return err.status;
  const status =
    (err as { status?: unknown; statusCode?: unknown })?.status ??
    (err as { statusCode?: unknown })?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
}

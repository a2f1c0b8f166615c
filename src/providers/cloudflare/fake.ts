import { randomUUID } from 'node:crypto';
// Types only, never imported at runtime: the official SDK's definitions keep the builders honest.
import type { Deployment, Stage } from 'cloudflare/resources/pages/projects/projects';
import {
  controlsOf,
  type FakeControls,
  FakeHttp,
  type FakeReply,
  type FakeRequest,
} from '../shared/fakeServer.js';
import { type AccessApiFake, createAccessApi } from './accessApiFake.js';
import { CLOUDFLARE_WINDOW_CALLS, CLOUDFLARE_WINDOW_MS } from './budget.js';
import { listPageOf, pagedReply } from './fakePaging.js';

/**
 * A fake Cloudflare API v4 for Pages: the envelope, projects, deployments with every stage and
 * status (skipped ones too, in any order), the rate-limit headers, and the 8000007 / 8000024 /
 * 10000 / 10001 / 9109 / 6003 / 971 errors. Wire format: provider-apis.md §2 and §7.1-7.2.
 */

export const STAGE_NAMES = [
  'queued',
  'initialize',
  'clone_repo',
  'build',
  'deploy',
] as const satisfies readonly Stage['name'][];
export type StageName = (typeof STAGE_NAMES)[number];
export type StageStatus = Extract<Stage['status'], 'success' | 'idle' | 'active' | 'failure' | 'canceled'>;
export type TriggerType = Deployment.DeploymentTrigger['type'];
export type PagesEnvironment = 'production' | 'preview';
export type SkipReason = NonNullable<Deployment['skip_reason']>;
/**
 * The order the list comes in. Recordings are newest first, but no order is documented (§7.1):
 * `oldest_first` and `by_id` (an arbitrary, stable shuffle) make a client that trusts it fail.
 */
export type ListOrder = 'newest_first' | 'oldest_first' | 'by_id';
/** Since 2025-09 the API sends `Ratelimit`/`Ratelimit-Policy` (§7.2); `legacy` is the older x-ratelimit-* set. */
export type RateLimitHeaders = 'structured' | 'legacy';
/** Error bodies: `2026` has `messages`, `result: null` and a `documentation_url`; `legacy` only success and errors. */
export type ErrorBodyStyle = '2026' | 'legacy';

export interface FakeDeploymentSpec {
  environment?: PagesEnvironment;
  stage: StageName | (string & {});
  status: StageStatus | (string & {});
  /** `ad_hoc` is a direct upload: its stages[] keep `queued` active forever. Default `github:push`. */
  trigger?: TriggerType;
  createdOn?: Date;
  /** `deployment_trigger.metadata.branch`; default `main`. */
  branch?: string;
  /** A build skipped by watch paths, branch rules or [CI Skip]: `is_skipped`, and by default a queued/idle stage. */
  skipped?: SkipReason | null;
}

interface FakeDeployment {
  id: string;
  environment: PagesEnvironment;
  stage: string;
  status: string;
  trigger: TriggerType;
  branch: string;
  skipped: SkipReason | null | undefined;
  createdOn: string;
  modifiedOn: string;
}

interface FakeProject {
  id: string;
  name: string;
  createdOn: string;
  /** Newest first; listed in the fake's ListOrder. */
  deployments: FakeDeployment[];
}

export interface CloudflareFakeOptions {
  /** The account the tokens belong to (32 hex). */
  accountId?: string;
  tokens?: string[];
  /** Refuse per_page above 25 with 400 / code 8000024, as Cloudflare does (§7.1); default on. */
  enforceMaxPerPage?: boolean;
  /** Default `newest_first`. */
  listOrder?: ListOrder;
  /** Default `structured`. */
  rateLimitHeaders?: RateLimitHeaders;
  /** Default `2026`. */
  errorBodies?: ErrorBodyStyle;
}

export interface CloudflareFake extends FakeControls {
  readonly accountId: string;
  /** The Access management API and token verify (accessApiFake.ts). */
  readonly access: AccessApiFake;
  addProject(name: string): { id: string };
  removeProject(name: string): void;
  /** Adds a deployment as the newest one and returns its id. */
  addDeployment(project: string, spec: FakeDeploymentSpec): string;
  /** Moves the newest deployment of an environment to a stage, creating one when there is none. */
  setLatestStage(
    project: string,
    stage: FakeDeploymentSpec['stage'],
    status: FakeDeploymentSpec['status'],
    environment?: PagesEnvironment,
  ): void;
  clearDeployments(project: string): void;
  addToken(token: string): void;
  /** The token stops working: 403 with code 10000 (or 9109, see setAuthErrorCode). */
  revokeToken(token: string): void;
  setAuthErrorCode(code: AuthErrorCode): void;
  setListOrder(order: ListOrder): void;
  setRateLimitHeaders(headers: RateLimitHeaders): void;
  setErrorBodies(style: ErrorBodyStyle): void;
  /** Lists of deployments requested, by page number (1 for a request without `page`). */
  deploymentPagesRequested(): number[];
  /**
   * Sets what is left of the 1,200 calls per 5 minutes (§2.5) and when that window ends (default
   * in 300 s). Once nothing is left every call answers 429 / code 971 with Retry-After until then.
   */
  setRateLimitRemaining(remaining: number, resetInSeconds?: number): void;
  /** Calls left in the current window. */
  rateLimitRemaining(): number;
  /** Every call answers 429 / code 971 with this Retry-After (seconds; undefined sends none) until cleared. */
  forceRateLimit(retryAfterSeconds: number | undefined): void;
  clearRateLimit(): void;
  /** Every call answers this status with `success:false` and these errors, until cleared. */
  failWith(status: number | undefined, errors?: { code: number; message: string }[]): void;
}

const PROJECT_NOT_FOUND = {
  code: 8000007,
  message: 'Project not found. The specified project name does not match any of your existing projects.',
};
/** 10000 invalid or not allowed; 9109 unusable from here; 10001 "Unable to authenticate request" (§7.1). */
export type AuthErrorCode = 10000 | 9109 | 10001;
const DEFAULT_PER_PAGE = 25;
const MAX_PER_PAGE = 25;
// §2.4: a malformed Authorization header gets 400 / 6003, not an auth error. Which values count as
// malformed is [inferred]: here anything but "Bearer " and one RFC 6750 b64token (stray characters,
// a second word, another scheme). A Global API key sent as Bearer is also refused for real, but the
// token format that tells them apart is not documented, so that case answers as a bad token does.
const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/;
// One budget for the whole fake (CLOUDFLARE_WINDOW_CALLS per CLOUDFLARE_WINDOW_MS): Cloudflare
// counts per user or token, and tests use one token at a time.

export async function startCloudflareApi(options: CloudflareFakeOptions = {}): Promise<CloudflareFake> {
  const accountId = options.accountId ?? '023e105f4ecef8ad9ca31a8372d0c353';
  const tokens = new Set(options.tokens ?? []);
  const projects = new Map<string, FakeProject>();
  const enforceMaxPerPage = options.enforceMaxPerPage ?? true;
  let listOrder: ListOrder = options.listOrder ?? 'newest_first';
  let rateLimitHeaders: RateLimitHeaders = options.rateLimitHeaders ?? 'structured';
  let errorBodies: ErrorBodyStyle = options.errorBodies ?? '2026';
  let deploymentPages: number[] = [];
  let authErrorCode: AuthErrorCode = 10000;
  let forcedRetryAfter: number | null | undefined;
  let failure: { status: number; errors: { code: number; message: string }[] } | undefined;
  const rateWindow = { endsAt: Date.now() + CLOUDFLARE_WINDOW_MS, used: 0 };
  const accessApi = createAccessApi(accountId);

  const mustFind = (name: string) => {
    const project = projects.get(name);
    if (!project) throw new Error(`fake Cloudflare: no project ${name}`);
    return project;
  };

  const currentWindow = () => {
    const now = Date.now();
    if (now >= rateWindow.endsAt) {
      rateWindow.endsAt = now + CLOUDFLARE_WINDOW_MS;
      rateWindow.used = 0;
    }
    return rateWindow;
  };
  const rateHeaders = (window: typeof rateWindow, remaining?: number): Record<string, string> => {
    const left = remaining ?? Math.max(0, CLOUDFLARE_WINDOW_CALLS - window.used);
    const resetSeconds = Math.max(0, Math.ceil((window.endsAt - Date.now()) / 1000));
    if (rateLimitHeaders === 'structured') {
      return {
        ratelimit: `"default";r=${left};t=${resetSeconds}`,
        'ratelimit-policy': `"default";q=${CLOUDFLARE_WINDOW_CALLS};w=${CLOUDFLARE_WINDOW_MS / 1000}`,
      };
    }
    return {
      'x-ratelimit-limit': String(CLOUDFLARE_WINDOW_CALLS),
      'x-ratelimit-remaining': String(left),
      'x-ratelimit-reset': new Date(window.endsAt).toUTCString(),
    };
  };
  const rateLimited = (window: typeof rateWindow, retryAfterSeconds: number | null): FakeReply => ({
    status: 429,
    headers: {
      ...rateHeaders(window, 0),
      ...(retryAfterSeconds === null ? {} : { 'retry-after': String(retryAfterSeconds) }),
    },
    body: failureEnvelope([{ code: 971, message: 'Please wait and consider throttling your request speed' }]),
  });

  const handle = (req: FakeRequest): FakeReply => {
    const headers = { 'cf-ray': `${randomUUID().slice(0, 16).replace(/-/g, '')}-IAD` };
    const withHeaders = (reply: FakeReply): FakeReply => ({
      ...reply,
      headers: { ...headers, ...reply.headers },
    });
    const authorization = req.headers.authorization;
    if (authorization === undefined) return withHeaders(authFailure(authErrorCode, errorBodies));
    const auth = BEARER.exec(authorization);
    if (!auth) return withHeaders(malformedAuthorization());
    if (!tokens.has(auth[1] ?? '')) return withHeaders(authFailure(authErrorCode, errorBodies));
    const window = currentWindow();
    if (forcedRetryAfter !== undefined) return withHeaders(rateLimited(window, forcedRetryAfter));
    // "If you exceed this limit, all API calls for the next five minutes will be blocked" (§2.5).
    if (window.used >= CLOUDFLARE_WINDOW_CALLS) {
      const retryAfter = Math.max(1, Math.ceil((window.endsAt - Date.now()) / 1000));
      return withHeaders(rateLimited(window, retryAfter));
    }
    window.used++;
    const limits = rateHeaders(window);
    if (failure)
      return withHeaders({ status: failure.status, headers: limits, body: failureEnvelope(failure.errors) });
    return withHeaders({ ...(accessApi.route(req, auth[1] ?? '') ?? route(req)), headers: limits });
  };

  const route = (req: FakeRequest): FakeReply => {
    const match = /^\/accounts\/([^/]+)\/pages\/projects(?:\/([^/]+)(?:\/(deployments))?)?\/?$/.exec(
      req.path,
    );
    if (req.method !== 'GET' || !match) return noRoute(req.path);
    const [, account = '', projectName, deploymentsPart] = match;
    if (!/^[0-9a-f]{32}$/.test(account)) return noRoute(req.path);
    // A token only sees its own account; any other answers as an auth failure does.
    if (account !== accountId) return authFailure(authErrorCode, errorBodies);
    // [inferred] The status, code and message for bad list options are not in provider-apis.md; a
    // non-number page is refused here because no real answer to it is known either way.
    const listing = listPageOf(req, {
      defaultPerPage: DEFAULT_PER_PAGE,
      maxPerPage: enforceMaxPerPage ? MAX_PER_PAGE : undefined,
      refusal: {
        status: 400,
        body: failureEnvelope([
          {
            code: 8000024,
            message: 'Invalid list options provided. Review the `page` or `per_page` parameter.',
          },
        ]),
      },
    });
    if ('status' in listing) return listing;
    const { page } = listing;
    if (projectName === undefined) {
      return pagedReply(
        [...projects.values()].map((project) => projectJson(project)),
        listing,
      );
    }
    const project = projects.get(decodeURIComponent(projectName));
    if (!project) return { status: 404, body: failureEnvelope([PROJECT_NOT_FOUND]) };
    if (deploymentsPart === undefined) return { status: 200, body: successEnvelope(projectJson(project)) };
    const env = req.query.get('env');
    deploymentPages.push(page);
    const matching = ordered(
      project.deployments.filter((deployment) => env === null || deployment.environment === env),
      listOrder,
    );
    return pagedReply(
      matching.map((deployment) => deploymentJson(project, deployment)),
      listing,
    );
  };

  const api = await FakeHttp.start({ handle, wrongTypes: () => wrongTypes() });

  const newest = (project: FakeProject, environment: PagesEnvironment) =>
    project.deployments.find((deployment) => deployment.environment === environment);

  const controls: CloudflareFake = {
    ...controlsOf(api),
    accountId,
    access: accessApi.controls,
    addProject(name) {
      const project: FakeProject = {
        id: randomUUID(),
        name,
        createdOn: isoMicros(new Date()),
        deployments: [],
      };
      projects.set(name, project);
      return { id: project.id };
    },
    removeProject: (name) => {
      projects.delete(name);
    },
    addDeployment(name, spec) {
      const project = mustFind(name);
      const created = isoMicros(spec.createdOn ?? new Date());
      const deployment: FakeDeployment = {
        id: randomUUID(),
        environment: spec.environment ?? 'production',
        stage: spec.stage,
        status: spec.status,
        trigger: spec.trigger ?? 'github:push',
        branch: spec.branch ?? 'main',
        skipped: spec.skipped,
        createdOn: created,
        modifiedOn: created,
      };
      // Kept newest first whatever order they were added in (the last added first among equal
      // times), so `newest_first` is the real order.
      project.deployments.unshift(deployment);
      project.deployments.sort((a, b) => b.createdOn.localeCompare(a.createdOn));
      return deployment.id;
    },
    setLatestStage(name, stage, status, environment = 'production') {
      const project = mustFind(name);
      const deployment = newest(project, environment);
      if (!deployment) {
        controls.addDeployment(name, { environment, stage, status });
        return;
      }
      deployment.stage = stage;
      deployment.status = status;
      deployment.modifiedOn = isoMicros(new Date());
    },
    clearDeployments: (name) => {
      mustFind(name).deployments = [];
    },
    addToken: (token) => {
      tokens.add(token);
    },
    revokeToken: (token) => {
      tokens.delete(token);
    },
    setAuthErrorCode: (code) => {
      authErrorCode = code;
    },
    setListOrder: (order) => {
      listOrder = order;
    },
    setRateLimitHeaders: (headers) => {
      rateLimitHeaders = headers;
    },
    setErrorBodies: (style) => {
      errorBodies = style;
    },
    deploymentPagesRequested: () => {
      const requested = deploymentPages;
      deploymentPages = [];
      return requested;
    },
    setRateLimitRemaining(remaining, resetInSeconds = CLOUDFLARE_WINDOW_MS / 1000) {
      rateWindow.used =
        CLOUDFLARE_WINDOW_CALLS - Math.min(CLOUDFLARE_WINDOW_CALLS, Math.max(0, Math.floor(remaining)));
      rateWindow.endsAt = Date.now() + resetInSeconds * 1000;
    },
    rateLimitRemaining: () => CLOUDFLARE_WINDOW_CALLS - currentWindow().used,
    forceRateLimit: (retryAfterSeconds) => {
      forcedRetryAfter = retryAfterSeconds === undefined ? null : retryAfterSeconds;
    },
    clearRateLimit: () => {
      forcedRetryAfter = undefined;
    },
    failWith(status, errors = [{ code: 10013, message: 'An unknown error has occurred' }]) {
      failure = status === undefined ? undefined : { status, errors };
    },
  };
  return controls;
}

const AUTH_MESSAGES: Record<AuthErrorCode, string> = {
  10000: 'Authentication error',
  9109: 'Invalid access token',
  10001: 'Unable to authenticate request',
};

/**
 * Since 2026-08 a refusal has the full envelope and a documentation_url (§7.1); before, a 10000
 * carried only `success` and `errors`, no `messages` and no `result`.
 */
function authFailure(code: AuthErrorCode, style: ErrorBodyStyle): FakeReply {
  if (style === 'legacy') {
    const message = AUTH_MESSAGES[code];
    if (code === 10000) return { status: 403, body: { success: false, errors: [{ code, message }] } };
    return { status: 403, body: failureEnvelope([{ code, message }]) };
  }
  const message = code === 10000 ? 'Forbidden' : AUTH_MESSAGES[code];
  return {
    // [inferred] The status of a 10001 is not recorded; 400 is what users report with it.
    status: code === 10001 ? 400 : 403,
    body: {
      success: false,
      errors: [{ code, message, documentation_url: 'https://developers.cloudflare.com/fundamentals/api/' }],
      messages: [],
      result: null,
    },
  };
}

/** §2.4: a header that is not `Bearer <token>`, refused as a bad request rather than as bad credentials. */
function malformedAuthorization(): FakeReply {
  return {
    status: 400,
    body: {
      success: false,
      errors: [
        {
          code: 6003,
          message: 'Invalid request headers',
          error_chain: [{ code: 6111, message: 'Invalid format for Authorization header' }],
        },
      ],
      messages: [],
      result: null,
    },
  };
}

function noRoute(path: string): FakeReply {
  return {
    status: 400,
    body: failureEnvelope([
      {
        code: 7003,
        message: `Could not route to /client/v4${path}, perhaps your object identifier is invalid?`,
      },
      { code: 7000, message: 'No route for that URI' },
    ]),
  };
}

function failureEnvelope(errors: { code: number; message: string }[]) {
  return { result: null, success: false, errors, messages: [] };
}

function successEnvelope(result: unknown) {
  return { result, success: true, errors: [], messages: [] };
}

function ordered(deployments: FakeDeployment[], order: ListOrder): FakeDeployment[] {
  if (order === 'newest_first') return deployments;
  if (order === 'oldest_first') return [...deployments].reverse();
  return [...deployments].sort((a, b) => a.id.localeCompare(b.id));
}

/** Cloudflare writes timestamps with microseconds: 2023-06-16T18:41:19.07168Z. */
function isoMicros(date: Date): string {
  return date.toISOString().replace(/Z$/, '000Z');
}

function subdomain(project: FakeProject): string {
  return `${project.name}-a5z.pages.dev`;
}

/**
 * A deployment as the API lists it: the SDK's Deployment plus the keys real payloads carry beyond
 * it (provider-apis.md §2.3). `source` is required in the SDK, but direct uploads are recorded
 * without one, so it is optional here.
 */
type ListedDeployment = Omit<Deployment, 'source'> & {
  source?: Deployment.Source;
  compatibility_date: string;
  compatibility_flags: string[];
  build_image_major_version: number;
  usage_model: string | null;
  production_branch: string;
};

/**
 * The fake sends stage names and statuses outside the documented set when a test asks it to (the
 * probe must export them as `unknown`); every other field is checked against the SDK.
 */
function stage(name: string, status: string, started_on: string | null, ended_on: string | null): Stage {
  return {
    name: name as Stage['name'],
    status: status as Stage['status'],
    started_on,
    ended_on,
  } satisfies Stage;
}

function stagesOf(deployment: FakeDeployment): Stage[] {
  const latestIndex = STAGE_NAMES.indexOf(deployment.stage as StageName);
  return STAGE_NAMES.map((name, index) => {
    if (deployment.trigger === 'ad_hoc') {
      // Direct uploads: `queued` stays active with no end, the build stages stay idle.
      if (name === 'queued') return stage(name, 'active', deployment.createdOn, null);
      if (name !== 'deploy') return stage(name, 'idle', null, null);
    }
    if (index === latestIndex || (latestIndex < 0 && name === 'deploy')) {
      const ended =
        deployment.status === 'active' || deployment.status === 'idle' ? null : deployment.modifiedOn;
      return stage(name, deployment.status, deployment.createdOn, ended);
    }
    if (index < latestIndex) return stage(name, 'success', deployment.createdOn, deployment.createdOn);
    return stage(name, 'idle', null, null);
  });
}

function deploymentJson(project: FakeProject, deployment: FakeDeployment): ListedDeployment {
  const shortId = deployment.id.slice(0, 8);
  const ended = deployment.status === 'active' || deployment.status === 'idle' ? null : deployment.modifiedOn;
  return {
    id: deployment.id,
    short_id: shortId,
    project_id: project.id,
    project_name: project.name,
    environment: deployment.environment,
    url: `https://${shortId}.${subdomain(project)}`,
    created_on: deployment.createdOn,
    modified_on: deployment.modifiedOn,
    latest_stage: stage(
      deployment.stage,
      deployment.status,
      deployment.trigger === 'ad_hoc' ? null : deployment.createdOn,
      ended,
    ),
    deployment_trigger: {
      type: deployment.trigger,
      metadata: {
        branch: deployment.branch,
        commit_hash: 'ffac537e6cbbf934b08745a378932722df287a53',
        commit_message: 'chore: update dependencies',
        commit_dirty: deployment.trigger === 'ad_hoc',
      },
    },
    stages: stagesOf(deployment),
    build_config: {
      build_command: null,
      destination_dir: null,
      root_dir: null,
      web_analytics_tag: null,
      web_analytics_token: null,
    },
    env_vars: {},
    compatibility_date: '2023-06-02',
    compatibility_flags: [],
    build_image_major_version: 1,
    usage_model: null,
    aliases: [
      `https://${deployment.branch.replace(/[^a-z0-9-]/gi, '-').toLowerCase()}.${subdomain(project)}`,
    ],
    is_skipped: deployment.skipped !== undefined,
    ...(deployment.skipped === undefined ? {} : { skip_reason: deployment.skipped }),
    ...(deployment.trigger === 'ad_hoc' ? {} : { source: gitSource(project) }),
    production_branch: 'main',
  } satisfies ListedDeployment;
}

/** The git repository of a git-connected project, as cloudflare-go's fixture records it. */
function gitSource(project: FakeProject): Deployment.Source {
  return {
    type: 'github',
    config: {
      owner: 'raxx',
      owner_id: '1234567',
      repo_name: project.name,
      repo_id: '7654321',
      production_branch: 'main',
      pr_comments_enabled: true,
      deployments_enabled: true,
      production_deployments_enabled: true,
      preview_deployment_setting: 'all',
      preview_branch_includes: ['*'],
      preview_branch_excludes: [],
      path_includes: ['*'],
      path_excludes: [],
    },
  } satisfies Deployment.Source;
}

function projectJson(project: FakeProject) {
  const latest = project.deployments[0];
  const canonical = project.deployments.find((deployment) => deployment.environment === 'production');
  return {
    id: project.id,
    name: project.name,
    subdomain: subdomain(project),
    domains: [subdomain(project)],
    build_config: { web_analytics_tag: null, web_analytics_token: null },
    deployment_configs: { preview: {}, production: {} },
    latest_deployment: latest ? deploymentJson(project, latest) : null,
    canonical_deployment: canonical ? deploymentJson(project, canonical) : null,
    created_on: project.createdOn,
    production_branch: 'main',
    production_script_name: `pages-worker--1132921-production`,
    preview_script_name: `pages-worker--1132921-preview`,
    uses_functions: false,
    framework: '',
    framework_version: '',
  };
}

/** The envelope's keys with the wrong types: `success` a string, `result` an object, a stage a number. */
function wrongTypes(): unknown {
  return {
    result: [{ id: 7, created_on: 1686940879, latest_stage: { name: 'deploy', status: true } }],
    success: 'true',
    errors: {},
    messages: [],
  };
}

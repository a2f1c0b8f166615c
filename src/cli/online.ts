import { z } from 'zod';
import type { LoadedRegistry } from '../config/load.js';
import { Deadline } from '../core/deadline.js';
import { type Env, readAccessToken } from '../core/env.js';
import { DEFAULT_CLOUDFLARE_API_URL } from '../providers/cloudflare_pages/provider.js';
import { DEFAULT_HEROKU_API_URL } from '../providers/heroku_app/provider.js';
import { accessHeaders, detectAccessGate } from '../providers/shared/accessGate.js';
import { parseJsonBody, providerText, tryParseJsonBody } from '../providers/shared/api.js';
import type { HttpClient, HttpOutcome, HttpResponse } from '../transport/client.js';

export type CheckKind = 'credential' | 'heroku_app' | 'pages_project' | 'access_token';
export type CheckResult =
  | 'ok'
  | 'unset'
  | 'malformed'
  | 'rejected'
  | 'missing'
  | 'forbidden'
  | 'unreachable'
  | 'error'
  | 'unverified';
export type Severity = 'ok' | 'warn' | 'fail';

/** One line of `check-config --online`: a credential, an app, a project or an Access token, and what the provider said. */
export interface OnlineCheck {
  check: CheckKind;
  /** A variable name, an app name or a project name; never a secret value. */
  subject: string;
  result: CheckResult;
  severity: Severity;
  detail: string;
  /** The registry keys (env/name) that depend on this subject. */
  surfaces: string[];
}

export interface OnlineOptions {
  env: Env;
  http: HttpClient;
  /** Deadline of each call to a provider. */
  timeoutMs: number;
}

type CredentialKind = 'heroku_api_key' | 'cloudflare_token' | 'cloudflare_account_id' | 'access_token';

const CREDENTIAL_NOUN: Record<CredentialKind, string> = {
  heroku_api_key: 'Heroku API key',
  cloudflare_token: 'Cloudflare API token',
  cloudflare_account_id: 'Cloudflare account id',
  access_token: 'Cloudflare Access service token',
};

interface CredentialUse {
  kind: CredentialKind;
  surfaces: string[];
}

interface PagesAccount {
  tokenVariable: string;
  accountVariable: string;
  projects: Map<string, string[]>;
}

/** What the registry asks of each provider account, grouped so that each account is asked once. */
interface Needs {
  credentials: Map<string, CredentialUse>;
  herokuApps: Map<string, Map<string, string[]>>;
  pagesAccounts: Map<string, PagesAccount>;
  accessTargets: Map<string, Map<string, string[]>>;
}

const HEROKU_ACCEPT = 'application/vnd.heroku+json; version=3';
const CLOUDFLARE_AUTH_CODES = new Set([10000, 9109, 6003, 6111]);
const CLOUDFLARE_ROUTE_CODES = new Set([7000, 7003]);
// A project object embeds two full deployments (~3 KB each); a page of them stays well under this.
const PROJECT_LIST_BODY_CAP = 4 * 1024 * 1024;
// Cloudflare pages its lists; an account with more pages than this is not one the runbook describes.
const MAX_PROJECT_PAGES = 50;
const ACCESS_BODY_CAP = 4 * 1024;

/**
 * Checks, against the providers themselves, what the registry needs: each credential set, well formed
 * and accepted; each Heroku app and Pages project present in the account (the runbook's "compare the
 * project list"); each Access service token let through its gate.
 */
export async function checkOnline(registry: LoadedRegistry, options: OnlineOptions): Promise<OnlineCheck[]> {
  const needs = collectNeeds(registry);
  const credentialChecks = new Map<string, OnlineCheck>();
  for (const [variable, use] of needs.credentials) {
    credentialChecks.set(variable, inspectCredential(variable, use, options.env));
  }
  const usable = (variable: string) => credentialChecks.get(variable)?.result === 'ok';
  const acceptedBy = new Map<string, string>();
  const verdicts: CredentialVerdicts = {
    accept: (variable, provider) => acceptedBy.set(variable, provider),
    reject: (variable, detail) => {
      const check = credentialChecks.get(variable);
      if (check) Object.assign(check, { result: 'rejected', severity: 'fail', detail });
    },
  };

  const groups = await Promise.all([
    ...[...needs.herokuApps].map(([keyVariable, apps]) =>
      checkHerokuApps(keyVariable, apps, usable(keyVariable), options, verdicts),
    ),
    ...[...needs.pagesAccounts.values()].map((account) =>
      checkPagesProjects(
        account,
        usable(account.tokenVariable) && usable(account.accountVariable),
        options,
        verdicts,
      ),
    ),
    ...[...needs.accessTargets].map(([variable, targets]) =>
      checkAccessToken(variable, targets, usable(variable), options, verdicts),
    ),
  ]);
  for (const [variable, check] of credentialChecks) {
    if (check.result !== 'ok') continue;
    const provider = acceptedBy.get(variable);
    if (provider) check.detail = `set, well formed, accepted by ${provider}`;
    else {
      Object.assign(check, {
        result: 'unverified',
        severity: 'warn',
        detail: 'set and well formed; no provider call could tell whether it is accepted',
      });
    }
  }
  return [...credentialChecks.values(), ...groups.flat()];
}

function collectNeeds(registry: LoadedRegistry): Needs {
  const needs: Needs = {
    credentials: new Map(),
    herokuApps: new Map(),
    pagesAccounts: new Map(),
    accessTargets: new Map(),
  };
  const useCredential = (variable: string, kind: CredentialKind, key: string) => {
    const use = needs.credentials.get(variable) ?? { kind, surfaces: [] };
    use.surfaces.push(key);
    needs.credentials.set(variable, use);
  };
  const addTo = (map: Map<string, Map<string, string[]>>, group: string, item: string, key: string) => {
    const items = map.get(group) ?? new Map<string, string[]>();
    items.set(item, [...(items.get(item) ?? []), key]);
    map.set(group, items);
  };
  for (const { key, config } of registry.surfaces) {
    switch (config.provider) {
      case 'heroku_app':
        useCredential(config.api_key_env, 'heroku_api_key', key);
        addTo(needs.herokuApps, config.api_key_env, config.app, key);
        if (config.access_token_env) useCredential(config.access_token_env, 'access_token', key);
        break;
      case 'cloudflare_pages': {
        useCredential(config.token_env, 'cloudflare_token', key);
        useCredential(config.account_id_env, 'cloudflare_account_id', key);
        const group = `${config.token_env}\u0000${config.account_id_env}`;
        const account = needs.pagesAccounts.get(group) ?? {
          tokenVariable: config.token_env,
          accountVariable: config.account_id_env,
          projects: new Map<string, string[]>(),
        };
        account.projects.set(config.project, [...(account.projects.get(config.project) ?? []), key]);
        needs.pagesAccounts.set(group, account);
        break;
      }
      case 'infisical':
        if (config.access_token_env) {
          useCredential(config.access_token_env, 'access_token', key);
          addTo(needs.accessTargets, config.access_token_env, statusUrl(config.url), key);
        }
        break;
      case 'http':
        if (config.access_token_env) {
          useCredential(config.access_token_env, 'access_token', key);
          addTo(needs.accessTargets, config.access_token_env, config.url, key);
        }
        break;
    }
  }
  return needs;
}

function statusUrl(base: string): string {
  return `${base.replace(/\/+$/, '')}/api/status`;
}

/** Set and well formed; acceptance is decided later by the provider's answer. */
function inspectCredential(variable: string, use: CredentialUse, env: Env): OnlineCheck {
  const check = (result: CheckResult, severity: Severity, detail: string): OnlineCheck => ({
    check: 'credential',
    subject: variable,
    result,
    severity,
    detail,
    surfaces: use.surfaces,
  });
  const noun = CREDENTIAL_NOUN[use.kind];
  const value = env[variable]?.trim();
  if (!value)
    return check('unset', 'fail', `${noun} unset: the surfaces using it report skipped_credentials`);
  const problem = formatProblem(use.kind, value);
  if (problem) return check('malformed', 'fail', `${noun} malformed: ${problem}`);
  return check('ok', 'ok', 'set, well formed');
}

function formatProblem(kind: CredentialKind, value: string): string | undefined {
  switch (kind) {
    case 'access_token': {
      const token = readAccessToken({ token: value }, 'token');
      return token.ok ? undefined : 'expected client_id:client_secret';
    }
    case 'cloudflare_account_id':
      return /^[0-9a-f]{32}$/i.test(value) ? undefined : 'expected 32 hexadecimal characters';
    case 'heroku_api_key':
    case 'cloudflare_token':
      if (/^bearer\s/i.test(value)) return 'holds a "Bearer " prefix; store the token alone';
      return /^[\x21-\x7e]{16,}$/.test(value)
        ? undefined
        : 'expected at least 16 printable characters without spaces';
  }
}

interface CredentialVerdicts {
  accept(variable: string, provider: string): void;
  reject(variable: string, detail: string): void;
}

function rows(
  kind: CheckKind,
  items: Map<string, string[]>,
  verdict: (item: string) => Pick<OnlineCheck, 'result' | 'severity' | 'detail'>,
): OnlineCheck[] {
  return [...items].map(([subject, surfaces]) => ({ check: kind, subject, surfaces, ...verdict(subject) }));
}

const notChecked = (why: string) => ({
  result: 'unverified' as const,
  severity: 'warn' as const,
  detail: why,
});

async function checkHerokuApps(
  keyVariable: string,
  apps: Map<string, string[]>,
  keyUsable: boolean,
  options: OnlineOptions,
  verdicts: CredentialVerdicts,
): Promise<OnlineCheck[]> {
  if (!keyUsable)
    return rows('heroku_app', apps, () => notChecked(`not checked: ${keyVariable} is not usable`));
  const apiKey = options.env[keyVariable]?.trim() ?? '';
  const baseUrl = (options.env.HEROKU_API_URL?.trim() || DEFAULT_HEROKU_API_URL).replace(/\/+$/, '');
  const verdictByApp = new Map<string, Pick<OnlineCheck, 'result' | 'severity' | 'detail'>>();
  for (const app of apps.keys()) {
    const path = `/apps/${encodeURIComponent(app)}`;
    const outcome = await options.http.send({
      url: `${baseUrl}${path}`,
      headers: { Accept: HEROKU_ACCEPT, Authorization: `Bearer ${apiKey}` },
      deadline: new Deadline(options.timeoutMs),
    });
    if (outcome.kind === 'failure') {
      verdictByApp.set(app, unreachable(`Heroku API GET ${path}`, outcome));
      continue;
    }
    const said = herokuMessage(outcome, apiKey);
    if (outcome.status === 401) {
      verdicts.reject(keyVariable, `Heroku API rejected the key (HTTP 401${said})`);
      for (const rest of apps.keys()) {
        if (!verdictByApp.has(rest))
          verdictByApp.set(rest, notChecked(`not checked: ${keyVariable} rejected`));
      }
      break;
    }
    verdicts.accept(keyVariable, 'Heroku');
    if (outcome.status >= 200 && outcome.status < 300) {
      const info = parseJsonBody(outcome, z.looseObject({ web_url: z.string().nullable() }), `GET ${path}`);
      verdictByApp.set(
        app,
        info.ok
          ? { result: 'ok', severity: 'ok', detail: `exists (web_url ${info.value.web_url ?? 'none'})` }
          : { result: 'error', severity: 'fail', detail: info.detail },
      );
    } else if (outcome.status === 404) {
      verdictByApp.set(app, {
        result: 'missing',
        severity: 'fail',
        detail: `not in the account of ${keyVariable} (HTTP 404${said}): correct or remove the surface`,
      });
    } else if (outcome.status === 403) {
      verdictByApp.set(app, {
        result: 'forbidden',
        severity: 'fail',
        detail: `the key in ${keyVariable} has no access to this app (HTTP 403${said})`,
      });
    } else {
      verdictByApp.set(app, {
        result: 'error',
        severity: 'fail',
        detail: `Heroku API GET ${path} answered HTTP ${outcome.status}${said}`,
      });
    }
  }
  return rows('heroku_app', apps, (app) => verdictByApp.get(app) ?? notChecked('not checked'));
}

function herokuMessage(response: HttpResponse, apiKey: string): string {
  const body = tryParseJsonBody(
    response,
    z.looseObject({
      id: z.string().optional(),
      message: z.string().optional(),
      error: z.string().optional(),
    }),
  );
  const said = [body?.id, body?.message ?? body?.error].filter(Boolean).join(': ');
  return said ? ` ${providerText(said, [apiKey])}` : '';
}

const cloudflareEnvelope = z.looseObject({
  success: z.boolean(),
  errors: z.array(z.looseObject({ code: z.number(), message: z.string() })).optional(),
  result: z.unknown().optional(),
  result_info: z.looseObject({ page: z.number().optional(), total_pages: z.number().optional() }).optional(),
});
const projectList = z.array(z.looseObject({ name: z.string() }));

async function checkPagesProjects(
  account: PagesAccount,
  credentialsUsable: boolean,
  options: OnlineOptions,
  verdicts: CredentialVerdicts,
): Promise<OnlineCheck[]> {
  const { tokenVariable, accountVariable, projects } = account;
  if (!credentialsUsable) {
    return rows('pages_project', projects, () =>
      notChecked(`not checked: ${tokenVariable} or ${accountVariable} is not usable`),
    );
  }
  const token = options.env[tokenVariable]?.trim() ?? '';
  const accountId = options.env[accountVariable]?.trim() ?? '';
  const listed = await listPagesProjects(token, accountId, options);
  if (!listed.ok) {
    if (listed.rejects === 'token') verdicts.reject(tokenVariable, listed.detail);
    if (listed.rejects === 'account') verdicts.reject(accountVariable, listed.detail);
    return rows('pages_project', projects, () =>
      listed.rejects
        ? notChecked(`not checked: ${listed.detail}`)
        : { result: listed.result, severity: 'fail', detail: listed.detail },
    );
  }
  verdicts.accept(tokenVariable, 'Cloudflare');
  verdicts.accept(accountVariable, 'Cloudflare');
  const unregistered = [...listed.names].filter((name) => !projects.has(name)).sort();
  const inAccount = `the account lists ${listed.names.size} project(s)`;
  return rows('pages_project', projects, (project) =>
    listed.names.has(project)
      ? { result: 'ok', severity: 'ok', detail: `exists (${inAccount})` }
      : {
          result: 'missing',
          severity: 'fail',
          detail: `not in the account (${inAccount}${unregistered.length ? `; not in the registry: ${unregistered.join(', ')}` : ''}): correct or remove the surface`,
        },
  );
}

type ProjectListing =
  | { ok: true; names: Set<string> }
  | { ok: false; result: CheckResult; detail: string; rejects?: 'token' | 'account' };

/** GET /accounts/{id}/pages/projects, page by page: the list the runbook compared by eye. */
async function listPagesProjects(
  token: string,
  accountId: string,
  options: OnlineOptions,
): Promise<ProjectListing> {
  const baseUrl = (options.env.CLOUDFLARE_API_URL?.trim() || DEFAULT_CLOUDFLARE_API_URL).replace(/\/+$/, '');
  const names = new Set<string>();
  const what = 'Cloudflare API GET /accounts/{account_id}/pages/projects';
  for (let page = 1; page <= MAX_PROJECT_PAGES; page++) {
    const outcome = await options.http.send({
      url: `${baseUrl}/accounts/${encodeURIComponent(accountId)}/pages/projects?page=${page}`,
      headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
      maxBodyBytes: PROJECT_LIST_BODY_CAP,
      deadline: new Deadline(options.timeoutMs),
    });
    if (outcome.kind === 'failure') return { ok: false, ...unreachable(what, outcome) };
    const body = parseJsonBody(outcome, cloudflareEnvelope, what);
    const codes = body.ok ? (body.value.errors ?? []).map((error) => error.code) : [];
    const said = body.ok
      ? (body.value.errors ?? [])
          .map((error) => providerText(`${error.message} [${error.code}]`, [token, accountId]))
          .join('; ')
      : '';
    const answer = `HTTP ${outcome.status}${said ? ` ${said}` : ''}`;
    if (
      outcome.status === 401 ||
      outcome.status === 403 ||
      codes.some((code) => CLOUDFLARE_AUTH_CODES.has(code))
    ) {
      return {
        ok: false,
        result: 'rejected',
        rejects: 'token',
        detail: `Cloudflare rejected the token (${answer})`,
      };
    }
    if (codes.some((code) => CLOUDFLARE_ROUTE_CODES.has(code))) {
      return {
        ok: false,
        result: 'rejected',
        rejects: 'account',
        detail: `Cloudflare knows no such account (${answer})`,
      };
    }
    if (!body.ok) return { ok: false, result: 'error', detail: body.detail };
    const projects = projectList.safeParse(body.value.result);
    if (outcome.status !== 200 || !body.value.success || !projects.success) {
      return { ok: false, result: 'error', detail: `${what} answered ${answer}` };
    }
    for (const project of projects.data) names.add(project.name);
    const totalPages = body.value.result_info?.total_pages ?? 1;
    if (page >= totalPages || projects.data.length === 0) return { ok: true, names };
  }
  return { ok: true, names };
}

async function checkAccessToken(
  variable: string,
  targets: Map<string, string[]>,
  tokenUsable: boolean,
  options: OnlineOptions,
  verdicts: CredentialVerdicts,
): Promise<OnlineCheck[]> {
  const checks: OnlineCheck[] = [];
  const token = readAccessToken(options.env, variable);
  for (const [url, surfaces] of targets) {
    const subject = `${variable} @ ${new URL(url).host}`;
    if (!tokenUsable || !token.ok) {
      checks.push({
        check: 'access_token',
        subject,
        surfaces,
        ...notChecked(`not checked: ${variable} is not usable`),
      });
      continue;
    }
    const outcome = await options.http.send({
      url,
      headers: accessHeaders(token.value),
      maxBodyBytes: ACCESS_BODY_CAP,
      deadline: new Deadline(options.timeoutMs),
    });
    if (outcome.kind === 'failure') {
      checks.push({
        check: 'access_token',
        subject,
        surfaces,
        ...unreachable(`GET ${url}`, outcome),
        severity: 'warn',
      });
      continue;
    }
    const gate = detectAccessGate(outcome, true);
    if (gate) {
      verdicts.reject(variable, `Cloudflare Access stopped it at ${new URL(url).host}`);
      checks.push({
        check: 'access_token',
        subject,
        surfaces,
        result: 'rejected',
        severity: 'fail',
        detail: gate,
      });
    } else {
      verdicts.accept(variable, 'Cloudflare Access');
      checks.push({
        check: 'access_token',
        subject,
        surfaces,
        result: 'ok',
        severity: 'ok',
        detail: `let through to the origin, which answered HTTP ${outcome.status}`,
      });
    }
  }
  return checks;
}

function unreachable(what: string, outcome: Extract<HttpOutcome, { kind: 'failure' }>) {
  return { result: 'unreachable' as const, severity: 'fail' as const, detail: `${what}: ${outcome.message}` };
}

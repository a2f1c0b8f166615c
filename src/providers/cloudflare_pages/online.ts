import { z } from 'zod';
import {
  accountIdProblem,
  cloudflareApiUrl,
  cloudflareHeaders,
  isAuthRefusal,
  isUnknownAccount,
  readCloudflareAnswer,
} from '../cloudflare/client.js';
import {
  apiTokenProblem,
  type CheckResult,
  findingsBySubject,
  keysBy,
  notChecked,
  type OnlineCheck,
  type OnlineContext,
  unreachable,
} from '../online.js';
import { parseJsonBody } from '../shared/api.js';

interface PagesSurfaceKeys {
  project: string;
  token_env: string;
  account_id_env: string;
}

// A project object embeds two full deployments (~3 KB each); a page of them stays well under this.
const PROJECT_LIST_BODY_CAP = 4 * 1024 * 1024;
// Cloudflare pages its lists; an account with more pages than this is not one the runbook describes.
const MAX_PROJECT_PAGES = 50;
const projectList = z.array(z.looseObject({ name: z.string() }));

/** Each account's project list against the registry's projects: the runbook's "compare the project list". */
export const cloudflarePagesOnline: OnlineCheck<PagesSurfaceKeys> = {
  credentials: (surface) => [
    {
      variable: surface.token_env,
      noun: 'Cloudflare API token',
      problem: apiTokenProblem,
      lifecycle: 'cloudflare_api_token',
    },
    { variable: surface.account_id_env, noun: 'Cloudflare account id', problem: accountIdProblem },
  ],
  group: (surface) => `${surface.token_env}\u0000${surface.account_id_env}`,
  async check(surfaces, ctx) {
    const first = surfaces[0]?.surface;
    const tokenVariable = first?.token_env ?? '';
    const accountVariable = first?.account_id_env ?? '';
    const projects = keysBy(surfaces, (surface) => surface.project);
    if (!ctx.usable(tokenVariable) || !ctx.usable(accountVariable)) {
      return findingsBySubject('pages_project', projects, () =>
        notChecked(`not checked: ${tokenVariable} or ${accountVariable} is not usable`),
      );
    }
    const token = ctx.env[tokenVariable]?.trim() ?? '';
    const accountId = ctx.env[accountVariable]?.trim() ?? '';
    const listed = await listPagesProjects(token, accountId, ctx);
    if (!listed.ok) {
      if (listed.rejects === 'token') ctx.reject(tokenVariable, listed.detail);
      if (listed.rejects === 'account') ctx.reject(accountVariable, listed.detail);
      return findingsBySubject('pages_project', projects, () =>
        listed.rejects
          ? notChecked(`not checked: ${listed.detail}`)
          : { result: listed.result, severity: 'fail', detail: listed.detail },
      );
    }
    ctx.accept(tokenVariable, 'Cloudflare');
    ctx.accept(accountVariable, 'Cloudflare');
    const unregistered = [...listed.names].filter((name) => !projects.has(name)).sort();
    const inAccount = `the account lists ${listed.names.size} project(s)`;
    return findingsBySubject('pages_project', projects, (project) =>
      listed.names.has(project)
        ? { result: 'ok', severity: 'ok', detail: `exists (${inAccount})` }
        : {
            result: 'missing',
            severity: 'fail',
            detail: `not in the account (${inAccount}${unregistered.length ? `; not in the registry: ${unregistered.join(', ')}` : ''}): correct or remove the surface`,
          },
    );
  },
};

type ProjectListing =
  | { ok: true; names: Set<string> }
  | { ok: false; result: CheckResult; detail: string; rejects?: 'token' | 'account' };

/** GET /accounts/{id}/pages/projects, page by page: the list the runbook compared by eye. */
async function listPagesProjects(
  token: string,
  accountId: string,
  ctx: OnlineContext,
): Promise<ProjectListing> {
  const baseUrl = cloudflareApiUrl(ctx.env);
  const names = new Set<string>();
  const what = 'Cloudflare API GET /accounts/{account_id}/pages/projects';
  for (let page = 1; page <= MAX_PROJECT_PAGES; page++) {
    const outcome = await ctx.send({
      url: `${baseUrl}/accounts/${encodeURIComponent(accountId)}/pages/projects?page=${page}`,
      headers: cloudflareHeaders(token),
      maxBodyBytes: PROJECT_LIST_BODY_CAP,
    });
    if (outcome.kind === 'failure') return { ok: false, ...unreachable(what, outcome) };
    const answer = readCloudflareAnswer(outcome, [token, accountId]);
    if (isAuthRefusal(answer)) {
      return {
        ok: false,
        result: 'rejected',
        rejects: 'token',
        detail: `Cloudflare rejected the token (${answer.answer})`,
      };
    }
    if (isUnknownAccount(answer)) {
      return {
        ok: false,
        result: 'rejected',
        rejects: 'account',
        detail: `Cloudflare knows no such account (${answer.answer})`,
      };
    }
    const envelope = answer.envelope;
    if (!envelope) {
      const unreadable = parseJsonBody(outcome, z.looseObject({ success: z.boolean() }), what);
      return {
        ok: false,
        result: 'error',
        detail: unreadable.ok ? `${what} answered ${answer.answer}` : unreadable.detail,
      };
    }
    const listedProjects = projectList.safeParse(envelope.result);
    if (outcome.status !== 200 || !envelope.success || !listedProjects.success) {
      return { ok: false, result: 'error', detail: `${what} answered ${answer.answer}` };
    }
    for (const project of listedProjects.data) names.add(project.name);
    const totalPages = envelope.result_info?.total_pages ?? 1;
    if (page >= totalPages || listedProjects.data.length === 0) return { ok: true, names };
  }
  return { ok: true, names };
}

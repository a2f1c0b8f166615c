import { z } from 'zod';
import {
  apiTokenProblem,
  type CredentialUse,
  findingsBySubject,
  keysBy,
  notChecked,
  type OnlineCheck,
  unreachable,
  type Verdict,
} from '../online.js';
import { accessTokenUse } from '../shared/accessGate.js';
import { parseJsonBody } from '../shared/api.js';
import { herokuApiUrl, herokuErrorId, herokuHeaders, herokuSaid } from './api.js';
import { readHerokuKeyLifecycle } from './keyLifecycle.js';

interface HerokuSurfaceKeys {
  app: string;
  api_key_env: string;
  access_token_env?: string;
  health_url?: string;
}

const appInfoSchema = z.looseObject({
  web_url: z.string().nullable(),
  internal_routing: z.boolean().nullable().optional(),
});

/** Each app is looked up with its account's key (GET /apps/{app}): the runbook's "is the app still there". */
export const herokuAppOnline: OnlineCheck<HerokuSurfaceKeys> = {
  credentials(surface) {
    const uses: CredentialUse[] = [
      {
        variable: surface.api_key_env,
        noun: 'Heroku API key',
        problem: apiTokenProblem,
        readLifecycle: readHerokuKeyLifecycle,
        lifecycleKind: 'heroku_api_key',
      },
    ];
    if (surface.access_token_env) uses.push(accessTokenUse(surface.access_token_env));
    return uses;
  },
  group: (surface) => surface.api_key_env,
  async check(surfaces, ctx) {
    const keyVariable = surfaces[0]?.surface.api_key_env ?? '';
    const apps = keysBy(surfaces, (surface) => surface.app);
    // Surfaces that probe the app's own web_url: an internal-routing app is not reachable there.
    const withoutHealthUrl = new Set(
      surfaces.filter(({ surface }) => surface.health_url === undefined).map(({ surface }) => surface.app),
    );
    if (!ctx.usable(keyVariable))
      return findingsBySubject('heroku_app', apps, () =>
        notChecked(`not checked: ${keyVariable} is not usable`),
      );
    const apiKey = ctx.env[keyVariable]?.trim() ?? '';
    const baseUrl = herokuApiUrl(ctx.env);
    const verdictByApp = new Map<string, Verdict>();
    for (const app of apps.keys()) {
      const path = `/apps/${encodeURIComponent(app)}`;
      const outcome = await ctx.send({ url: `${baseUrl}${path}`, headers: herokuHeaders(apiKey) });
      if (outcome.kind === 'failure') {
        verdictByApp.set(app, unreachable(`Heroku API GET ${path}`, outcome));
        continue;
      }
      const said = herokuSaid(outcome, apiKey);
      if (outcome.status === 401) {
        ctx.reject(keyVariable, `Heroku API rejected the key (HTTP 401${said})`);
        for (const rest of apps.keys()) {
          if (!verdictByApp.has(rest))
            verdictByApp.set(rest, notChecked(`not checked: ${keyVariable} rejected`));
        }
        break;
      }
      ctx.accept(keyVariable, 'Heroku');
      if (outcome.status >= 200 && outcome.status < 300) {
        const info = parseJsonBody(outcome, appInfoSchema, `GET ${path}`);
        if (!info.ok) verdictByApp.set(app, { result: 'error', severity: 'fail', detail: info.detail });
        else if (info.value.internal_routing === true && withoutHealthUrl.has(app)) {
          verdictByApp.set(app, {
            result: 'error',
            severity: 'warn',
            detail:
              'exists, but with internal routing (Private Space): its web_url is not reachable from outside the space, so the health check is skipped; set health_url to a URL the exporter can reach',
          });
        } else {
          verdictByApp.set(app, {
            result: 'ok',
            severity: 'ok',
            detail: `exists (web_url ${info.value.web_url ?? 'none'})`,
          });
        }
      } else if (outcome.status === 404) {
        verdictByApp.set(app, {
          result: 'missing',
          severity: 'fail',
          detail: `not in the account of ${keyVariable} (HTTP 404${said}): correct or remove the surface`,
        });
      } else if (
        outcome.status === 402 ||
        herokuErrorId(outcome) === 'suspended' ||
        herokuErrorId(outcome) === 'delinquent'
      ) {
        verdictByApp.set(app, {
          result: 'forbidden',
          severity: 'fail',
          detail: `the account of ${keyVariable} is suspended or delinquent (HTTP ${outcome.status}${said}): an account problem for its owner, not a key to rotate`,
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
    return findingsBySubject('heroku_app', apps, (app) => verdictByApp.get(app) ?? notChecked('not checked'));
  },
};

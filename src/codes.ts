/**
 * The closed set of probe outcomes. Codes are Prometheus label values, so every family here is
 * bounded: the templated ones only take an HTTP status (100-599).
 */
export type SurfaceStatus = 'up' | 'degraded' | 'down';
export const SURFACE_STATUSES: readonly SurfaceStatus[] = ['up', 'degraded', 'down'];

type HttpStatusCode<Prefix extends string> = `${Prefix}${number}`;

export type ErrorCode =
  // any provider
  | 'probe_timeout'
  | 'probe_crashed'
  | 'skipped_credentials'
  | 'access_gate_redirect'
  | 'tls_error'
  | 'api_bad_response'
  | 'api_auth_failed'
  | 'rate_limited'
  | 'api_error'
  | HttpStatusCode<'api_http_'>
  // http and heroku_app health checks
  | 'health_no_response'
  | HttpStatusCode<'health_http_'>
  // heroku_app
  | 'app_not_found'
  | 'no_web_dyno'
  | 'dyno_crashed'
  | 'maintenance_mode'
  // cloudflare_pages
  | 'deploy_failure'
  | 'deploy_building'
  | 'deploy_canceled'
  | 'no_deployments'
  // infisical, and cloudflare_pages' "project not in the account" (http_404)
  | 'connection_error'
  | HttpStatusCode<'http_'>;

export interface ErrorCodeDoc {
  /** The code, or its family with `<status>` standing for the HTTP status. */
  code: string;
  status: SurfaceStatus;
  meaning: string;
  action: string;
  /** The seed runbook section or manual step this code replaces, if any. */
  replaces?: string;
}

/** One row per code or family; the README table and docs/runbook.md are checked against this list. */
export const ERROR_CODE_DOCS: readonly ErrorCodeDoc[] = [
  {
    code: 'health_http_<status>',
    status: 'degraded',
    meaning: 'The health check answered with a status other than `expect_status` (default: any 2xx).',
    action:
      'For a Heroku app, `heroku ps` and `heroku logs --tail`: a 502/503 usually means the web dyno is not serving. Otherwise check the target itself.',
    replaces: '"health_http_502 or health_no_response"',
  },
  {
    code: 'health_no_response',
    status: 'degraded',
    meaning: 'The health check got no HTTP answer: connection refused, reset, or the name did not resolve.',
    action: 'Check the target is running and resolvable; the detail says which of refused/reset/DNS it was.',
    replaces: '"health_http_502 or health_no_response"',
  },
  {
    code: 'probe_timeout',
    status: 'degraded',
    meaning: 'The probe did not finish within `timeout_seconds`.',
    action:
      'The target or provider API is slow or hanging; `surface-exporter probe SURFACE` shows which call.',
  },
  {
    code: 'probe_crashed',
    status: 'degraded',
    meaning:
      'The probe threw an unexpected error (a bug). The stack is logged as `probe_crashed`; other surfaces are unaffected.',
    action: 'Grep the logs for `probe_crashed` and file a bug with the stack.',
    replaces: '"Look for probe_crashed or thread_crashed errors"',
  },
  {
    code: 'skipped_credentials',
    status: 'degraded',
    meaning:
      'A credential variable the surface needs is unset, empty or malformed. No request was sent. The detail names it, e.g. `skipped: CF_ACCESS_SERVICE_TOKEN_CONSOLE unset`.',
    action: 'Set the named variable (Access tokens as `client_id:client_secret`) and reload or restart.',
    replaces:
      '"skipped: CF_ACCESS_SERVICE_TOKEN_CONSOLE unset" and "skipped: CLOUDFLARE_PAGES_READ_TOKEN unset"',
  },
  {
    code: 'access_gate_redirect',
    status: 'degraded',
    meaning:
      'Cloudflare Access stopped the request: a 3xx to `/cdn-cgi/access/login`, a 401 with `WWW-Authenticate: Bearer`, or a 403 with `Cf-Access-Error`/`CF-Access-Aud`. Redirects are never followed.',
    action:
      'The service token is missing from a Service Auth (non_identity) policy on the Access application, was revoked, or the probe hit a gated URL (a Heroku probe must use the direct herokuapp.com URL).',
    replaces:
      '"api-prod, console-prod … all show DEGRADED … CF Access redirect present" and the Access prerequisite',
  },
  {
    code: 'tls_error',
    status: 'degraded',
    meaning: 'The TLS handshake failed (self-signed, expired or mismatched certificate).',
    action: 'Fix the certificate, or set `ca_file` on the surface for a private CA.',
  },
  {
    code: 'api_bad_response',
    status: 'degraded',
    meaning:
      'A provider API (or Infisical) answered with a body that is not the documented JSON, or larger than the cap.',
    action:
      'Something between the exporter and the provider (proxy, captive portal) is answering; check the URL.',
  },
  {
    code: 'api_auth_failed',
    status: 'degraded',
    meaning: 'The provider API rejected the credentials (401/403; Cloudflare codes 10000 or 9109).',
    action: 'Rotate or re-scope the token named in the surface (`api_key_env` / `token_env`).',
    replaces: '"Check probe credentials"',
  },
  {
    code: 'rate_limited',
    status: 'degraded',
    meaning:
      'The provider API answered 429 (Cloudflare code 971). The exporter waits for Retry-After before calling again.',
    action: 'Lower the number of surfaces per token or raise `metadata_ttl_seconds`.',
  },
  {
    code: 'api_error',
    status: 'degraded',
    meaning: 'Cloudflare answered `success:false` with a code not listed here; the code is in the detail.',
    action: 'Look the code up in the Cloudflare API docs.',
  },
  {
    code: 'api_http_<status>',
    status: 'degraded',
    meaning:
      'The Heroku API answered with an unexpected HTTP status, or the Cloudflare API with one and no Cloudflare error body.',
    action:
      'Check status.heroku.com or cloudflarestatus.com; the detail carries the API message when there is one.',
  },
  {
    code: 'app_not_found',
    status: 'degraded',
    meaning: 'The Heroku API does not know the app (404).',
    action:
      'Correct `app` in the registry or remove the surface (`surface-exporter check-config --online` lists them).',
  },
  {
    code: 'no_web_dyno',
    status: 'down',
    meaning: 'The app has no `web` process type, or it is scaled to 0.',
    action: 'Deploy the app, or `heroku ps:scale web=1 --app APP`.',
    replaces: '"health_http_502 or health_no_response" (0 dynos)',
  },
  {
    code: 'dyno_crashed',
    status: 'degraded',
    meaning: 'Some web dynos are not up (DEGRADED), or none are (DOWN). Counts are in the detail.',
    action: '`heroku logs --tail --app APP` for the crash, then `heroku restart`.',
    replaces: '"health_http_502 or health_no_response" (crashed on startup)',
  },
  {
    code: 'maintenance_mode',
    status: 'degraded',
    meaning: 'The Heroku app is in maintenance mode, so Heroku serves its maintenance page.',
    action: '`heroku maintenance:off --app APP` when the work is done.',
  },
  {
    code: 'deploy_failure',
    status: 'degraded',
    meaning: 'The newest Cloudflare Pages deployment failed.',
    action: 'Read the build log in the Pages dashboard, fix, and push or retry the deployment.',
    replaces: '"deploy_* error"',
  },
  {
    code: 'deploy_building',
    status: 'degraded',
    meaning: 'The newest Pages deployment is queued or building. Alerts fire only after 10 minutes.',
    action: 'Wait; past 10 minutes cancel and retrigger the deployment.',
    replaces: '"deploy_* error" (building > 10 min)',
  },
  {
    code: 'deploy_canceled',
    status: 'degraded',
    meaning: 'The newest Pages deployment was canceled.',
    action: 'Retrigger a deployment.',
  },
  {
    code: 'no_deployments',
    status: 'degraded',
    meaning: 'The Pages project has no deployment in the configured environment.',
    action: 'Deploy once, or point `environment` at the one that has deployments.',
  },
  {
    code: 'connection_error',
    status: 'degraded',
    meaning:
      'Infisical, or the Heroku or Cloudflare API, could not be reached: refused, reset or DNS failure. The detail names which.',
    action:
      'For the vault, check the host running Infisical (instance state, then its logs); for an API, check the exporter’s egress and HEROKU_API_URL / CLOUDFLARE_API_URL.',
    replaces: '"vault tile shows DEGRADED" (unreachable)',
  },
  {
    code: 'http_<status>',
    status: 'degraded',
    meaning:
      'Infisical `/api/status` answered non-200; for Cloudflare Pages, `http_404` means the project is not in the account (code 8000007).',
    action:
      'For Pages, correct or remove the registry entry; for Infisical, check its logs (a 500 usually means Redis or Postgres).',
    replaces: '"http_404 on every poll" and "vault … http_*"',
  },
];

/** The family a code belongs to, as written in ERROR_CODE_DOCS. */
export function codeFamily(code: ErrorCode): string {
  return code.replace(/_\d{1,3}$/, '_<status>');
}

export function httpStatusCode<P extends 'health_http_' | 'api_http_' | 'http_'>(
  prefix: P,
  status: number,
): HttpStatusCode<P> {
  // Out-of-range statuses are folded so that the label stays bounded.
  const bounded = Number.isInteger(status) && status >= 100 && status <= 599 ? status : 0;
  return `${prefix}${bounded}` as HttpStatusCode<P>;
}

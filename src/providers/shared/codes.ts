import type { CodeOf, ErrorCodeDoc } from '../../core/codes.js';

/** Codes of a health check (the `http` provider, and the app check of `heroku_app`). */
export const HEALTH_CODE_DOCS = [
  {
    code: 'health_http_<status>',
    status: 'degraded',
    meaning:
      'The health check answered with a status other than `expect.status` or its alias `expect_status` (default: any 2xx).',
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
] as const satisfies readonly ErrorCodeDoc[];

/** Transport outcomes any provider's request can have. */
export const TRANSPORT_CODE_DOCS = [
  {
    code: 'tls_error',
    status: 'degraded',
    meaning:
      'The TLS handshake failed; the detail says which: certificate expired, not yet valid, unknown issuer or name mismatch.',
    action: 'Fix the certificate, or set `ca_file` on the surface for a private CA.',
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
] as const satisfies readonly ErrorCodeDoc[];

/** Cloudflare Access, and the Cloudflare edge it runs on, in front of any surface. */
export const ACCESS_GATE_CODE_DOCS = [
  {
    code: 'access_gate_redirect',
    status: 'degraded',
    meaning:
      'Cloudflare Access stopped the request with a redirect: a 3xx to the team `*.cloudflareaccess.com` domain or any `/cdn-cgi/access/` path. Also any Access refusal of a surface that sends no service token. Redirects are never followed.',
    action:
      'The service token is missing from a Service Auth (non_identity) policy on the Access application (an Allow-only policy redirects it to the login), was revoked, or the probe hit a gated URL (a Heroku probe must use the direct herokuapp.com URL, or `health_url`).',
    replaces:
      '"api-prod, console-prod … all show DEGRADED … CF Access redirect present" and the Access prerequisite',
  },
  {
    code: 'access_denied',
    status: 'degraded',
    meaning:
      'The probe sent its service token and Cloudflare Access refused it without a login redirect: a bare 403 served by Cloudflare (a Service-Auth-only application), a 401 (`service_auth_401_redirect`), a Bearer challenge or `Cf-Access-*` header, or a redirect to `access_deny_url`. The detail names the form.',
    action:
      'Not the app: enrol the token in the Service Auth policy of the Access application, or rotate a revoked or expired token. If the origin itself answers 401/403 through Cloudflare, drop `access_token_env` from the surface.',
  },
  {
    code: 'edge_blocked',
    status: 'degraded',
    meaning:
      'A Cloudflare WAF, bot or browser-integrity rule blocked the probe before Access and the app (a 401/403 with `cf-mitigated`, or the "error code: 1010" page).',
    action:
      "Not Access and not the app: in the zone's Security → Events, find the rule that matched the exporter's requests (the detail names the form) and add a skip rule for the exporter.",
  },
] as const satisfies readonly ErrorCodeDoc[];

/** What a provider API (Heroku, Cloudflare) can answer besides success. */
export const PROVIDER_API_CODE_DOCS = [
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
    meaning:
      "The provider API rejected the credentials (401/403; Cloudflare codes 10000, 10001 or 9109), or Cloudflare could not read the Authorization header (400, 6003/6111: the detail asks whether the variable includes 'Bearer ').",
    action:
      'Rotate or re-scope the token named in the surface (`api_key_env` / `token_env`); for 6003/6111 store the bare token, without `Bearer `.',
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
    code: 'api_http_<status>',
    status: 'degraded',
    meaning:
      'The Heroku API answered with an unexpected HTTP status, or the Cloudflare API with one and no Cloudflare error body.',
    action:
      'Check status.heroku.com or cloudflarestatus.com; the detail carries the API message when there is one.',
  },
] as const satisfies readonly ErrorCodeDoc[];

/** A non-success status of a provider's own endpoint (Infisical's /api/status, a missing Pages project). */
export const ENDPOINT_STATUS_CODE_DOCS = [
  {
    code: 'http_<status>',
    status: 'degraded',
    meaning:
      'Infisical `/api/status` answered non-200; for Cloudflare Pages, `http_404` means the project is not in the account (code 8000007).',
    action:
      'For Pages, correct or remove the registry entry; for Infisical, check its logs (a 500 usually means Redis or Postgres).',
    replaces: '"http_404 on every poll" and "vault … http_*"',
  },
] as const satisfies readonly ErrorCodeDoc[];

export type HealthCode = CodeOf<typeof HEALTH_CODE_DOCS>;
export type TransportCode = CodeOf<typeof TRANSPORT_CODE_DOCS>;
export type AccessGateCode = CodeOf<typeof ACCESS_GATE_CODE_DOCS>;
export type ProviderApiCode = CodeOf<typeof PROVIDER_API_CODE_DOCS>;
export type EndpointStatusCode = CodeOf<typeof ENDPOINT_STATUS_CODE_DOCS>;

/** A failed condition of an `expect:` block (an `http` surface, or the health request of a `heroku_app`). */
export const CONDITION_CODE_DOCS = [
  {
    code: 'body_mismatch',
    status: 'degraded',
    meaning:
      'The body does not contain `expect.body_contains` or does not match `expect.body_matches`. The detail names the rule and quotes the start of the body.',
    action:
      'Compare the quoted excerpt with what the endpoint should answer: an error page, a maintenance page or a wrong route.',
  },
  {
    code: 'json_mismatch',
    status: 'degraded',
    meaning:
      'A path of `expect.json` is missing or holds another value, or the body is not JSON. The detail names the path, the expected and the seen value.',
    action: 'The named dependency (e.g. `checks.db`) reports itself unhealthy: check it, not the endpoint.',
  },
  {
    code: 'header_mismatch',
    status: 'degraded',
    meaning: 'A header of `expect.headers` is missing or does not match its regular expression.',
    action:
      'A wrong content-type often means a proxy or CDN answered instead of the app; `surface-exporter probe` shows every condition.',
  },
  {
    code: 'slow_response',
    status: 'degraded',
    meaning:
      'The answer took longer than `expect.max_duration_seconds` (the whole request, connection included).',
    action:
      'The `surface_probe_phase_seconds` panel tells DNS, connect, TLS, server processing and transfer apart.',
  },
] as const satisfies readonly ErrorCodeDoc[];

/** An `expect_gate: true` surface that Cloudflare Access no longer protects. */
export const ACCESS_GATE_MISSING_CODE_DOCS = [
  {
    code: 'access_gate_missing',
    status: 'degraded',
    meaning:
      'An `expect_gate: true` surface answered 2xx to a request without any service token: the Cloudflare Access gate in front of it is gone and the URL is open to the internet.',
    action:
      'Restore the Access application (or its hostname/path) for the URL now; SurfaceAccessGateMissing pages because this is an exposure.',
  },
] as const satisfies readonly ErrorCodeDoc[];

export type ConditionCodeOf = CodeOf<typeof CONDITION_CODE_DOCS>;
export type AccessGateMissingCode = CodeOf<typeof ACCESS_GATE_MISSING_CODE_DOCS>;

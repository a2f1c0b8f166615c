/**
 * Error codes: Prometheus label values, so every family is bounded (the templated ones only take an
 * HTTP status, 100-599). Each provider declares the codes it can return; the core declares the ones
 * the poller itself produces. The union, the README table and the runbook check are derived from them.
 */
import type { SurfaceStatus } from './result.js';

export interface ErrorCodeDoc {
  /** The code, or its family with `<status>` standing for the HTTP status. */
  readonly code: string;
  readonly status: SurfaceStatus;
  readonly meaning: string;
  readonly action: string;
  /** The seed runbook section or manual step this code replaces, if any. */
  readonly replaces?: string;
}

/** The code values a list of docs allows: `health_http_<status>` stands for `health_http_502` and its kin. */
export type CodeOf<Docs extends readonly ErrorCodeDoc[]> = ExpandStatus<Docs[number]['code']>;
type ExpandStatus<Code extends string> = Code extends `${infer Prefix}<status>` ? `${Prefix}${number}` : Code;

/** Codes the poller produces whatever the provider: a probe past its deadline, a probe that threw, a skipped probe. */
export const CORE_CODE_DOCS = [
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
] as const satisfies readonly ErrorCodeDoc[];

export type CoreCode = CodeOf<typeof CORE_CODE_DOCS>;

/**
 * The code a provider returns when the target itself says it is in maintenance (an app's maintenance
 * flag): the poller then counts the surface as in maintenance, as during a registry window.
 */
export const MAINTENANCE_MODE_CODE = 'maintenance_mode';

/** The family a code belongs to, as written in its doc. */
export function codeFamily(code: string): string {
  return code.replace(/_\d{1,3}$/, '_<status>');
}

/** The docs/runbook.md anchor of a code's section (GitHub's slug of the heading). */
export function runbookAnchor(doc: ErrorCodeDoc): string {
  return doc.code.replace(/[<>]/g, '');
}

export function httpStatusCode<P extends string>(prefix: P, status: number): `${P}${number}` {
  // Out-of-range statuses are folded so that the label stays bounded.
  const bounded = Number.isInteger(status) && status >= 100 && status <= 599 ? status : 0;
  return `${prefix}${bounded}` as `${P}${number}`;
}

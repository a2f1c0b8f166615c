import type { Env } from '../core/env.js';
import type { HttpOutcome, HttpRequest } from '../transport/client.js';

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
export interface OnlineFinding {
  /** What was checked: `credential`, or the provider's own kind of subject (`heroku_app`, `pages_project`, ...). */
  check: string;
  /** A variable name, an app name or a project name; never a secret value. */
  subject: string;
  result: CheckResult;
  severity: Severity;
  detail: string;
  /** The registry keys (env/name) that depend on this subject. */
  surfaces: string[];
}

export type Verdict = Pick<OnlineFinding, 'result' | 'severity' | 'detail'>;

/** A credential variable a surface reads, with how to tell a well-formed value. */
export interface CredentialUse {
  variable: string;
  /** What it holds, for the report: "Heroku API key". */
  noun: string;
  /** Why a value cannot be right, or undefined when it looks well formed. Never quotes the value. */
  problem(value: string): string | undefined;
  /** What the credential watch (providers/cloudflare/access) reads about it: expiry, validity, enrollment. */
  lifecycle?: 'access_service_token' | 'cloudflare_api_token';
  /** How the credential watch reads its expiry and validity, for a credential only its provider knows how to ask about. */
  readLifecycle?(value: string, ctx: LifecycleReadContext): Promise<LifecycleReading>;
  /**
   * The `kind` label of a readLifecycle credential's series (`heroku_api_key`): the alerts word the
   * fix per kind. Declared in code, so the label stays bounded.
   */
  lifecycleKind?: string;
}

/** What a provider's lifecycle read may use: the variables, HTTP under a deadline, the time of the read. */
export interface LifecycleReadContext {
  readonly env: Env;
  send(req: Omit<HttpRequest, 'deadline'>): Promise<HttpOutcome>;
  /** Milliseconds since the epoch. */
  readonly now: number;
}

/** A credential's expiry and validity as its provider reports them; never holds the secret. */
export type LifecycleReading =
  | { ok: true; valid: boolean; expiresAt: number | undefined; detail: string }
  | { ok: false; refused: boolean; detail: string };

/** What an online check may use: the variables, HTTP under a per-call deadline, and the credential verdicts. */
export interface OnlineContext {
  readonly env: Env;
  send(req: Omit<HttpRequest, 'deadline'>): Promise<HttpOutcome>;
  /** Set and well formed: worth sending. */
  usable(variable: string): boolean;
  /** The provider took the credential in `variable`. */
  accept(variable: string, provider: string): void;
  /** The provider refused it; `detail` says how. */
  reject(variable: string, detail: string): void;
}

/** The surfaces of one group, with their registry keys (env/name). */
export type SurfaceGroup<Surface> = Array<{ key: string; surface: Surface }>;

/**
 * What `check-config --online` asks a provider about the registry. Surfaces with the same group
 * key are checked together, so that each account is asked once.
 */
export interface OnlineCheck<Surface> {
  credentials(surface: Surface): CredentialUse[];
  /** A URL behind Cloudflare Access that the surface's service token must get through. */
  accessTarget?(surface: Surface): { variable: string; url: string } | undefined;
  group?(surface: Surface): string;
  check?(surfaces: SurfaceGroup<Surface>, ctx: OnlineContext): Promise<OnlineFinding[]>;
}

export const notChecked = (why: string): Verdict => ({ result: 'unverified', severity: 'warn', detail: why });

export function unreachable(what: string, outcome: Extract<HttpOutcome, { kind: 'failure' }>): Verdict {
  return { result: 'unreachable', severity: 'fail', detail: `${what}: ${outcome.message}` };
}

/** One finding per subject, for the surfaces that share it. */
export function findingsBySubject(
  check: string,
  subjects: Map<string, string[]>,
  verdict: (subject: string) => Verdict,
): OnlineFinding[] {
  return [...subjects].map(([subject, surfaces]) => ({ check, subject, surfaces, ...verdict(subject) }));
}

/** Groups the registry keys of a group's surfaces by one field (an app, a project). */
export function keysBy<Surface>(
  surfaces: SurfaceGroup<Surface>,
  subject: (surface: Surface) => string,
): Map<string, string[]> {
  const keys = new Map<string, string[]>();
  for (const { key, surface } of surfaces) {
    const name = subject(surface);
    keys.set(name, [...(keys.get(name) ?? []), key]);
  }
  return keys;
}

/** API keys and tokens: long, printable, without the `Bearer ` a copy from a curl line brings along. */
export function apiTokenProblem(value: string): string | undefined {
  if (/^bearer\s/i.test(value)) return 'holds a "Bearer " prefix; store the token alone';
  return /^[\x21-\x7e]{16,}$/.test(value)
    ? undefined
    : 'expected at least 16 printable characters without spaces';
}

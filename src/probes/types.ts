import type { Logger } from 'pino';
import { z } from 'zod';
import type { ErrorCode, SurfaceStatus } from '../codes.js';
import type { Env } from '../net/access.js';
import type { HttpOutcome, HttpRequest } from '../net/client.js';
import type { SharedCache } from './cache.js';

/** What a probe saw. A failing surface is data: probes return this, they throw only on bugs. */
export interface ProbeResult {
  status: SurfaceStatus;
  code: ErrorCode | null;
  /** Free text for logs and the status API; never a metric label, never a secret. */
  detail: string;
  /** Set by cloudflare_pages: the newest deployment's latest stage. */
  deployment?: DeploymentFacts;
  /** Set with skipped_credentials: the variable to set, so an alert can name it. */
  missingCredential?: string;
}

export interface DeploymentFacts {
  stage: string;
  status: string;
  /** The deployment's created_on, in seconds since the epoch. */
  startedAtSeconds: number | null;
}

export type RateLimitedProvider = 'heroku' | 'cloudflare';

export interface ProbeContext {
  readonly env: Env;
  /** Sends one request under this probe's deadline; the outcome is never a thrown error. */
  request(req: Omit<HttpRequest, 'deadline'>): Promise<HttpOutcome>;
  /**
   * Sends a request for a load that other probes may join (a SharedCache entry). It runs under its
   * own deadline of timeout_seconds, not this probe's, so a probe that joins late is not cut short
   * by the first caller's remaining time; each caller still ends at its own deadline.
   */
  requestShared(req: Omit<HttpRequest, 'deadline'>): Promise<HttpOutcome>;
  readonly log: Logger;
  /** Shared by every surface of the exporter, so surfaces naming the same app share one entry. */
  readonly cache: SharedCache;
  readonly metadataTtlSeconds: number;
  /** Milliseconds since the epoch; injectable so tests can move time. */
  now(): number;
  reportRateLimit(provider: RateLimitedProvider, remaining: number): void;
}

export interface Provider<S> {
  probe(surface: S, ctx: ProbeContext): Promise<ProbeResult>;
  /** Where the probe goes, for `list` and the status API. Never contains a credential. */
  describeTarget(surface: S): string;
  /** The environment variables the surface reads its credentials from. */
  credentialVariables(surface: S): string[];
}

// Upper case and short, as variable names are: a pasted token almost never fits, so it is refused
// here instead of being echoed later as `skipped: <token> unset`.
export const ENV_VAR_NAME = z
  .string()
  .regex(/^[A-Z_][A-Z0-9_]{0,63}$/, 'an environment variable name ([A-Z0-9_], at most 64 characters)');

/** Shared by every provider that can sit behind Cloudflare Access. */
export const ACCESS_TOKEN_ENV = ENV_VAR_NAME.optional().describe(
  'Variable holding a Cloudflare Access service token as `client_id:client_secret`; sent as CF-Access-Client-Id/Secret.',
);

/** Fields every surface has, whatever its provider. */
export const surfaceBase = z.object({
  name: z
    .string()
    .regex(/^[a-z0-9-]{1,63}$/, 'lowercase letters, digits and dashes ([a-z0-9-]), at most 63 characters')
    .describe('Surface name, unique within its environment; the `surface` label.'),
});

export const up = (detail = 'ok'): ProbeResult => ({ status: 'up', code: null, detail });
/** A probe that sent nothing because a credential variable is unset or malformed. */
export const skipped = (lookup: { detail: string; variable: string }): ProbeResult => ({
  status: 'degraded',
  code: 'skipped_credentials',
  detail: lookup.detail,
  missingCredential: lookup.variable,
});
export const degraded = (code: ErrorCode, detail: string): ProbeResult => ({
  status: 'degraded',
  code,
  detail,
});
export const down = (code: ErrorCode, detail: string): ProbeResult => ({ status: 'down', code, detail });

import type { SurfaceLabels } from './surface.js';

/** One credential variable as the metrics show it. Never holds a secret. */
export interface CredentialSample {
  variable: string;
  /** What the credential is (access_service_token, cloudflare_api_token, heroku_api_key): the alerts word the fix by it. */
  kind: string;
  valid: boolean;
  /** Seconds since the epoch; undefined when it never expires. */
  expiresAtSeconds: number | undefined;
  /** Kept from an earlier read because the latest one failed. */
  stale: boolean;
}

/** One surface's use of a credential variable. */
export interface SurfaceCredentialSample {
  labels: SurfaceLabels;
  variable: string;
  /** Access service tokens only; undefined when no application covers the surface. */
  enrolled: boolean | undefined;
}

/**
 * Where the credential watch (providers/cloudflare/access) reports: the whole picture after every
 * read, so a credential or a surface that left the registry simply is not in the next one. The
 * metrics layer implements it.
 */
export interface CredentialLifecycleSink {
  /** undefined: the watch is off or nothing is known; every lifecycle series goes. */
  publishCredentials(
    credentials: readonly CredentialSample[] | undefined,
    surfaces: readonly SurfaceCredentialSample[],
  ): void;
  setRateLimitRemaining(budget: string, remaining: number): void;
  setRateLimitQuota(budget: string, quota: number): void;
}

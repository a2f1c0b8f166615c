import { Gauge, type OpenMetricsContentType, type Registry } from 'prom-client';
import type {
  CredentialLifecycleSink,
  CredentialSample,
  SurfaceCredentialSample,
} from '../core/credentials.js';

/** Rendered with the exporter's own series (the watch publishes rarely), not in the per-surface blocks. */
export const CREDENTIAL_FAMILY_NAMES: ReadonlySet<string> = new Set([
  'surface_credential_expiry_timestamp_seconds',
  'surface_credential_valid',
  'surface_credential_stale',
  'surface_access_token_enrolled',
  'surface_credential_info',
]);

/**
 * The credential watch's families. One series per credential variable (bounded by the registry),
 * however many surfaces share it; the per-surface families say which surface uses which variable.
 * Every family is labelled, so with the watch off none has a series.
 */
export class CredentialMetrics implements CredentialLifecycleSink {
  private readonly expiry: Gauge;
  private readonly valid: Gauge;
  private readonly stale: Gauge;
  private readonly enrolled: Gauge;
  private readonly used: Gauge;

  constructor(
    registry: Registry<OpenMetricsContentType>,
    private readonly budgets: {
      setRateLimitRemaining(budget: string, remaining: number): void;
      setRateLimitQuota(budget: string, quota: number): void;
    },
  ) {
    const registers = [registry];
    this.expiry = new Gauge({
      name: 'surface_credential_expiry_timestamp_seconds',
      help: 'When the credential in this variable expires (Access service token expires_at, API token expires_on); absent when it never expires.',
      labelNames: ['variable', 'kind'],
      registers,
    });
    this.valid = new Gauge({
      name: 'surface_credential_valid',
      help: '1 when the credential is found and usable (enabled, active, not expired); 0 when it is revoked, deleted, disabled or expired.',
      labelNames: ['variable', 'kind'],
      registers,
    });
    this.stale = new Gauge({
      name: 'surface_credential_stale',
      help: '1 while the values of this variable are kept from an earlier read because the latest read failed (at most 3 intervals).',
      labelNames: ['variable', 'kind'],
      registers,
    });
    this.enrolled = new Gauge({
      name: 'surface_access_token_enrolled',
      help: '1 when a Service Auth (non_identity) policy of the Access application covering the surface includes its service token; absent when no application covers it.',
      labelNames: ['env', 'surface', 'provider', 'variable'],
      registers,
    });
    this.used = new Gauge({
      name: 'surface_credential_info',
      help: 'Always 1: the surface uses the credential in this variable (joins the per-variable families to surfaces).',
      labelNames: ['env', 'surface', 'provider', 'variable'],
      registers,
    });
  }

  publishCredentials(
    credentials: readonly CredentialSample[] | undefined,
    surfaces: readonly SurfaceCredentialSample[],
  ): void {
    for (const gauge of [this.expiry, this.valid, this.stale, this.enrolled, this.used]) gauge.reset();
    if (credentials === undefined) return;
    for (const credential of credentials) {
      const labels = { variable: credential.variable, kind: credential.kind };
      this.valid.set(labels, credential.valid ? 1 : 0);
      this.stale.set(labels, credential.stale ? 1 : 0);
      if (credential.expiresAtSeconds !== undefined) this.expiry.set(labels, credential.expiresAtSeconds);
    }
    for (const surface of surfaces) {
      const labels = { ...surface.labels, variable: surface.variable };
      this.used.set(labels, 1);
      if (surface.enrolled !== undefined) this.enrolled.set(labels, surface.enrolled ? 1 : 0);
    }
  }

  setRateLimitRemaining(budget: string, remaining: number): void {
    this.budgets.setRateLimitRemaining(budget, remaining);
  }

  setRateLimitQuota(budget: string, quota: number): void {
    this.budgets.setRateLimitQuota(budget, quota);
  }
}

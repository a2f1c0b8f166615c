import type { MetricFamily } from './metricFamily.js';

/** What a probe saw. A failing surface is data: probes return this, they throw only on bugs. */
export type SurfaceStatus = 'up' | 'degraded' | 'down';
export const SURFACE_STATUSES: readonly SurfaceStatus[] = ['up', 'degraded', 'down'];

/**
 * One sample of a metric family that a provider declares beyond the ones every surface has (the
 * Pages deployment series, for example). The metrics layer renders it with the surface's labels.
 */
export interface FamilySample {
  family: string;
  /** Extra labels, bounded by the provider (never a URL, a message or an id). */
  labels?: Readonly<Record<string, string>>;
  value: number;
}

/** Seconds spent in each phase of one request, as blackbox's probe_http_duration_seconds splits it. */
export interface PhaseTimings {
  resolve: number;
  connect: number;
  tls: number;
  /** From the request written to the first byte of the answer: the server's (and CDN's) time. */
  processing: number;
  transfer: number;
}

export const PHASES = ['resolve', 'connect', 'tls', 'processing', 'transfer'] as const;

/**
 * The family ProbeResult.phases is exported as. Declared by the providers that request their own
 * target; the metrics layer renders it from the phases themselves, not from samples.
 */
export const PHASE_METRIC_FAMILY: MetricFamily = {
  name: 'surface_probe_phase_seconds',
  help: 'Time the last probe’s request to its target spent per phase; resolve, connect and tls are 0 on a reused connection.',
  type: 'gauge',
  labelNames: ['env', 'surface', 'provider', 'phase'],
};

export interface ProbeResult<Code extends string = string> {
  status: SurfaceStatus;
  code: Code | null;
  /** Free text for logs and the status API; never a metric label, never a secret. */
  detail: string;
  /** Samples of the provider's own metric families, replacing the previous probe's. */
  samples?: readonly FamilySample[];
  /** Set with skipped_credentials: the variable to set, so an alert can name it. */
  missingCredential?: string;
  /** The certificate the probe's own HTTPS target presented (not a provider API's). */
  tls?: TlsPeer;
  /** Where the time of the request to the probe's own target went (surface_probe_phase_seconds). */
  phases?: PhaseTimings;
  /** Each condition of the surface's `expect:` block with what was seen, in evaluation order. */
  conditions?: readonly ConditionOutcome[];
  /**
   * Nothing to judge yet (a push surface before its first heartbeat has passed): the poller
   * publishes nothing, so the surface stays `unknown`; status and code say what it would become.
   */
  pending?: true;
}

/** The leaf certificate of a TLS connection, and the earliest expiry of the chain it came with. */
export interface TlsPeer {
  subject: string;
  issuer: string;
  /** Subject alternative names as the certificate lists them, e.g. `DNS:example.com`. */
  sans: string[];
  /** The leaf's notAfter, ISO 8601. */
  notAfter: string;
  /** The earliest notAfter of every certificate in the chain, seconds since the epoch. */
  earliestExpirySeconds: number;
}

/** One rule of an `expect:` block and whether the response met it. */
export interface ConditionOutcome {
  /** The rule as configured, e.g. `json checks.db == "up"`. */
  rule: string;
  passed: boolean;
  /** What was seen: a status, a header value or a short excerpt, never a whole body. */
  seen: string;
}

/** A finished probe as the poller hands it to its sinks (metrics, status page, API). */
export interface ProbeOutcome extends ProbeResult {
  /** Milliseconds since the epoch. */
  checkedAt: number;
  durationSeconds: number;
  /** Links the latency observation to the probe's trace (an OpenMetrics exemplar). */
  traceId?: string;
}

export const up = (detail = 'ok'): ProbeResult<never> => ({ status: 'up', code: null, detail });
/** A probe that sent nothing because a credential variable is unset or malformed. */
export const skipped = (lookup: {
  detail: string;
  variable: string;
}): ProbeResult<'skipped_credentials'> => ({
  status: 'degraded',
  code: 'skipped_credentials',
  detail: lookup.detail,
  missingCredential: lookup.variable,
});
export const degraded = <Code extends string>(code: Code, detail: string): ProbeResult<Code> => ({
  status: 'degraded',
  code,
  detail,
});
export const down = <Code extends string>(code: Code, detail: string): ProbeResult<Code> => ({
  status: 'down',
  code,
  detail,
});
/** A result the poller does not publish: the surface stays `unknown` (see ProbeResult.pending). */
export const pending = <Code extends string>(result: ProbeResult<Code>): ProbeResult<Code> => ({
  ...result,
  pending: true,
});

import type { MetricFamily } from '../../core/metricFamily.js';
import { PHASE_METRIC_FAMILY, type ProbeResult } from '../../core/result.js';
import type { HttpResponse } from '../../transport/client.js';

const SURFACE_LABELS = ['env', 'surface', 'provider'];

/**
 * What the answer of a probe's own target shows beyond its status: the certificate chain and where
 * the time went. Declared by every provider that requests its target (never for a provider API).
 */
export const TARGET_RESPONSE_FAMILIES: readonly MetricFamily[] = [
  {
    name: 'surface_tls_cert_expiry_timestamp_seconds',
    help: 'Earliest notAfter in the certificate chain the surface’s HTTPS target presented (as blackbox’s probe_ssl_earliest_cert_expiry).',
    type: 'gauge',
    labelNames: SURFACE_LABELS,
  },
  PHASE_METRIC_FAMILY,
];

/**
 * Sets the certificate and phase timings of a target's answer on a result the caller just built
 * (set, not spread into a copy: this runs on every probe).
 */
export function withTargetEvidence<Code extends string>(
  result: ProbeResult<Code>,
  response: HttpResponse,
): ProbeResult<Code> {
  if (response.phases) result.phases = response.phases;
  if (response.tls) {
    result.tls = response.tls;
    result.samples = [
      { family: 'surface_tls_cert_expiry_timestamp_seconds', value: response.tls.earliestExpirySeconds },
    ];
  }
  return result;
}

/**
 * What a result shows of its target's answer (certificate, phase timings, the samples they make,
 * the `expect:` conditions), to carry over onto a verdict reached on other grounds.
 */
export function targetEvidenceOf(
  result: ProbeResult,
): Pick<ProbeResult, 'tls' | 'samples' | 'phases' | 'conditions'> {
  const { tls, samples, phases, conditions } = result;
  return {
    ...(tls ? { tls } : {}),
    ...(samples ? { samples } : {}),
    ...(phases ? { phases } : {}),
    ...(conditions ? { conditions } : {}),
  };
}

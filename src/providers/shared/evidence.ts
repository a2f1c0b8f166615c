import type { MetricFamily } from '../../core/metricFamily.js';
import type { FamilySample, ProbeResult } from '../../core/result.js';
import type { HttpResponse } from '../../transport/client.js';
import { PHASES } from '../../transport/connection.js';

const SURFACE_LABELS = ['env', 'surface', 'provider'];

/**
 * What the answer of a probe's own target shows beyond its status: the certificate chain and where
 * the time went. Declared by every provider that requests its target (never for a provider API).
 */
export const TARGET_RESPONSE_FAMILIES = [
  {
    name: 'surface_tls_cert_expiry_timestamp_seconds',
    help: 'Earliest notAfter in the certificate chain the surface’s HTTPS target presented (as blackbox’s probe_ssl_earliest_cert_expiry).',
    type: 'gauge',
    labelNames: SURFACE_LABELS,
  },
  {
    name: 'surface_probe_phase_seconds',
    help: 'Time the last probe’s request to its target spent per phase; resolve, connect and tls are 0 on a reused connection.',
    type: 'gauge',
    labelNames: [...SURFACE_LABELS, 'phase'],
  },
] as const satisfies readonly MetricFamily[];

/**
 * One frozen label set per phase, shared by every probe: each probe's samples then allocate no
 * label objects, and the renderer formats a set once (see providerSurfaceFamily).
 */
const PHASE_LABELS = new Map<string, Readonly<Record<string, string>>>(
  PHASES.map((phase) => [phase, Object.freeze({ phase })]),
);

/**
 * Sets the certificate and phase timings of a target's answer on a result the caller just built
 * (set, not spread into a copy: this runs on every probe).
 */
export function withTargetEvidence<Code extends string>(
  result: ProbeResult<Code>,
  response: HttpResponse,
): ProbeResult<Code> {
  result.samples = samplesOf(response);
  if (response.tls) result.tls = response.tls;
  return result;
}

function samplesOf(response: HttpResponse): FamilySample[] {
  const samples: FamilySample[] = [];
  if (response.tls) {
    samples.push({
      family: 'surface_tls_cert_expiry_timestamp_seconds',
      value: response.tls.earliestExpirySeconds,
    });
  }
  const phases = response.phases;
  if (phases) {
    for (const phase of PHASES)
      samples.push({
        family: 'surface_probe_phase_seconds',
        labels: PHASE_LABELS.get(phase),
        value: phases[phase],
      });
  }
  return samples;
}

import { SURFACE_STATUSES, type SurfaceStatus } from '../codes.js';

/** The labels every per-surface series carries. */
export type SurfaceLabels = {
  env: string;
  surface: string;
  provider: string;
};

export const PROBE_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export type ExpositionFormat = 'text' | 'openmetrics';

export interface MetricFamily {
  name: string;
  help: string;
  type: 'gauge' | 'counter' | 'histogram';
  labelNames: string[];
}

const SURFACE_LABELS = ['env', 'surface', 'provider'];

/** The per-surface families, in exposition order. The index of each is its slot in a surface's chunks. */
export const SURFACE_FAMILIES: readonly MetricFamily[] = [
  {
    name: 'surface_up',
    help: '1 when the surface is UP, else 0.',
    type: 'gauge',
    labelNames: SURFACE_LABELS,
  },
  {
    name: 'surface_status',
    help: 'State set: 1 on the surface’s current status (up, degraded, down), 0 on the others.',
    type: 'gauge',
    labelNames: [...SURFACE_LABELS, 'status'],
  },
  {
    name: 'surface_probe_duration_seconds',
    help: 'Time one probe of a surface took, all of its HTTP calls included.',
    type: 'histogram',
    labelNames: SURFACE_LABELS,
  },
  {
    name: 'surface_probe_errors_total',
    help: 'Probes that ended with an error code, by code.',
    type: 'counter',
    labelNames: [...SURFACE_LABELS, 'code'],
  },
  {
    name: 'surface_error_info',
    help: '1 for the surface’s current error code; absent while the surface is UP.',
    type: 'gauge',
    labelNames: [...SURFACE_LABELS, 'code'],
  },
  {
    name: 'surface_last_check_timestamp_seconds',
    help: 'When the surface’s last probe completed.',
    type: 'gauge',
    labelNames: SURFACE_LABELS,
  },
  {
    name: 'surface_worker_alive',
    help: '1 while the surface’s worker loop runs, 0 while it waits to restart after a crash.',
    type: 'gauge',
    labelNames: SURFACE_LABELS,
  },
  {
    name: 'surface_deployment_info',
    help: '1 for the latest stage and status of the newest Cloudflare Pages deployment.',
    type: 'gauge',
    labelNames: [...SURFACE_LABELS, 'stage', 'status'],
  },
  {
    name: 'surface_deployment_started_timestamp_seconds',
    help: 'created_on of the newest Cloudflare Pages deployment.',
    type: 'gauge',
    labelNames: SURFACE_LABELS,
  },
  {
    name: 'surface_credential_missing',
    help: '1 while a surface is skipped because this credential variable is unset or malformed (skipped_credentials).',
    type: 'gauge',
    labelNames: [...SURFACE_LABELS, 'variable'],
  },
];

enum Family {
  Up,
  Status,
  Duration,
  Errors,
  ErrorInfo,
  LastCheck,
  WorkerAlive,
  DeploymentInfo,
  DeploymentStarted,
  CredentialMissing,
}

interface Exemplar {
  traceId: string;
  value: number;
  timestampSeconds: number;
}

export interface SurfaceObservation {
  status: SurfaceStatus;
  code: string | null;
  durationSeconds: number;
  checkedAtSeconds: number;
  deployment?: { stage: string; status: string; startedAtSeconds: number | null };
  missingCredential?: string;
  traceId?: string;
}

/**
 * Every series of one surface, kept as plain fields and rendered to exposition text only when a
 * scrape asks after a change. At 10,000 surfaces a generic registry spends most of a scrape
 * hashing and formatting label sets; here each surface's block is formatted once per change.
 */
export class SurfaceSeries {
  private readonly labelText: string;
  private observed = false;
  private status: SurfaceStatus = 'up';
  private code: string | null = null;
  private lastCheck = 0;
  private alive: boolean | undefined;
  private readonly bucketCounts = new Array<number>(PROBE_DURATION_BUCKETS.length + 1).fill(0);
  private readonly exemplars = new Array<Exemplar | undefined>(PROBE_DURATION_BUCKETS.length + 1);
  private durationSum = 0;
  private durationCount = 0;
  private readonly errorCounts = new Map<string, number>();
  private deployment: { stage: string; status: string } | null = null;
  private deploymentStarted: number | null = null;
  private missingCredential: string | null = null;
  private rendered: Partial<Record<ExpositionFormat, RenderedBlock>> = {};

  constructor(labels: SurfaceLabels) {
    this.labelText = `env="${escapeLabel(labels.env)}",surface="${escapeLabel(labels.surface)}",provider="${escapeLabel(labels.provider)}"`;
  }

  observe(observation: SurfaceObservation): void {
    this.observed = true;
    this.status = observation.status;
    this.code = observation.code;
    this.lastCheck = observation.checkedAtSeconds;
    const bucket = bucketIndex(observation.durationSeconds);
    this.bucketCounts[bucket] = (this.bucketCounts[bucket] ?? 0) + 1;
    this.durationSum += observation.durationSeconds;
    this.durationCount++;
    if (observation.traceId) {
      this.exemplars[bucket] = {
        traceId: observation.traceId,
        value: observation.durationSeconds,
        timestampSeconds: Date.now() / 1000,
      };
    }
    if (observation.code !== null) {
      this.errorCounts.set(observation.code, (this.errorCounts.get(observation.code) ?? 0) + 1);
    }
    const deployment = observation.deployment;
    this.deployment = deployment ? { stage: deployment.stage, status: deployment.status } : null;
    this.deploymentStarted = deployment?.startedAtSeconds ?? null;
    this.missingCredential = observation.missingCredential ?? null;
    this.rendered = {};
  }

  setAlive(alive: boolean): void {
    if (this.alive === alive) return;
    this.alive = alive;
    this.rendered = {};
  }

  /** This surface's sample lines in `format`, rendered again only after a change. */
  block(format: ExpositionFormat): RenderedBlock {
    let block = this.rendered[format];
    if (!block) {
      block = renderBlock(SURFACE_FAMILIES.map((_, family) => this.renderFamily(family, format)));
      this.rendered[format] = block;
    }
    return block;
  }

  private renderFamily(family: Family, format: ExpositionFormat): string {
    const labels = this.labelText;
    if (family === Family.WorkerAlive) {
      return this.alive === undefined ? '' : `surface_worker_alive{${labels}} ${this.alive ? 1 : 0}\n`;
    }
    if (!this.observed) return '';
    switch (family) {
      case Family.Up:
        return `surface_up{${labels}} ${this.status === 'up' ? 1 : 0}\n`;
      case Family.Status:
        return SURFACE_STATUSES.map(
          (status) => `surface_status{${labels},status="${status}"} ${status === this.status ? 1 : 0}\n`,
        ).join('');
      case Family.Duration:
        return this.renderHistogram(format);
      case Family.Errors: {
        let lines = '';
        for (const [code, count] of this.errorCounts) {
          lines += `surface_probe_errors_total{${labels},code="${escapeLabel(code)}"} ${count}\n`;
        }
        return lines;
      }
      case Family.ErrorInfo:
        return this.code === null ? '' : `surface_error_info{${labels},code="${escapeLabel(this.code)}"} 1\n`;
      case Family.LastCheck:
        return `surface_last_check_timestamp_seconds{${labels}} ${this.lastCheck}\n`;
      case Family.DeploymentInfo:
        return this.deployment === null
          ? ''
          : `surface_deployment_info{${labels},stage="${escapeLabel(this.deployment.stage)}",status="${escapeLabel(this.deployment.status)}"} 1\n`;
      case Family.DeploymentStarted:
        return this.deploymentStarted === null
          ? ''
          : `surface_deployment_started_timestamp_seconds{${labels}} ${this.deploymentStarted}\n`;
      case Family.CredentialMissing:
        return this.missingCredential === null
          ? ''
          : `surface_credential_missing{${labels},variable="${escapeLabel(this.missingCredential)}"} 1\n`;
      default:
        return '';
    }
  }

  private renderHistogram(format: ExpositionFormat): string {
    const labels = this.labelText;
    let cumulative = 0;
    let lines = '';
    for (let index = 0; index <= PROBE_DURATION_BUCKETS.length; index++) {
      cumulative += this.bucketCounts[index] ?? 0;
      const le = index < PROBE_DURATION_BUCKETS.length ? String(PROBE_DURATION_BUCKETS[index]) : '+Inf';
      lines += `surface_probe_duration_seconds_bucket{${labels},le="${le}"} ${cumulative}`;
      const exemplar = format === 'openmetrics' ? this.exemplars[index] : undefined;
      if (exemplar) {
        lines += ` # {trace_id="${escapeLabel(exemplar.traceId)}"} ${exemplar.value} ${exemplar.timestampSeconds}`;
      }
      lines += '\n';
    }
    lines += `surface_probe_duration_seconds_sum{${labels}} ${this.durationSum}\n`;
    lines += `surface_probe_duration_seconds_count{${labels}} ${this.durationCount}\n`;
    return lines;
  }
}

/** HELP and TYPE lines of a family; OpenMetrics names a counter family without its `_total`. */
export function familyHeader(family: MetricFamily, format: ExpositionFormat): string {
  const name =
    format === 'openmetrics' && family.type === 'counter' ? family.name.replace(/_total$/, '') : family.name;
  return `# HELP ${name} ${family.help}\n# TYPE ${name} ${family.type}\n`;
}

/**
 * One surface's sample lines, one string per family ('' where it has none), and their size in
 * UTF-8 so a scrape can size its buffer up front.
 */
export interface RenderedBlock {
  families: string[];
  byteLength: number;
}

/**
 * Kept as strings on the V8 heap, which compacts, rather than as thousands of small Buffers, whose
 * malloc'd memory fragments and stays in RSS (bench/RESULTS.md). Measuring each string also
 * flattens it, so a scrape copies flat strings instead of walking the ropes `+=` built.
 */
function renderBlock(families: string[]): RenderedBlock {
  let byteLength = 0;
  for (const family of families) byteLength += Buffer.byteLength(family);
  return { families, byteLength };
}

function bucketIndex(seconds: number): number {
  for (let index = 0; index < PROBE_DURATION_BUCKETS.length; index++) {
    if (seconds <= (PROBE_DURATION_BUCKETS[index] ?? Number.POSITIVE_INFINITY)) return index;
  }
  return PROBE_DURATION_BUCKETS.length;
}

export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

import {
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  type OpenMetricsContentType,
  Registry,
} from 'prom-client';
import { type ErrorCode, SURFACE_STATUSES, type SurfaceStatus } from '../codes.js';
import type { DeploymentFacts, RateLimitedProvider } from '../probes/types.js';
import { renderPrometheusText } from './text.js';
import { WindowedMax } from './windowedMax.js';

/** The labels every per-surface series carries. */
export type SurfaceLabels = {
  env: string;
  surface: string;
  provider: string;
};

export const PROBE_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface RecordedProbe {
  status: SurfaceStatus;
  code: ErrorCode | null;
  durationSeconds: number;
  checkedAtSeconds: number;
  deployment?: DeploymentFacts;
  /** The credential variable a skipped probe needs (skipped_credentials). */
  missingCredential?: string;
  /** Links the latency observation to the probe's trace (an OpenMetrics exemplar). */
  traceId?: string;
}

/** Label values a surface has published, so its series can be removed when it leaves the registry. */
interface PublishedSeries {
  errorCodes: Set<string>;
  currentCode: string | null;
  deployment: { stage: string; status: string } | null;
  missingCredential: string | null;
}

export interface ScrapeBody {
  contentType: string;
  body: string;
}

export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
export const PROMETHEUS_TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * Every series the exporter publishes. One OpenMetrics registry holds them (exemplars need it);
 * the classic text format is rendered from the same registry.
 */
export class ExporterMetrics {
  readonly registry = new Registry<OpenMetricsContentType>();
  private readonly published = new Map<string, PublishedSeries>();

  private readonly up: Gauge;
  private readonly status: Gauge;
  private readonly duration: Histogram;
  private readonly errors: Counter;
  private readonly errorInfo: Gauge;
  private readonly lastCheck: Gauge;
  private readonly workerAlive: Gauge;
  private readonly deploymentInfo: Gauge;
  private readonly deploymentStarted: Gauge;
  private readonly credentialMissing: Gauge;
  private readonly lastPoll: Gauge;
  private readonly polls: Counter;
  private readonly crashes: Counter;
  private readonly surfaceCount: Gauge;
  private readonly rateLimitRemaining: Gauge;
  private readonly reloadSuccessful: Gauge;
  private readonly reloadTimestamp: Gauge;
  private readonly eventLoopLag = new WindowedMax();

  constructor(options: { version: string; defaultMetrics?: boolean }) {
    this.registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    const registers = [this.registry];
    const surface = ['env', 'surface', 'provider'] as const;
    this.up = new Gauge({
      name: 'surface_up',
      help: '1 when the surface is UP, else 0.',
      labelNames: surface,
      registers,
    });
    this.status = new Gauge({
      name: 'surface_status',
      help: 'State set: 1 on the surface’s current status (up, degraded, down), 0 on the others.',
      labelNames: [...surface, 'status'],
      registers,
    });
    this.duration = new Histogram({
      name: 'surface_probe_duration_seconds',
      help: 'Time one probe of a surface took, all of its HTTP calls included.',
      labelNames: surface,
      buckets: PROBE_DURATION_BUCKETS,
      enableExemplars: true,
      registers,
    });
    this.errors = new Counter({
      name: 'surface_probe_errors_total',
      help: 'Probes that ended with an error code, by code.',
      labelNames: [...surface, 'code'],
      registers,
    });
    this.errorInfo = new Gauge({
      name: 'surface_error_info',
      help: '1 for the surface’s current error code; absent while the surface is UP.',
      labelNames: [...surface, 'code'],
      registers,
    });
    this.lastCheck = new Gauge({
      name: 'surface_last_check_timestamp_seconds',
      help: 'When the surface’s last probe completed.',
      labelNames: surface,
      registers,
    });
    this.workerAlive = new Gauge({
      name: 'surface_worker_alive',
      help: '1 while the surface’s worker loop runs, 0 while it waits to restart after a crash.',
      labelNames: surface,
      registers,
    });
    this.deploymentInfo = new Gauge({
      name: 'surface_deployment_info',
      help: '1 for the latest stage and status of the newest Cloudflare Pages deployment.',
      labelNames: [...surface, 'stage', 'status'],
      registers,
    });
    this.deploymentStarted = new Gauge({
      name: 'surface_deployment_started_timestamp_seconds',
      help: 'created_on of the newest Cloudflare Pages deployment.',
      labelNames: surface,
      registers,
    });
    this.credentialMissing = new Gauge({
      name: 'surface_credential_missing',
      help: '1 while a surface is skipped because this credential variable is unset or malformed (skipped_credentials).',
      labelNames: [...surface, 'variable'],
      registers,
    });
    this.lastPoll = new Gauge({
      name: 'surface_poller_last_poll_timestamp_seconds',
      help: 'The poller heartbeat: when any probe last completed.',
      registers,
    });
    this.polls = new Counter({ name: 'surface_poller_polls_total', help: 'Probes completed.', registers });
    this.crashes = new Counter({
      name: 'surface_poller_crashes_total',
      help: 'Crashes caught by the poller: a probe that threw (probe) or a worker loop that failed (worker).',
      labelNames: ['scope'],
      registers,
    });
    this.surfaceCount = new Gauge({
      name: 'surface_poller_surfaces',
      help: 'Surfaces in the running registry, by environment.',
      labelNames: ['env'],
      registers,
    });
    this.rateLimitRemaining = new Gauge({
      name: 'surface_provider_rate_limit_remaining',
      help: 'API calls left in the provider’s rate budget, as the provider last reported.',
      labelNames: ['provider'],
      registers,
    });
    this.reloadSuccessful = new Gauge({
      name: 'surface_exporter_config_last_reload_successful',
      help: '1 when the last registry load succeeded.',
      registers,
    });
    this.reloadTimestamp = new Gauge({
      name: 'surface_exporter_config_last_reload_success_timestamp_seconds',
      help: 'When the registry was last loaded successfully.',
      registers,
    });
    const eventLoopLag = this.eventLoopLag;
    new Gauge({
      name: 'surface_poller_event_loop_lag_seconds',
      help: 'Worst event-loop delay seen by the watchdog over the last minute; probes stall while it is high.',
      registers,
      collect() {
        this.set(eventLoopLag.max());
      },
    });
    const buildInfo = new Gauge({
      name: 'surface_exporter_build_info',
      help: 'Always 1; the version label says which build runs.',
      labelNames: ['version', 'nodejs_version'],
      registers,
    });
    buildInfo.set({ version: options.version, nodejs_version: process.version }, 1);
    for (const scope of ['probe', 'worker']) this.crashes.inc({ scope }, 0);
    if (options.defaultMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry });
      // These gauges end in `_total`, which `promtool check metrics` rejects for a non-counter.
      for (const name of [
        'nodejs_active_handles_total',
        'nodejs_active_requests_total',
        'nodejs_active_resources_total',
      ]) {
        this.registry.removeSingleMetric(name);
      }
    }
  }

  recordProbe(labels: SurfaceLabels, probe: RecordedProbe): void {
    const series = this.seriesOf(labels);
    this.up.set(labels, probe.status === 'up' ? 1 : 0);
    for (const status of SURFACE_STATUSES)
      this.status.set({ ...labels, status }, status === probe.status ? 1 : 0);
    // With exemplars enabled prom-client only takes the object form; an empty label set records no exemplar.
    this.duration.observe({
      labels,
      value: probe.durationSeconds,
      exemplarLabels: probe.traceId ? { trace_id: probe.traceId } : {},
    });
    this.lastCheck.set(labels, probe.checkedAtSeconds);
    if (series.currentCode !== probe.code) {
      if (series.currentCode !== null) this.errorInfo.remove({ ...labels, code: series.currentCode });
      series.currentCode = probe.code;
    }
    if (probe.code !== null) {
      this.errorInfo.set({ ...labels, code: probe.code }, 1);
      this.errors.inc({ ...labels, code: probe.code });
      series.errorCodes.add(probe.code);
    }
    this.recordDeployment(labels, series, probe.deployment);
    this.recordMissingCredential(labels, series, probe.missingCredential);
    this.polls.inc();
    this.lastPoll.set(probe.checkedAtSeconds);
  }

  setWorkerAlive(labels: SurfaceLabels, alive: boolean): void {
    this.seriesOf(labels);
    this.workerAlive.set(labels, alive ? 1 : 0);
  }

  noteEventLoopLag(seconds: number): void {
    this.eventLoopLag.note(seconds);
  }

  countCrash(scope: 'probe' | 'worker'): void {
    this.crashes.inc({ scope });
  }

  setSurfaceCounts(countsByEnv: ReadonlyMap<string, number>): void {
    this.surfaceCount.reset();
    for (const [env, count] of countsByEnv) this.surfaceCount.set({ env }, count);
  }

  setRateLimitRemaining(provider: RateLimitedProvider, remaining: number): void {
    this.rateLimitRemaining.set({ provider }, remaining);
  }

  recordReload(successful: boolean, atSeconds: number): void {
    this.reloadSuccessful.set(successful ? 1 : 0);
    if (successful) this.reloadTimestamp.set(atSeconds);
  }

  /** Removes every series of a surface that left the registry. */
  removeSurface(labels: SurfaceLabels): void {
    const key = seriesKey(labels);
    const series = this.published.get(key);
    for (const metric of [this.up, this.duration, this.lastCheck, this.workerAlive, this.deploymentStarted]) {
      metric.remove(labels);
    }
    for (const status of SURFACE_STATUSES) this.status.remove({ ...labels, status });
    if (series) {
      for (const code of series.errorCodes) this.errors.remove({ ...labels, code });
      if (series.currentCode !== null) this.errorInfo.remove({ ...labels, code: series.currentCode });
      if (series.deployment) this.deploymentInfo.remove({ ...labels, ...series.deployment });
      if (series.missingCredential)
        this.credentialMissing.remove({ ...labels, variable: series.missingCredential });
    }
    this.published.delete(key);
  }

  /** Renders OpenMetrics (with exemplars) when the scraper accepts it, else the classic text format. */
  async render(accept: string | undefined): Promise<ScrapeBody> {
    if (accept?.includes('application/openmetrics-text')) {
      return { contentType: OPENMETRICS_CONTENT_TYPE, body: await this.registry.metrics() };
    }
    return {
      contentType: PROMETHEUS_TEXT_CONTENT_TYPE,
      body: renderPrometheusText(await this.registry.getMetricsAsJSON()),
    };
  }

  private recordMissingCredential(
    labels: SurfaceLabels,
    series: PublishedSeries,
    variable: string | undefined,
  ): void {
    const next = variable ?? null;
    if (series.missingCredential && series.missingCredential !== next) {
      this.credentialMissing.remove({ ...labels, variable: series.missingCredential });
    }
    series.missingCredential = next;
    if (next) this.credentialMissing.set({ ...labels, variable: next }, 1);
  }

  private recordDeployment(
    labels: SurfaceLabels,
    series: PublishedSeries,
    deployment: DeploymentFacts | undefined,
  ): void {
    const next = deployment ? { stage: deployment.stage, status: deployment.status } : null;
    const previous = series.deployment;
    if (previous && (!next || previous.stage !== next.stage || previous.status !== next.status)) {
      this.deploymentInfo.remove({ ...labels, ...previous });
    }
    series.deployment = next;
    if (!deployment || !next) return;
    this.deploymentInfo.set({ ...labels, ...next }, 1);
    if (deployment.startedAtSeconds !== null) this.deploymentStarted.set(labels, deployment.startedAtSeconds);
    else this.deploymentStarted.remove(labels);
  }

  private seriesOf(labels: SurfaceLabels): PublishedSeries {
    const key = seriesKey(labels);
    let series = this.published.get(key);
    if (!series) {
      series = { errorCodes: new Set(), currentCode: null, deployment: null, missingCredential: null };
      this.published.set(key, series);
    }
    return series;
  }
}

function seriesKey(labels: SurfaceLabels): string {
  return `${labels.env}\u0000${labels.surface}\u0000${labels.provider}`;
}

import { Counter, collectDefaultMetrics, Gauge, type OpenMetricsContentType, Registry } from 'prom-client';
import { objectMemo } from '../core/memo.js';
import type { MetricFamily } from '../core/metricFamily.js';
import type { ProbeOutcome } from '../core/result.js';
import type { SurfaceLabels, SurfaceRouting } from '../core/surface.js';
import type { SettledProbeSpan } from '../core/trace.js';
import { CredentialMetrics } from './credentials.js';
import { OneLabelHistogram } from './oneLabelHistogram.js';
import {
  COMMON_SURFACE_FAMILIES,
  type ExpositionFormat,
  familyHeader,
  providerSurfaceFamily,
  type SurfaceFamily,
  SurfaceSeries,
} from './surfaceSeries.js';
import { renderPrometheusText } from './text.js';
import { WindowedMax } from './windowedMax.js';

export { PROBE_DURATION_BUCKETS } from './surfaceSeries.js';

export interface ScrapeBody {
  contentType: string;
  body: Buffer;
}

/** The poller's concurrency slots, as the metrics read them (the poller's SlotUsage). */
export interface ProbeSlotUsage {
  inUse: number;
  slow: number;
  queued: number;
}

export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
export const PROMETHEUS_TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * Every series the exporter publishes. Per-surface series live in SurfaceSeries blocks, rendered
 * once per change (they are most of a scrape at 10,000 surfaces); the exporter's own series and the
 * process metrics live in a prom-client registry. Exemplars need OpenMetrics, so that registry is
 * an OpenMetrics one and the classic text format is rendered from its JSON view.
 */
export class ExporterMetrics {
  readonly registry = new Registry<OpenMetricsContentType>();
  private readonly surfaces = new Map<string, SurfaceSeries>();
  private readonly rendering = new Map<ExpositionFormat, Promise<ScrapeBody>>();
  private exemplarsWaitForExport = false;

  private readonly heartbeat: { pollsNotCounted: number; lastPollSeconds: number | undefined } = {
    pollsNotCounted: 0,
    lastPollSeconds: undefined,
  };
  private readonly crashes: Counter;
  private readonly surfaceCount: Gauge;
  private readonly rateLimitRemaining: Gauge;
  private readonly rateLimitQuota: Gauge;
  private readonly reloadSuccessful: Gauge;
  private readonly reloadTimestamp: Gauge;
  private readonly registryLoads: Counter;
  private readonly shardOrdinal: Gauge;
  private readonly totalShards: Gauge;
  private readonly eventLoopLag = new WindowedMax();
  private readonly slotWait: OneLabelHistogram;
  private readSlots: () => ProbeSlotUsage = () => ({ inUse: 0, slow: 0, queued: 0 });
  private readonly surfaceFamilies: readonly SurfaceFamily[];
  /** The credential watch's sink (expiry, validity, enrollment). */
  readonly credentials: CredentialMetrics;

  /** `providerFamilies`: the per-surface families the providers declare (PROVIDER_FAMILIES). */
  constructor(options: {
    version: string;
    defaultMetrics?: boolean;
    providerFamilies?: readonly MetricFamily[];
  }) {
    this.surfaceFamilies = [
      ...COMMON_SURFACE_FAMILIES,
      ...(options.providerFamilies ?? []).map(providerSurfaceFamily),
    ];
    this.registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    const registers = [this.registry];
    // Both change on every probe: a probe notes them in two fields, and a scrape hands them to prom-client.
    const heartbeat = this.heartbeat;
    new Gauge({
      name: 'surface_poller_last_poll_timestamp_seconds',
      help: 'The poller heartbeat: when any probe last completed.',
      registers,
      collect() {
        if (heartbeat.lastPollSeconds !== undefined) this.set(heartbeat.lastPollSeconds);
      },
    });
    new Counter({
      name: 'surface_poller_polls_total',
      help: 'Probes completed.',
      registers,
      collect() {
        if (heartbeat.pollsNotCounted === 0) return;
        this.inc(heartbeat.pollsNotCounted);
        heartbeat.pollsNotCounted = 0;
      },
    });
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
    this.rateLimitQuota = new Gauge({
      name: 'surface_provider_rate_limit_quota',
      help: 'Size of the provider’s rate budget (calls per window), as the provider last reported or documents it.',
      labelNames: ['provider'],
      registers,
    });
    this.credentials = new CredentialMetrics(this.registry, this);
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
    this.registryLoads = new Counter({
      name: 'surface_exporter_config_loads_total',
      help: 'Registry loads, the one at start included, by result (success or failure).',
      labelNames: ['result'],
      registers,
    });
    for (const result of ['success', 'failure']) this.registryLoads.inc({ result }, 0);
    // As kube-state-metrics names them, so dashboards and rules written for it read these too.
    this.shardOrdinal = new Gauge({
      name: 'surface_exporter_shard_ordinal',
      help: 'Always 1; the shard_ordinal label says which shard of the registry this process watches.',
      labelNames: ['shard_ordinal'],
      registers,
    });
    this.totalShards = new Gauge({
      name: 'surface_exporter_total_shards',
      help: 'How many shards share the registry, as this process was told.',
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
    this.slotWait = new OneLabelHistogram(
      'surface_poller_slot_wait_seconds',
      'How long a probe waited for a concurrency slot before it started, by the lane it ran in (queue or slow).',
      'lane',
      [0.001, 0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    );
    const slots = () => this.readSlots();
    new Gauge({
      name: 'surface_poller_probes_queued',
      help: 'Probes waiting for a concurrency slot; each waits at most timeout_seconds, then runs in the slow lane.',
      registers,
      collect() {
        this.set(slots().queued);
      },
    });
    new Gauge({
      name: 'surface_poller_probes_in_flight',
      help: 'Probes running, by lane: queue (within poller.concurrency) or slow (timed out last time, waited a full timeout, or forced).',
      labelNames: ['lane'],
      registers,
      collect() {
        const usage = slots();
        this.set({ lane: 'queue' }, usage.inUse);
        this.set({ lane: 'slow' }, usage.slow);
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

  setShard(shard: { ordinal: number; total: number }): void {
    this.shardOrdinal.reset();
    this.shardOrdinal.set({ shard_ordinal: String(shard.ordinal) }, 1);
    this.totalShards.set(shard.total);
  }

  recordProbe(labels: SurfaceLabels, outcome: ProbeOutcome): void {
    const series = this.seriesOf(labels);
    series.observe(outcome, this.holdExemplar(outcome));
    this.heartbeat.pollsNotCounted++;
    this.heartbeat.lastPollSeconds = outcome.checkedAt / 1000;
  }

  recordUnconfirmedProbe(labels: SurfaceLabels, outcome: ProbeOutcome): void {
    const series = this.seriesOf(labels);
    series.observeUnconfirmed(outcome, this.holdExemplar(outcome));
    this.heartbeat.pollsNotCounted++;
    this.heartbeat.lastPollSeconds = outcome.checkedAt / 1000;
  }

  /**
   * From here on a probe's trace id becomes an exemplar only once settleExemplars says the
   * collector took its span: spans leave in batches after the probe, and a batch the collector
   * refuses (a 5xx, unreachable) is dropped, which would leave exemplars pointing at nothing.
   */
  holdExemplarsUntilExported(): void {
    this.exemplarsWaitForExport = true;
  }

  settleExemplars(probes: readonly SettledProbeSpan[], exported: boolean): void {
    // Not seriesKey: that memo is for the poller's long-lived labels objects, and these are one batch's.
    for (const probe of probes) this.surfaces.get(surfaceKey(probe))?.settleExemplar(probe.traceId, exported);
  }

  /**
   * A held exemplar waits in its own series, one per bucket, for its span: a force-poll's probes
   * share its trace id, and their spans may leave in different batches. A span the SDK drops from
   * a full queue never settles, and its exemplar is replaced by the bucket's next one.
   */
  private holdExemplar(outcome: ProbeOutcome): boolean {
    return this.exemplarsWaitForExport && outcome.traceId !== undefined;
  }

  setRouting(labels: SurfaceLabels, routing: SurfaceRouting): void {
    this.seriesOf(labels).setRouting(routing);
  }

  setMaintenance(labels: SurfaceLabels, inMaintenance: boolean): void {
    this.seriesOf(labels).setMaintenance(inMaintenance);
  }

  setWorkerAlive(labels: SurfaceLabels, alive: boolean): void {
    this.seriesOf(labels).setAlive(alive);
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

  setRateLimitRemaining(budget: string, remaining: number): void {
    this.rateLimitRemaining.set({ provider: budget }, remaining);
  }

  setRateLimitQuota(budget: string, quota: number): void {
    this.rateLimitQuota.set({ provider: budget }, quota);
  }

  observeSlotWait(lane: string, seconds: number): void {
    this.slotWait.observe(lane, seconds);
  }

  watchSlots(read: () => ProbeSlotUsage): void {
    this.readSlots = read;
  }

  recordReload(successful: boolean, atSeconds: number): void {
    this.reloadSuccessful.set(successful ? 1 : 0);
    this.registryLoads.inc({ result: successful ? 'success' : 'failure' });
    if (successful) this.reloadTimestamp.set(atSeconds);
  }

  /** Removes every series of a surface that left the registry. */
  removeSurface(labels: SurfaceLabels): void {
    this.surfaces.delete(seriesKey(labels));
  }

  /** Every family this exporter publishes (process metrics included), for the README's reference. */
  families(): MetricFamily[] {
    const own = this.registry.getMetricsAsArray().map((metric) => {
      const { name, help, type, labelNames } = metric as unknown as MetricFamily;
      return { name, help, type: String(type) as MetricFamily['type'], labelNames: labelNames ?? [] };
    });
    const surface = this.surfaceFamilies.map(({ name, help, type, labelNames }) => ({
      name,
      help,
      type,
      labelNames,
    }));
    return [...surface, ...own];
  }

  /**
   * Renders OpenMetrics (with exemplars) when the scraper accepts it, else the classic text format.
   * Scrapes that arrive while one renders share its body: a client pipelining hundreds of requests
   * would otherwise hold that many full bodies at once.
   */
  render(accept: string | undefined): Promise<ScrapeBody> {
    const format: ExpositionFormat = accept?.includes('application/openmetrics-text')
      ? 'openmetrics'
      : 'text';
    let rendering = this.rendering.get(format);
    if (!rendering) {
      rendering = this.renderFresh(format).finally(() => this.rendering.delete(format));
      this.rendering.set(format, rendering);
    }
    return rendering;
  }

  private async renderFresh(format: ExpositionFormat): Promise<ScrapeBody> {
    if (format === 'openmetrics') {
      const registryPart = (await this.registry.metrics()).replace(/# EOF\n$/, '');
      return {
        contentType: OPENMETRICS_CONTENT_TYPE,
        body: this.renderBody(registryPart, 'openmetrics', '# EOF\n'),
      };
    }
    const registryPart = renderPrometheusText(await this.registry.getMetricsAsJSON());
    return { contentType: PROMETHEUS_TEXT_CONTENT_TYPE, body: this.renderBody(registryPart, 'text', '') };
  }

  /**
   * The exporter's own series, then every surface's block regrouped family by family, then the
   * trailer, written into one buffer sized up front.
   */
  private renderBody(registryPart: string, format: ExpositionFormat, trailer: string): Buffer {
    const blocks = [...this.surfaces.values()].map((series) => series.block(format));
    const headers = this.surfaceFamilies.map((family) => familyHeader(family, format));
    let size = Buffer.byteLength(registryPart) + Buffer.byteLength(trailer);
    for (const header of headers) size += Buffer.byteLength(header);
    for (const block of blocks) size += block.byteLength;
    const body = Buffer.allocUnsafe(size);
    let offset = body.write(registryPart);
    headers.forEach((header, index) => {
      offset += body.write(header, offset);
      for (const block of blocks) {
        const lines = block.families[index] as string;
        if (lines.length > 0) offset += body.write(lines, offset);
      }
    });
    offset += body.write(trailer, offset);
    // A byte count that disagreed with what was written would serve garbage or cut lines.
    if (offset !== size) throw new Error(`/metrics body: wrote ${offset} bytes into ${size}`);
    for (const series of this.surfaces.values()) series.releaseUnretained();
    return body;
  }

  private seriesOf(labels: SurfaceLabels): SurfaceSeries {
    const key = seriesKey(labels);
    let series = this.surfaces.get(key);
    if (!series) {
      series = new SurfaceSeries(labels, this.surfaceFamilies);
      this.surfaces.set(key, series);
    }
    return series;
  }
}

/**
 * Keys by labels object: the poller passes the same one on every probe of a surface, and building
 * and hashing a new key string each time was a measurable part of recording a probe.
 */
const seriesKey = objectMemo(surfaceKey);

function surfaceKey(labels: { env: string; surface: string; provider: string }): string {
  return `${labels.env}\u0000${labels.surface}\u0000${labels.provider}`;
}

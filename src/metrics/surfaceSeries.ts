import type { MetricFamily } from '../core/metricFamily.js';
import {
  type FamilySample,
  PHASE_METRIC_FAMILY,
  PHASES,
  type ProbeOutcome,
  SURFACE_STATUSES,
  type SurfaceStatus,
} from '../core/result.js';
import type { SurfaceLabels, SurfaceRouting } from '../core/surface.js';
import { bucketIndex } from './oneLabelHistogram.js';

export const PROBE_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export type ExpositionFormat = 'text' | 'openmetrics';

const SURFACE_LABELS = ['env', 'surface', 'provider'];

interface Exemplar {
  traceId: string;
  value: number;
  timestampSeconds: number;
  /**
   * ` # {trace_id="…"} value timestamp`, formatted at the first scrape that shows it: an exemplar
   * stays in its bucket until a probe lands there again, often through many scrapes.
   */
  text: string | undefined;
}

/** What one surface's series are rendered from. */
interface SurfaceState {
  /** `env="…",surface="…",provider="…"`, escaped once. */
  readonly labelText: string;
  observed: boolean;
  status: SurfaceStatus;
  code: string | null;
  lastCheckSeconds: number;
  alive: boolean | undefined;
  readonly bucketCounts: number[];
  readonly exemplars: Array<Exemplar | undefined>;
  durationSum: number;
  durationCount: number;
  readonly errorCounts: Map<string, number>;
  missingCredential: string | null;
  samples: readonly FamilySample[];
  /**
   * The last probe's phase timings in PHASES order, copied in place: the probe's own objects would
   * live until the next probe, long enough to reach the old generation every time.
   */
  readonly phaseSeconds: number[];
  /** False while the last probe had no phase timings (its request got no answer). */
  hasPhases: boolean;
  /** `,severity="…",team="…"`, escaped once; null until the poller publishes the surface's routing. */
  routingText: string | null;
  maintenance: boolean | undefined;
}

/**
 * The parts of a surface's state a family is rendered from, as bits: a probe of an UP surface
 * changes its counts, its check time and its samples, so only those families render again; its
 * status, worker, routing and maintenance lines are kept from the last scrape.
 */
export const STATE_PARTS = {
  status: 1 << 0,
  counts: 1 << 1,
  errors: 1 << 2,
  checkedAt: 1 << 3,
  alive: 1 << 4,
  routing: 1 << 5,
  maintenance: 1 << 6,
  credential: 1 << 7,
  samples: 1 << 8,
  phases: 1 << 9,
} as const;

/** A per-surface family and how it is rendered from a surface's state: one entry, one place. */
export interface SurfaceFamily extends MetricFamily {
  /** STATE_PARTS bits of the state `render` reads. */
  reads: number;
  /**
   * False for lines that change with nearly every probe: rendered at each scrape and dropped once
   * written. Kept, they would stay on the heap from a scrape to the next probe, which is long
   * enough to reach the old generation every time, and collecting that was a measurable part of
   * CPU per probe (bench/RESULTS.md). Default true.
   */
  retained?: boolean;
  render(state: SurfaceState, format: ExpositionFormat): string;
}

/** The families every surface has, in exposition order. */
export const COMMON_SURFACE_FAMILIES: readonly SurfaceFamily[] = [
  {
    name: 'surface_up',
    reads: STATE_PARTS.status,
    help: '1 when the surface is UP, else 0.',
    type: 'gauge',
    labelNames: SURFACE_LABELS,
    render: (state) =>
      state.observed ? `surface_up{${state.labelText}} ${state.status === 'up' ? 1 : 0}\n` : '',
  },
  {
    name: 'surface_status',
    reads: STATE_PARTS.status,
    help: 'State set: 1 on the surface’s current status (up, degraded, down), 0 on the others.',
    type: 'gauge',
    labelNames: [...SURFACE_LABELS, 'status'],
    render: (state) =>
      state.observed
        ? SURFACE_STATUSES.map(
            (status) =>
              `surface_status{${state.labelText},status="${status}"} ${status === state.status ? 1 : 0}\n`,
          ).join('')
        : '',
  },
  {
    name: 'surface_probe_duration_seconds',
    reads: STATE_PARTS.counts,
    retained: false,
    help: 'Time one probe of a surface took, all of its HTTP calls included.',
    type: 'histogram',
    labelNames: SURFACE_LABELS,
    // From the first probe on, confirmed or not: latency and errors count every attempt.
    render: (state, format) => (state.durationCount > 0 ? renderHistogram(state, format) : ''),
  },
  {
    name: 'surface_probe_errors_total',
    reads: STATE_PARTS.errors,
    help: 'Probes that ended with an error code, by code.',
    type: 'counter',
    labelNames: [...SURFACE_LABELS, 'code'],
    render: (state) => {
      let lines = '';
      for (const [code, count] of state.errorCounts) {
        lines += `surface_probe_errors_total{${state.labelText},code="${escapeLabel(code)}"} ${count}\n`;
      }
      return lines;
    },
  },
  {
    name: 'surface_error_info',
    reads: STATE_PARTS.status,
    help: '1 for the surface’s current error code; absent while the surface is UP.',
    type: 'gauge',
    labelNames: [...SURFACE_LABELS, 'code'],
    render: (state) =>
      state.observed && state.code !== null
        ? `surface_error_info{${state.labelText},code="${escapeLabel(state.code)}"} 1\n`
        : '',
  },
  {
    name: 'surface_last_check_timestamp_seconds',
    reads: STATE_PARTS.status | STATE_PARTS.checkedAt,
    help: 'When the surface’s last probe completed.',
    type: 'gauge',
    labelNames: SURFACE_LABELS,
    render: (state) =>
      state.observed
        ? `surface_last_check_timestamp_seconds{${state.labelText}} ${state.lastCheckSeconds}\n`
        : '',
  },
  {
    name: 'surface_worker_alive',
    reads: STATE_PARTS.alive,
    help: '1 while the surface’s worker loop runs, 0 while it waits to restart after a crash.',
    type: 'gauge',
    labelNames: SURFACE_LABELS,
    render: (state) =>
      state.alive === undefined ? '' : `surface_worker_alive{${state.labelText}} ${state.alive ? 1 : 0}\n`,
  },
  {
    name: 'surface_info',
    reads: STATE_PARTS.routing,
    help: 'Always 1: the surface’s severity (page or ticket) and its registry labels (e.g. team), which every per-surface alert joins on.',
    type: 'gauge',
    labelNames: [...SURFACE_LABELS, 'severity'],
    render: (state) =>
      state.routingText === null ? '' : `surface_info{${state.labelText}${state.routingText}} 1\n`,
  },
  {
    name: 'surface_maintenance',
    reads: STATE_PARTS.maintenance,
    help: '1 while the surface is in a maintenance window or its provider reports maintenance_mode: its alerts do not fire.',
    type: 'gauge',
    labelNames: SURFACE_LABELS,
    render: (state) =>
      state.maintenance === undefined
        ? ''
        : `surface_maintenance{${state.labelText}} ${state.maintenance ? 1 : 0}\n`,
  },
  {
    name: 'surface_credential_missing',
    reads: STATE_PARTS.status | STATE_PARTS.credential,
    help: '1 while a surface is skipped because this credential variable is unset or malformed (skipped_credentials).',
    type: 'gauge',
    labelNames: [...SURFACE_LABELS, 'variable'],
    render: (state) =>
      state.observed && state.missingCredential !== null
        ? `surface_credential_missing{${state.labelText},variable="${escapeLabel(state.missingCredential)}"} 1\n`
        : '',
  },
];

/** `,phase="resolve"} ` and so on, formatted once for every surface's phase lines. */
const PHASE_LABEL_TAILS = PHASES.map((phase) => `,phase="${phase}"} `);

/** PHASE_METRIC_FAMILY, rendered from the phase timings the outcome carries rather than from samples. */
export const PHASE_FAMILY: SurfaceFamily = {
  ...PHASE_METRIC_FAMILY,
  reads: STATE_PARTS.phases,
  retained: false,
  render: (state) => {
    if (!state.hasPhases) return '';
    const head = `${PHASE_METRIC_FAMILY.name}{${state.labelText}`;
    let lines = '';
    for (let index = 0; index < PHASES.length; index++) {
      lines += `${head}${PHASE_LABEL_TAILS[index]}${state.phaseSeconds[index]}\n`;
    }
    return lines;
  },
};

/** A sample's own labels and the brace that closes its label set, as exposition text. */
function labelTail(labels: Readonly<Record<string, string>> | undefined): string {
  if (!labels) return '} ';
  let text = '';
  for (const [name, value] of Object.entries(labels)) text += `,${name}="${escapeLabel(value)}"`;
  return `${text}} `;
}

/** A family a provider declares, rendered from the samples its probes return (the phases aside). */
export function providerSurfaceFamily(family: MetricFamily): SurfaceFamily {
  if (family.name === PHASE_METRIC_FAMILY.name) return PHASE_FAMILY;
  return {
    ...family,
    reads: STATE_PARTS.samples,
    render: (state) => {
      let lines = '';
      // Name and surface labels joined once for all of this family's lines.
      let head: string | undefined;
      for (const sample of state.samples) {
        if (sample.family !== family.name) continue;
        head ??= `${family.name}{${state.labelText}`;
        lines += `${head}${labelTail(sample.labels)}${sample.value}\n`;
      }
      return lines;
    },
  };
}

const NO_SAMPLES: readonly FamilySample[] = [];

/**
 * Every series of one surface, kept as plain fields and rendered to exposition text only when a
 * scrape asks after a change. At 10,000 surfaces a generic registry spends most of a scrape
 * hashing and formatting label sets; here each surface's block is formatted once per change, and
 * only the families the change touched (see STATE_PARTS). The families that change with nearly
 * every probe are formatted at every scrape instead and not kept (SurfaceFamily.retained).
 */
export class SurfaceSeries {
  private readonly state: SurfaceState;
  /**
   * The lines of the format scraped last, only: a Prometheus scrapes in one format, and keeping the
   * other's too would double what every surface retains (bench/RESULTS.md, scenario 4).
   */
  private rendered: { format: ExpositionFormat; block: RenderedBlock } | undefined;
  /** Per bucket, the newest exemplar whose span has not been exported yet (see holdExemplar). */
  private readonly unexported: Array<Exemplar | undefined> = [];
  /** STATE_PARTS read by the families whose lines are not kept between scrapes. */
  private readonly unretainedParts: number;

  constructor(
    labels: SurfaceLabels,
    private readonly families: readonly SurfaceFamily[],
  ) {
    this.unretainedParts = unretainedPartsOf(families);
    this.state = {
      labelText: `env="${escapeLabel(labels.env)}",surface="${escapeLabel(labels.surface)}",provider="${escapeLabel(labels.provider)}"`,
      observed: false,
      status: 'up',
      code: null,
      lastCheckSeconds: 0,
      alive: undefined,
      bucketCounts: new Array<number>(PROBE_DURATION_BUCKETS.length + 1).fill(0),
      exemplars: new Array<Exemplar | undefined>(PROBE_DURATION_BUCKETS.length + 1),
      durationSum: 0,
      durationCount: 0,
      errorCounts: new Map(),
      missingCredential: null,
      samples: [],
      phaseSeconds: PHASES.map(() => 0),
      hasPhases: false,
      routingText: null,
      maintenance: undefined,
    };
  }

  observe(outcome: ProbeOutcome, holdExemplar = false): void {
    const state = this.state;
    const samples = outcome.samples ?? NO_SAMPLES;
    const missingCredential = outcome.missingCredential ?? null;
    let parts = STATE_PARTS.checkedAt;
    if (!state.observed || state.status !== outcome.status || state.code !== outcome.code)
      parts |= STATE_PARTS.status;
    if (samples.length > 0 || state.samples.length > 0) parts |= STATE_PARTS.samples;
    const phases = outcome.phases;
    if (phases) {
      const seconds = state.phaseSeconds;
      for (let index = 0; index < PHASES.length; index++) {
        seconds[index] = phases[PHASES[index] as (typeof PHASES)[number]];
      }
      parts |= STATE_PARTS.phases;
    } else if (state.hasPhases) {
      parts |= STATE_PARTS.phases;
    }
    state.hasPhases = phases !== undefined;
    if (missingCredential !== state.missingCredential) parts |= STATE_PARTS.credential;
    state.observed = true;
    state.status = outcome.status;
    state.code = outcome.code;
    state.lastCheckSeconds = outcome.checkedAt / 1000;
    state.samples = samples;
    state.missingCredential = missingCredential;
    this.changed(parts);
    this.count(outcome, holdExemplar);
  }

  /**
   * Counts the probe (latency, error code) and leaves the published state alone. With
   * `holdExemplar`, the probe's trace id waits for settleExemplar before it shows.
   */
  observeUnconfirmed(outcome: ProbeOutcome, holdExemplar = false): void {
    this.count(outcome, holdExemplar);
  }

  /**
   * The collector took (`exported`) or lost the span of a held exemplar: only a taken one replaces
   * its bucket's exemplar, so a scrape never names a trace the collector never received.
   */
  settleExemplar(traceId: string, exported: boolean): void {
    for (let bucket = 0; bucket < this.unexported.length; bucket++) {
      const exemplar = this.unexported[bucket];
      if (exemplar?.traceId !== traceId) continue;
      this.unexported[bucket] = undefined;
      if (!exported) continue;
      this.state.exemplars[bucket] = exemplar;
      this.changed(STATE_PARTS.counts);
    }
  }

  setRouting(routing: SurfaceRouting): void {
    let text = `,severity="${escapeLabel(routing.severity)}"`;
    for (const [name, value] of Object.entries(routing.labels)) text += `,${name}="${escapeLabel(value)}"`;
    if (this.state.routingText === text) return;
    this.state.routingText = text;
    this.changed(STATE_PARTS.routing);
  }

  setMaintenance(inMaintenance: boolean): void {
    if (this.state.maintenance === inMaintenance) return;
    this.state.maintenance = inMaintenance;
    this.changed(STATE_PARTS.maintenance);
  }

  private count(outcome: ProbeOutcome, holdExemplar: boolean): void {
    const state = this.state;
    const bucket = bucketIndex(PROBE_DURATION_BUCKETS, outcome.durationSeconds);
    state.bucketCounts[bucket] = (state.bucketCounts[bucket] ?? 0) + 1;
    state.durationSum += outcome.durationSeconds;
    state.durationCount++;
    if (outcome.traceId) {
      const exemplar: Exemplar = {
        traceId: outcome.traceId,
        value: outcome.durationSeconds,
        timestampSeconds: Date.now() / 1000,
        text: undefined,
      };
      if (holdExemplar) this.unexported[bucket] = exemplar;
      else state.exemplars[bucket] = exemplar;
    }
    if (outcome.code !== null) {
      const code = counterCode(outcome.code, state.errorCounts);
      state.errorCounts.set(code, (state.errorCounts.get(code) ?? 0) + 1);
      this.changed(STATE_PARTS.counts | STATE_PARTS.errors);
    } else {
      this.changed(STATE_PARTS.counts);
    }
  }

  setAlive(alive: boolean): void {
    if (this.state.alive === alive) return;
    this.state.alive = alive;
    this.changed(STATE_PARTS.alive);
  }

  /**
   * Drops the lines of the families that read `parts`, to render again at the next scrape; the
   * others keep theirs. Dropping at once keeps no more text between scrapes than the unchanged lines.
   */
  private changed(parts: number): void {
    if (this.rendered) this.dropStale(this.rendered.block, parts);
  }

  private dropStale(block: RenderedBlock, parts: number): void {
    const families = this.families;
    for (let index = 0; index < families.length; index++) {
      if (((families[index] as SurfaceFamily).reads & parts) === 0) continue;
      const lines = block.families[index] as string;
      if (lines.length > 0) {
        block.byteLength -= Buffer.byteLength(lines);
        block.families[index] = '';
      }
    }
    block.stale |= parts;
  }

  /** Drops, once a scrape has written them, the lines of the families that are not retained. */
  releaseUnretained(): void {
    if (this.rendered && this.unretainedParts !== 0)
      this.dropStale(this.rendered.block, this.unretainedParts);
  }

  /**
   * This surface's sample lines in `format`, one string per family, rendered again only after a
   * change (and, for the families not retained, after every scrape).
   */
  block(format: ExpositionFormat): RenderedBlock {
    const block = this.rendered?.format === format ? this.rendered.block : undefined;
    if (!block) {
      const fresh = renderBlock(this.families.map((family) => family.render(this.state, format)));
      this.rendered = { format, block: fresh };
      return fresh;
    }
    if (block.stale !== 0) {
      const { families, state } = this;
      for (let index = 0; index < families.length; index++) {
        const family = families[index] as SurfaceFamily;
        if ((family.reads & block.stale) === 0) continue;
        const lines = family.render(state, format);
        block.byteLength += Buffer.byteLength(lines);
        block.families[index] = lines;
      }
      block.stale = 0;
    }
    return block;
  }
}

const unretainedPartsByFamilies = new WeakMap<readonly SurfaceFamily[], number>();
function unretainedPartsOf(families: readonly SurfaceFamily[]): number {
  let parts = unretainedPartsByFamilies.get(families);
  if (parts === undefined) {
    parts = 0;
    for (const family of families) if (family.retained === false) parts |= family.reads;
    unretainedPartsByFamilies.set(families, parts);
  }
  return parts;
}

/** `,le="0.005"} ` and so on, formatted once for every surface's histogram. */
const BUCKET_LABEL_TEXTS = [...PROBE_DURATION_BUCKETS.map(String), '+Inf'].map((le) => `,le="${le}"} `);

function renderHistogram(state: SurfaceState, format: ExpositionFormat): string {
  const labels = state.labelText;
  let cumulative = 0;
  let lines = '';
  for (let index = 0; index <= PROBE_DURATION_BUCKETS.length; index++) {
    cumulative += state.bucketCounts[index] ?? 0;
    lines += `surface_probe_duration_seconds_bucket{${labels}${BUCKET_LABEL_TEXTS[index]}${cumulative}`;
    const exemplar = format === 'openmetrics' ? state.exemplars[index] : undefined;
    if (exemplar) lines += exemplar.text ?? formatExemplar(exemplar);
    lines += '\n';
  }
  lines += `surface_probe_duration_seconds_sum{${labels}} ${state.durationSum}\n`;
  lines += `surface_probe_duration_seconds_count{${labels}} ${state.durationCount}\n`;
  return lines;
}

function formatExemplar(exemplar: Exemplar): string {
  // Joined, not concatenated: a flat string, where `+` would keep a rope of its parts alive with it.
  exemplar.text = [
    ' # {trace_id="',
    escapeLabel(exemplar.traceId),
    '"} ',
    String(exemplar.value),
    ' ',
    String(exemplar.timestampSeconds),
  ].join('');
  return exemplar.text;
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
  /** STATE_PARTS changed since these lines were rendered. */
  stale: number;
}

/**
 * Kept as strings on the V8 heap, which compacts, rather than as thousands of small Buffers, whose
 * malloc'd memory fragments and stays in RSS (bench/RESULTS.md). Measuring each string also
 * flattens it, so a scrape copies flat strings instead of walking the ropes `+=` built.
 */
function renderBlock(families: string[]): RenderedBlock {
  let byteLength = 0;
  for (const family of families) byteLength += Buffer.byteLength(family);
  return { families, byteLength, stale: 0 };
}

export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/**
 * Exact codes a surface's error counter keeps before new HTTP-status codes fold into their class:
 * a target answering a different status each time grew ~500 series per surface that never went.
 * The exact status stays in the detail and in surface_error_info.
 */
export const MAX_EXACT_ERROR_CODES = 16;

function counterCode(code: string, seen: ReadonlyMap<string, number>): string {
  if (seen.has(code) || seen.size < MAX_EXACT_ERROR_CODES) return code;
  const status = /^(.*_)([1-5])\d\d$/.exec(code);
  return status ? `${status[1]}${status[2]}xx` : code;
}

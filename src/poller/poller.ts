import type { Logger } from 'pino';
import type { LoadedRegistry, RegisteredSurface } from '../config/load.js';
import type { PollerConfig } from '../config/schema.js';
import { type Clock, systemClock } from '../core/clock.js';
import { MAINTENANCE_MODE_CODE } from '../core/codes.js';
import { Deadline } from '../core/deadline.js';
import type { Env } from '../core/env.js';
import { inMaintenance } from '../core/maintenance.js';
import type { PushReports } from '../core/push.js';
import type { ConditionOutcome, ProbeOutcome, ProbeResult, SurfaceStatus, TlsPeer } from '../core/result.js';
import type { SurfaceLabels } from '../core/surface.js';
import { noopTracer, type ProbeTracer, type TraceParent } from '../core/trace.js';
import type { ProbeContext, Provider } from '../providers/contract.js';
import { providerFor, type SurfaceConfig } from '../providers/index.js';
import { BudgetPlans } from '../providers/shared/budget.js';
import { SharedCache } from '../providers/shared/cache.js';
import type { ExchangeObserver, HttpClient } from '../transport/client.js';
import { ProbeCancelledError, Semaphore, type Slot } from './semaphore.js';
import type { PollerSink } from './sink.js';

export interface PollerDeps {
  sink: PollerSink;
  log: Logger;
  env: Env;
  http: HttpClient;
  clock?: Clock;
  tracer?: ProbeTracer;
  /** Which provider probes a surface; the registered table unless a test brings a misbehaving one. */
  resolveProvider?: (surface: SurfaceConfig) => Provider;
  /** Test-only: called at the top of each worker iteration; a throw there is a worker-loop crash. */
  workerHook?: (surfaceKey: string) => void;
  /** The part of every provider budget this process plans against (ProbeContext.budgetShare); 1 by default. */
  budgetShare?: number;
  /** Told of every recorded probe, after the metrics (the status page keeps its history from it). */
  onProbeRecorded?: (surface: SurfaceLabels, probe: ProbeOutcome) => void;
  /** What push surfaces' jobs reported (ProbeContext.lastPush); none when absent (a one-shot probe). */
  pushes?: PushReports;
}

export interface SurfaceSnapshot {
  env: string;
  surface: string;
  provider: string;
  target: string;
  thread_alive: boolean;
  status: SurfaceStatus | 'unknown';
  error: string | null;
  detail: string | null;
  checked_at: string | null;
  duration_ms: number | null;
  consecutive_failures: number;
  next_poll_at: string | null;
  /** The leaf certificate of the surface's HTTPS target at the last probe. */
  tls: TlsSnapshot | null;
  /** The `expect:` conditions of the last probe, each with its result. */
  conditions: readonly ConditionOutcome[] | null;
  /** In a maintenance window (registry) or reported so by its provider: probed, but its alerts stay quiet. */
  maintenance: boolean;
}

export interface TlsSnapshot {
  subject: string;
  issuer: string;
  sans: string[];
  not_after: string;
  earliest_expiry: string;
}

export interface ForcePollEntry {
  env: string;
  surface: string;
  provider: string;
  /** `unknown`: the surface has nothing to publish yet (a push surface in its first heartbeat). */
  status: SurfaceStatus | 'pending' | 'unknown';
  error: string | null;
  detail: string | null;
  duration_ms: number | null;
}

export interface ForcePollResponse {
  polled: number;
  results: ForcePollEntry[];
}

export class UnknownSurfaceError extends Error {
  constructor(readonly filter: SurfaceFilter) {
    super(`no surface matches ${JSON.stringify(filter)}`);
  }
}

export interface SurfaceFilter {
  env?: string;
  surface?: string;
}

const WORKER_BACKOFF_BASE_MS = 1000;

/**
 * Probes every registered surface on its own schedule. Each surface has its own worker loop, so a
 * hanging or crashing surface never delays another; a semaphore bounds sockets across all of them.
 */
export class Poller {
  private settings: PollerConfig;
  private readonly workers = new Map<string, SurfaceWorker>();
  private readonly semaphore: Semaphore;
  readonly cache: SharedCache;
  /** Kept for the poller's life, reloads included: app/ gives the same plans to the credential watch. */
  readonly plans = new BudgetPlans();
  private readonly clock: Clock;
  private readonly tracer: ProbeTracer;
  private running = false;
  private startedAtMonotonic: number;
  private lastPollAt: number | null = null;
  private lastPollAtMonotonic: number | null = null;
  private crashes = { probe: 0, worker: 0 };
  private summaryTimer: NodeJS.Timeout | undefined;
  private readonly roundCounts = { up: 0, degraded: 0, down: 0 };
  private readonly forceRounds = new Map<string, Promise<ForcePollResponse>>();
  /** What a worker may use of its poller; one object, so workers never reach into the poller. */
  private readonly host: WorkerHost;

  constructor(
    registry: LoadedRegistry,
    private readonly deps: PollerDeps,
  ) {
    this.settings = registry.poller;
    this.clock = deps.clock ?? systemClock;
    this.tracer = deps.tracer ?? noopTracer;
    // TTLs are durations: on the wall clock, a step back of an hour kept a crashed dyno UP for that hour.
    this.cache = new SharedCache(() => this.clock.monotonic());
    this.semaphore = new Semaphore(registry.poller.concurrency, () => this.clock.monotonic());
    deps.sink.watchSlots(() => this.semaphore.usage());
    this.startedAtMonotonic = this.clock.monotonic();
    deps.http.setConnectionsPerOrigin(registry.poller.concurrency);
    this.host = {
      deps,
      clock: this.clock,
      tracer: this.tracer,
      semaphore: this.semaphore,
      settings: () => this.settings,
      noteProbeCompleted: (probe) => this.noteProbeCompleted(probe),
      noteCrash: (scope) => {
        this.crashes[scope]++;
        deps.sink.countCrash(scope);
      },
      newContext: (deadline, log, observe, trace, worker) =>
        this.newContext(deadline, log, observe, trace, worker),
    };
    for (const surface of registry.surfaces)
      this.workers.set(surface.key, new SurfaceWorker(surface, this.host));
    this.publishSurfaceCounts();
    for (const worker of this.workers.values()) {
      worker.publishAlive();
      worker.publishRouting();
    }
  }

  get config(): PollerConfig {
    return this.settings;
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Starts every worker; first probes are spread over one interval so they do not all fire at once. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.startedAtMonotonic = this.clock.monotonic();
    for (const worker of this.workers.values()) worker.start(this.jitterMs());
    this.scheduleSummary();
  }

  /** Stops scheduling and waits for in-flight probes, which end by their own deadline. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.summaryTimer);
    await Promise.all([...this.workers.values()].map((worker) => worker.stop()));
  }

  /**
   * Applies a new registry: added surfaces start, removed ones stop and lose their series, changed
   * ones restart, unchanged ones keep state and schedule. Poller settings apply from each worker's next probe.
   */
  applyRegistry(registry: LoadedRegistry): { added: number; removed: number; changed: number } {
    this.settings = registry.poller;
    this.semaphore.setLimit(registry.poller.concurrency);
    this.deps.http.setConnectionsPerOrigin(registry.poller.concurrency);
    // A force-poll after the reload must probe the new set, not join a round of the old one.
    this.forceRounds.clear();
    const next = new Map(registry.surfaces.map((surface) => [surface.key, surface]));
    const previousKeys = new Set(this.workers.keys());
    const counts = { added: 0, removed: 0, changed: 0 };
    for (const [key, worker] of this.workers) {
      const replacement = next.get(key);
      if (replacement && sameSurface(worker.surface, replacement)) continue;
      this.workers.delete(key);
      void worker.retire();
      if (replacement) counts.changed++;
      else counts.removed++;
    }
    for (const surface of registry.surfaces) {
      if (this.workers.has(surface.key)) continue;
      const worker = new SurfaceWorker(surface, this.host);
      this.workers.set(surface.key, worker);
      worker.publishAlive();
      worker.publishRouting();
      if (this.running) worker.start(this.jitterMs());
    }
    counts.added = registry.surfaces.filter((surface) => !previousKeys.has(surface.key)).length;
    this.publishSurfaceCounts();
    return counts;
  }

  /** Probes the matching surfaces now and answers by the force-poll deadline, with `pending` for the slow ones. */
  forcePoll(filter: SurfaceFilter = {}): Promise<ForcePollResponse> {
    const workers = this.select(filter);
    if (workers.length === 0) return Promise.reject(new UnknownSurfaceError(filter));
    const roundKey = `${filter.env ?? '*'}/${filter.surface ?? '*'}`;
    const inFlight = this.forceRounds.get(roundKey);
    if (inFlight) return inFlight;
    const round = this.tracer
      .traceForcePoll((trace) => this.runForceRound(workers, trace))
      .finally(() => this.forceRounds.delete(roundKey));
    this.forceRounds.set(roundKey, round);
    return round;
  }

  /** Runs one probe of one surface outside the schedule, reporting each HTTP call (the CLI's `probe`). */
  async probeOnce(key: string, observe?: ExchangeObserver): Promise<ProbeOutcome> {
    const worker = this.workers.get(key);
    if (!worker) throw new UnknownSurfaceError({ surface: key });
    return worker.execute(observe);
  }

  health(): { stale: boolean; lastPollAt: string | null; ageSeconds: number | null } {
    const reference = this.lastPollAtMonotonic ?? this.startedAtMonotonic;
    const ageSeconds = (this.clock.monotonic() - reference) / 1000;
    return {
      stale: ageSeconds > this.settings.stale_after_seconds,
      lastPollAt: this.lastPollAt === null ? null : new Date(this.lastPollAt).toISOString(),
      ageSeconds: this.lastPollAtMonotonic === null ? null : ageSeconds,
    };
  }

  status(): { poller: Record<string, unknown>; surfaces: SurfaceSnapshot[] } {
    return {
      poller: {
        running: this.running,
        last_poll_at: this.lastPollAt === null ? null : new Date(this.lastPollAt).toISOString(),
        crashes: { ...this.crashes },
        interval_seconds: this.settings.interval_seconds,
        surfaces: this.workers.size,
        probes_in_flight: this.semaphore.inUse,
        probes_in_slow_lane: this.semaphore.usage().slow,
        probes_queued: this.semaphore.queued,
      },
      surfaces: [...this.workers.values()].map((worker) => worker.snapshot()),
    };
  }

  surfaces(): RegisteredSurface[] {
    return [...this.workers.values()].map((worker) => worker.surface);
  }

  private newContext(
    deadline: Deadline,
    log: Logger,
    observe: ExchangeObserver | undefined,
    trace: TraceParent,
    worker: WorkerIdentity,
  ): ProbeContext {
    const { http, env, sink, pushes } = this.deps;
    return {
      env,
      log,
      deadline,
      cache: this.cache,
      plans: this.plans,
      metadataTtlSeconds: this.settings.metadata_ttl_seconds,
      budgetShare: this.deps.budgetShare ?? 1,
      now: () => this.clock.now(),
      monotonic: () => this.clock.monotonic(),
      surfaceSinceMonotonic: worker.sinceMonotonic,
      lastPush: () => pushes?.last(worker.labels.env, worker.labels.surface),
      request: (req) => http.send({ ...req, deadline }, observe, trace),
      requestShared: (req) =>
        http.send({ ...req, deadline: new Deadline(this.settings.timeout_seconds * 1000) }, observe, trace),
      reportRateLimit: (budget, remaining, quota) => {
        sink.setRateLimitRemaining(budget, remaining);
        if (quota !== undefined) sink.setRateLimitQuota(budget, quota);
      },
    };
  }

  private noteProbeCompleted(probe: ProbeOutcome): void {
    this.lastPollAt = probe.checkedAt;
    this.lastPollAtMonotonic = this.clock.monotonic();
    // A pending result is a probe that ran (the poller is alive) but not a state to count.
    if (!probe.pending) this.roundCounts[probe.status]++;
  }

  /**
   * Every entry starts `pending` and is filled in as its probe lands; the round answers when the last
   * one lands or at the deadline, whichever comes first. One callback per probe: a round at 10,000
   * surfaces is mostly this loop.
   */
  private runForceRound(workers: SurfaceWorker[], trace: TraceParent): Promise<ForcePollResponse> {
    const results = workers.map((worker): ForcePollEntry => {
      const { env, config } = worker.surface;
      return {
        env,
        surface: config.name,
        provider: config.provider,
        status: 'pending',
        error: null,
        detail: null,
        duration_ms: null,
      };
    });
    return new Promise((resolve, reject) => {
      let outstanding = workers.length;
      let answered = false;
      const answer = () => {
        if (answered) return;
        answered = true;
        clearTimeout(deadline);
        resolve({ polled: results.length, results });
      };
      const deadline = setTimeout(answer, this.settings.force_poll_deadline_seconds * 1000);
      // One surface asked for by a person runs now, never behind the schedule's queue.
      const urgent = workers.length === 1;
      workers.forEach((worker, index) => {
        worker.probeNow(trace, urgent).then(
          (probe) => {
            if (answered) return;
            const entry = results[index] as ForcePollEntry;
            entry.status = probe.pending ? 'unknown' : probe.status;
            entry.error = probe.pending ? null : probe.code;
            entry.detail = probe.detail;
            entry.duration_ms = Math.round(probe.durationSeconds * 1000);
            if (--outstanding === 0) answer();
          },
          (err: unknown) => {
            // A probe cancelled by shutdown is as unknown to the caller as one past the deadline.
            if (err instanceof ProbeCancelledError) {
              if (--outstanding === 0) answer();
              return;
            }
            if (answered) return;
            answered = true;
            clearTimeout(deadline);
            reject(err);
          },
        );
      });
    });
  }

  private select(filter: SurfaceFilter): SurfaceWorker[] {
    return [...this.workers.values()].filter(
      (worker) =>
        (filter.env === undefined || worker.surface.env === filter.env) &&
        (filter.surface === undefined || worker.surface.config.name === filter.surface),
    );
  }

  private jitterMs(): number {
    return Math.random() * this.settings.interval_seconds * 1000;
  }

  private publishSurfaceCounts(): void {
    const counts = new Map<string, number>();
    for (const worker of this.workers.values())
      counts.set(worker.surface.env, (counts.get(worker.surface.env) ?? 0) + 1);
    this.deps.sink.setSurfaceCounts(counts);
  }

  /** One `poll_once` line per interval, whatever the number of surfaces: the runbook greps for it. */
  private scheduleSummary(): void {
    this.summaryTimer = setTimeout(() => {
      const { up, degraded, down } = this.roundCounts;
      if (this.workers.size === 0) {
        // With nothing to probe the poller is idle, not stalled.
        this.lastPollAt = this.clock.now();
        this.lastPollAtMonotonic = this.clock.monotonic();
      }
      this.deps.log.info(
        {
          event: 'poll_once',
          surfaces: this.workers.size,
          polled: up + degraded + down,
          up,
          degraded,
          down,
          crashes: this.crashes,
        },
        'poll_once',
      );
      this.roundCounts.up = 0;
      this.roundCounts.degraded = 0;
      this.roundCounts.down = 0;
      if (this.running) this.scheduleSummary();
    }, this.settings.interval_seconds * 1000);
    this.summaryTimer.unref();
  }
}

function sameSurface(a: RegisteredSurface, b: RegisteredSurface): boolean {
  // Routing and maintenance carry the environment's defaults, which the surface's config does not show.
  return (
    a.env === b.env &&
    JSON.stringify(a.config) === JSON.stringify(b.config) &&
    JSON.stringify(a.routing) === JSON.stringify(b.routing) &&
    JSON.stringify(a.maintenance) === JSON.stringify(b.maintenance)
  );
}

/**
 * Who asked for a probe. Scheduled failures of an UP surface wait for a confirming probe; a probe an
 * operator forced (force-poll, `probe`) is published as it is: they asked for the state now.
 */
type ProbeOrigin = 'scheduled' | 'confirmation' | 'forced';

class SurfaceWorker {
  readonly labels: SurfaceLabels;
  private readonly provider: Provider;
  private readonly log: Logger;
  private loopAbort = new AbortController();
  private loopDone: Promise<void> = Promise.resolve();
  private inFlight: Promise<ProbeOutcome> | null = null;
  /** Set while this surface's probe waits for a slot: runs it in the slow lane at once. */
  private expediteQueued: (() => void) | undefined;
  /** One function per worker rather than a closure per probe. */
  private readonly noteQueued = (expedite: () => void): void => {
    this.expediteQueued = expedite;
  };
  private retired = false;
  private alive = false;
  private last: ProbeOutcome | null = null;
  private consecutiveFailures = 0;
  private readonly changeLines = new ChangeLineBudget(() => this.host.clock.monotonic());
  private nextPollAt: number | null = null;
  private sleep: { timer: NodeJS.Timeout; wake: () => void } | undefined;
  /** A failure of an UP surface, held back until the confirming probe lands. */
  private unconfirmed: { probe: ProbeOutcome; timer: NodeJS.Timeout } | null = null;
  private maintenance = false;
  /** What surface_maintenance shows; undefined until first published. */
  private publishedMaintenance: boolean | undefined;
  readonly sinceMonotonic: number;

  constructor(
    readonly surface: RegisteredSurface,
    private readonly host: WorkerHost,
  ) {
    this.sinceMonotonic = host.clock.monotonic();
    this.labels = { env: surface.env, surface: surface.config.name, provider: surface.config.provider };
    this.provider = (host.deps.resolveProvider ?? providerFor)(surface.config);
    this.log = host.deps.log.child({
      env: surface.env,
      surface: surface.config.name,
      provider: surface.config.provider,
    });
  }

  publishAlive(): void {
    this.host.deps.sink.setWorkerAlive(this.labels, this.alive);
  }

  start(initialDelayMs: number): void {
    this.loopAbort = new AbortController();
    this.loopDone = this.supervise(initialDelayMs, this.loopAbort.signal);
  }

  /** Ends the loop and drops a probe still queued for a slot; one already running finishes. */
  async stop(): Promise<void> {
    this.dropUnconfirmed();
    this.loopAbort.abort();
    this.host.semaphore.cancelAborted();
    this.wakeEarly();
    await this.loopDone;
    await this.inFlight?.catch(() => undefined);
    // A stopped worker still answers force-polls, as with the poller off (TESTING=true).
    this.loopAbort = new AbortController();
  }

  /** Leaves the registry: stops, and its series vanish even if a probe lands afterwards. */
  async retire(): Promise<void> {
    this.retired = true;
    this.host.deps.sink.removeSurface(this.labels);
    await this.stop();
  }

  /**
   * Probes now, or joins the probe already in flight for this surface (whose trace it then shares).
   * `urgent`: skip the queue for a slot, and pull a probe already waiting in it out.
   */
  probeNow(parent?: TraceParent, urgent = false, origin: ProbeOrigin = 'forced'): Promise<ProbeOutcome> {
    if (!this.inFlight) {
      this.inFlight = this.execute(undefined, parent, urgent, origin).finally(() => {
        this.inFlight = null;
      });
    } else if (urgent) this.expediteQueued?.();
    return this.inFlight;
  }

  snapshot(): SurfaceSnapshot {
    const { env, config } = this.surface;
    const last = this.last;
    return {
      env,
      surface: config.name,
      provider: config.provider,
      target: this.provider.target(config),
      thread_alive: this.alive,
      status: last?.status ?? 'unknown',
      error: last?.code ?? null,
      detail: last?.detail ?? null,
      checked_at: last ? new Date(last.checkedAt).toISOString() : null,
      duration_ms: last ? Math.round(last.durationSeconds * 1000) : null,
      consecutive_failures: this.consecutiveFailures,
      next_poll_at: this.nextPollAt === null ? null : new Date(this.nextPollAt).toISOString(),
      tls: last?.tls ? tlsSnapshot(last.tls) : null,
      conditions: last?.conditions ?? null,
      maintenance: this.maintenance,
    };
  }

  /** surface_info and surface_maintenance, before the first probe, so the alert joins have them. */
  publishRouting(): void {
    this.host.deps.sink.setRouting(this.labels, this.surface.routing);
    this.updateMaintenance(this.last?.code ?? null);
  }

  /**
   * Sleeps between probes; false when the worker stopped meanwhile. A plain timer that stop() clears,
   * rather than an abortable sleep, whose signal listener every surface would add every interval.
   */
  private pause(ms: number, signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => {
          this.sleep = undefined;
          resolve(true);
        },
        Math.max(0, ms),
      );
      this.sleep = { timer, wake: () => resolve(false) };
    });
  }

  private wakeEarly(): void {
    const sleep = this.sleep;
    if (!sleep) return;
    this.sleep = undefined;
    clearTimeout(sleep.timer);
    sleep.wake();
  }

  private setAlive(alive: boolean): void {
    this.alive = alive;
    if (!this.retired) this.publishAlive();
  }

  /** Restarts a failed worker loop with exponential backoff, like the runbook's poller thread. */
  private async supervise(initialDelayMs: number, signal: AbortSignal): Promise<void> {
    const { clock, settings, noteCrash } = this.host;
    let failures = 0;
    let delayMs = initialDelayMs;
    while (!signal.aborted) {
      this.setAlive(true);
      try {
        await this.loop(delayMs, signal, () => {
          failures = 0;
        });
        return;
      } catch (err) {
        if (signal.aborted) return;
        failures++;
        const backoffMs = Math.min(
          settings().max_backoff_seconds * 1000,
          WORKER_BACKOFF_BASE_MS * 2 ** (failures - 1),
        );
        this.setAlive(false);
        noteCrash('worker');
        this.nextPollAt = clock.now() + backoffMs;
        this.log.error({ event: 'thread_crashed', err, backoff_seconds: backoffMs / 1000 }, 'thread_crashed');
        if (!(await this.pause(backoffMs, signal))) return;
        delayMs = 0;
      }
    }
  }

  private async loop(
    initialDelayMs: number,
    signal: AbortSignal,
    onHealthyIteration: () => void,
  ): Promise<void> {
    const { clock, settings, deps } = this.host;
    this.nextPollAt = clock.now() + initialDelayMs;
    if (!(await this.pause(initialDelayMs, signal))) return;
    let scheduledAt = clock.monotonic();
    while (!signal.aborted) {
      deps.workerHook?.(this.surface.key);
      await this.probeNow(undefined, false, 'scheduled');
      onHealthyIteration();
      const intervalMs = settings().interval_seconds * 1000;
      // Fixed-rate schedule: a slow probe does not push every later check back; missed slots are skipped.
      scheduledAt += intervalMs;
      const nowMonotonic = clock.monotonic();
      if (scheduledAt < nowMonotonic)
        scheduledAt += Math.ceil((nowMonotonic - scheduledAt) / intervalMs) * intervalMs;
      const waitMs = scheduledAt - nowMonotonic;
      this.nextPollAt = clock.now() + waitMs;
      if (!(await this.pause(waitMs, signal))) return;
    }
  }

  /**
   * Runs the provider's probe under the concurrency cap and a hard deadline, and records what it saw.
   * The deadline starts once the probe has its slot; the wait before it is reported, not charged.
   */
  async execute(
    observe?: ExchangeObserver,
    parent?: TraceParent,
    urgent = false,
    origin: ProbeOrigin = 'forced',
  ): Promise<ProbeOutcome> {
    const { settings, clock, tracer, newContext, noteCrash } = this.host;
    const slot = await this.acquireSlot(urgent);
    const deadline = new Deadline(settings().timeout_seconds * 1000);
    const started = performance.now();
    let traceId: string | undefined;
    let result: ProbeResult;
    try {
      const traced = await tracer.traceProbe(
        this.labels,
        async (trace) => {
          const ctx = newContext(deadline, this.log, observe, trace, this);
          try {
            return await withDeadline(this.provider.probe(this.surface.config, ctx), deadline);
          } catch (err) {
            if (deadline.expired) {
              return {
                status: 'degraded',
                code: 'probe_timeout',
                detail: `no result within ${settings().timeout_seconds} s`,
              };
            }
            noteCrash('probe');
            this.log.error({ event: 'probe_crashed', err }, 'probe_crashed');
            // The message of a bug may quote anything, secrets included: it goes to the log only.
            const detail = `probe crashed (${errorName(err)}); the stack is in the probe_crashed log line`;
            return { status: 'degraded', code: 'probe_crashed', detail };
          }
        },
        parent,
      );
      result = traced.result;
      traceId = traced.traceId;
    } finally {
      slot.release();
    }
    const completed: ProbeOutcome = {
      ...result,
      checkedAt: clock.now(),
      durationSeconds: (performance.now() - started) / 1000,
      traceId,
    };
    this.record(completed, origin);
    return completed;
  }

  /**
   * A surface that timed out last time goes to the slow lane, so hanging targets never hold the
   * slots healthy ones need; any other probe waits at most one timeout for a slot, then runs there too.
   */
  private async acquireSlot(urgent: boolean): Promise<Slot> {
    const { semaphore, settings, deps } = this.host;
    try {
      const slot = await semaphore.acquire({
        signal: this.loopAbort.signal,
        maxWaitMs: settings().timeout_seconds * 1000,
        slow: urgent || this.last?.code === 'probe_timeout',
        onQueued: this.noteQueued,
      });
      deps.sink.observeSlotWait(slot.lane, slot.waitedMs / 1000);
      return slot;
    } finally {
      this.expediteQueued = undefined;
    }
  }

  private record(probe: ProbeOutcome, origin: ProbeOrigin): void {
    if (this.retired) return;
    const { deps, noteProbeCompleted } = this.host;
    if (probe.pending) {
      noteProbeCompleted(probe);
      return;
    }
    this.consecutiveFailures = probe.status === 'up' ? 0 : this.consecutiveFailures + 1;
    noteProbeCompleted(probe);
    if (this.needsConfirmation(probe, origin)) {
      this.holdForConfirmation(probe);
      return;
    }
    this.dropUnconfirmed();
    const previous = this.last;
    this.last = probe;
    this.updateMaintenance(probe.code);
    deps.sink.recordProbe(this.labels, probe);
    deps.onProbeRecorded?.(this.labels, probe);
    // One line per state change keeps 1,000 failing surfaces from flooding the log every interval.
    const changed = !previous || previous.status !== probe.status || previous.code !== probe.code;
    // Unchanged results log at debug; the level check spares building their fields on every probe.
    if (!changed && !this.log.isLevelEnabled('debug')) return;
    const fields = {
      event: 'poll_once',
      status: probe.status,
      error: probe.code,
      detail: probe.detail,
      duration_ms: Math.round(probe.durationSeconds * 1000),
    };
    if (changed && this.changeLines.allow(previous?.status !== probe.status)) {
      const level = probe.status === 'up' ? 'info' : 'warn';
      this.log[level](
        {
          ...fields,
          previous_status: previous?.status ?? null,
          previous_error: previous?.code ?? null,
          suppressed_changes: this.changeLines.takeSuppressed(),
        },
        'poll_once: surface changed state',
      );
    } else {
      this.log.debug(fields, 'poll_once');
    }
  }

  /** A scheduled failure of a surface last published UP (or not yet at all), with confirmation on. */
  private needsConfirmation(probe: ProbeOutcome, origin: ProbeOrigin): boolean {
    if (origin === 'forced' || probe.status === 'up') return false;
    if (this.host.settings().confirm_after_seconds === 0) return false;
    // A stopping worker will not probe again: what it saw last is shown rather than hidden.
    if (this.loopAbort.signal.aborted) return false;
    // The second failure in a row is the confirmation, whichever probe brought it.
    if (this.unconfirmed !== null) return false;
    return this.last === null || this.last.status === 'up';
  }

  /** Counts the failure, keeps the published state, and probes again after confirm_after_seconds. */
  private holdForConfirmation(probe: ProbeOutcome): void {
    const { deps, settings } = this.host;
    deps.sink.recordUnconfirmedProbe(this.labels, probe);
    const timer = setTimeout(() => {
      this.probeNow(undefined, false, 'confirmation').catch((err: unknown) => {
        // Cancelled by a stop: nothing to confirm any more.
        if (!(err instanceof ProbeCancelledError))
          this.log.error({ event: 'probe_crashed', err }, 'probe_crashed');
      });
    }, settings().confirm_after_seconds * 1000);
    // A confirmation due must not keep the process alive past a shutdown.
    timer.unref();
    this.unconfirmed = { probe, timer };
    // Debug: at 1,000 failing surfaces an info line each would double the state-change lines.
    this.log.debug(
      { event: 'poll_once', status: probe.status, error: probe.code, detail: probe.detail },
      'poll_once: failure, probing again to confirm',
    );
  }

  private dropUnconfirmed(): void {
    if (this.unconfirmed === null) return;
    clearTimeout(this.unconfirmed.timer);
    this.unconfirmed = null;
  }

  /** In a registry window now, or the provider reports the target's own maintenance mode. */
  private updateMaintenance(publishedCode: string | null): void {
    const now = this.host.clock.now();
    this.maintenance =
      inMaintenance(this.surface.maintenance, now) || publishedCode === MAINTENANCE_MODE_CODE;
    // Told on a change only: each call looks the surface's series up, on every probe of every surface.
    if (this.retired || this.publishedMaintenance === this.maintenance) return;
    this.publishedMaintenance = this.maintenance;
    this.host.deps.sink.setMaintenance(this.labels, this.maintenance);
  }
}

/**
 * Settles as `work` does, or rejects when the deadline passes first, even if the probe never
 * looks at its deadline. Requests still in flight then end through their own watch on it.
 */
function withDeadline<T>(work: Promise<T>, deadline: Deadline): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    deadline.watch(() => reject(new Error(`probe deadline of ${deadline.ms} ms passed`)));
    work.then(
      (value) => {
        deadline.settle();
        resolve(value);
      },
      (err: unknown) => {
        deadline.settle();
        reject(err);
      },
    );
  });
}

export function tlsSnapshot(tls: TlsPeer): TlsSnapshot {
  return {
    subject: tls.subject,
    issuer: tls.issuer,
    sans: tls.sans,
    not_after: tls.notAfter,
    earliest_expiry: new Date(tls.earliestExpirySeconds * 1000).toISOString(),
  };
}

function errorName(err: unknown): string {
  return err instanceof Error ? err.name : typeof err;
}

/**
 * One "surface changed state" line per surface per minute when only the code changes: a target
 * answering a different status each time logged every probe. A change of status always logs; the
 * lines held back are counted in the next one.
 */
class ChangeLineBudget {
  private lastLineAt = Number.NEGATIVE_INFINITY;
  private suppressed = 0;

  constructor(private readonly now: () => number) {}

  allow(statusChanged: boolean): boolean {
    const now = this.now();
    if (statusChanged || now - this.lastLineAt >= 60_000) {
      this.lastLineAt = now;
      return true;
    }
    this.suppressed++;
    return false;
  }

  takeSuppressed(): number {
    const count = this.suppressed;
    this.suppressed = 0;
    return count;
  }
}

/** What a worker may use of its poller. */
interface WorkerHost {
  deps: PollerDeps;
  clock: Clock;
  tracer: ProbeTracer;
  semaphore: Semaphore;
  settings(): PollerConfig;
  noteProbeCompleted(probe: ProbeOutcome): void;
  noteCrash(scope: 'probe' | 'worker'): void;
  newContext(
    deadline: Deadline,
    log: Logger,
    observe: ExchangeObserver | undefined,
    trace: TraceParent,
    worker: WorkerIdentity,
  ): ProbeContext;
}

/** Which surface a probe context is for, and since when its worker exists. */
interface WorkerIdentity {
  readonly labels: SurfaceLabels;
  readonly sinceMonotonic: number;
}

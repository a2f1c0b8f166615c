import type { Logger } from 'pino';
import type {
  CredentialLifecycleSink,
  CredentialSample,
  SurfaceCredentialSample,
} from '../../../core/credentials.js';
import type { Env } from '../../../core/env.js';
import { BudgetPlans } from '../../shared/budget.js';
import { type CloudflareBudget, cloudflareBudget } from '../budget.js';
import type { Send } from './api.js';
import {
  type LifecycleNeeds,
  lifecycleNeeds,
  managementCredentials,
  type OnlineOf,
  type WatchedRegistry,
} from './needs.js';
import { type CredentialState, readCredentials } from './read.js';

/** What poller-status shows per surface. Identifiers only, never a secret. */
export interface SurfaceCredentialView {
  variable: string;
  kind: CredentialState['kind'];
  valid: boolean;
  /** ISO time, or null when the credential never expires. */
  expires_at: string | null;
  enrolled: boolean | null;
  application: string | null;
  detail: string;
  stale: boolean;
  read_at: string;
}

export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface CredentialWatchDeps {
  env: Env;
  send: Send;
  log: Logger;
  sink: CredentialLifecycleSink;
  /** Each surface's provider declarations (the provider list lives above this folder). */
  onlineOf: OnlineOf;
  /** Wall time in milliseconds; injectable so tests move time. */
  now(): number;
  timers?: Timers;
  /**
   * Where the process's Cloudflare plan lives (the probes' ProbeContext.plans), so the watch and
   * the Pages probes plan one budget together; plans of its own (the watch planning alone) by default.
   */
  plans?: BudgetPlans;
  /** The part of the Cloudflare budget this process plans against (ProbeContext.budgetShare); 1 by default. */
  budgetShare?: number;
}

interface Known {
  state: CredentialState;
  readAt: number;
  stale: boolean;
}

/**
 * Deadline of each management API call. Nothing waits on these reads (no probe, no scrape), and a
 * read that fails waits a whole interval for the next one, so a call may take longer than a probe's.
 */
export const CREDENTIAL_READ_DEADLINE_MS = 30_000;

// After three intervals without a good read the last values are too old to page on: they go.
const STALE_INTERVALS = 3;

const nodeTimers: Timers = {
  setTimeout: (callback, ms) => {
    const handle = setTimeout(callback, ms);
    // The watch never keeps a stopping process alive.
    handle.unref();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * The background credential watch: once per interval it reads the Access service tokens, the
 * applications with their policies and each API token's verify answer, shared by every surface, and
 * publishes expiry, validity and enrollment. It never touches a surface's status: a failed read is
 * logged once, and the last good values are kept, marked stale, for at most three intervals.
 */
export class CredentialWatch {
  private needs: LifecycleNeeds;
  private readonly known = new Map<string, Known>();
  private timer: unknown;
  private running = false;
  private inFlight: Promise<void> | undefined;
  private readonly timers: Timers;
  private readonly budget: CloudflareBudget;
  /** The planned interval: the configured one, or longer when the Cloudflare budget needs it. */
  private intervalMs: number;
  /** How long after the last round the pending timer fires. */
  private armedMs = 0;

  constructor(
    registry: WatchedRegistry,
    private readonly deps: CredentialWatchDeps,
  ) {
    this.needs = lifecycleNeeds(registry, deps.onlineOf);
    this.timers = deps.timers ?? nodeTimers;
    this.budget = cloudflareBudget(deps.plans ?? new BudgetPlans(), deps.budgetShare ?? 1);
    this.intervalMs = this.needs.intervalSeconds * 1000;
  }

  /** Whether the management token and account id are set. */
  enabled(): boolean {
    return managementCredentials(this.needs, this.deps.env).ok;
  }

  start(): void {
    if (this.running) return;
    const management = managementCredentials(this.needs, this.deps.env);
    if (!management.ok) {
      this.deps.log.info(
        { event: 'credential_watch_off', reason: management.why },
        `credential watch off: ${management.why}; no expiry, validity or enrollment series`,
      );
      this.deps.sink.publishCredentials(undefined, []);
      return;
    }
    this.running = true;
    void this.tick(false);
  }

  stop(): void {
    this.running = false;
    this.budget.watchStopped();
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** A new registry: credentials it no longer uses go at once; a changed set is read now. */
  applyRegistry(registry: WatchedRegistry): void {
    const before = JSON.stringify(this.needsKey(this.needs));
    this.needs = lifecycleNeeds(registry, this.deps.onlineOf);
    for (const variable of this.known.keys())
      if (!this.needs.credentials.has(variable)) this.known.delete(variable);
    this.publish();
    if (this.running && JSON.stringify(this.needsKey(this.needs)) !== before) {
      if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
      void this.tick(false);
    }
  }

  /** One read now (also what the schedule runs); concurrent callers share it. */
  readNow(): Promise<void> {
    this.inFlight ??= this.read().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /** The credentials a surface uses, for poller-status; undefined when nothing is known. */
  surfaceCredentials(env: string, surface: string): SurfaceCredentialView[] | undefined {
    const views: SurfaceCredentialView[] = [];
    for (const { state, readAt, stale } of this.known.values()) {
      for (const use of state.surfaces) {
        if (use.labels.env !== env || use.labels.surface !== surface) continue;
        views.push({
          variable: state.variable,
          kind: state.kind,
          valid: state.valid,
          expires_at: state.expiresAt === undefined ? null : new Date(state.expiresAt).toISOString(),
          enrolled: use.enrolled ?? null,
          application: use.application ?? null,
          detail: use.detail ? `${state.detail}; ${use.detail}` : state.detail,
          stale,
          read_at: new Date(readAt).toISOString(),
        });
      }
    }
    return views.length > 0 ? views : undefined;
  }

  private needsKey(needs: LifecycleNeeds): unknown {
    return [...needs.credentials.values()].map((need) => [
      need.variable,
      need.surfaces.map((use) => [use.key, use.url, use.application]),
    ]);
  }

  /** `scheduled`: the timer fired, so a plan lengthened since the last round defers the read. */
  private async tick(scheduled: boolean): Promise<void> {
    this.timer = undefined;
    // The Pages probes may have grown the plan since the timer was set: the read waits the difference.
    const lengthenedBy = scheduled ? this.budget.plan().watchIntervalMs - this.armedMs : 0;
    if (lengthenedBy > 0 && Number.isFinite(lengthenedBy)) {
      this.armedMs += lengthenedBy;
      this.timer = this.timers.setTimeout(() => void this.tick(true), lengthenedBy);
      return;
    }
    try {
      await this.readNow();
    } catch (err) {
      // A bug here must not stop the schedule, nor ever reach a surface.
      this.deps.log.error({ err, event: 'credential_watch_crashed' }, 'credential watch read threw');
    }
    if (!this.running || this.timer !== undefined) return;
    this.armedMs = this.intervalMs;
    this.timer = this.timers.setTimeout(() => void this.tick(true), this.intervalMs);
  }

  private async read(): Promise<void> {
    const now = this.deps.now();
    const round = await readCredentials(this.needs, {
      env: this.deps.env,
      send: this.deps.send,
      now,
      onBudget: ({ remaining, quota }) => {
        if (remaining !== undefined) this.deps.sink.setRateLimitRemaining('cloudflare', remaining);
        if (quota !== undefined) this.deps.sink.setRateLimitQuota('cloudflare', quota);
      },
    });
    const configuredIntervalMs = this.needs.intervalSeconds * 1000;
    this.intervalMs = this.running
      ? this.budget.watchRead({ calls: round.cloudflareCalls, configuredIntervalMs, log: this.deps.log })
      : configuredIntervalMs;
    for (const [variable, state] of round.credentials)
      if (this.needs.credentials.has(variable))
        this.known.set(variable, { state, readAt: now, stale: false });
    const maxAgeMs = STALE_INTERVALS * this.intervalMs;
    for (const [variable, known] of this.known) {
      if (round.credentials.has(variable)) continue;
      known.stale = true;
      if (now - known.readAt > maxAgeMs || !round.failures.has(variable)) this.known.delete(variable);
    }
    if (round.failures.size > 0) {
      // One line per interval, whatever the number of variables: they mostly fail for one reason.
      const reasons = [...new Set(round.failures.values())];
      this.deps.log.warn(
        {
          event: 'credential_watch_failed',
          variables: [...round.failures.keys()],
          reasons,
          kept_stale: [...this.known.values()].filter((known) => known.stale).map((k) => k.state.variable),
        },
        `credential watch could not read ${round.failures.size} credential(s): ${reasons.join('; ')}`,
      );
    }
    this.publish();
  }

  private publish(): void {
    const credentials: CredentialSample[] = [];
    const surfaces: SurfaceCredentialSample[] = [];
    for (const { state, stale } of this.known.values()) {
      credentials.push({
        variable: state.variable,
        kind: state.kind,
        valid: state.valid,
        expiresAtSeconds: state.expiresAt === undefined ? undefined : state.expiresAt / 1000,
        stale,
      });
      for (const use of state.surfaces)
        surfaces.push({ labels: use.labels, variable: state.variable, enrolled: use.enrolled });
    }
    this.deps.sink.publishCredentials(this.enabled() ? credentials : undefined, surfaces);
  }
}

import type { Logger } from 'pino';
import {
  type BudgetPlans,
  OPERATOR_FRESHNESS_BELOW_MS,
  PLANNED_FRACTION_OF_SHARE,
  REFRESH_FORGOTTEN_AFTER_MS,
  RecentRefreshes,
} from '../shared/budget.js';

/**
 * Cloudflare's global limit (provider-apis.md §2.5): 1,200 calls per 5 minutes per user, counted
 * "cumulatively regardless of whether the request is made via the dashboard, API key, or API token".
 * Which tokens belong to one user cannot be told from here, so every Cloudflare call of this process
 * (the Pages probes and the credential watch) is planned against one such budget.
 */
export const CLOUDFLARE_WINDOW_CALLS = 1200;
export const CLOUDFLARE_WINDOW_MS = 300_000;

// The credential watch gives way first: the credential alerts count in days, and an hourly read (its
// default) loses nothing of them. Past an hour the Pages refresh gives way, since a deployment's
// outcome is what a Pages surface exists to report; the watch goes beyond an hour only when its own
// reads at an hour would take more than half of the plan.
const WATCH_GIVES_WAY_UP_TO_MS = 3_600_000;
// Low-discrepancy phases (the golden-ratio sequence): however many projects there are, their
// refreshes spread evenly over the TTL instead of expiring together from the round that loaded them.
const GOLDEN_FRACTION = (Math.sqrt(5) - 1) / 2;

const PLAN_KEY = 'cloudflare:budget-plan';

/** How often this process refreshes each consumer of the Cloudflare budget, in milliseconds. */
export interface CloudflarePlan {
  pagesTtlMs: number;
  watchIntervalMs: number;
}

interface PagesProject {
  callsPerRefresh: number;
  phase: number;
  /** Its refresh has been moved to its phase since the plan was last lengthened. */
  phased: boolean;
}

/**
 * One shard's plan of the Cloudflare budget. Feed-forward, as Heroku's: refreshing P projects (c
 * calls each) every TTL and reading W calls every watch interval spends
 * (Σc / TTL + W / interval) x 300 s calls per 5 minutes. That must fit 80 % of 1,200 x budgetShare;
 * when it does not, the watch interval and then the Pages TTL are lengthened, never shortened
 * below what the operator set.
 */
export class CloudflareBudget {
  private readonly projects = new RecentRefreshes<PagesProject>();
  private projectsSeen = 0;
  private plannedPagesCalls = 0;
  private pagesConfiguredMs: number | undefined;
  private watch: { callsPerRound: number; configuredMs: number } | undefined;
  private announced: (CloudflarePlan & { pagesLengthened: boolean; watchLengthened: boolean }) | undefined;
  private announcedAt: number | undefined;
  /** monotonic() of the latest Pages refresh: the plan's clock. */
  private latestAt: number | undefined;
  private latestPagesTtlMs = 0;

  constructor(private readonly share: number) {}

  /**
   * A Pages load made `calls` calls for `project` (a cache key): how long its answer is reused
   * (`ttlMs`, for a finished deployment) and by how much the configured reuse is lengthened
   * (`stretch`, applied to the shorter reuse of an error answer too).
   */
  pagesRefreshed(
    project: string,
    refresh: { calls: number; configuredTtlMs: number; atMonotonic: number; log: Logger },
  ): { ttlMs: number; stretch: number } {
    this.pagesConfiguredMs = refresh.configuredTtlMs;
    this.latestAt = refresh.atMonotonic;
    let known = this.projects.get(project);
    if (known) this.plannedPagesCalls -= known.callsPerRefresh;
    else known = { callsPerRefresh: 0, phase: (this.projectsSeen++ * GOLDEN_FRACTION) % 1, phased: false };
    known.callsPerRefresh = refresh.calls;
    this.projects.refreshed(project, refresh.atMonotonic, known);
    this.plannedPagesCalls += refresh.calls;
    // Two planned TTLs, when longer than the hour: a project refreshed less often is not gone.
    const keptMs = Math.max(REFRESH_FORGOTTEN_AFTER_MS, 2 * this.latestPagesTtlMs);
    for (const forgotten of this.projects.forget(refresh.atMonotonic, keptMs))
      this.plannedPagesCalls -= forgotten.callsPerRefresh;
    const plan = this.planAndAnnounce(refresh.log);
    this.latestPagesTtlMs = plan.pagesTtlMs;
    const lengthened = plan.pagesTtlMs > refresh.configuredTtlMs;
    const stretch = lengthened && refresh.configuredTtlMs > 0 ? plan.pagesTtlMs / refresh.configuredTtlMs : 1;
    if (!lengthened) {
      known.phased = false;
      return { ttlMs: plan.pagesTtlMs, stretch };
    }
    if (known.phased) return { ttlMs: plan.pagesTtlMs, stretch };
    known.phased = true;
    return { ttlMs: plan.pagesTtlMs * (1 + known.phase), stretch };
  }

  /** A credential watch round made `calls` Cloudflare calls: the interval until the next one. */
  watchRead(round: { calls: number; configuredIntervalMs: number; log: Logger }): number {
    this.watch = { callsPerRound: round.calls, configuredMs: round.configuredIntervalMs };
    return this.planAndAnnounce(round.log).watchIntervalMs;
  }

  /** The watch stopped (or is off): its reads no longer count. */
  watchStopped(): void {
    this.watch = undefined;
  }

  plan(): CloudflarePlan {
    const budgetPerMs =
      (CLOUDFLARE_WINDOW_CALLS * this.share * PLANNED_FRACTION_OF_SHARE) / CLOUDFLARE_WINDOW_MS;
    const pagesCalls = this.plannedPagesCalls;
    const watchCalls = this.watch?.callsPerRound ?? 0;
    const pagesConfigured = this.pagesConfiguredMs ?? 0;
    const watchConfigured = this.watch?.configuredMs ?? Number.POSITIVE_INFINITY;
    // A TTL under a minute is not planned; the poll interval, unknown here, then decides how often
    // those projects are read, and they are counted as read every minute.
    const pagesRate = (ttl: number) =>
      pagesCalls > 0 ? pagesCalls / Math.max(ttl, OPERATOR_FRESHNESS_BELOW_MS) : 0;
    const watchRate = (interval: number) => (watchCalls > 0 ? watchCalls / interval : 0);
    // A round is a burst: the interval holds a whole number of rounds in every 5-minute window, so
    // that no window sees one round more than the plan gave it.
    const watchIntervalIn = (room: number) => {
      if (!(room > 0)) return Number.POSITIVE_INFINITY;
      const roundsPerWindow = Math.floor((room * CLOUDFLARE_WINDOW_MS) / watchCalls);
      return roundsPerWindow >= 1 ? CLOUDFLARE_WINDOW_MS / roundsPerWindow : watchCalls / room;
    };
    let pagesTtlMs = pagesConfigured;
    let watchIntervalMs = watchConfigured;
    const fits = () => pagesRate(pagesTtlMs) + watchRate(watchIntervalMs) <= budgetPerMs;
    if (watchCalls > 0 && !fits()) {
      const room = budgetPerMs - pagesRate(pagesTtlMs);
      const wanted = watchIntervalIn(room);
      watchIntervalMs = Math.max(watchConfigured, Math.min(wanted, WATCH_GIVES_WAY_UP_TO_MS));
    }
    if (pagesCalls > 0 && pagesConfigured >= OPERATOR_FRESHNESS_BELOW_MS && !fits()) {
      const room = Math.max(budgetPerMs - watchRate(watchIntervalMs), budgetPerMs / 2);
      pagesTtlMs = Math.max(pagesConfigured, pagesCalls / room);
    }
    if (watchCalls > 0 && !fits()) {
      const room = Math.max(budgetPerMs - pagesRate(pagesTtlMs), budgetPerMs / 2);
      watchIntervalMs = Math.max(watchIntervalMs, watchIntervalIn(room));
    }
    return { pagesTtlMs, watchIntervalMs };
  }

  /**
   * The first round after a start grows the count one project at a time, and a count near the
   * threshold flips the plan between lengthened and not as projects come and go: every line (a
   * part starting or stopping being lengthened, or a changed interval) waits for the 5-minute
   * window since the last one, the first at once. A start logs a line or two, not one per project,
   * and the plan that settles is logged at the next refresh after the window.
   */
  private planAndAnnounce(log: Logger): CloudflarePlan {
    const plan = this.plan();
    const before = this.announced ?? this.configured();
    const inSeconds = (ms: number) => (Number.isFinite(ms) ? Math.ceil(ms / 1000) : -1);
    const changed =
      inSeconds(plan.pagesTtlMs) !== inSeconds(before.pagesTtlMs) ||
      inSeconds(plan.watchIntervalMs) !== inSeconds(before.watchIntervalMs);
    // Without a Pages refresh there is no clock here; the watch's own plan moves once a round.
    const due =
      this.latestAt === undefined ||
      this.announcedAt === undefined ||
      this.latestAt - this.announcedAt >= CLOUDFLARE_WINDOW_MS;
    const now = this.lengthened(plan);
    const startedOrStopped =
      now.pages !== (this.announced?.pagesLengthened ?? false) ||
      now.watch !== (this.announced?.watchLengthened ?? false);
    if ((startedOrStopped || changed) && due) {
      // Only a line written opens a window: a plan noted silently leaves the next line immediate.
      if (now.pages || now.watch || this.announced !== undefined) {
        this.announce(plan, log);
        this.announcedAt = this.latestAt;
      }
      this.announced = { ...plan, pagesLengthened: now.pages, watchLengthened: now.watch };
    }
    return plan;
  }

  private configured(): CloudflarePlan {
    return {
      pagesTtlMs: this.pagesConfiguredMs ?? 0,
      watchIntervalMs: this.watch?.configuredMs ?? Number.POSITIVE_INFINITY,
    };
  }

  private lengthened(plan: CloudflarePlan): { pages: boolean; watch: boolean } {
    const configured = this.configured();
    return {
      pages: plan.pagesTtlMs > configured.pagesTtlMs,
      watch: plan.watchIntervalMs > configured.watchIntervalMs,
    };
  }

  private announce(plan: CloudflarePlan, log: Logger): void {
    const configured = this.configured();
    const lengthened = this.lengthened(plan);
    const seconds = (ms: number) => `${Math.ceil(ms / 1000)} s`;
    const parts = [
      ...(lengthened.pages
        ? [
            `Cloudflare refresh lengthened to ${seconds(plan.pagesTtlMs)} (metadata_ttl_seconds: ${seconds(configured.pagesTtlMs)})`,
          ]
        : []),
      ...(lengthened.watch
        ? [
            `credential watch lengthened to ${seconds(plan.watchIntervalMs)} (lifecycle.interval_seconds: ${seconds(configured.watchIntervalMs)})`,
          ]
        : []),
    ];
    const shareText = Number.isInteger(1 / this.share) ? `1/${1 / this.share}` : `${this.share}`;
    const planned = Math.floor(CLOUDFLARE_WINDOW_CALLS * this.share * PLANNED_FRACTION_OF_SHARE);
    const fields = {
      event: 'cloudflare_budget_plan',
      budget_share: this.share,
      planned_calls_per_5m: planned,
      pages_projects: this.projects.size,
      pages_calls_per_refresh: this.plannedPagesCalls,
      pages_ttl_seconds: Math.ceil(plan.pagesTtlMs / 1000),
      watch_calls_per_round: this.watch?.callsPerRound ?? 0,
      watch_interval_seconds: Number.isFinite(plan.watchIntervalMs)
        ? Math.ceil(plan.watchIntervalMs / 1000)
        : null,
    };
    const which = `${this.projects.size} Pages project(s), ${this.watch?.callsPerRound ?? 0} watch call(s) a round`;
    log.info(
      fields,
      parts.length > 0
        ? `${parts.join(' and ')} to fit ${shareText} of the budget: ${planned} calls per 5 minutes for ${which}`
        : `Cloudflare refresh and credential watch back to their configured intervals (${which})`,
    );
  }
}

/**
 * This process's Cloudflare plan, kept in its budget plans (ProbeContext.plans, which the
 * credential watch gets too) so the Pages probes and the watch plan together without a
 * module-level singleton.
 */
export function cloudflareBudget(plans: BudgetPlans, share: number): CloudflareBudget {
  return plans.of(PLAN_KEY, () => new CloudflareBudget(share));
}

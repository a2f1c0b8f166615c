/**
 * How much of its budget share a process plans to spend on a provider's API. The rest is left to
 * the account's other clients (CI, the CLI, dashboards) and to what the plan cannot foresee (a
 * retry, a list that needs a second page), so that N shards never plan more than one refill together.
 */
export const PLANNED_FRACTION_OF_SHARE = 0.8;

/**
 * Under a minute, metadata_ttl_seconds is an operator choosing freshness over budget (or a test):
 * every planner takes it as given and plans only around it.
 */
export const OPERATOR_FRESHNESS_BELOW_MS = 60_000;

/** An app or project not refreshed for an hour has left the registry (or this shard): it no longer counts. */
export const REFRESH_FORGOTTEN_AFTER_MS = 3_600_000;

/** An error answer (bad credential, unknown app or project) may be fixed at any moment: it is re-checked at least every minute. */
export const ERROR_TTL_CAP_MS = 60_000;

/**
 * What a planner counts: each key's latest refresh, kept in time order so that forgetting those
 * not refreshed for a while stops at the first recent one.
 */
export class RecentRefreshes<T = true> {
  private readonly entries = new Map<string, { at: number; value: T }>();

  get(key: string): T | undefined {
    return this.entries.get(key)?.value;
  }

  /** Records a refresh of `key` at `at` (monotonic): re-set, so the oldest refreshes come first. */
  refreshed(key: string, at: number, value: T): void {
    this.entries.delete(key);
    this.entries.set(key, { at, value });
  }

  /** Drops what was not refreshed within `keptMs` before `now`, and answers what it dropped. */
  forget(now: number, keptMs: number): T[] {
    const forgotten: T[] = [];
    for (const [key, entry] of this.entries) {
      if (now - entry.at < keptMs) break;
      this.entries.delete(key);
      forgotten.push(entry.value);
    }
    return forgotten;
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * This process's budget planners (the Cloudflare plan, each Heroku account's refreshed apps), one
 * per key. Unlike a SharedCache entry a plan never expires and is never swept or dropped: a second
 * plan made beside the first would count half of the calls each, and together plan too many.
 * Keys start with the provider's namespace, as cache keys do.
 */
export class BudgetPlans {
  private readonly plans = new Map<string, unknown>();

  /** The plan under `key`, made by `make` on first use and kept for the life of the process. */
  of<T>(key: string, make: () => T): T {
    if (!this.plans.has(key)) this.plans.set(key, make());
    return this.plans.get(key) as T;
  }
}

interface Entry {
  value: unknown;
  expiresAt: number;
}

/** How often expired entries are swept out, so keys of apps that left the registry do not pile up. */
export const CACHE_SWEEP_INTERVAL_MS = 60_000;

/**
 * A TTL cache whose concurrent loads of one key share a single call, so that ten surfaces on one
 * Heroku app cost one API call per TTL, not ten.
 */
export class SharedCache {
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<unknown>>();
  private nextSweepAt: number;

  constructor(private readonly now: () => number = Date.now) {
    this.nextSweepAt = now() + CACHE_SWEEP_INTERVAL_MS;
  }

  async getOrLoad<T>(key: string, load: () => Promise<{ value: T; ttlMs: number }>): Promise<T> {
    const now = this.now();
    if (now >= this.nextSweepAt) this.sweep(now);
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt > now) return entry.value as T;
    const pending = this.loading.get(key);
    if (pending) return pending as Promise<T>;
    const promise = load()
      .then(({ value, ttlMs }) => {
        if (ttlMs > 0) this.entries.set(key, { value, expiresAt: this.now() + ttlMs });
        else this.entries.delete(key);
        return value;
      })
      .finally(() => this.loading.delete(key));
    this.loading.set(key, promise);
    return promise;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }

  private sweep(now: number): void {
    this.nextSweepAt = now + CACHE_SWEEP_INTERVAL_MS;
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt <= now) this.entries.delete(key);
    }
  }
}

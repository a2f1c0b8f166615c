import { createHash, timingSafeEqual } from 'node:crypto';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Constant-time string equality; hashing first evens out the lengths. */
function secretEquals(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected)) && presented.length > 0;
}

/** Compares a presented `Authorization: Bearer` token with the expected one in constant time. */
export function bearerMatches(authorization: string | undefined, expected: string): boolean {
  const presented = /^Bearer\s+(.+)$/i.exec(authorization ?? '')?.[1]?.trim() ?? '';
  return secretEquals(presented, expected);
}

/** Compares `Authorization: Basic` credentials with the expected `user:password`, in constant time. */
export function basicMatches(authorization: string | undefined, expectedUserPassword: string): boolean {
  const encoded = /^Basic\s+(\S+)$/i.exec(authorization ?? '')?.[1] ?? '';
  return secretEquals(Buffer.from(encoded, 'base64').toString('utf8'), expectedUserPassword);
}

export interface ScrapeAuth {
  /** METRICS_TOKEN: scrapers send `Authorization: Bearer <token>`. */
  bearer?: string;
  /** METRICS_BASIC_AUTH as `user:password`: scrapers use basic_auth. */
  basic?: string;
}

export function scrapeAllowed(authorization: string | undefined, auth: ScrapeAuth): boolean {
  if (!auth.bearer && !auth.basic) return true;
  return (
    (auth.bearer !== undefined && bearerMatches(authorization, auth.bearer)) ||
    (auth.basic !== undefined && basicMatches(authorization, auth.basic))
  );
}

/**
 * Counts failed authentications per client address. A client over the budget is refused until its
 * window ends, even with the right token: otherwise the limit would still answer "right" or
 * "wrong" to every guess. Successful calls never count, so a burst of legitimate force-polls is
 * always answered. Behind a proxy, set TRUST_PROXY so the address is the client's, not the proxy's.
 */
export class FailedAuthLimiter {
  private readonly failures = new Map<string, { count: number; windowEndsAt: number }>();

  constructor(
    private readonly maxFailures = 10,
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
    private readonly maxClients = 10_000,
  ) {}

  /** Seconds the client must wait, or 0 when it may try. */
  retryAfterSeconds(client: string): number {
    const entry = this.failures.get(client);
    if (!entry) return 0;
    const remainingMs = entry.windowEndsAt - this.now();
    if (remainingMs <= 0) {
      this.failures.delete(client);
      return 0;
    }
    return entry.count >= this.maxFailures ? Math.ceil(remainingMs / 1000) : 0;
  }

  recordFailure(client: string): void {
    const now = this.now();
    const entry = this.failures.get(client);
    if (entry && entry.windowEndsAt > now) {
      entry.count++;
      return;
    }
    // Bounded memory under a spray of addresses: forget the oldest client first.
    if (this.failures.size >= this.maxClients) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
    this.failures.set(client, { count: 1, windowEndsAt: now + this.windowMs });
  }
}

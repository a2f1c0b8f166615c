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

/** The most proxies a deployment plausibly chains (CDN, cloud load balancer, ingress, sidecar...). */
const MAX_TRUSTED_HOPS = 5;

/**
 * TRUST_PROXY as a hop count: how many proxies in front of the exporter append to X-Forwarded-For
 * (1 behind the Heroku router or one Kubernetes ingress). Express's other forms (`true`, address
 * lists) are refused: `true` trusts whatever a client writes in the header.
 */
export function parseTrustProxy(value: string | undefined): number {
  const text = value?.trim() ?? '';
  if (text === '') return 0;
  if (/^\d+$/.test(text) && Number(text) <= MAX_TRUSTED_HOPS) return Number(text);
  throw new Error(
    `TRUST_PROXY=${JSON.stringify(text)}: expected the number of proxies in front of the exporter, 0 to ${MAX_TRUSTED_HOPS} (1 behind the Heroku router or a Kubernetes ingress)`,
  );
}

/**
 * Counts failed authentications per client key. A key over its budget gets 429 for every wrong
 * credential until its window ends; a right credential is never refused, since a client behind
 * the same router or ingress, or one forging X-Forwarded-For, could otherwise lock Prometheus and
 * the operator out. So the limit sheds guessing load and log noise; it is the token's length that
 * keeps it from being guessed. Windows run on the monotonic clock.
 */
export class FailedAuthLimiter {
  private readonly failures = new Map<string, { count: number; windowEndsAt: number }>();

  constructor(
    private readonly maxFailures = 10,
    private readonly windowMs = 60_000,
    private readonly now: () => number = () => performance.now(),
    private readonly maxClients = 10_000,
  ) {}

  /** Seconds the client must wait, or 0 when it may try: the longest wait of any of its keys. */
  retryAfterSeconds(keys: readonly string[]): number {
    let seconds = 0;
    for (const key of keys) seconds = Math.max(seconds, this.retryAfterOne(key));
    return seconds;
  }

  recordFailure(keys: readonly string[]): void {
    for (const key of keys) this.recordOne(key);
  }

  private retryAfterOne(key: string): number {
    const entry = this.failures.get(key);
    if (!entry) return 0;
    const remainingMs = entry.windowEndsAt - this.now();
    if (remainingMs <= 0) {
      this.failures.delete(key);
      return 0;
    }
    return entry.count >= this.maxFailures ? Math.ceil(remainingMs / 1000) : 0;
  }

  private recordOne(key: string): void {
    const now = this.now();
    const entry = this.failures.get(key);
    if (entry && entry.windowEndsAt > now) {
      entry.count++;
      return;
    }
    // Bounded memory under a spray of addresses: forget the oldest client first.
    if (this.failures.size >= this.maxClients) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
    this.failures.set(key, { count: 1, windowEndsAt: now + this.windowMs });
  }
}

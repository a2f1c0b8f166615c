import type { z } from 'zod';
import { type MaskableSecrets, maskableSecrets, maskSecrets } from '../../core/env.js';
import { degraded, type ProbeResult } from '../../core/result.js';
import { type HttpFailure, type HttpResponse, headerValue } from '../../transport/client.js';
import type { SharedCache } from './cache.js';

/**
 * What a request that got no HTTP answer means, in one place for every provider: a timeout is the
 * probe's deadline and a TLS failure a certificate problem, whoever was called; anything else
 * (refused, reset, DNS) is "no answer", which each caller names in its own terms
 * (`health_no_response` for an app's health check, `connection_error` for a provider API or Infisical).
 */
export function transportFailure<NoAnswer extends 'health_no_response' | 'connection_error'>(
  outcome: HttpFailure,
  noAnswer: NoAnswer,
  what: string,
): ProbeResult<'probe_timeout' | 'tls_error' | NoAnswer> {
  const code =
    outcome.failure === 'timeout' ? 'probe_timeout' : outcome.failure === 'tls' ? 'tls_error' : noAnswer;
  return degraded(code, `${what}: ${outcome.message}`);
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; detail: string };

/**
 * Parses a provider body read under a size cap. Anything other than the documented JSON (an HTML
 * page from a proxy, a cut or oversized body, a field of the wrong type) is reported, never thrown.
 */
export function parseJsonBody<T>(response: HttpResponse, schema: z.ZodType<T>, what: string): Parsed<T> {
  if (response.truncated) {
    return { ok: false, detail: `${what}: body larger than ${response.body.length} bytes, not read further` };
  }
  let json: unknown;
  try {
    json = JSON.parse(response.body.toString('utf8'));
  } catch {
    const type = headerValue(response.headers, 'content-type') ?? 'no content-type';
    return { ok: false, detail: `${what}: body is not JSON (${type}, ${response.body.length} bytes)` };
  }
  return parseValue(json, schema, what);
}

/** Validates decoded JSON (or a part of it, named by `at`) against the fields a probe reads. */
export function parseValue<T>(
  value: unknown,
  schema: z.ZodType<T>,
  what: string,
  at: PropertyKey[] = [],
): Parsed<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return { ok: true, value: parsed.data };
  const first = parsed.error.issues[0];
  const path = [...at, ...(first?.path ?? [])];
  const where = path.length > 0 ? path.map(String).join('.') : 'body';
  return { ok: false, detail: `${what}: unexpected JSON at ${where}: ${first?.message ?? 'invalid'}` };
}

/** Like parseJsonBody, but for error bodies that only feed the detail text: any failure gives undefined. */
export function tryParseJsonBody<T>(response: HttpResponse, schema: z.ZodType<T>): T | undefined {
  const parsed = parseJsonBody(response, schema, '');
  return parsed.ok ? parsed.value : undefined;
}

// A bogus Retry-After (a year, say) must not blind a surface: an hour is longer than any provider asks.
const MAX_RETRY_AFTER_MS = 3_600_000;

/**
 * Retry-After in milliseconds (delta-seconds or an HTTP date), or undefined when absent or unreadable.
 * An HTTP date is read against the answer's own Date header (the server's clock, RFC 9110 10.2.3),
 * so a local wall clock stepped back an hour does not turn a 1 s wait into an hour.
 */
export function retryAfterMs(response: HttpResponse, nowMs: number): number | undefined {
  const raw = headerValue(response.headers, 'retry-after')?.trim();
  if (!raw) return undefined;
  let ms: number;
  if (/^\d+$/.test(raw)) ms = Number(raw) * 1000;
  else {
    const at = Date.parse(raw);
    if (Number.isNaN(at)) return undefined;
    const serverNow = Date.parse(headerValue(response.headers, 'date') ?? '');
    ms = at - (Number.isNaN(serverNow) ? nowMs : serverNow);
  }
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

/** A whole number from a header such as RateLimit-Remaining, or undefined. */
export function integerHeader(response: HttpResponse, name: string): number | undefined {
  const raw = headerValue(response.headers, name)?.trim();
  if (!raw || !/^\d+$/.test(raw)) return undefined;
  return Number(raw);
}

/**
 * A "do not call before" time shared by every surface using one provider credential, kept in the
 * shared cache so that a 429 seen by one surface silences all of them until Retry-After passes.
 */
export class Cooldown {
  constructor(
    private readonly cache: SharedCache,
    private readonly key: string,
  ) {}

  /**
   * The wall time (ms since the epoch) before which no call may be made, for the detail text only, or
   * undefined when calls are allowed. Whether calls are allowed is the cache's monotonic expiry.
   */
  async until(): Promise<number | undefined> {
    // A ttl of 0 is never stored, so this only reads an existing entry.
    return this.cache.getOrLoad<number | undefined>(this.key, async () => ({ value: undefined, ttlMs: 0 }));
  }

  /** Starts a wait of `waitMs` (a duration, kept on the cache's monotonic clock); answers its wall-clock end. */
  async start(waitMs: number, wallNowMs: number): Promise<number> {
    const untilMs = wallNowMs + waitMs;
    this.cache.delete(this.key);
    await this.cache.getOrLoad(this.key, async () => ({ value: untilMs, ttlMs: Math.max(waitMs, 1) }));
    return untilMs;
  }
}

/**
 * Keeps a provider's free text short and free of the credentials that were sent with the request:
 * masked before it is cut, so a cut never leaves the start of a secret behind. Every probe's result
 * is masked again against all of its surface's credentials (maskProbeResult), whoever built it.
 */
export function providerText(text: string, secrets: readonly string[] = []): string {
  const out = maskSecrets(text.replace(/\s+/g, ' ').trim(), maskableSecrets(secrets));
  return out.length > 200 ? `${out.slice(0, 197)}...` : out;
}

/**
 * A probe's result with every credential of its surface masked wherever it carries text built from
 * an answer (the detail, the conditions' excerpts): a server or proxy that echoes a request header
 * back (`CF-Access-Client-Secret`, an API key, a secret header) must not publish it to logs,
 * metrics, traces, the API or the status page.
 */
export function maskProbeResult<Code extends string>(
  result: ProbeResult<Code>,
  secrets: MaskableSecrets,
): ProbeResult<Code> {
  if (secrets.length === 0) return result;
  const detail = maskSecrets(result.detail, secrets);
  const conditions = result.conditions?.map((condition) => {
    const seen = maskSecrets(condition.seen, secrets);
    return seen === condition.seen ? condition : { ...condition, seen };
  });
  return { ...result, detail, ...(conditions ? { conditions } : {}) };
}

import type { Logger } from 'pino';
import type { z } from 'zod';
import type { CodeOf, CoreCode, ErrorCodeDoc } from '../core/codes.js';
import type { Deadline } from '../core/deadline.js';
import { type Env, type MaskableSecrets, maskSecrets, secretsOf } from '../core/env.js';
import { objectMemo } from '../core/memo.js';
import type { MetricFamily } from '../core/metricFamily.js';
import type { PushReport } from '../core/push.js';
import type { ProbeResult } from '../core/result.js';
import type { HttpOutcome, HttpRequest } from '../transport/client.js';
import type { OnlineCheck } from './online.js';
import { maskProbeResult } from './shared/api.js';
import type { BudgetPlans } from './shared/budget.js';
import type { SharedCache } from './shared/cache.js';

/**
 * A provider's rate budget as the exporter reports and plans against it: one per vendor API, named
 * by the provider that reports it (the `provider` label of surface_provider_rate_limit_remaining).
 */
export type RateBudget = string;

/** What a probe may use: its deadline, HTTP, the shared cache, the clock and budget reporting. */
export interface ProbeContext {
  readonly env: Env;
  /** The hard deadline of this probe, all of its HTTP calls included. */
  readonly deadline: Deadline;
  /** Sends one request under this probe's deadline; the outcome is never a thrown error. */
  request(req: Omit<HttpRequest, 'deadline'>): Promise<HttpOutcome>;
  /**
   * Sends a request for a load that other probes may join (a SharedCache entry). It runs under its
   * own deadline of timeout_seconds, not this probe's, so a probe that joins late is not cut short
   * by the first caller's remaining time; each caller still ends at its own deadline.
   */
  requestShared(req: Omit<HttpRequest, 'deadline'>): Promise<HttpOutcome>;
  readonly log: Logger;
  /**
   * Shared by every surface of the exporter, so surfaces naming the same app share one entry. Keys
   * start with the provider's (or its vendor client's) own namespace, e.g. `heroku:`.
   */
  readonly cache: SharedCache;
  /** The process's budget planners, which no cache sweep, TTL or reload drops (see BudgetPlans). */
  readonly plans: BudgetPlans;
  readonly metadataTtlSeconds: number;
  /**
   * The fraction of each provider account's rate budget this process may plan to spend (1 alone;
   * 1/N when N processes share the registry and therefore the accounts).
   */
  readonly budgetShare: number;
  /** Milliseconds since the epoch; injectable so tests can move time. */
  now(): number;
  /** Milliseconds from an arbitrary origin, never going back: for durations such as a heartbeat. */
  monotonic(): number;
  /** monotonic() when this surface's worker was made (the start, or the reload that added or changed it). */
  readonly surfaceSinceMonotonic: number;
  /** The last report the surface's own job pushed (POST /api/push/{env}/{surface}), if any. */
  lastPush(): PushReport | undefined;
  /** Calls left in a budget and, when the provider says (or documents) it, the budget's size. */
  reportRateLimit(budget: RateBudget, remaining: number, quota?: number): void;
}

/**
 * One kind of surface. Adding one is a folder under src/providers/ and a line in PROVIDERS
 * (providers/index.ts); the schema union, the code list, the README tables, the online checks and
 * the metric families are derived from these declarations.
 */
export interface Provider<Schema extends z.ZodObject = z.ZodObject, Code extends string = string> {
  /** The `provider:` value of its surfaces, equal to the literal in its schema. */
  readonly name: string;
  /** Strict: unknown keys are errors. Every key has a `.describe()` for the config reference. */
  readonly schema: Schema;
  /** Every code its probe can return besides the core ones, with meaning, fix and runbook section. */
  readonly codes: readonly ErrorCodeDoc[];
  probe(surface: z.infer<Schema>, ctx: ProbeContext): Promise<ProbeResult<Code>>;
  /** Where the probe goes, for `list` and the status API. Never contains a credential. */
  target(surface: z.infer<Schema>): string;
  /** The environment variables the surface reads its credentials from. */
  credentials(surface: z.infer<Schema>): string[];
  /**
   * Those of credentials() that hold an identifier, not a secret (an account id): a detail may name
   * it, so it is left out of the masking every probe result gets.
   */
  identifiers?(surface: z.infer<Schema>): string[];
  /** What `check-config --online` asks this provider's API about the surfaces of the registry. */
  readonly online?: OnlineCheck<z.infer<Schema>>;
  /** Per-surface metric families beyond the common ones, filled from ProbeResult.samples. */
  readonly families?: readonly MetricFamily[];
  /**
   * Set by providers whose surfaces are told their state by a job (push) instead of probed: the
   * variable holding the bearer token a push must carry. The push API answers 404 for the others.
   */
  pushTokenEnv?(surface: z.infer<Schema>): string;
}

/**
 * Checks a provider declaration against its own code list: its probe may return only the codes it
 * declares (and the core's), so a code without a doc and a runbook section fails to compile.
 * The schema alone decides the surface type (NoInfer), so the methods are typed from it.
 *
 * Every probe's result leaves here with its surface's credentials masked (maskProbeResult): one
 * place for every provider, however its details were built from what the server answered.
 */
export function defineProvider<Schema extends z.ZodObject, const Docs extends readonly ErrorCodeDoc[]>(
  provider: { readonly schema: Schema; readonly codes: Docs } & Omit<
    Provider<NoInfer<Schema>, CodeOf<NoInfer<Docs>> | CoreCode>,
    'schema' | 'codes'
  >,
): Provider<Schema, CodeOf<Docs> | CoreCode> {
  const { probe, credentials, identifiers } = provider;
  // Per surface config, which lives until a reload replaces it: this runs on every probe.
  const secretVariables = objectMemo((surface: z.infer<Schema>): readonly string[] => {
    const named = identifiers?.(surface) ?? [];
    return credentials(surface).filter((variable) => !named.includes(variable));
  });
  return {
    ...provider,
    probe: async (surface, ctx) => {
      const secrets = secretsOf(ctx.env, secretVariables(surface));
      let result: ProbeResult<CodeOf<Docs> | CoreCode>;
      try {
        result = await probe(surface, ctx);
      } catch (err) {
        throw maskedError(err, secrets);
      }
      return maskProbeResult(result, secrets);
    },
  };
}

/**
 * A thrown error's message may quote what a server answered, which the poller logs as probe_crashed:
 * one quoting a secret is replaced by a copy with its message and stack masked (and no `cause` or
 * other fields, which could quote it too); any other error is thrown on unchanged, type and all.
 */
function maskedError(err: unknown, secrets: MaskableSecrets): unknown {
  if (!(err instanceof Error)) {
    const text = String(err);
    const masked = maskSecrets(text, secrets);
    return masked === text ? err : new Error(masked);
  }
  const message = maskSecrets(err.message, secrets);
  const stack = err.stack === undefined ? undefined : maskSecrets(err.stack, secrets);
  if (message === err.message && stack === err.stack) return err;
  const copy = new Error(message);
  copy.name = err.name;
  copy.stack = stack;
  return copy;
}

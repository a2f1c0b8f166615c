import { z } from 'zod';
import { surfaceSchema } from '../providers/index.js';

/** Defaults come from the runbook this project replaces: 30 s polls, 120 s staleness, 300 s backoff. */
export const POLLER_DEFAULTS = {
  interval_seconds: 30,
  timeout_seconds: 10,
  stale_after_seconds: 120,
  max_backoff_seconds: 300,
  concurrency: 64,
  metadata_ttl_seconds: 300,
  force_poll_deadline_seconds: 10,
} as const;

export const pollerSchema = z
  .object({
    interval_seconds: z
      .number()
      .min(1)
      .default(POLLER_DEFAULTS.interval_seconds)
      .describe('Seconds between two probes of one surface (fractions allowed, at least 1).'),
    timeout_seconds: z
      .number()
      .positive()
      .default(POLLER_DEFAULTS.timeout_seconds)
      .describe('Hard deadline of one probe, all its HTTP calls included; must be below interval_seconds.'),
    stale_after_seconds: z
      .number()
      .positive()
      .default(POLLER_DEFAULTS.stale_after_seconds)
      .describe('/health answers 503 once no probe has completed for this long.'),
    max_backoff_seconds: z
      .number()
      .positive()
      .default(POLLER_DEFAULTS.max_backoff_seconds)
      .describe('Cap of the exponential backoff before a crashed worker loop restarts.'),
    concurrency: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(POLLER_DEFAULTS.concurrency)
      .describe('Probes in flight at once across all surfaces (bounds sockets).'),
    metadata_ttl_seconds: z
      .number()
      .min(0)
      .default(POLLER_DEFAULTS.metadata_ttl_seconds)
      .describe(
        'How long provider API answers (Heroku app, formation, dynos; finished Pages deployments) are reused.',
      ),
    force_poll_deadline_seconds: z
      .number()
      .positive()
      .max(10)
      .default(POLLER_DEFAULTS.force_poll_deadline_seconds)
      .describe('A force-poll answers by then; slower surfaces are reported as pending.'),
  })
  .strict()
  .refine((poller) => poller.timeout_seconds < poller.interval_seconds, {
    message: 'timeout_seconds must be less than interval_seconds',
    path: ['timeout_seconds'],
  });

export const registrySchema = z
  .object({
    poller: pollerSchema.default(() => pollerSchema.parse({})),
    environments: z.record(
      z.string().regex(/^[a-z0-9_-]{1,63}$/, 'an environment name of [a-z0-9_-], at most 63 characters'),
      z.array(surfaceSchema).superRefine((surfaces, ctx) => {
        const seen = new Map<string, number>();
        surfaces.forEach((surface, index) => {
          const first = seen.get(surface.name);
          if (first !== undefined) {
            ctx.addIssue({
              code: 'custom',
              path: [index, 'name'],
              message: `duplicate surface name (also at index ${first})`,
              input: surface.name,
            });
          } else seen.set(surface.name, index);
        });
      }),
    ),
  })
  .strict();

export type PollerConfig = z.infer<typeof pollerSchema>;
export type Registry = z.infer<typeof registrySchema>;

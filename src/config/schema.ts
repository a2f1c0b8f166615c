import { z } from 'zod';
import { ENV_VAR_NAME } from '../core/surface.js';
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

/** Access service tokens default to a year (`duration: 8760h`): reading them hourly is plenty and costs 2+ calls. */
export const LIFECYCLE_DEFAULTS = {
  interval_seconds: 3600,
  management_token_env: 'CLOUDFLARE_ACCESS_MGMT_TOKEN',
  account_id_env: 'CLOUDFLARE_ACCOUNT_ID',
} as const;

export const lifecycleSchema = z
  .object({
    interval_seconds: z
      .number()
      .min(1)
      .default(LIFECYCLE_DEFAULTS.interval_seconds)
      .describe(
        "Seconds between two reads of the credentials the probes use (the issue's lifecycle_interval_seconds): Access service tokens, applications and policies, API token verify.",
      ),
    management_token_env: ENV_VAR_NAME.default(LIFECYCLE_DEFAULTS.management_token_env).describe(
      'Variable holding a Cloudflare API token with Access: Service Tokens Read and Access: Apps and Policies Read; unset turns the credential watch off.',
    ),
    account_id_env: ENV_VAR_NAME.default(LIFECYCLE_DEFAULTS.account_id_env).describe(
      'Variable holding the Cloudflare account id whose Access service tokens and applications are read.',
    ),
  })
  .strict();

export const registrySchema = z
  .object({
    poller: pollerSchema.default(() => pollerSchema.parse({})),
    lifecycle: lifecycleSchema.default(() => lifecycleSchema.parse({})),
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
export type LifecycleConfig = z.infer<typeof lifecycleSchema>;
export type Registry = z.infer<typeof registrySchema>;

import { z } from 'zod';
import { maintenanceList } from '../core/maintenance.js';
import { ENV_VAR_NAME, HTTP_URL, severitySchema, surfaceLabelsSchema } from '../core/surface.js';
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
  confirm_after_seconds: 5,
} as const;

/**
 * A probe that runs to its deadline still ends a fifth of an interval before the next one starts,
 * so a slow target never has two probes in flight. At the default 30 s interval the cap of 10 wins.
 */
export const TIMEOUT_SHARE_OF_INTERVAL = 0.8;

/**
 * The longest duration any seconds field may hold. Node keeps a timer for at most 2^31-1 ms
 * (24.8 days) and fires a longer one after 1 ms, so a "monthly" interval probed a thousand times a
 * second; a day is beyond any schedule worth keeping here.
 */
export const MAX_DURATION_SECONDS = 86_400;

const seconds = () => z.number().max(MAX_DURATION_SECONDS);

export const pollerSchema = z
  .object({
    interval_seconds: seconds()
      .min(1)
      .default(POLLER_DEFAULTS.interval_seconds)
      .describe('Seconds between two probes of one surface (fractions allowed, at least 1, at most 86400).'),
    timeout_seconds: seconds()
      .positive()
      .default(POLLER_DEFAULTS.timeout_seconds)
      .describe(
        `Hard deadline of one probe, all its HTTP calls included; must be below interval_seconds. Unset: the smaller of ${POLLER_DEFAULTS.timeout_seconds} and ${TIMEOUT_SHARE_OF_INTERVAL} x interval_seconds.`,
      ),
    stale_after_seconds: seconds()
      .positive()
      .default(POLLER_DEFAULTS.stale_after_seconds)
      .describe('/health answers 503 once no probe has completed for this long.'),
    max_backoff_seconds: seconds()
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
    metadata_ttl_seconds: seconds()
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
    confirm_after_seconds: z
      .number()
      .min(0)
      .default(POLLER_DEFAULTS.confirm_after_seconds)
      .describe(
        'When a scheduled probe of an UP surface fails, probe again after this many seconds and publish the failure only if that probe fails too (a regular probe due earlier confirms instead); 0 publishes every failure at once.',
      ),
  })
  .strict()
  .superRefine((poller, ctx) => {
    // An interval below 1 is reported on its own key; comparing with it would blame the timeout too.
    if (poller.timeout_seconds < poller.interval_seconds || poller.interval_seconds < 1) return;
    ctx.addIssue({
      code: 'custom',
      path: ['timeout_seconds'],
      message: `must be less than interval_seconds, which is ${poller.interval_seconds}`,
      input: poller.timeout_seconds,
    });
  });

/** Access service tokens default to a year (`duration: 8760h`): reading them hourly is plenty and costs 2+ calls. */
export const LIFECYCLE_DEFAULTS = {
  interval_seconds: 3600,
  management_token_env: 'CLOUDFLARE_ACCESS_MGMT_TOKEN',
  account_id_env: 'CLOUDFLARE_ACCOUNT_ID',
} as const;

export const lifecycleSchema = z
  .object({
    interval_seconds: seconds()
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

/**
 * The default timeout depends on the interval the file sets, which a field default cannot see: it is
 * filled in before validation, from the interval when that is a usable number.
 */
function withDefaultTimeout(raw: unknown): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || 'timeout_seconds' in raw) return raw;
  const interval = (raw as { interval_seconds?: unknown }).interval_seconds;
  if (typeof interval !== 'number' || !(interval > 0)) return raw;
  return {
    ...raw,
    timeout_seconds: Math.min(POLLER_DEFAULTS.timeout_seconds, TIMEOUT_SHARE_OF_INTERVAL * interval),
  };
}
export const statusPageSchema = z
  .object({
    show_targets: z
      .boolean()
      .default(false)
      .describe(
        "Show each surface's target (URL, app, project) and probe detail, which may name hosts, on the status page and in /api/status.",
      ),
    runbook_url: HTTP_URL.optional().describe(
      "Your copy of docs/runbook.md; tiles link a code to its section, `<runbook_url>#health_http_status` for example. Unset: the exporter's own /status/codes page.",
    ),
  })
  .strict();

/** What an environment gives each of its surfaces; a surface's own keys win (maintenance windows add up). */
export const environmentDefaultsSchema = z
  .object({
    severity: severitySchema
      .optional()
      .describe('Severity of the environment’s surfaces that set none, e.g. `ticket` for staging.'),
    labels: surfaceLabelsSchema
      .optional()
      .describe('Labels of every surface of the environment; a surface’s own label of the same name wins.'),
    maintenance: maintenanceList
      .optional()
      .describe('Maintenance windows of the whole environment, in addition to each surface’s own.'),
  })
  .strict();

export const registrySchema = z
  .object({
    poller: z.preprocess(withDefaultTimeout, pollerSchema).default(() => pollerSchema.parse({})),
    lifecycle: lifecycleSchema.default(() => lifecycleSchema.parse({})),
    environment_defaults: z
      .record(z.string(), environmentDefaultsSchema)
      .optional()
      .describe('Per environment (same name as under `environments`): severity, labels and maintenance.'),
    status_page: statusPageSchema.default(() => statusPageSchema.parse({})),
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
export type StatusPageConfig = z.infer<typeof statusPageSchema>;
export type Registry = z.infer<typeof registrySchema>;
export type EnvironmentDefaults = z.infer<typeof environmentDefaultsSchema>;

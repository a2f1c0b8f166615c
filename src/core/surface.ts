import { z } from 'zod';
import { MAINTENANCE_DESCRIPTION, maintenanceList } from './maintenance.js';

// Upper case and short, as variable names are: a pasted token almost never fits, so it is refused
// here instead of being echoed later as `skipped: <token> unset`.
export const ENV_VAR_NAME = z
  .string()
  .regex(/^[A-Z_][A-Z0-9_]{0,63}$/, 'an environment variable name ([A-Z0-9_], at most 64 characters)');

/**
 * Every URL key of the registry. Credentials written into a URL (`user:password@`) are refused:
 * the HTTP client never sends them, so the target would be asked without them and nobody told.
 * The error shows the value with them masked (config/load.ts), as it shows any URL.
 */
export const HTTP_URL = z
  .url({ protocol: /^https?$/, error: 'an http(s) URL' })
  .refine((raw) => !hasUserinfo(raw), {
    message:
      'an http(s) URL without user:password@, which is never sent (an http surface sends an Authorization header from a variable with headers_env)',
  });

function hasUserinfo(raw: string): boolean {
  try {
    const url = new URL(raw);
    return url.username !== '' || url.password !== '';
  } catch {
    return false;
  }
}

/** How urgent a surface's alerts are: `page` wakes someone, `ticket` waits for office hours. */
export const SEVERITIES = ['page', 'ticket'] as const;
export type Severity = (typeof SEVERITIES)[number];
export const DEFAULT_SEVERITY: Severity = 'page';

/**
 * Label names the exporter's series or its alerts already carry (or Prometheus adds at scrape):
 * a surface label of that name would overwrite them or break the rules' joins.
 */
export const RESERVED_LABEL_NAMES = [
  'env',
  'surface',
  'provider',
  'severity',
  'code',
  'status',
  'instance',
  'job',
  'alertname',
  'variable',
] as const;
export const MAX_SURFACE_LABELS = 8;
const MAX_LABEL_VALUE_LENGTH = 64;

const LABEL_NAME = /^[a-z_][a-z0-9_]*$/;

/** Why a label name is refused, or undefined when it is fine. */
function labelNameProblem(name: string): string | undefined {
  if (!LABEL_NAME.test(name)) return 'a label name of [a-z0-9_], not starting with a digit';
  if (name.startsWith('__')) return 'label names starting with __ are reserved to Prometheus';
  if ((RESERVED_LABEL_NAMES as readonly string[]).includes(name))
    return `a label name other than ${RESERVED_LABEL_NAMES.join(', ')}`;
  return undefined;
}

const labelValue = z
  .string()
  .regex(
    new RegExp(`^[^\\p{C}]{1,${MAX_LABEL_VALUE_LENGTH}}$`, 'u'),
    `1 to ${MAX_LABEL_VALUE_LENGTH} printable characters`,
  );

// Names are checked here rather than as the record's key schema, whose errors do not say why.
export const surfaceLabelsSchema = z.record(z.string(), labelValue).superRefine((labels, ctx) => {
  const names = Object.keys(labels);
  for (const name of names) {
    const problem = labelNameProblem(name);
    if (problem) ctx.addIssue({ code: 'custom', path: [name], message: problem, input: name });
  }
  if (names.length > MAX_SURFACE_LABELS)
    ctx.addIssue({ code: 'custom', message: `at most ${MAX_SURFACE_LABELS} labels` });
});

export const severitySchema = z.enum(SEVERITIES);

/** Fields every surface has, whatever its provider; each provider's schema extends this. */
export const surfaceBase = z.object({
  name: z
    .string()
    .regex(/^[a-z0-9-]{1,63}$/, 'lowercase letters, digits and dashes ([a-z0-9-]), at most 63 characters')
    .describe('Surface name, unique within its environment; the `surface` label.'),
  severity: severitySchema
    .optional()
    .describe(
      'Urgency of the surface’s alerts: `page` or `ticket` (a ticket surface never pages). Default: its environment’s, else `page`.',
    ),
  labels: surfaceLabelsSchema
    .optional()
    .describe(
      `Labels for routing, e.g. \`team: payments\`: on \`surface_info\` and on every alert of the surface. At most ${MAX_SURFACE_LABELS}; names [a-z_][a-z0-9_]* other than ${RESERVED_LABEL_NAMES.join(', ')}; values 1 to ${MAX_LABEL_VALUE_LENGTH} printable characters.`,
    ),
  maintenance: maintenanceList.optional().describe(MAINTENANCE_DESCRIPTION),
});

/** The labels every per-surface series carries. */
export type SurfaceLabels = {
  env: string;
  surface: string;
  provider: string;
};

/** A surface's routing as its alerts carry it: the surface's keys over its environment's defaults. */
export interface SurfaceRouting {
  severity: Severity;
  labels: Readonly<Record<string, string>>;
}

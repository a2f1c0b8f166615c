import type { z } from 'zod';
import { VARIABLE_DOCS } from '../../src/app/settings.js';
import {
  environmentDefaultsSchema,
  lifecycleSchema,
  pollerSchema,
  statusPageSchema,
} from '../../src/config/schema.js';
import { maintenanceWindow } from '../../src/core/maintenance.js';
import { ExporterMetrics } from '../../src/metrics/metrics.js';
import { ERROR_CODE_DOCS, PROVIDER_FAMILIES, surfaceSchema } from '../../src/providers/index.js';
import { renderAlertsTable } from '../observability/alerts.js';

/** README sections rendered from the code, so the reference cannot drift from what runs. */
export const GENERATED_SECTIONS: Record<string, () => string> = {
  'config-reference': renderConfigReference,
  'environment-variables': renderEnvironmentVariables,
  'metrics-reference': renderMetricsReference,
  'error-codes': renderErrorCodes,
  alerts: () => renderAlertsTable(),
};

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function describeField(schema: z.ZodType): { type: string; default: string; required: boolean } {
  const def = (
    schema as unknown as {
      def: { type: string; defaultValue?: unknown; innerType?: z.ZodType; values?: unknown[] };
    }
  ).def;
  if (def.type === 'default') {
    const inner = describeField(def.innerType as z.ZodType);
    return { ...inner, default: JSON.stringify(def.defaultValue), required: false };
  }
  if (def.type === 'optional') return { ...describeField(def.innerType as z.ZodType), required: false };
  if (def.type === 'literal') return { type: `\`${String(def.values?.[0])}\``, default: '', required: true };
  if (def.type === 'enum') {
    const entries = (schema as unknown as { options: string[] }).options;
    return { type: entries.map((entry) => `\`${entry}\``).join(' \\| '), default: '', required: true };
  }
  if (def.type === 'record') return { type: 'map', default: '', required: true };
  if (def.type === 'union') {
    const options = (def as unknown as { options: z.ZodType[] }).options.map(
      (option) => describeField(option).type,
    );
    return { type: [...new Set(options)].join(' \\| '), default: '', required: true };
  }
  return { type: def.type, default: '', required: true };
}

/** The object inside optional/default wrappers, when the field is one: its keys get rows of their own. */
function nestedShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  const def = (
    schema as unknown as { def: { type: string; innerType?: z.ZodType; shape?: Record<string, z.ZodType> } }
  ).def;
  if (def.type === 'optional' || def.type === 'default') return nestedShape(def.innerType as z.ZodType);
  return def.type === 'object' ? def.shape : undefined;
}

function fieldRows(shape: Record<string, z.ZodType>, prefix: string): string[] {
  return Object.entries(shape).flatMap(([key, schema]) => {
    const field = describeField(schema);
    const fallback = field.default ? `\`${field.default}\`` : field.required ? 'required' : 'optional';
    const row = `| \`${prefix}${key}\` | ${field.type} | ${fallback} | ${cell(schema.description ?? '')} |`;
    const nested = nestedShape(schema);
    return nested ? [row, ...fieldRows(nested, `${prefix}${key}.`)] : [row];
  });
}

export function renderConfigReference(): string {
  const rows = ['| key | type | default | meaning |', '| --- | --- | --- | --- |'];
  rows.push(...fieldRows(pollerSchema.shape as Record<string, z.ZodType>, 'poller.'));
  rows.push(...fieldRows(lifecycleSchema.shape as Record<string, z.ZodType>, 'lifecycle.'));
  rows.push(...fieldRows(statusPageSchema.shape as Record<string, z.ZodType>, 'status_page.'));
  rows.push(
    '| `environments.<env>` | list | required | Surfaces of one environment (`env` label); `SURFACE_ENV` limits a run to one. |',
  );
  rows.push(
    ...fieldRows(environmentDefaultsSchema.shape as Record<string, z.ZodType>, 'environment_defaults.<env>.'),
  );
  rows.push('| **a `maintenance` window** (surface or environment) | | | |');
  rows.push(...fieldRows(maintenanceWindow.shape as Record<string, z.ZodType>, 'maintenance[].'));
  for (const variant of surfaceSchema.options) {
    const shape = variant.shape as Record<string, z.ZodType>;
    const provider = describeField(shape.provider as z.ZodType).type;
    rows.push(`| **provider ${provider}** | | | |`);
    rows.push(...fieldRows(shape, ''));
  }
  return rows.join('\n');
}

/** The credential keys of the registry (`*_env`) and their defaults, across providers. */
function credentialKeys(): string[] {
  const keys = new Map<string, string>();
  for (const variant of surfaceSchema.options) {
    for (const [key, schema] of Object.entries(variant.shape as Record<string, z.ZodType>)) {
      if (!key.endsWith('_env') || keys.has(key)) continue;
      const fallback = describeField(schema).default;
      keys.set(key, fallback ? `\`${key}\` (default \`${JSON.parse(fallback)}\`)` : `\`${key}\``);
    }
  }
  return [...keys.values()];
}

export function renderEnvironmentVariables(): string {
  const rows = ['| variable | meaning | when unset |', '| --- | --- | --- |'];
  for (const variable of VARIABLE_DOCS) {
    rows.push(`| \`${variable.name}\` | ${cell(variable.meaning)} | ${cell(variable.default)} |`);
  }
  rows.push(
    `| credential variables | Named per surface in the registry: ${credentialKeys().join(', ')}. Looked up by name at each probe rather than read at start, since the registry (and a reload) decides which exist; \`surface-exporter list\` shows which are set. | the surface is DEGRADED \`skipped_credentials\` |`,
  );
  return rows.join('\n');
}

export function renderMetricsReference(): string {
  const metrics = new ExporterMetrics({
    version: 'docs',
    defaultMetrics: false,
    providerFamilies: PROVIDER_FAMILIES,
  });
  const rows = ['| metric | type | labels | meaning |', '| --- | --- | --- | --- |'];
  for (const { name, help, type, labelNames } of metrics.families()) {
    rows.push(
      `| \`${name}\` | ${type} | ${labelNames.map((label) => `\`${label}\``).join(', ')} | ${cell(help)} |`,
    );
  }
  rows.push(
    '| `process_*`, `nodejs_*` | | | prom-client default process metrics (CPU, memory, event-loop lag, GC). |',
  );
  return rows.join('\n');
}

export function renderErrorCodes(): string {
  const rows = [
    '| code | status | meaning | what to do | seed runbook symptom it replaces |',
    '| --- | --- | --- | --- | --- |',
  ];
  for (const doc of ERROR_CODE_DOCS) {
    rows.push(
      `| \`${doc.code}\` | ${doc.status.toUpperCase()} | ${cell(doc.meaning)} | ${cell(doc.action)} | ${cell(doc.replaces ?? '')} |`,
    );
  }
  return rows.join('\n');
}

const BEGIN = (name: string) => `<!-- BEGIN GENERATED ${name}: edit the code, then npm run generate -->`;
const END = (name: string) => `<!-- END GENERATED ${name} -->`;

/** Replaces every generated block of the README with a fresh render. */
export function updateGeneratedSections(readme: string): string {
  let out = readme;
  for (const [name, render] of Object.entries(GENERATED_SECTIONS)) {
    const begin = BEGIN(name);
    const end = END(name);
    const start = out.indexOf(begin);
    const stop = out.indexOf(end);
    if (start < 0 || stop < start) throw new Error(`README has no generated block ${name}`);
    out = `${out.slice(0, start + begin.length)}\n${render()}\n${out.slice(stop)}`;
  }
  return out;
}

import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { type Document, isMap, isScalar, parseDocument } from 'yaml';
import type { z } from 'zod';
import type { MaintenanceWindow } from '../core/maintenance.js';
import { DEFAULT_SEVERITY, MAX_SURFACE_LABELS, type SurfaceRouting } from '../core/surface.js';
import { PROVIDER_NAMES, type SurfaceConfig } from '../providers/index.js';
import {
  type EnvironmentDefaults,
  type LifecycleConfig,
  type PollerConfig,
  type Registry,
  registrySchema,
  type StatusPageConfig,
} from './schema.js';

/** One problem in a registry file, located precisely enough to fix without reading code. */
export interface RegistryProblem {
  file: string;
  /** e.g. `environments.prod[2].url`; empty for the whole document. */
  path: string;
  message: string;
  /** The offending value as written, when there is one. */
  value?: string;
}

export class RegistryError extends Error {
  constructor(
    readonly file: string,
    readonly problems: RegistryProblem[],
  ) {
    super(
      `${file}: ${problems.length} problem(s) in the surface registry\n${problems.map(formatProblem).join('\n')}`,
    );
    this.name = 'RegistryError';
  }
}

export function formatProblem(problem: RegistryProblem): string {
  const where = problem.path ? `${problem.file}: ${problem.path}` : problem.file;
  const value = problem.value === undefined ? '' : ` (got ${problem.value})`;
  return `${where}: ${problem.message}${value}`;
}

/** A surface with the environment it belongs to; `key` is unique across the registry. */
export interface RegisteredSurface {
  key: string;
  env: string;
  config: SurfaceConfig;
  /** Severity and labels, the environment's defaults applied: what `surface_info` and the alerts carry. */
  routing: SurfaceRouting;
  /** The surface's windows and its environment's. */
  maintenance: readonly MaintenanceWindow[];
}

export interface LoadedRegistry {
  file: string;
  poller: PollerConfig;
  /** Optional so registries built in memory (tests, benches) need not spell it out; defaults apply. */
  lifecycle?: LifecycleConfig;
  surfaces: RegisteredSurface[];
  /** Absent in registries built in memory (tests, tools): the status page defaults apply. */
  statusPage?: StatusPageConfig;
}

/**
 * The largest registry read. 10,000 surfaces take about 1.5 MB; a 50 MB file held the event loop
 * for 22 s and 2 GB, parsing, while no probe ran.
 */
export const MAX_REGISTRY_BYTES = 8 * 1024 * 1024;

export async function loadRegistryFile(file: string, onlyEnv?: string): Promise<LoadedRegistry> {
  return parseRegistry(await readRegistryText(file), file, onlyEnv);
}

/** The registry file's text, or a RegistryError saying why it cannot be read. */
export async function readRegistryText(file: string): Promise<string> {
  try {
    return await readCapped(file);
  } catch (err) {
    const reason =
      (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw new RegistryError(file, [{ file, path: '', message: `cannot read the registry: ${reason}` }]);
  }
}

/** A regular file of at most MAX_REGISTRY_BYTES: a FIFO or a device would block the read forever. */
async function readCapped(file: string): Promise<string> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new Error('not a regular file');
    if (stats.size > MAX_REGISTRY_BYTES) throw new Error(tooLarge(stats.size));
    const buffer = Buffer.alloc(MAX_REGISTRY_BYTES + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    // It grew between the stat and the read.
    if (bytesRead > MAX_REGISTRY_BYTES) throw new Error(tooLarge(bytesRead));
    return buffer.toString('utf8', 0, bytesRead);
  } finally {
    await handle.close();
  }
}

function tooLarge(bytes: number): string {
  return `${bytes} bytes, over the ${MAX_REGISTRY_BYTES}-byte cap on a registry`;
}

/** Parses and validates a registry document. Throws RegistryError with every problem found, never anything else. */
export function parseRegistry(text: string, file: string, onlyEnv?: string): LoadedRegistry {
  if (text.length > MAX_REGISTRY_BYTES)
    throw new RegistryError(file, [
      { file, path: '', message: `cannot read the registry: ${tooLarge(text.length)}` },
    ]);
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new RegistryError(
      file,
      document.errors.map((err) => ({
        file,
        path: err.linePos ? `line ${err.linePos[0].line}, column ${err.linePos[0].col}` : '',
        // Only the first line, cut: the message quotes the file, which may hold a token on a long line.
        message: `invalid YAML: ${cut(err.message.split('\n')[0] ?? '')}`,
      })),
    );
  }
  const keyProblems = environmentKeyProblems(document, file);
  if (keyProblems.length > 0) throw new RegistryError(file, keyProblems);
  let raw: unknown;
  try {
    // An alias bomb or an alias to a missing anchor only shows when the document is resolved.
    raw = document.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new RegistryError(file, [{ file, path: '', message: `invalid YAML: ${(err as Error).message}` }]);
  }
  const parsed = registrySchema.safeParse(raw ?? {});
  if (!parsed.success) {
    throw new RegistryError(file, problemsFromZod(file, parsed.error, raw));
  }
  return flatten(parsed.data, file, onlyEnv);
}

/**
 * Environment names as written: `10` and `"10"`, or `true` and `"true"`, become one key once the
 * document is an object, and `__proto__` vanishes into the prototype, each silently dropping a
 * whole environment's surfaces. Only a name written as a string, and never `__proto__`, passes.
 */
function environmentKeyProblems(document: Document, file: string): RegistryProblem[] {
  const environments = document.get('environments', true);
  if (!isMap(environments)) return [];
  const problems: RegistryProblem[] = [];
  for (const pair of environments.items) {
    const key = isScalar(pair.key) ? pair.key.value : pair.key;
    const path = `environments.${String(key)}`;
    if (typeof key !== 'string') {
      const message =
        'an environment name must be a string: quote it, since an unquoted number or boolean collides with its quoted form';
      problems.push({ file, path, message, value: JSON.stringify(key) ?? String(key) });
    } else if (key === '__proto__') {
      problems.push({ file, path, message: 'not a usable environment name', value: JSON.stringify(key) });
    }
  }
  return problems;
}

function flatten(registry: Registry, file: string, onlyEnv: string | undefined): LoadedRegistry {
  if (onlyEnv !== undefined && !Object.hasOwn(registry.environments, onlyEnv)) {
    const known = Object.keys(registry.environments).join(', ') || 'none';
    throw new RegistryError(file, [
      {
        file,
        path: 'environments',
        message: `SURFACE_ENV names an environment not in the registry (known: ${known})`,
        value: JSON.stringify(onlyEnv),
      },
    ]);
  }
  const surfaces: RegisteredSurface[] = [];
  const problems: RegistryProblem[] = [];
  for (const env of Object.keys(registry.environment_defaults ?? {})) {
    if (Object.hasOwn(registry.environments, env)) continue;
    const known = Object.keys(registry.environments).join(', ') || 'none';
    problems.push({
      file,
      path: `environment_defaults.${env}`,
      message: `no environment of that name under environments (known: ${known})`,
    });
  }
  for (const [env, list] of Object.entries(registry.environments)) {
    if (onlyEnv !== undefined && env !== onlyEnv) continue;
    const defaults = registry.environment_defaults?.[env] ?? {};
    list.forEach((config, index) => {
      const routing = routingOf(config, defaults);
      if (Object.keys(routing.labels).length > MAX_SURFACE_LABELS) {
        problems.push({
          file,
          path: `environments.${env}[${index}].labels`,
          message: `at most ${MAX_SURFACE_LABELS} labels, environment_defaults.${env}.labels included`,
          value: JSON.stringify(Object.keys(routing.labels)),
        });
      }
      const maintenance = [...(defaults.maintenance ?? []), ...(config.maintenance ?? [])];
      surfaces.push({ key: `${env}/${config.name}`, env, config, routing, maintenance });
    });
  }
  if (problems.length > 0) throw new RegistryError(file, problems);
  return {
    file,
    poller: registry.poller,
    lifecycle: registry.lifecycle,
    surfaces,
    statusPage: registry.status_page,
  };
}

function routingOf(config: SurfaceConfig, defaults: EnvironmentDefaults): SurfaceRouting {
  return {
    severity: config.severity ?? defaults.severity ?? DEFAULT_SEVERITY,
    labels: { ...defaults.labels, ...config.labels },
  };
}

function problemsFromZod(file: string, error: z.ZodError, raw: unknown): RegistryProblem[] {
  const problems: RegistryProblem[] = [];
  for (const issue of error.issues) {
    // An unknown provider fails the discriminator and the keys of every variant; the discriminator says it all.
    const path = formatPath(issue.path);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        problems.push({ file, path: formatPath([...issue.path, key]), message: 'unknown key (a typo?)' });
      }
      continue;
    }
    const value = valueAt(raw, issue.path);
    if (value === undefined && issue.code !== 'custom') {
      problems.push({ file, path, message: `required: ${describeIssue(issue)}` });
      continue;
    }
    // A rule across fields (timeout below interval) names its values in its message.
    const shown = value === undefined ? undefined : shownValue(path, value);
    problems.push({ file, path, message: describeIssue(issue), value: shown });
  }
  return problems;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_union' && 'discriminator' in issue && issue.discriminator) {
    return `unknown or missing provider: expected one of ${PROVIDER_NAMES.join(', ')}`;
  }
  if (issue.code === 'invalid_type' && issue.message.includes('received undefined')) {
    return `expected ${issue.expected}`;
  }
  return issue.message;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out ? `.${String(segment)}` : String(segment);
  }
  return out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current = root;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return current;
}

/**
 * The offending value as an operator may see it: in a terminal, a log line or a reload answer. A
 * value under a `*_env` key that failed validation is most often a token pasted where its variable
 * name belongs, so it is hidden; URLs lose their credentials and query values.
 */
function shownValue(path: string, value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  if (/_env$/.test(path)) return `<hidden: ${text.length} characters where a variable name belongs>`;
  // Masked before it is cut: a cut first could end inside the userinfo and leave it unmasked.
  return cut(maskUrlSecrets(text));
}

/**
 * Hides URL credentials and query values textually, since an invalid URL does not parse: from
 * `scheme://` to the last `@` (a password may hold `/`, `?` or `#`), and every query value.
 */
export function maskUrlSecrets(text: string): string {
  return text
    .replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s"]*@/gi, '$1***@')
    .replace(/([?&][^=&\s"]+=)[^&#\s"]*/g, '$1***');
}

function cut(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

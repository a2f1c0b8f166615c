import { parseArgs } from 'node:util';
import { probeEachOnce } from '../app/oneShot.js';
import { readSettings } from '../app/settings.js';
import {
  type LoadedRegistry,
  loadRegistryFile,
  type RegisteredSurface,
  RegistryError,
} from '../config/load.js';
import { createLogger } from '../core/log.js';
import type { ConditionOutcome, ProbeOutcome, SurfaceStatus } from '../core/result.js';
import { type TlsSnapshot, tlsSnapshot } from '../poller/poller.js';
import { providerFor } from '../providers/index.js';
import { type HttpExchange, type HttpOutcome, headerValue } from '../transport/client.js';
import { redactUrl } from '../transport/redact.js';
import { EXIT_USAGE, requireConfigFile, UsageError } from './args.js';
import { type CliIo, formatMilliseconds, renderTable, SecretMasker } from './output.js';

export const PROBE_HELP = `Usage: surface-exporter probe [--env ENV] SURFACE
       surface-exporter probe --all [--env ENV]

Runs the real probe of one surface once, without a server, and prints every HTTP call it made
(method, URL with credentials masked, status, timing), the decision, and the final status.
SURFACE is a name, or ENV/NAME when the name exists in several environments.

Options:
  --config FILE   registry file (env SURFACE_EXPORTER_CONFIG; default ./surfaces.yaml)
  --env ENV       only look in this environment
  --all           probe every surface (of ENV, if given) and print one line each
  --json          machine-readable output
  -h, --help      this text

Exit status: 0 UP, 1 DEGRADED, 2 DOWN (with --all: the worst surface), 3 usage error or
unusable registry.
`;

const EXIT_BY_STATUS: Record<SurfaceStatus, number> = { up: 0, degraded: 1, down: 2 };

/** One HTTP call as `probe` reports it; `url` is already redacted by the HTTP client. */
export interface ProbeStep {
  method: string;
  url: string;
  status: number | null;
  failure: string | null;
  message: string | null;
  duration_ms: number;
  truncated: boolean;
  /** Where a redirect pointed (never followed), query values masked: the evidence of an Access gate. */
  location: string | null;
  /** The certificate an HTTPS answer came with. */
  tls: TlsSnapshot | null;
  /** Milliseconds per phase: resolve, connect, tls (0 on a reused connection), processing, transfer. */
  phases_ms: Record<string, number> | null;
}

export interface ProbeReport {
  env: string;
  surface: string;
  provider: string;
  target: string;
  status: SurfaceStatus;
  code: string | null;
  detail: string;
  duration_ms: number;
  checked_at: string;
  http: ProbeStep[];
  /** Each condition of the surface's `expect:` block with its result. */
  conditions: readonly ConditionOutcome[];
}

export async function probeCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      env: { type: 'string' },
      all: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    io.stdout.write(PROBE_HELP);
    return 0;
  }
  if (values.all === positionals.length > 0 || positionals.length > 1) {
    throw new UsageError('probe: name exactly one SURFACE, or pass --all (see probe --help)');
  }
  const file = requireConfigFile(values.config, io.env);
  let registry: LoadedRegistry;
  try {
    registry = await loadRegistryFile(file);
  } catch (err) {
    if (!(err instanceof RegistryError)) throw err;
    io.stderr.write(`${err.message}\nprobe: fix the registry first (surface-exporter check-config)\n`);
    return EXIT_USAGE;
  }
  const selected = values.all
    ? selectEnvironment(registry, values.env)
    : [selectSurface(registry, positionals[0] ?? '', values.env)];
  const masker = new SecretMasker(
    io.env,
    registry.surfaces.flatMap((surface) => providerFor(surface.config).credentials(surface.config)),
  );
  const reports = await runProbes({ ...registry, surfaces: selected }, io, masker);
  const worst = Math.max(0, ...reports.map((report) => EXIT_BY_STATUS[report.status]));
  let output: string;
  if (values.json) {
    output = `${JSON.stringify(values.all ? { surfaces: reports } : reports[0], null, 2)}\n`;
  } else if (values.all) {
    output = renderTable(
      ['ENV', 'SURFACE', 'PROVIDER', 'STATUS', 'CODE', 'TIME', 'DETAIL'],
      reports.map((report) => [
        report.env,
        report.surface,
        report.provider,
        report.status.toUpperCase(),
        report.code ?? '-',
        `${report.duration_ms} ms`,
        report.detail,
      ]),
    );
  } else {
    output = reports.map(describeReport).join('\n');
  }
  io.stdout.write(masker.mask(output));
  return worst;
}

/** Probes each surface once with a fresh poller, so nothing is cached from a previous run. */
async function runProbes(registry: LoadedRegistry, io: CliIo, masker: SecretMasker): Promise<ProbeReport[]> {
  // The report already says what the poller would log at warn; only errors (a crash) add to it.
  const log = createLogger({
    level: readSettings(io.env).logLevel ?? 'error',
    destination: { write: (line: string) => io.stderr.write(masker.mask(line)) },
  });
  const probed = await probeEachOnce(registry, { env: io.env, log });
  return probed.map(({ surface, outcome, exchanges }) => toReport(surface, outcome, exchanges));
}

function toReport(surface: RegisteredSurface, probe: ProbeOutcome, exchanges: HttpExchange[]): ProbeReport {
  const { config } = surface;
  return {
    env: surface.env,
    surface: config.name,
    provider: config.provider,
    target: providerFor(config).target(config),
    status: probe.status,
    code: probe.code,
    detail: probe.detail,
    duration_ms: Math.round(probe.durationSeconds * 1000),
    checked_at: new Date(probe.checkedAt).toISOString(),
    http: exchanges.map(({ method, url, outcome }) => ({
      method,
      url,
      status: outcome.kind === 'response' ? outcome.status : null,
      failure: outcome.kind === 'failure' ? outcome.failure : null,
      message: outcome.kind === 'failure' ? outcome.message : null,
      duration_ms: Math.round(outcome.durationSeconds * 1000),
      truncated: outcome.kind === 'response' && outcome.truncated,
      location: redirectTarget(outcome),
      tls: outcome.kind === 'response' && outcome.tls ? tlsSnapshot(outcome.tls) : null,
      phases_ms:
        outcome.kind === 'response' && outcome.phases
          ? Object.fromEntries(
              Object.entries(outcome.phases).map(([phase, seconds]) => [
                phase,
                Math.round(seconds * 10_000) / 10,
              ]),
            )
          : null,
    })),
    conditions: probe.conditions ?? [],
  };
}

function describeReport(report: ProbeReport): string {
  const lines = [`${report.env}/${report.surface}  ${report.provider}  ${report.target}`];
  if (report.http.length === 0) lines.push('  (no HTTP call was made)');
  report.http.forEach((step, index) => {
    const answer =
      step.status !== null
        ? `HTTP ${step.status}${step.location ? ` to ${step.location}` : ''}${step.truncated ? ' (body cut at the size cap)' : ''}`
        : `${step.failure}: ${step.message}`;
    lines.push(
      `  ${index + 1}. ${step.method} ${step.url} -> ${answer} in ${formatMilliseconds(step.duration_ms / 1000)}`,
    );
    if (step.phases_ms) {
      const phases = Object.entries(step.phases_ms).map(([phase, ms]) => `${phase} ${ms} ms`);
      lines.push(`     phases: ${phases.join(', ')}`);
    }
    if (step.tls) {
      lines.push(`     tls: subject ${step.tls.subject}; issuer ${step.tls.issuer}`);
      lines.push(`          SANs ${step.tls.sans.join(', ') || 'none'}`);
      lines.push(`          notAfter ${step.tls.not_after}; earliest in chain ${step.tls.earliest_expiry}`);
    }
  });
  if (report.conditions.length > 0) lines.push('  conditions:');
  for (const condition of report.conditions) {
    lines.push(`     ${condition.passed ? 'pass' : 'FAIL'}  ${condition.rule}  (seen ${condition.seen})`);
  }
  lines.push(`  decision: ${report.detail}`);
  lines.push(
    `  result:   ${report.status.toUpperCase()}${report.code ? ` ${report.code}` : ''} (${report.duration_ms} ms)`,
  );
  return `${lines.join('\n')}\n`;
}

function redirectTarget(outcome: HttpOutcome): string | null {
  if (outcome.kind !== 'response' || outcome.status < 300 || outcome.status >= 400) return null;
  const location = headerValue(outcome.headers, 'location');
  return location ? redactUrl(location) : null;
}

function selectEnvironment(registry: LoadedRegistry, env: string | undefined): RegisteredSurface[] {
  if (env === undefined) return registry.surfaces;
  const surfaces = registry.surfaces.filter((surface) => surface.env === env);
  if (surfaces.length === 0) throw new UsageError(`probe: no surface in environment ${JSON.stringify(env)}`);
  return surfaces;
}

/** Finds `NAME` or `ENV/NAME`; an ambiguous name is a usage error listing the candidates. */
export function selectSurface(
  registry: LoadedRegistry,
  wanted: string,
  env: string | undefined,
): RegisteredSurface {
  const slash = wanted.indexOf('/');
  const wantedEnv = slash >= 0 ? wanted.slice(0, slash) : env;
  const name = slash >= 0 ? wanted.slice(slash + 1) : wanted;
  if (env !== undefined && wantedEnv !== env) {
    throw new UsageError(`probe: --env ${env} contradicts ${JSON.stringify(wanted)}`);
  }
  const matches = registry.surfaces.filter(
    (surface) => surface.config.name === name && (wantedEnv === undefined || surface.env === wantedEnv),
  );
  const [only] = matches;
  if (only && matches.length === 1) return only;
  if (matches.length > 1) {
    throw new UsageError(
      `probe: ${JSON.stringify(name)} is in several environments; name one of ${matches.map((surface) => surface.key).join(', ')}`,
    );
  }
  const known = registry.surfaces.map((surface) => surface.key).join(', ') || 'none';
  throw new UsageError(`probe: no surface ${JSON.stringify(wanted)} in ${registry.file} (known: ${known})`);
}

import { parseArgs } from 'node:util';
import { runOnlineChecks } from '../app/oneShot.js';
import { readSettings } from '../app/settings.js';
import { type LoadedRegistry, loadRegistryFile, RegistryError } from '../config/load.js';
import { providerFor } from '../providers/index.js';
import type { OnlineFinding as OnlineCheck } from '../providers/online.js';
import { requireConfigFile, UsageError } from './args.js';
import { type CliIo, renderTable, SecretMasker } from './output.js';

export const CHECK_CONFIG_HELP = `Usage: surface-exporter check-config [FILE] [--online] [--json]

Validates the registry and prints every problem with its file, path and value.

With --online it also asks the providers: each credential the registry needs is set, well formed
and accepted; each Heroku app and Cloudflare Pages project exists in its account (the ones that do
not are listed); each Cloudflare Access service token gets through its gate.

Options:
  FILE, --config FILE   registry file (env SURFACE_EXPORTER_CONFIG; default ./surfaces.yaml)
  --online              also check credentials, apps and projects against the provider APIs
                        (HEROKU_API_URL and CLOUDFLARE_API_URL override the API base URLs)
  --timeout SECONDS     deadline of each provider call (default 10)
  --json                machine-readable output
  -h, --help            this text

SURFACE_ENV, when set, limits the online checks to that environment, as it limits the exporter.

Exit status: 0 valid (and, with --online, every check passed), 1 a problem was found, 3 usage error.
`;

const DEFAULT_TIMEOUT_SECONDS = 10;

export async function checkConfigCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      online: { type: 'boolean', default: false },
      timeout: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    io.stdout.write(CHECK_CONFIG_HELP);
    return 0;
  }
  if (positionals.length > 1 || (positionals.length === 1 && values.config)) {
    throw new UsageError('check-config: name one registry file, as FILE or --config FILE');
  }
  const timeoutSeconds = values.timeout === undefined ? DEFAULT_TIMEOUT_SECONDS : Number(values.timeout);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
    throw new UsageError(
      `check-config: --timeout expects a positive number of seconds, got ${values.timeout}`,
    );
  }
  const file = requireConfigFile(positionals[0] ?? values.config, io.env);
  const { onlyEnv } = readSettings(io.env);

  let registry: LoadedRegistry;
  try {
    registry = await loadRegistryFile(file, onlyEnv);
  } catch (err) {
    if (!(err instanceof RegistryError)) throw err;
    const masker = new SecretMasker(io.env, []);
    const problems = err.problems;
    io.stdout.write(
      masker.mask(
        values.json
          ? `${JSON.stringify({ file, valid: false, problems }, null, 2)}\n`
          : `${file}: ${problems.length} problem(s)\n${renderTable(
              ['FILE', 'PATH', 'PROBLEM', 'VALUE'],
              problems.map((problem) => [
                problem.file,
                problem.path || '-',
                problem.message,
                problem.value ?? '-',
              ]),
            )}`,
      ),
    );
    return 1;
  }

  const masker = new SecretMasker(io.env, [
    ...registry.surfaces.flatMap(({ config }) => providerFor(config).credentials(config)),
    ...(registry.lifecycle ? [registry.lifecycle.management_token_env] : []),
  ]);
  const summary = summarize(registry);
  let checks: OnlineCheck[] | undefined;
  if (values.online) {
    checks = await runOnlineChecks(registry, { env: io.env, timeoutMs: timeoutSeconds * 1000 });
  }
  const failed = checks?.filter((check) => check.severity === 'fail').length ?? 0;
  let output: string;
  if (values.json) {
    output = `${JSON.stringify({ file, valid: true, problems: [], ...summary, online: checks }, null, 2)}\n`;
  } else {
    const environments = Object.entries(summary.environments)
      .map(([env, count]) => `${env}: ${count}`)
      .join(', ');
    output = `${file}: valid, ${summary.surfaces} surface(s)${environments ? ` (${environments})` : ''}\n`;
    if (checks && checks.length > 0) {
      output += `\n${renderTable(
        ['CHECK', 'SUBJECT', 'RESULT', 'DETAIL'],
        checks.map((check) => [
          check.check,
          check.subject,
          check.severity === 'ok'
            ? 'ok'
            : `${check.result.toUpperCase()}${check.severity === 'warn' ? ' (warning)' : ''}`,
          check.detail,
        ]),
      )}`;
    }
    if (checks) {
      // "Every check passed" about surfaces no check looked at would read as a clean bill of health.
      if (failed) output += `\n${failed} online check(s) failed\n`;
      else if (countCheckedOnline(registry) === 0) {
        output +=
          '\nno online check applies to these surfaces (an http surface without an Access token has none); `surface-exporter probe --all` probes each one once\n';
      } else output += '\nevery online check passed\n';
    }
  }
  io.stdout.write(masker.mask(output));
  return failed > 0 ? 1 : 0;
}

/** Surfaces whose provider asks something of an API or an Access gate about them. */
function countCheckedOnline(registry: LoadedRegistry): number {
  return registry.surfaces.filter(({ config }) => {
    const online = providerFor(config).online;
    if (!online) return false;
    return (
      online.credentials(config).length > 0 || online.accessTarget?.(config) !== undefined || !!online.check
    );
  }).length;
}

function summarize(registry: LoadedRegistry): { surfaces: number; environments: Record<string, number> } {
  const environments: Record<string, number> = {};
  for (const surface of registry.surfaces) environments[surface.env] = (environments[surface.env] ?? 0) + 1;
  return { surfaces: registry.surfaces.length, environments };
}

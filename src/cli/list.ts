import { parseArgs } from 'node:util';
import { loadRegistryFile } from '../config/load.js';
import { providerFor } from '../providers/index.js';
import { requireConfigFile } from './args.js';
import { type CliIo, renderTable } from './output.js';

export const LIST_HELP = `Usage: surface-exporter list [--config FILE] [--env ENV] [--json]

Prints the registry: environment, surface, provider, target, and each credential variable the
surface reads with whether it is set. Values are never printed.

Options:
  --config FILE   registry file (env SURFACE_EXPORTER_CONFIG; default ./surfaces.yaml)
  --env ENV       only this environment
  --json          machine-readable output
  -h, --help      this text

Exit status: 0 listed, 1 invalid registry, 3 usage error.
`;

export interface ListedSurface {
  env: string;
  surface: string;
  provider: string;
  target: string;
  credentials: Array<{ variable: string; set: boolean }>;
}

export async function listCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      env: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.stdout.write(LIST_HELP);
    return 0;
  }
  const registry = await loadRegistryFile(requireConfigFile(values.config, io.env), values.env);
  const listed: ListedSurface[] = registry.surfaces.map(({ env, config }) => {
    const provider = providerFor(config);
    return {
      env,
      surface: config.name,
      provider: config.provider,
      target: provider.target(config),
      credentials: provider
        .credentials(config)
        .map((variable) => ({ variable, set: Boolean(io.env[variable]?.trim()) })),
    };
  });
  if (values.json) {
    io.stdout.write(`${JSON.stringify({ file: registry.file, surfaces: listed }, null, 2)}\n`);
    return 0;
  }
  io.stdout.write(
    renderTable(
      ['ENV', 'SURFACE', 'PROVIDER', 'TARGET', 'CREDENTIALS'],
      listed.map((surface) => [
        surface.env,
        surface.surface,
        surface.provider,
        surface.target,
        surface.credentials.map(({ variable, set }) => `${variable} (${set ? 'set' : 'UNSET'})`).join(', ') ||
          '-',
      ]),
    ),
  );
  return 0;
}

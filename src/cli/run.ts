import { ListenError } from '../app/exporter.js';
import { SettingsError } from '../app/settings.js';
import { RegistryError } from '../config/load.js';
import { EXIT_LISTEN, EXIT_USAGE, UsageError } from './args.js';
import { CHECK_CONFIG_HELP, checkConfigCommand } from './checkConfig.js';
import { LIST_HELP, listCommand } from './list.js';
import type { CliCommand, CliIo } from './output.js';
import { PROBE_HELP, probeCommand } from './probe.js';
import { SERVE_HELP, serve } from './serve.js';

interface CommandEntry {
  run: CliCommand;
  help: string;
  summary: string;
}

/** Subcommands of the one binary; `serve` is what runs with no subcommand. */
export const COMMANDS: Record<string, CommandEntry> = {
  serve: {
    run: serve,
    help: SERVE_HELP,
    summary: 'run the exporter (the default; the demo without a registry)',
  },
  'check-config': {
    run: checkConfigCommand,
    help: CHECK_CONFIG_HELP,
    summary: 'validate the registry; --online also asks the providers',
  },
  probe: {
    run: probeCommand,
    help: PROBE_HELP,
    summary: 'probe one surface (or --all) once and show each step',
  },
  list: { run: listCommand, help: LIST_HELP, summary: 'print the registry and which credentials are set' },
};

export const MAIN_HELP = `${SERVE_HELP}
Commands (each takes --help):
${Object.entries(COMMANDS)
  .map(([name, entry]) => `  ${name.padEnd(14)} ${entry.summary}`)
  .join('\n')}

Exit status: 0 success; 1 invalid registry or a failed check (probe: DEGRADED); 2 probe: DOWN;
3 usage error (a flag, a variable, or no registry where one is needed); 4 serve: the listen address
is in use or cannot be bound.
`;

/** Runs one command line and turns every failure into an exit status and a message on stderr. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  try {
    const [first, ...rest] = argv;
    if (first === '--help' || first === '-h' || first === 'help') {
      io.stdout.write(MAIN_HELP);
      return 0;
    }
    if (first === undefined || first.startsWith('-')) return await serve(argv, io);
    if (first !== 'serve') releaseHeldHangups(io);
    const command = COMMANDS[first];
    if (!command) {
      throw new UsageError(
        `unknown command ${JSON.stringify(first)}; commands: ${Object.keys(COMMANDS).join(', ')}`,
      );
    }
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof RegistryError) {
      io.stderr.write(`${err.message}\n`);
      return 1;
    }
    if (err instanceof ListenError) {
      io.stderr.write(`surface-exporter: ${err.message}\n`);
      return EXIT_LISTEN;
    }
    if (
      err instanceof UsageError ||
      err instanceof SettingsError ||
      (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      io.stderr.write(`surface-exporter: ${(err as Error).message}\n`);
      return EXIT_USAGE;
    }
    io.stderr.write(`surface-exporter: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}

/**
 * Only `serve` answers SIGHUP. Any other command gets the default back, and a hangup that arrived
 * while the modules loaded ends it as it would have without the hold.
 */
function releaseHeldHangups(io: CliIo): void {
  if ((io.takeHeldHangups?.() ?? 0) > 0) process.kill(process.pid, 'SIGHUP');
}

#!/usr/bin/env node
import { UsageError } from './cli/args.js';
import { SERVE_HELP, serve } from './cli/serve.js';
import { RegistryError } from './config/load.js';

type Command = (argv: string[], env: NodeJS.ProcessEnv) => Promise<number>;

/** Subcommands of the one binary; `serve` is what runs with no subcommand. */
const commands: Record<string, Command> = {
  serve,
};

const EXIT_USAGE = 2;

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(
      `${SERVE_HELP}\nCommands: ${Object.keys(commands).join(', ')} (each takes --help)\n`,
    );
    return 0;
  }
  const command = first && !first.startsWith('-') ? commands[first] : undefined;
  if (first && !first.startsWith('-') && !command) {
    throw new UsageError(
      `unknown command ${JSON.stringify(first)}; commands: ${Object.keys(commands).join(', ')}`,
    );
  }
  return command ? command(rest, process.env) : serve(argv, process.env);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof RegistryError) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 1;
    } else if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`surface-exporter: ${(err as Error).message}\n`);
      process.exitCode = EXIT_USAGE;
    } else {
      process.stderr.write(`surface-exporter: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    }
  },
);

import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readSettings } from '../app/settings.js';
import { createLogger } from '../core/log.js';
import { findStackBinaries, STACK_INSTALL_HINT, startStack } from './stack.js';

const HELP = `Usage: npm run stack [-- --keep-for] [-- --for SECONDS]

Runs the demo with Prometheus and Alertmanager on loopback, the shipped alert rules loaded, and
prints where to watch alerts fire. State goes to ./.stack/ (wiped at each start).

  --for SECONDS   cut every alert's \`for\` to this (default 30) so alerts fire while you watch;
                  PagesDeployStuckBuilding has none and still takes 10 minutes
  --keep-for      keep the shipped \`for\` durations
`;

/** `npm run stack`: exit 1 with the install line when Prometheus or Alertmanager is missing. */
async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      for: { type: 'string', default: '30' },
      'keep-for': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const forSeconds = Number(values.for);
  if (!values['keep-for'] && !(Number.isFinite(forSeconds) && forSeconds >= 0)) {
    process.stderr.write(`--for expects a number of seconds, got ${values.for}\n`);
    return 3;
  }
  const settings = readSettings(process.env);
  const binaries = findStackBinaries(settings.path);
  if (!binaries) {
    process.stderr.write(
      `Prometheus and Alertmanager are needed for the stack. Install them with:\n  ${STACK_INSTALL_HINT}\n`,
    );
    return 1;
  }
  const workDir = '.stack';
  await rm(workDir, { recursive: true, force: true });
  const stack = await startStack(binaries, {
    root: fileURLToPath(new URL('../../', import.meta.url)),
    workDir,
    env: process.env,
    operatorToken: settings.operatorToken,
    log: createLogger({ level: settings.logLevel ?? 'warn' }),
    forSeconds: values['keep-for'] ? undefined : forSeconds,
    ports: { exporter: 9742, prometheus: 9090, alertmanager: 9093 },
  });
  process.stdout.write(stack.banner);
  const stopped = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('interrupted'));
    process.once('SIGTERM', () => resolve('terminated'));
  });
  const reason = await Promise.race([stopped, stack.exited]);
  await stack.stop();
  if (reason === 'interrupted' || reason === 'terminated') return 0;
  process.stderr.write(`${reason}\n`);
  return 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`stack: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);

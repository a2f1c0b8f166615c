import { parseArgs } from 'node:util';
import { loadRegistryFile } from '../config/load.js';
import { createLogger } from '../log.js';
import { startExporter } from '../server.js';
import { DEFAULT_PORT, isTruthy, resolveConfigFile, resolveListenAddress, UsageError } from './args.js';

export const SERVE_HELP = `Usage: surface-exporter [serve] [options]

Probes every surface in the registry on a schedule and serves /metrics, /health and the operator API.

Options:
  --config FILE            registry file (env SURFACE_EXPORTER_CONFIG; default ./surfaces.yaml)
  --listen-address H:P     where to listen (env LISTEN_ADDRESS, or PORT on Heroku; default 0.0.0.0:${DEFAULT_PORT})
  --no-poller              serve the API without the background poller (also TESTING=true)
  -h, --help               this text

Environment:
  SURFACE_ENV              only probe this environment of the registry
  FORCE_POLL_TOKEN         bearer token for force-poll, reload and poller-status
  LOG_LEVEL                pino level (default info)
`;

export async function serve(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      'listen-address': { type: 'string' },
      'no-poller': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(SERVE_HELP);
    return 0;
  }
  const listen = resolveListenAddress(values['listen-address'], env);
  const configFile = resolveConfigFile(values.config, env);
  if (!configFile) {
    throw new UsageError(
      `no registry: pass --config FILE (or set SURFACE_EXPORTER_CONFIG, or create ./${'surfaces.yaml'}). See examples/surfaces.yaml.`,
    );
  }
  const onlyEnv = env.SURFACE_ENV?.trim() || undefined;
  const registry = await loadRegistryFile(configFile, onlyEnv);
  const log = createLogger({ level: env.LOG_LEVEL });
  const pollerEnabled = !values['no-poller'] && !isTruthy(env.TESTING);
  const exporter = await startExporter({
    registry,
    registryFile: configFile,
    onlyEnv,
    host: listen.host,
    port: listen.port,
    pollerEnabled,
    env,
    log,
  });

  process.on('SIGHUP', () => {
    void exporter.reload();
  });
  await new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      log.info({ event: 'shutdown', signal }, 'stopping: no new probes, waiting for in-flight ones');
      void exporter.stop().then(resolve);
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
  log.flush();
  return 0;
}

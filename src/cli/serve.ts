import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import type { RunningExporter } from '../app/exporter.js';
import { startExporter } from '../app/exporter.js';
import { parseShardSettings, ShardSettingsError } from '../app/sharding.js';
import { watchConfigFile } from '../app/watch.js';
import { loadRegistryFile } from '../config/load.js';
import { createLogger } from '../core/log.js';
import { VERSION } from '../core/version.js';
import { startDemo } from '../demo/demo.js';
import { startTracing } from '../tracing/index.js';
import { HttpClient } from '../transport/client.js';
import {
  DEFAULT_PORT,
  isTruthy,
  parseListenAddress,
  resolveConfigFile,
  resolveListenAddress,
  UsageError,
} from './args.js';
import type { CliIo } from './output.js';

export const SERVE_HELP = `Usage: surface-exporter [serve] [options]

Probes every surface in the registry on a schedule and serves /metrics, /health and the operator API.
With no registry (no --config, no SURFACE_EXPORTER_CONFIG, no ./surfaces.yaml) it runs the demo:
local fakes of Heroku, Cloudflare and Infisical behind a registry showing each state.

Options:
  --config FILE            registry file (env SURFACE_EXPORTER_CONFIG; default ./surfaces.yaml)
  --listen-address H:P     where to listen (env LISTEN_ADDRESS, or PORT on Heroku; default 0.0.0.0:${DEFAULT_PORT},
                           127.0.0.1:${DEFAULT_PORT} for the demo)
  --watch-config           reload the registry when its file changes (as SIGHUP and POST /-/reload do)
  --demo                   run the demo even when a registry exists
  --no-poller              serve the API without the background poller (also TESTING=true)
  --shard K --total-shards N   watch only shard K (0 ≤ K < N) of the registry (env SURFACE_SHARD,
                           SURFACE_TOTAL_SHARDS); every shard reads the whole registry
  --pod NAME               take K from a StatefulSet pod name's trailing ordinal (surface-exporter-2 is 2)
  -h, --help               this text

Environment:
  SURFACE_ENV              only probe this environment of the registry
  FORCE_POLL_TOKEN         bearer token for force-poll, reload and poller-status (the demo makes one up)
  HEROKU_API_URL, CLOUDFLARE_API_URL   provider API base URLs (for a proxy, or fakes)
  LOG_LEVEL                pino level (default info; warn for the demo)
  METRICS_TOKEN, METRICS_BASIC_AUTH    protect /metrics (bearer token, or user:password); open when unset
  OTEL_EXPORTER_OTLP_ENDPOINT          send one trace per probe over OTLP/HTTP (also OTEL_SERVICE_NAME,
                           OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER, OTEL_SDK_DISABLED)

Signals: SIGHUP reloads the registry; SIGTERM and SIGINT stop after in-flight probes end.
`;

export async function serve(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      'listen-address': { type: 'string' },
      'no-poller': { type: 'boolean', default: false },
      'watch-config': { type: 'boolean', default: false },
      demo: { type: 'boolean', default: false },
      shard: { type: 'string' },
      'total-shards': { type: 'string' },
      pod: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.stdout.write(SERVE_HELP);
    return 0;
  }
  const { env } = io;
  if (values.demo && values.config) throw new UsageError('--demo and --config exclude each other');
  const configFile = values.demo ? undefined : resolveConfigFile(values.config, env);
  const pollerEnabled = !values['no-poller'] && !isTruthy(env.TESTING);
  const shard = shardSettings(
    { shard: values.shard, totalShards: values['total-shards'], pod: values.pod },
    env,
  );

  if (!configFile) {
    if (values['watch-config']) throw new UsageError('--watch-config needs a registry file (--config FILE)');
    const log = createLogger({ level: env.LOG_LEVEL ?? 'warn' });
    const explicit =
      values['listen-address'] ?? env.LISTEN_ADDRESS ?? (env.PORT ? `0.0.0.0:${env.PORT}` : undefined);
    const demo = await startDemo({
      env,
      log,
      listen: parseListenAddress(explicit ?? `127.0.0.1:${DEFAULT_PORT}`),
      pollerEnabled,
    });
    io.stdout.write(demo.banner);
    await untilStopped(demo.exporter, log, demo.stop);
    return 0;
  }

  const listen = resolveListenAddress(values['listen-address'], env);
  const onlyEnv = env.SURFACE_ENV?.trim() || undefined;
  const registry = await loadRegistryFile(configFile, onlyEnv);
  const log = createLogger({ level: env.LOG_LEVEL });
  const tracing = startTracing({ env, log, version: VERSION });
  const http = new HttpClient({
    userAgent: `surface-exporter/${VERSION}`,
    connectionsPerOrigin: registry.poller.concurrency,
    interceptor: tracing.interceptor,
  });
  const exporter = await startExporter({
    registry,
    registryFile: configFile,
    onlyEnv,
    host: listen.host,
    port: listen.port,
    pollerEnabled,
    env,
    log,
    tracer: tracing.tracer,
    http,
    shard,
  });
  const watcher = values['watch-config']
    ? watchConfigFile(configFile, () => exporter.reload(), { log })
    : undefined;
  await untilStopped(exporter, log, async () => {
    watcher?.close();
    await exporter.stop();
    await http.close();
    await tracing.shutdown();
  });
  return 0;
}

function shardSettings(...args: Parameters<typeof parseShardSettings>) {
  try {
    return parseShardSettings(...args);
  } catch (err) {
    if (err instanceof ShardSettingsError) throw new UsageError(err.message);
    throw err;
  }
}

/** Reloads on SIGHUP, and stops on SIGTERM or SIGINT once in-flight probes have ended. */
async function untilStopped(
  exporter: RunningExporter,
  log: Logger,
  stop: () => Promise<void>,
): Promise<void> {
  const onHangup = () => {
    log.info({ event: 'sighup' }, 'SIGHUP: reloading the registry');
    void exporter.reload();
  };
  process.on('SIGHUP', onHangup);
  await new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      log.info({ event: 'shutdown', signal }, 'stopping: no new probes, waiting for in-flight ones');
      void stop().then(resolve);
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
  process.off('SIGHUP', onHangup);
  log.flush();
}

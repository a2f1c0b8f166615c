import { parseArgs } from 'node:util';
import { serveProcess } from '../app/serve.js';
import { DEFAULT_PORT } from '../app/settings.js';
import { UsageError } from './args.js';
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
  --demo                   run the demo even when a registry exists, or when PORT is set (without
                           --demo, PORT and no registry is an error: the demo's fake surfaces could page)
  --no-poller              serve the API without the background poller (also TESTING=true)
  --shard K --total-shards N   watch only shard K (0 ≤ K < N) of the registry (env SURFACE_SHARD,
                           SURFACE_TOTAL_SHARDS); every shard reads the whole registry
  --pod NAME               take K from a StatefulSet pod name's trailing ordinal (surface-exporter-2 is 2)
  -h, --help               this text

Environment (README lists every variable):
  SURFACE_ENV              only probe this environment of the registry
  FORCE_POLL_TOKEN         bearer token for force-poll, reload and poller-status (the demo makes one up)
  HEROKU_API_URL, CLOUDFLARE_API_URL   provider API base URLs (for a proxy, or fakes)
  LOG_LEVEL                pino level (default info; warn for the demo)
  METRICS_TOKEN, METRICS_BASIC_AUTH    protect /metrics (bearer token, or user:password); open when unset
  TRUST_PROXY              proxies in front that append to X-Forwarded-For (0 to 5; 1 behind Heroku's router)
  OTEL_EXPORTER_OTLP_ENDPOINT          send one trace per probe over OTLP/HTTP (also OTEL_SERVICE_NAME,
                           OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER, OTEL_SDK_DISABLED)

Signals: SIGHUP reloads the registry (one held during start-up reloads once started); SIGTERM and
SIGINT stop after in-flight probes end.

Exit status: 0 stopped by a signal; 1 invalid registry; 3 usage error (a flag or a variable); 4 the
listen address is in use or cannot be bound.
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
  if (values.demo && values.config) throw new UsageError('--demo and --config exclude each other');
  return serveProcess(
    {
      configFile: values.config,
      listenAddress: values['listen-address'],
      noPoller: values['no-poller'],
      watchConfig: values['watch-config'],
      demo: values.demo,
      shard: { shard: values.shard, totalShards: values['total-shards'], pod: values.pod },
    },
    io,
  );
}

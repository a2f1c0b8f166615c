import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { type AppDeps, createApp, type ReloadOutcome } from '../api/app.js';
import {
  formatProblem,
  type LoadedRegistry,
  parseRegistry,
  RegistryError,
  readRegistryText,
} from '../config/load.js';
import { type Clock, systemClock } from '../core/clock.js';
import { Deadline } from '../core/deadline.js';
import type { Env } from '../core/env.js';
import { PushLedger } from '../core/push.js';
import type { ProbeTracer } from '../core/trace.js';
import { VERSION } from '../core/version.js';
import { ExporterMetrics } from '../metrics/metrics.js';
import { Poller, type PollerDeps } from '../poller/poller.js';
import { startEventLoopWatchdog } from '../poller/watchdog.js';
import { CREDENTIAL_READ_DEADLINE_MS, CredentialWatch } from '../providers/cloudflare/access/watch.js';
import { PROVIDER_FAMILIES, providerFor } from '../providers/index.js';
import { ProbeHistory, pollerStatusSource, statusPageCredentialsProblem } from '../statuspage/index.js';
import { HttpClient } from '../transport/client.js';
import { coalesce, DEFAULT_SETTLE, readSettled, type SettleOptions, UnsettledFileError } from './reload.js';
import { boundServer, DEFAULT_SERVER_BOUNDS, type ServerBounds } from './serverBounds.js';
import { readSettings, type Settings, SettingsError } from './settings.js';
import { budgetShare, misdirectedTo, type ShardSettings, SINGLE_SHARD, sliceRegistry } from './sharding.js';

export interface ExporterOptions {
  registry: LoadedRegistry;
  /** The registry file to re-read on reload; undefined when the registry was built in memory. */
  registryFile?: string;
  onlyEnv?: string;
  host: string;
  port: number;
  pollerEnabled: boolean;
  /** Where providers look up the credential variables each surface names. */
  env: Env;
  /** The process variables as read at start; read from env when absent (tests, the demo). */
  settings?: Pick<
    Settings,
    'operatorToken' | 'metricsToken' | 'metricsBasicAuth' | 'trustProxy' | 'statusPage'
  >;
  log: Logger;
  clock?: Clock;
  tracer?: ProbeTracer;
  http?: HttpClient;
  workerHook?: PollerDeps['workerHook'];
  resolveProvider?: PollerDeps['resolveProvider'];
  defaultMetrics?: boolean;
  /** How long a client may take to send its request headers (slowloris guard). */
  headersTimeoutMs?: number;
  /** Connection bounds of the HTTP server (pipelining, write timeout, connections); tests shorten them. */
  serverBounds?: Partial<ServerBounds>;
  /** The slice of the registry this process watches; the whole of it by default. */
  shard?: ShardSettings;
  /** How a reload waits for a file being written to settle (DEFAULT_SETTLE); tests shorten it. */
  reloadSettle?: Partial<SettleOptions>;
}

export interface RunningExporter {
  /** Where to reach it from this host: 127.0.0.1 when it listens on every interface. */
  url: string;
  /** What it really bound, as server.address() says, e.g. `0.0.0.0:9742 (every IPv4 interface)`. */
  listening: string;
  /** Undefined with STATUS_PAGE=off. */
  statusPageUrl: string | undefined;
  port: number;
  poller: Poller;
  metrics: ExporterMetrics;
  credentialWatch: CredentialWatch;
  http: HttpClient;
  server: Server;
  /** Re-reads the registry file; SIGHUP, `/-/reload` and --watch-config all call this one function. */
  reload(): Promise<ReloadOutcome>;
  /** Stops scheduling, lets in-flight probes end (by their deadline), then closes the server. */
  stop(): Promise<void>;
}

const STOPPED_BEFORE_RELOAD = 'the exporter stopped before the reload was applied; nothing was applied';

/** The listen address cannot be bound: in use, not local, or a privileged port. */
export class ListenError extends Error {}

export async function startExporter(options: ExporterOptions): Promise<RunningExporter> {
  const { log, env } = options;
  const settings = options.settings ?? readSettings(env);
  const scrapeAuth = { bearer: settings.metricsToken, basic: settings.metricsBasicAuth };
  const statusPage = settings.statusPage;
  // Before anything is built, subscribed or opened: a refused start leaves nothing behind.
  const credentialsProblem = statusPageCredentialsProblem(statusPage, scrapeAuth);
  if (credentialsProblem) throw new SettingsError(credentialsProblem);
  const shard = options.shard ?? SINGLE_SHARD;
  const metrics = new ExporterMetrics({
    version: VERSION,
    defaultMetrics: options.defaultMetrics,
    providerFamilies: PROVIDER_FAMILIES,
  });
  metrics.setShard(shard);
  // A shard never learns of the surfaces it does not own past this point: no worker, no series, no API call.
  let slice = sliceRegistry(options.registry, shard);
  // As many keep-alive connections per origin as probes may be in flight: many surfaces often share
  // one origin (a Heroku router, a Pages edge), and a smaller pool would queue probes past their deadline.
  const http =
    options.http ??
    new HttpClient({
      userAgent: `surface-exporter/${VERSION}`,
      connectionsPerOrigin: options.registry.poller.concurrency,
    });
  const history = new ProbeHistory();
  const clock = options.clock ?? systemClock;
  const pushes = new PushLedger(clock);
  const poller = new Poller(slice.own, {
    sink: metrics,
    log: log.child({ component: 'StatusPoller' }),
    env,
    http,
    clock: options.clock,
    tracer: options.tracer,
    workerHook: options.workerHook,
    resolveProvider: options.resolveProvider,
    budgetShare: budgetShare(shard),
    onProbeRecorded: (surface, probe) => history.record(surface.env, surface.surface, probe.status),
    pushes,
  });
  metrics.recordReload(true, Date.now() / 1000);
  const credentialWatch = new CredentialWatch(slice.own, {
    env,
    log: log.child({ component: 'CredentialWatch' }),
    sink: metrics.credentials,
    onlineOf: (config) => providerFor(config).online,
    send: (req) => http.send({ ...req, deadline: new Deadline(CREDENTIAL_READ_DEADLINE_MS) }),
    now: () => clock.now(),
    // One Cloudflare budget for the watch and the Pages probes: the probes' plans.
    plans: poller.plans,
    budgetShare: budgetShare(shard),
  });
  let statusPageConfig = options.registry.statusPage;

  const settle = { ...DEFAULT_SETTLE, ...options.reloadSettle };
  // stop() aborts a reload in flight: it applies nothing to a poller that is stopping.
  const stopped = new AbortController();
  const reloadOnce = async (): Promise<ReloadOutcome> => {
    if (!options.registryFile) return { ok: false, errors: ['no registry file to reload'] };
    try {
      const file = options.registryFile;
      const text = await readSettled(() => readRegistryText(file), settle, stopped.signal).catch(
        (err: unknown) => {
          if (err instanceof UnsettledFileError)
            throw new RegistryError(file, [{ file, path: '', message: err.message }]);
          throw err;
        },
      );
      const next = sliceRegistry(parseRegistry(text, file, options.onlyEnv), shard);
      stopped.signal.throwIfAborted();
      const counts = poller.applyRegistry(next.own);
      slice = next;
      credentialWatch.applyRegistry(next.own);
      statusPageConfig = next.own.statusPage;
      metrics.recordReload(true, Date.now() / 1000);
      log.info({ event: 'config_reloaded', file: options.registryFile, ...counts }, 'registry reloaded');
      return { ok: true, errors: [], ...counts };
    } catch (err) {
      if (stopped.signal.aborted) return { ok: false, errors: [STOPPED_BEFORE_RELOAD] };
      metrics.recordReload(false, Date.now() / 1000);
      const errors =
        err instanceof RegistryError ? err.problems.map(formatProblem) : [(err as Error).message];
      log.error(
        { event: 'config_reload_failed', file: options.registryFile, errors },
        'registry reload failed; the running registry stays',
      );
      return { ok: false, errors };
    }
  };
  const reload = coalesce(reloadOnce);

  const deps: AppDeps = {
    poller,
    metrics,
    log,
    pollerEnabled: options.pollerEnabled,
    operatorToken: settings.operatorToken,
    pushes,
    env,
    reload: options.registryFile ? reload : undefined,
    credentialsOf: (env, surface) => credentialWatch.surfaceCredentials(env, surface),
    version: VERSION,
    scrapeAuth,
    trustProxy: settings.trustProxy,
    owningShard: (filter) => misdirectedTo(slice, filter),
    statusPage: {
      mode: statusPage,
      history,
      source: pollerStatusSource(poller, {
        pollerEnabled: options.pollerEnabled,
        now: () => clock.now(),
        credentialsOf: (env, surface) =>
          credentialWatch.enabled() ? credentialWatch.surfaceCredentials(env, surface) : undefined,
      }),
      view: () => ({
        showTargets: statusPageConfig?.show_targets ?? false,
        runbookUrl: statusPageConfig?.runbook_url,
      }),
    },
  };
  const app = createApp(deps);
  const headersTimeout = options.headersTimeoutMs ?? 10_000;
  // Slow or half-open clients must not hold sockets: these close slowloris-style connections. Node
  // enforces them on a sweep, so the sweep runs at least as often as the shortest timeout.
  const server = createServer({
    headersTimeout,
    requestTimeout: Math.max(30_000, headersTimeout),
    keepAliveTimeout: 5_000,
    connectionsCheckingInterval: Math.min(1_000, headersTimeout),
  });
  server.on('request', boundServer(server, app, { ...DEFAULT_SERVER_BOUNDS, ...options.serverBounds }));
  // Exemplars wait for their spans to reach the collector: a dropped batch leaves none behind. Once
  // subscribed, every way out unsubscribes (the listen failure below, stop()); no probe runs before.
  const stopSettling = options.tracer?.onProbeSpansSettled?.((probes, exported) =>
    metrics.settleExemplars(probes, exported),
  );
  if (stopSettling) metrics.holdExemplarsUntilExported();
  try {
    await new Promise<void>((resolve, reject) => {
      const refused = (err: NodeJS.ErrnoException) => reject(listenError(err, options.host, options.port));
      server.once('error', refused);
      server.listen(options.port, options.host, () => {
        server.off('error', refused);
        resolve();
      });
    });
  } catch (err) {
    stopSettling?.();
    if (!options.http) await http.close();
    throw err;
  }
  const bound = server.address() as AddressInfo;
  const port = bound.port;
  const shownHost = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  const url = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`;
  const listening = boundInterfaces(bound);

  const statusPageUrl = statusPage === 'off' ? undefined : `${url}/status`;
  const stopWatchdog = startEventLoopWatchdog(metrics, log.child({ component: 'StatusPoller' }));
  if (options.pollerEnabled) poller.start();
  if (options.pollerEnabled) credentialWatch.start();
  log.info(
    {
      event: 'started',
      status_page: statusPageUrl,
      url,
      listening,
      surfaces: slice.own.surfaces.length,
      ...(shard.total > 1 ? { shard: shard.ordinal, total_shards: shard.total } : {}),
      poller: options.pollerEnabled ? 'running' : 'disabled',
      version: VERSION,
    },
    statusPageUrl ? `status page ${statusPageUrl}` : `listening on ${listening}`,
  );

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      stopped.abort();
      stopWatchdog();
      stopSettling?.();
      credentialWatch.stop();
      // Refuse new requests first, so that no force-poll starts probes while the poller stops.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive sockets turn idle as their last answers go out; close each as soon as it does.
      const sweep = setInterval(() => server.closeIdleConnections(), 50);
      server.closeIdleConnections();
      await poller.stop();
      await closed;
      clearInterval(sweep);
      if (!options.http) await http.close();
    })();
    return stopping;
  };

  return {
    url,
    listening,
    statusPageUrl,
    port,
    poller,
    metrics,
    credentialWatch,
    http,
    server,
    reload,
    stop,
  };
}

/**
 * The bound address in words: `url` names 127.0.0.1 for an unspecified host, which is where a
 * person on the host reaches it, but the socket then accepts on every interface, and says so here.
 */
export function boundInterfaces(bound: AddressInfo): string {
  const address =
    bound.family === 'IPv6' ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`;
  if (bound.address === '0.0.0.0') return `${address} (every IPv4 interface)`;
  if (bound.address === '::') return `${address} (every interface, IPv6 and IPv4)`;
  return address;
}

function listenError(err: NodeJS.ErrnoException, host: string, port: number): Error {
  const address = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (err.code === 'EADDRINUSE') return new ListenError(`${address} is in use; pass --listen-address`);
  if (err.code === 'EACCES') {
    return new ListenError(`${address}: permission denied (a port below 1024?); pass --listen-address`);
  }
  if (err.code === 'EADDRNOTAVAIL') {
    return new ListenError(`${address}: no local interface has this address; pass --listen-address`);
  }
  return err;
}

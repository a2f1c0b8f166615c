import { existsSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { loadRegistryFile } from '../config/load.js';
import type { Env } from '../core/env.js';
import { createLogger } from '../core/log.js';
import { VERSION } from '../core/version.js';
import { startDemo } from '../demo/demo.js';
import { startTracing } from '../tracing/index.js';
import { HttpClient } from '../transport/client.js';
import { type RunningExporter, startExporter } from './exporter.js';
import {
  DEFAULT_CONFIG_FILE,
  listenAddressOf,
  readSettings,
  type Settings,
  SettingsError,
} from './settings.js';
import { parseShardSettings, type ShardFlags, type ShardSettings, ShardSettingsError } from './sharding.js';
import { watchConfigFile } from './watch.js';

/** What `serve` was asked on its command line; the CLI parses it, this module acts on it. */
export interface ServeRequest {
  configFile?: string;
  listenAddress?: string;
  noPoller: boolean;
  watchConfig: boolean;
  demo: boolean;
  shard: ShardFlags;
}

export interface ProcessIo {
  env: Env;
  stdout: Pick<Writable, 'write'>;
  stderr: Pick<Writable, 'write'>;
  /**
   * Ends the hold main.ts puts on SIGHUP while the modules load, and says how many arrived. Absent
   * when the exporter runs inside another program (tests).
   */
  takeHeldHangups?: () => number;
}

/** The signals the exporter answers; `process` in production, an emitter in tests. */
export interface SignalSource {
  on(signal: NodeJS.Signals, listener: () => void): unknown;
  off(signal: NodeJS.Signals, listener: () => void): unknown;
}

/** `--config`, then SURFACE_EXPORTER_CONFIG, then ./surfaces.yaml when it exists. */
export function configFileOf(
  settings: Pick<Settings, 'configFile'>,
  flagValue: string | undefined,
): string | undefined {
  if (flagValue) return flagValue;
  if (settings.configFile) return settings.configFile;
  return existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined;
}

/**
 * Runs the exporter (or the demo) until SIGTERM or SIGINT: reads the settings, builds and wires
 * everything, and answers SIGHUP from the first instruction on, so a hangup during start-up
 * reloads once the exporter is up instead of killing the process.
 */
export async function serveProcess(
  request: ServeRequest,
  io: ProcessIo,
  signals: SignalSource = process,
): Promise<number> {
  const lifecycle = holdSignals(signals, io.takeHeldHangups?.() ?? 0);
  try {
    const settings = readSettings(io.env);
    const pollerEnabled = !request.noPoller && !settings.testing;
    const shard = shardOf(request.shard, settings);
    const configFile = request.demo ? undefined : configFileOf(settings, request.configFile);
    if (!configFile) {
      if (request.watchConfig)
        throw new SettingsError('--watch-config needs a registry file (--config FILE)');
      if (!request.demo && settings.platformPort !== undefined) {
        throw new SettingsError(
          `no registry (--config FILE, SURFACE_EXPORTER_CONFIG or ./${DEFAULT_CONFIG_FILE}) and PORT is set, as on Heroku: the demo's fake surfaces are not served on a platform port unless --demo is given`,
        );
      }
      const log = createLogger({ level: settings.logLevel ?? 'warn' });
      lifecycle.starting(log);
      lifecycle.stoppable();
      const demo = await startDemo({
        env: io.env,
        log,
        listen: listenAddressOf(settings, request.listenAddress, '127.0.0.1'),
        pollerEnabled,
        operatorToken: settings.operatorToken,
      });
      io.stdout.write(demo.banner);
      await lifecycle.run(demo.exporter, demo.stop);
      log.flush();
      return 0;
    }

    const listen = listenAddressOf(settings, request.listenAddress);
    const log = createLogger({ level: settings.logLevel ?? 'info' });
    lifecycle.starting(log);
    const registry = await loadRegistryFile(configFile, settings.onlyEnv);
    lifecycle.stoppable();
    const tracing = startTracing({ config: settings.tracing, log, version: VERSION });
    // As many keep-alive connections per origin as probes may be in flight: many surfaces often share
    // one origin (a Heroku router, a Pages edge), and a smaller pool would queue probes past their deadline.
    const http = new HttpClient({
      userAgent: `surface-exporter/${VERSION}`,
      connectionsPerOrigin: registry.poller.concurrency,
      interceptor: tracing.interceptor,
    });
    let exporter: RunningExporter;
    try {
      exporter = await startExporter({
        registry,
        registryFile: configFile,
        onlyEnv: settings.onlyEnv,
        host: listen.host,
        port: listen.port,
        pollerEnabled,
        env: io.env,
        settings,
        log,
        tracer: tracing.tracer,
        http,
        shard,
      });
    } catch (err) {
      await http.close();
      await tracing.shutdown();
      throw err;
    }
    const watcher = request.watchConfig ? watchConfigFile(configFile, exporter.reload, { log }) : undefined;
    await lifecycle.run(exporter, async () => {
      watcher?.close();
      await exporter.stop();
      await http.close();
      await tracing.shutdown();
    });
    log.flush();
    return 0;
  } finally {
    lifecycle.release();
  }
}

/** Flags win over SURFACE_SHARD and SURFACE_TOTAL_SHARDS, which readSettings read. */
function shardOf(flags: ShardFlags, settings: Settings): ShardSettings {
  try {
    return parseShardSettings(flags, {
      SURFACE_SHARD: settings.shardOrdinal,
      SURFACE_TOTAL_SHARDS: settings.totalShards,
    });
  } catch (err) {
    if (err instanceof ShardSettingsError) throw new SettingsError(err.message);
    throw err;
  }
}

interface Lifecycle {
  /** From here on, signals are logged. */
  starting(log: Logger): void;
  /**
   * From here on SIGTERM and SIGINT stop gracefully, also when they arrive before run(). Until then
   * they keep their default (exit): reading the registry may hang on a file, with nothing in flight
   * to wait for. Past here start-up is binding a port, which cannot hang, and the exporter announces
   * itself as soon as it listens, so a supervisor may signal it before run() is reached.
   */
  stoppable(): void;
  /** Reloads on SIGHUP (and once for hangups held so far); resolves after stop() on SIGTERM or SIGINT. */
  run(exporter: RunningExporter, stop: () => Promise<void>): Promise<void>;
  release(): void;
}

function holdSignals(signals: SignalSource, heldHangups: number): Lifecycle {
  let log: Logger | undefined;
  let exporter: RunningExporter | undefined;
  let hangupsWhileStarting = heldHangups;
  let stopSignal: NodeJS.Signals | undefined;
  let requestStop: ((signal: NodeJS.Signals) => void) | undefined;
  const listeners: Array<[NodeJS.Signals, () => void]> = [];
  const listen = (signal: NodeJS.Signals, listener: () => void) => {
    signals.on(signal, listener);
    listeners.push([signal, listener]);
  };

  listen('SIGHUP', () => {
    if (!exporter) {
      hangupsWhileStarting++;
      log?.info({ event: 'sighup' }, 'SIGHUP while starting: the registry is reloaded once started');
      return;
    }
    log?.info({ event: 'sighup' }, 'SIGHUP: reloading the registry');
    void exporter.reload();
  });

  return {
    starting(logger) {
      log = logger;
      log.info({ event: 'starting', version: VERSION }, 'surface-exporter starting');
    },
    stoppable() {
      const onStop = (signal: NodeJS.Signals) => () => {
        stopSignal ??= signal;
        requestStop?.(stopSignal);
      };
      listen('SIGTERM', onStop('SIGTERM'));
      listen('SIGINT', onStop('SIGINT'));
    },
    async run(running, stop) {
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        exporter = running;
        if (stopSignal) {
          resolve(stopSignal);
          return;
        }
        requestStop = resolve;
        if (hangupsWhileStarting > 0) {
          hangupsWhileStarting = 0;
          log?.info({ event: 'sighup' }, 'reloading the registry for the SIGHUP received while starting');
          void running.reload();
        }
      });
      log?.info({ event: 'shutdown', signal }, 'stopping: no new probes, waiting for in-flight ones');
      await stop();
    },
    release() {
      for (const [signal, listener] of listeners.splice(0)) signals.off(signal, listener);
    },
  };
}

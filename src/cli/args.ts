import { configFileOf } from '../app/serve.js';
import {
  DEFAULT_CONFIG_FILE,
  DEFAULT_PORT,
  type ListenAddress,
  listenAddressOf,
  readSettings,
} from '../app/settings.js';
import type { Env } from '../core/env.js';

export { DEFAULT_CONFIG_FILE, DEFAULT_PORT };

/** Exit status of every subcommand for a bad flag, a missing argument or a registry it cannot use. */
export const EXIT_USAGE = 3;
/** Exit status of `serve` when its listen address cannot be bound (most often: in use). */
export const EXIT_LISTEN = 4;

export class UsageError extends Error {}

/** `--config`, then SURFACE_EXPORTER_CONFIG, then ./surfaces.yaml, for subcommands that cannot run without a registry. */
export function requireConfigFile(flag: string | undefined, env: Env): string {
  const file = configFileOf(readSettings(env), flag);
  if (!file) {
    throw new UsageError(
      `no registry: pass --config FILE (or set SURFACE_EXPORTER_CONFIG, or create ./${DEFAULT_CONFIG_FILE}); examples/surfaces.yaml is a template`,
    );
  }
  return file;
}

/** `--listen-address`, then LISTEN_ADDRESS, then the platform's PORT on all interfaces, then the default port. */
export function resolveListenAddress(flag: string | undefined, env: Env): ListenAddress {
  return listenAddressOf(readSettings(env), flag);
}

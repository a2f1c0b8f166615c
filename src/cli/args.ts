import { existsSync } from 'node:fs';
import type { Env } from '../core/env.js';

export const DEFAULT_PORT = 9742;
export const DEFAULT_CONFIG_FILE = 'surfaces.yaml';

/** Exit status of every subcommand for a bad flag, a missing argument or a registry it cannot use. */
export const EXIT_USAGE = 3;

export class UsageError extends Error {}

/** `--config`, then SURFACE_EXPORTER_CONFIG, then ./surfaces.yaml when it exists. */
export function resolveConfigFile(flag: string | undefined, env: Env): string | undefined {
  if (flag) return flag;
  if (env.SURFACE_EXPORTER_CONFIG) return env.SURFACE_EXPORTER_CONFIG;
  return existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined;
}

/** Like resolveConfigFile, for subcommands that cannot run without a registry. */
export function requireConfigFile(flag: string | undefined, env: Env): string {
  const file = resolveConfigFile(flag, env);
  if (!file) {
    throw new UsageError(
      `no registry: pass --config FILE (or set SURFACE_EXPORTER_CONFIG, or create ./${DEFAULT_CONFIG_FILE}); examples/surfaces.yaml is a template`,
    );
  }
  return file;
}

/** `--listen-address`, then LISTEN_ADDRESS, then Heroku's PORT on all interfaces, then the default port. */
export function resolveListenAddress(flag: string | undefined, env: Env): { host: string; port: number } {
  const raw = flag ?? env.LISTEN_ADDRESS ?? (env.PORT ? `0.0.0.0:${env.PORT}` : `0.0.0.0:${DEFAULT_PORT}`);
  return parseListenAddress(raw);
}

export function parseListenAddress(raw: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(raw);
  const port = Number(match?.[3]);
  if (!match || !Number.isInteger(port) || port > 65535) {
    throw new UsageError(
      `--listen-address: expected HOST:PORT (e.g. 127.0.0.1:${DEFAULT_PORT}), got ${JSON.stringify(raw)}`,
    );
  }
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}

export function isTruthy(value: string | undefined): boolean {
  return value !== undefined && /^(1|true|yes|on)$/i.test(value.trim());
}

import { existsSync } from 'node:fs';

export const DEFAULT_PORT = 9742;
export const DEFAULT_CONFIG_FILE = 'surfaces.yaml';

export class UsageError extends Error {}

/** `--config`, then SURFACE_EXPORTER_CONFIG, then ./surfaces.yaml when it exists. */
export function resolveConfigFile(flag: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (flag) return flag;
  if (env.SURFACE_EXPORTER_CONFIG) return env.SURFACE_EXPORTER_CONFIG;
  return existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined;
}

/** `--listen-address`, then LISTEN_ADDRESS, then Heroku's PORT on all interfaces, then the default port. */
export function resolveListenAddress(
  flag: string | undefined,
  env: NodeJS.ProcessEnv,
): { host: string; port: number } {
  const raw = flag ?? env.LISTEN_ADDRESS ?? (env.PORT ? `0.0.0.0:${env.PORT}` : `0.0.0.0:${DEFAULT_PORT}`);
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

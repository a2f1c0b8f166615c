import { createHash } from 'node:crypto';
import type { LoadedRegistry } from '../config/load.js';
import type { Env } from '../core/env.js';

/**
 * Which slice of the registry this process watches. Sharding follows kube-state-metrics: every
 * shard reads the whole registry and keeps the surfaces it owns, so shards need no coordination,
 * and Prometheus and Alertmanager combine what the shards export.
 */
export interface ShardSettings {
  /** This process's shard, 0 ≤ ordinal < total. */
  readonly ordinal: number;
  /** How many shards share the registry. */
  readonly total: number;
}

/** One shard owning everything: the default, and what a process without sharding flags runs as. */
export const SINGLE_SHARD: ShardSettings = { ordinal: 0, total: 1 };

/** The process variables sharding reads, for the settings list and `serve --help`. */
export const SHARD_VARIABLES = [
  { name: 'SURFACE_SHARD', meaning: 'this process’s shard ordinal, 0 ≤ K < N (as --shard)' },
  { name: 'SURFACE_TOTAL_SHARDS', meaning: 'how many shards share the registry (as --total-shards)' },
] as const;

/** The sharding flags as `serve` received them, still text. */
export interface ShardFlags {
  shard?: string;
  totalShards?: string;
  /** A StatefulSet pod name; its trailing ordinal is the shard (`surface-exporter-2` is shard 2). */
  pod?: string;
}

/** A sharding value that cannot work; the message names the flag or variable and the value. */
export class ShardSettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShardSettingsError';
  }
}

const NON_NEGATIVE_INTEGER = /^(0|[1-9][0-9]*)$/;
const POD_ORDINAL = /-(0|[1-9][0-9]*)$/;

/**
 * Flags win over variables, so that one manifest can set SURFACE_TOTAL_SHARDS for every pod while
 * each pod passes its own `--pod`. A missing total with a shard given is an error, never a guess:
 * two processes guessing differently would each watch a different, overlapping slice.
 */
export function parseShardSettings(flags: ShardFlags, env: Env): ShardSettings {
  const totalText = pick(
    flags.totalShards,
    '--total-shards',
    env.SURFACE_TOTAL_SHARDS,
    'SURFACE_TOTAL_SHARDS',
  );
  const shardText = pick(flags.shard, '--shard', env.SURFACE_SHARD, 'SURFACE_SHARD');
  if (flags.pod !== undefined && flags.shard !== undefined) {
    throw new ShardSettingsError(
      '--pod and --shard exclude each other: the pod name already gives the shard',
    );
  }
  const total = totalText === undefined ? undefined : integer(totalText);
  if (total !== undefined && total < 1) {
    throw new ShardSettingsError(
      `${totalText?.source}: the total must be at least 1 (got ${totalText?.value})`,
    );
  }
  let ordinal: number | undefined;
  let ordinalSource: string | undefined;
  if (flags.pod !== undefined) {
    const match = POD_ORDINAL.exec(flags.pod.trim());
    if (!match) {
      throw new ShardSettingsError(
        `--pod: ${JSON.stringify(flags.pod)} has no trailing ordinal (expected a StatefulSet pod name such as surface-exporter-2)`,
      );
    }
    ordinal = Number(match[1]);
    ordinalSource = `--pod ${flags.pod}`;
  } else if (shardText !== undefined) {
    ordinal = integer(shardText);
    ordinalSource = `${shardText.source} ${shardText.value}`;
  }
  if (ordinal === undefined) {
    if (total === undefined || total === 1) return SINGLE_SHARD;
    throw new ShardSettingsError(
      `${totalText?.source} is ${total} but no shard is given: pass --shard K (or SURFACE_SHARD, or --pod NAME)`,
    );
  }
  if (total === undefined) {
    throw new ShardSettingsError(`${ordinalSource} needs --total-shards N (or SURFACE_TOTAL_SHARDS)`);
  }
  if (ordinal >= total) {
    throw new ShardSettingsError(
      `${ordinalSource} is not below the total of ${total} shards: shards are numbered 0 to ${total - 1}`,
    );
  }
  return { ordinal, total };
}

interface SourcedText {
  source: string;
  value: string;
}

function pick(
  flag: string | undefined,
  flagName: string,
  variable: string | undefined,
  variableName: string,
): SourcedText | undefined {
  if (flag !== undefined) return { source: flagName, value: flag.trim() };
  const fromEnv = variable?.trim();
  return fromEnv ? { source: variableName, value: fromEnv } : undefined;
}

function integer(text: SourcedText): number {
  const value = NON_NEGATIVE_INTEGER.test(text.value) ? Number(text.value) : Number.NaN;
  if (!Number.isSafeInteger(value)) {
    throw new ShardSettingsError(
      `${text.source}: expected a whole number ≥ 0 (got ${JSON.stringify(text.value)})`,
    );
  }
  return value;
}

/**
 * The shard that owns a surface, by rendezvous (highest random weight) hashing of `env/surface`:
 * each shard scores the surface and the highest score wins. Going from N to N+1 shards moves only
 * the surfaces the new shard now wins, about 1/(N+1) of them, and none between old shards, so a
 * reshard restarts as few surfaces' history as possible.
 */
export function owningShard(env: string, surface: string, total: number): number {
  let owner = 0;
  let best = -1n;
  for (let shard = 0; shard < total; shard++) {
    const weight = rendezvousWeight(`${env}/${surface}`, shard);
    if (weight > best) {
      best = weight;
      owner = shard;
    }
  }
  return owner;
}

/**
 * A cryptographic hash only for its spread: the weights of one key under different shards must be
 * independent, which simple multiplicative hashes of a short key are not.
 */
function rendezvousWeight(key: string, shard: number): bigint {
  return createHash('sha256').update(`${shard}\u0000${key}`).digest().readBigUInt64BE(0);
}

/**
 * The share of every provider budget one shard plans against: Heroku's 4,500 calls an hour is per
 * account, and all shards spend the same account, so each plans for budget / N.
 */
export function budgetShare(shard: ShardSettings): number {
  return 1 / shard.total;
}

/** The surfaces of a registry this shard watches, and where the others live. */
export interface ShardSlice {
  /** The registry as this shard runs it: only the surfaces it owns. */
  own: LoadedRegistry;
  /** `env/surface` of every surface another shard owns, with that shard's ordinal. */
  othersOwner: ReadonlyMap<string, { env: string; surface: string; ordinal: number }>;
}

export function sliceRegistry(registry: LoadedRegistry, shard: ShardSettings): ShardSlice {
  if (shard.total === 1) return { own: registry, othersOwner: new Map() };
  const own: LoadedRegistry['surfaces'] = [];
  const othersOwner = new Map<string, { env: string; surface: string; ordinal: number }>();
  for (const surface of registry.surfaces) {
    const ordinal = owningShard(surface.env, surface.config.name, shard.total);
    if (ordinal === shard.ordinal) own.push(surface);
    else othersOwner.set(surface.key, { env: surface.env, surface: surface.config.name, ordinal });
  }
  return { own: { ...registry, surfaces: own }, othersOwner };
}

/**
 * The shard owning the surface a force-poll names, when another shard owns it; undefined when the
 * request names no single surface, or a surface no shard has.
 */
export function misdirectedTo(
  slice: ShardSlice,
  filter: { env?: string; surface?: string },
): number | undefined {
  if (filter.surface === undefined) return undefined;
  if (filter.env !== undefined) return slice.othersOwner.get(`${filter.env}/${filter.surface}`)?.ordinal;
  for (const other of slice.othersOwner.values()) if (other.surface === filter.surface) return other.ordinal;
  return undefined;
}

import { ageSeconds } from './age.js';
import { codeHelp } from './codeDocs.js';
import { HISTORY_CODES, historyKey, type ProbeHistory } from './history.js';
import type { ProbeStatus, StatusSource, SurfaceReading } from './source.js';
import { STATE_LOOKS, TILE_STATES, type TileState, worstState } from './states.js';

/** Where tiles link for a code when `status_page.runbook_url` is unset: the exporter's own code list. */
export const LOCAL_RUNBOOK_PATH = '/status/codes';

export interface StatusViewOptions {
  version: string;
  /** `status_page.show_targets`: targets and probe details (which may name hosts) are shown. */
  showTargets: boolean;
  /** `status_page.runbook_url`: the runbook document; a code's section is `<url>#<anchor>`. */
  runbookUrl?: string;
  /** Only this environment (`?env=`). */
  env?: string;
}

export interface SurfaceTile {
  env: string;
  surface: string;
  provider: string;
  state: TileState;
  /** The state as the tile writes it: UP, DEGRADED, DOWN, MAINTENANCE, UNKNOWN or STALE. */
  label: string;
  /** The last probe's own verdict, which STALE and MAINTENANCE hide from `state`. */
  status: ProbeStatus | 'unknown';
  code: string | null;
  /** The code's one-line fix. */
  fix: string | null;
  runbook_url: string | null;
  latency_ms: number | null;
  checked_at: string | null;
  age_seconds: number | null;
  consecutive_failures: number;
  maintenance: boolean;
  credential_expires_at?: string | null;
  /** The last results, oldest first, one character each (see `history_codes`). */
  history: string;
  target?: string;
  detail?: string | null;
}

export type StateCounts = Record<TileState, number>;

export interface EnvironmentView {
  name: string;
  state: TileState;
  total: number;
  counts: StateCounts;
  surfaces: SurfaceTile[];
}

export interface StatusModel {
  generated_at: string;
  version: string;
  build: { nodejs_version: string };
  /** How often the page asks for fresh data. */
  refresh_seconds: number;
  stale_after_seconds: number;
  /** What each character of a tile's `history` stands for. */
  history_codes: Readonly<Record<string, ProbeStatus>>;
  poller: { state: 'ok' | 'stale' | 'disabled'; last_poll_at: string | null; age_seconds: number | null };
  total: number;
  counts: StateCounts;
  environments: EnvironmentView[];
}

export class UnknownEnvironmentError extends Error {
  constructor(
    readonly env: string,
    readonly known: string[],
  ) {
    super(`unknown environment ${JSON.stringify(env)} (known: ${known.join(', ') || 'none'})`);
  }
}

/** STALE beats the probe's verdict: an old UP must not read as a current one. */
export function tileState(reading: SurfaceReading, nowMs: number, staleAfterSeconds: number): TileState {
  if (reading.maintenance === true) return 'maintenance';
  if (reading.checked_at === null || reading.status === 'unknown') return 'unknown';
  if (nowMs - Date.parse(reading.checked_at) > staleAfterSeconds * 1000) return 'stale';
  return reading.status;
}

export function emptyCounts(): StateCounts {
  return Object.fromEntries(TILE_STATES.map((state) => [state, 0])) as StateCounts;
}

/** What keeps per-surface state (the page's TileChanges) and prunes it on the registry. */
export interface RegistryWatcher {
  noticeRegistry(readings: readonly SurfaceReading[]): void;
}

/**
 * The page, the JSON API and the badges all read this one model. `changes`, when given, is shown
 * every registered surface, whatever `env` filters: a `?env=` model alone never tells it that a
 * reload removed another environment's tiles.
 */
export function buildStatusModel(
  source: StatusSource,
  history: ProbeHistory,
  options: StatusViewOptions,
  changes?: RegistryWatcher,
): StatusModel {
  const nowMs = source.now();
  const staleAfter = source.staleAfterSeconds();
  const readings = source.surfaces();
  if (history.size > readings.length)
    history.retain(new Set(readings.map((reading) => historyKey(reading.env, reading.surface))));
  changes?.noticeRegistry(readings);

  const byEnv = new Map<string, EnvironmentView>();
  for (const reading of readings) {
    let view = byEnv.get(reading.env);
    if (!view) {
      view = { name: reading.env, state: 'up', total: 0, counts: emptyCounts(), surfaces: [] };
      byEnv.set(reading.env, view);
    }
    if (options.env !== undefined && reading.env !== options.env) continue;
    const tile = surfaceTile(reading, nowMs, staleAfter, history, options);
    view.surfaces.push(tile);
    view.counts[tile.state]++;
    view.total++;
  }
  if (options.env !== undefined && !byEnv.has(options.env))
    throw new UnknownEnvironmentError(options.env, [...byEnv.keys()]);

  const environments = [...byEnv.values()].filter(
    (view) => options.env === undefined || view.name === options.env,
  );
  const counts = emptyCounts();
  let total = 0;
  for (const view of environments) {
    view.state = worstState(view.surfaces.map((tile) => tile.state));
    for (const state of TILE_STATES) counts[state] += view.counts[state];
    total += view.total;
  }
  const heartbeat = source.heartbeat();
  return {
    generated_at: new Date(nowMs).toISOString(),
    version: options.version,
    build: { nodejs_version: process.version },
    refresh_seconds: Math.min(30, Math.max(2, source.intervalSeconds())),
    stale_after_seconds: staleAfter,
    history_codes: HISTORY_CODES,
    poller: {
      state: !heartbeat.enabled ? 'disabled' : heartbeat.stale ? 'stale' : 'ok',
      last_poll_at: heartbeat.lastPollAt,
      age_seconds: heartbeat.ageSeconds === null ? null : Math.round(heartbeat.ageSeconds),
    },
    total,
    counts,
    environments,
  };
}

function surfaceTile(
  reading: SurfaceReading,
  nowMs: number,
  staleAfter: number,
  history: ProbeHistory,
  options: StatusViewOptions,
): SurfaceTile {
  const state = tileState(reading, nowMs, staleAfter);
  const help = reading.error ? codeHelp(reading.error) : undefined;
  const tile: SurfaceTile = {
    env: reading.env,
    surface: reading.surface,
    provider: reading.provider,
    state,
    label: STATE_LOOKS[state].label,
    status: reading.status,
    code: reading.error,
    fix: help?.action ?? null,
    runbook_url: help ? `${options.runbookUrl ?? LOCAL_RUNBOOK_PATH}#${help.anchor}` : null,
    latency_ms: reading.duration_ms,
    checked_at: reading.checked_at,
    age_seconds: reading.checked_at === null ? null : ageSeconds(Date.parse(reading.checked_at), nowMs),
    consecutive_failures: reading.consecutive_failures,
    maintenance: reading.maintenance === true,
    history: history.codes(reading.env, reading.surface),
  };
  if (reading.credential_expires_at !== undefined) tile.credential_expires_at = reading.credential_expires_at;
  if (options.showTargets) {
    tile.target = reading.target;
    tile.detail = reading.detail;
  }
  return tile;
}

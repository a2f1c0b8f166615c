/**
 * What a tile says. The probe gives up/degraded/down; the page adds what a reader must not mistake
 * for a fresh result: MAINTENANCE (planned), UNKNOWN (never probed) and STALE (last check too old).
 */
export type TileState = 'up' | 'degraded' | 'down' | 'maintenance' | 'unknown' | 'stale';

/** Worst first: an environment shows its worst tile, and its counts read in this order. */
export const TILE_STATES: readonly TileState[] = [
  'down',
  'degraded',
  'stale',
  'unknown',
  'maintenance',
  'up',
];

export interface StateLook {
  label: string;
  /** Background of the state label and badge; white text on it meets WCAG AA (4.5:1). */
  colour: string;
  /** The legend's words for it. */
  meaning: string;
}

export const STATE_LOOKS: Readonly<Record<TileState, StateLook>> = {
  up: { label: 'UP', colour: '#1a7f37', meaning: 'the last check passed' },
  degraded: { label: 'DEGRADED', colour: '#9a6700', meaning: 'the last check found a problem' },
  down: { label: 'DOWN', colour: '#cf222e', meaning: 'the last check found the surface down' },
  maintenance: { label: 'MAINTENANCE', colour: '#0969da', meaning: 'in a maintenance window' },
  unknown: { label: 'UNKNOWN', colour: '#57606a', meaning: 'not checked yet' },
  stale: { label: 'STALE', colour: '#8250df', meaning: 'the last check is older than stale_after_seconds' },
};

export function worstState(states: Iterable<TileState>): TileState {
  let worst = TILE_STATES.length - 1;
  for (const state of states) worst = Math.min(worst, TILE_STATES.indexOf(state));
  return TILE_STATES[worst] as TileState;
}

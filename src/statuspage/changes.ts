import { randomBytes } from 'node:crypto';
import { historyKey } from './history.js';
import type { EnvironmentView, StatusModel, SurfaceTile } from './model.js';
import type { SurfaceReading } from './source.js';

/**
 * A tile's markup minus what the clock changes ("12 s ago", a credential's "in 3 d"): the page
 * keeps it until the tile's signature changes, so a render re-builds only the tiles whose result did.
 */
export interface TileFragments {
  /** Up to the `Checked` value, UTF-8 encoded. */
  readonly head: Buffer;
  /** From the `Checked` value to where a credential expiry goes. */
  readonly middle: Buffer;
  /** The end of the list, the history strip and the end of the tile. */
  readonly tail: Buffer;
  /** `middle` and `tail` in one piece, for the tiles without a credential expiry (most). */
  readonly rest: Buffer;
  /**
   * The tile's `checked_at` as milliseconds, null before its first check: `head` ends in an open
   * `<time>` exactly when this is set, and the age that closes it is counted from it.
   */
  readonly checkedAtMs: number | null;
}

interface TrackedTile {
  /** The tile as last observed; the next is compared field by field (a string per tile costs more). */
  shown: SurfaceTile;
  /** The change number at which the tile's result (anything it shows but the check's time) last changed. */
  resultSeq: number;
  /** The change number at which it was last checked, or its result changed. */
  checkSeq: number;
  /** The last look that saw the surface: one not seen by a look covering its environment is gone. */
  look: number;
  fragments?: TileFragments;
}

/** A cursor this process did not issue, or one from before a change to the set of surfaces. */
export const FULL = 'full' as const;

const CURSOR = /^([0-9a-f]{12})-(\d{1,15})$/;

/**
 * Which tiles changed since a cursor, for `GET /api/status?since=`, and the rendered fragments of
 * each tile, for the page. Two kinds of change: the result (anything the tile shows but when it was
 * checked and how long that took), and a check that found the same result, which a steady fleet
 * has on every tile every round and which the answer carries as a few fields only. The time since
 * the check is no change at all: the page and the script derive it from `checked_at` and the
 * answer's `generated_at`. A change is noticed by whichever request builds a model first, so a
 * STALE that appears without a new result counts too.
 */
export class TileChanges {
  /** Distinguishes this process's cursors from a previous one's (a restart starts again at 0). */
  private readonly epoch = randomBytes(6).toString('hex');
  private seq = 0;
  /** The change number of the last surface added or removed: an older cursor gets a full answer. */
  private membershipSeq = 0;
  private looks = 0;
  private readonly tiles = new Map<string, TrackedTile>();
  /** The last observed model's tiles, by object: the render that follows finds each without a key. */
  private lastLook = new Map<SurfaceTile, TrackedTile>();
  /** The registry as last noticed, in order: the same strings again mean no surface came or went. */
  private registeredEnvs: readonly string[] = [];
  private registeredSurfaces: readonly string[] = [];

  /**
   * Drops the tiles of surfaces no longer registered. A look prunes only its own environment, so
   * without this a reload removing an environment that only `?env=` pages of another are open on
   * would leave its tiles and their kept fragments here for good. Comparing the strings in order
   * costs little; the set of keys is built only when they differ.
   */
  noticeRegistry(readings: readonly SurfaceReading[]): void {
    if (this.sameRegistry(readings)) return;
    this.registeredEnvs = readings.map((reading) => reading.env);
    this.registeredSurfaces = readings.map((reading) => reading.surface);
    const present = new Set(readings.map((reading) => historyKey(reading.env, reading.surface)));
    let removed = false;
    for (const key of this.tiles.keys())
      if (!present.has(key)) {
        this.tiles.delete(key);
        removed = true;
      }
    if (removed) {
      this.membershipSeq = ++this.seq;
      this.lastLook = new Map();
    }
  }

  /** Surfaces tracked: at most those registered once the registry has been noticed. */
  get size(): number {
    return this.tiles.size;
  }

  /** Notes what changed in the model's tiles (one environment's, with `env`); returns the new cursor. */
  observe(model: StatusModel, env: string | undefined): string {
    const look = ++this.looks;
    const seen = new Map<SurfaceTile, TrackedTile>();
    let added = false;
    for (const view of model.environments)
      for (const tile of view.surfaces) {
        const key = historyKey(tile.env, tile.surface);
        let tracked = this.tiles.get(key);
        if (!tracked) {
          const seq = ++this.seq;
          tracked = { shown: tile, resultSeq: seq, checkSeq: seq, look };
          this.tiles.set(key, tracked);
          added = true;
        } else {
          tracked.look = look;
          const { shown } = tracked;
          if (!sameResult(shown, tile)) {
            tracked.resultSeq = tracked.checkSeq = ++this.seq;
            tracked.fragments = undefined;
          } else if (shown.checked_at !== tile.checked_at || shown.latency_ms !== tile.latency_ms) {
            tracked.checkSeq = ++this.seq;
            tracked.fragments = undefined;
          }
          tracked.shown = tile;
        }
        seen.set(tile, tracked);
      }
    let removed = false;
    for (const [key, tracked] of this.tiles)
      if (tracked.look !== look && (env === undefined || tracked.shown.env === env)) {
        this.tiles.delete(key);
        removed = true;
      }
    if (added || removed) this.membershipSeq = ++this.seq;
    this.lastLook = seen;
    return `${this.epoch}-${this.seq}`;
  }

  /**
   * The change number after which a tile counts as changed for this cursor, or FULL. Throws on a
   * value that is not a cursor at all.
   */
  since(cursor: string): number | typeof FULL {
    const parts = CURSOR.exec(cursor);
    if (!parts) throw new MalformedCursorError(cursor);
    const seq = Number(parts[2]);
    if (parts[1] !== this.epoch || seq > this.seq || seq < this.membershipSeq) return FULL;
    return seq;
  }

  /** What changed in a tile after change number `after`: its result, only its check, or nothing. */
  changeAfter(tile: SurfaceTile, after: number): 'result' | 'checked' | undefined {
    const tracked = this.tracked(tile);
    if (!tracked || tracked.resultSeq > after) return 'result';
    return tracked.checkSeq > after ? 'checked' : undefined;
  }

  fragments(tile: SurfaceTile): TileFragments | undefined {
    return this.tracked(tile)?.fragments;
  }

  keepFragments(tile: SurfaceTile, fragments: TileFragments): void {
    const tracked = this.tracked(tile);
    if (tracked) tracked.fragments = fragments;
  }

  private sameRegistry(readings: readonly SurfaceReading[]): boolean {
    if (readings.length !== this.registeredEnvs.length) return false;
    for (let index = 0; index < readings.length; index++) {
      const reading = readings[index] as SurfaceReading;
      if (reading.env !== this.registeredEnvs[index] || reading.surface !== this.registeredSurfaces[index])
        return false;
    }
    return true;
  }

  private tracked(tile: SurfaceTile): TrackedTile | undefined {
    return this.lastLook.get(tile) ?? this.tiles.get(historyKey(tile.env, tile.surface));
  }
}

export class MalformedCursorError extends Error {
  constructor(readonly cursor: string) {
    super(`since: not a cursor of this exporter: ${JSON.stringify(cursor.slice(0, 40))}`);
  }
}

/** Every field the tile shows but when it was checked, how long that took, and how long ago. */
function sameResult(a: SurfaceTile, b: SurfaceTile): boolean {
  return (
    a.state === b.state &&
    a.status === b.status &&
    a.history === b.history &&
    a.code === b.code &&
    a.consecutive_failures === b.consecutive_failures &&
    a.runbook_url === b.runbook_url &&
    a.credential_expires_at === b.credential_expires_at &&
    a.provider === b.provider &&
    a.target === b.target &&
    a.detail === b.detail
  );
}

/** A tile checked again with the same result: what the page must update. */
export interface CheckedTile {
  surface: string;
  checked_at: string | null;
  latency_ms: number | null;
}

/** `GET /api/status`: the model, its cursor, and with `since` only what changed after it. */
export interface StatusAnswer extends Omit<StatusModel, 'environments'> {
  /** Pass as `?since=` to get only what changes after this answer. */
  cursor: string;
  /**
   * True when `environments[].surfaces` lists every tile; false when it lists only the tiles whose
   * result changed after `since`, and `checked` the tiles only checked again since.
   */
  full: boolean;
  environments: Array<EnvironmentView & { checked?: CheckedTile[] }>;
}

export function statusAnswer(
  model: StatusModel,
  changes: TileChanges,
  env: string | undefined,
  since: string | undefined,
): StatusAnswer {
  const cursor = changes.observe(model, env);
  const after = since === undefined ? FULL : changes.since(since);
  if (after === FULL) return { ...model, cursor, full: true };
  return {
    ...model,
    cursor,
    full: false,
    environments: model.environments.map((view) => {
      const surfaces: SurfaceTile[] = [];
      const checked: CheckedTile[] = [];
      for (const tile of view.surfaces) {
        const change = changes.changeAfter(tile, after);
        if (change === 'result') surfaces.push(tile);
        else if (change === 'checked')
          checked.push({ surface: tile.surface, checked_at: tile.checked_at, latency_ms: tile.latency_ms });
      }
      return { ...view, surfaces, checked };
    }),
  };
}

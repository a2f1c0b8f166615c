import { randomBytes } from 'node:crypto';
import { historyKey } from './history.js';
import type { StatusModel, SurfaceTile } from './model.js';

/**
 * A tile's markup minus what the clock changes ("12 s ago", a credential's "in 3 d"): the page
 * keeps it until the tile's signature changes, so a render re-builds only the tiles whose result did.
 */
export interface TileFragments {
  /** Up to the `Checked` value. */
  readonly head: string;
  /** From the `Checked` value to where a credential expiry goes. */
  readonly middle: string;
  /** The end of the list, the history strip and the end of the tile. */
  readonly tail: string;
}

interface TrackedTile {
  env: string;
  signature: string;
  /** The change number at which the signature last changed. */
  seq: number;
  /** The last look that saw the surface: one not seen by a look covering its environment is gone. */
  look: number;
  fragments?: TileFragments;
}

/** A cursor this process did not issue, or one from before a change to the set of surfaces. */
export const FULL = 'full' as const;

const CURSOR = /^([0-9a-f]{12})-(\d{1,15})$/;

/**
 * Which tiles changed since a cursor, for `GET /api/status?since=`, and the rendered fragments of
 * each tile, for the page. Both follow one signature per tile: everything the tile shows except the
 * time since its check, which the page and the script derive from `checked_at` and the answer's
 * `generated_at`. A change is noticed by whichever request builds a model first, so a STALE that
 * appears without a new result counts as a change too.
 */
export class TileChanges {
  /** Distinguishes this process's cursors from a previous one's (a restart starts again at 0). */
  private readonly epoch = randomBytes(6).toString('hex');
  private seq = 0;
  /** The change number of the last surface added or removed: an older cursor gets a full answer. */
  private membershipSeq = 0;
  private looks = 0;
  private readonly tiles = new Map<string, TrackedTile>();

  /** Notes what changed in the model's tiles (one environment's, with `env`); returns the new cursor. */
  observe(model: StatusModel, env: string | undefined): string {
    const look = ++this.looks;
    let added = false;
    for (const view of model.environments)
      for (const tile of view.surfaces) {
        const key = historyKey(tile.env, tile.surface);
        const signature = tileSignature(tile);
        const tracked = this.tiles.get(key);
        if (!tracked) {
          this.tiles.set(key, { env: tile.env, signature, seq: ++this.seq, look });
          added = true;
        } else {
          tracked.look = look;
          if (tracked.signature !== signature) {
            tracked.signature = signature;
            tracked.seq = ++this.seq;
            tracked.fragments = undefined;
          }
        }
      }
    let removed = false;
    for (const [key, tracked] of this.tiles)
      if (tracked.look !== look && (env === undefined || tracked.env === env)) {
        this.tiles.delete(key);
        removed = true;
      }
    if (added || removed) this.membershipSeq = ++this.seq;
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

  /** The change number of a tile observed before; 0 when never observed. */
  changedAt(tile: SurfaceTile): number {
    return this.tiles.get(historyKey(tile.env, tile.surface))?.seq ?? 0;
  }

  fragments(tile: SurfaceTile): TileFragments | undefined {
    return this.tiles.get(historyKey(tile.env, tile.surface))?.fragments;
  }

  keepFragments(tile: SurfaceTile, fragments: TileFragments): void {
    const tracked = this.tiles.get(historyKey(tile.env, tile.surface));
    if (tracked) tracked.fragments = fragments;
  }
}

export class MalformedCursorError extends Error {
  constructor(readonly cursor: string) {
    super(`since: not a cursor of this exporter: ${JSON.stringify(cursor.slice(0, 40))}`);
  }
}

/** Every field the tile shows but the age; `\u0000` cannot occur in any of them. */
function tileSignature(tile: SurfaceTile): string {
  return `${tile.state}\u0000${tile.status}\u0000${tile.code}\u0000${tile.runbook_url}\u0000${tile.latency_ms}\u0000${tile.checked_at}\u0000${tile.consecutive_failures}\u0000${tile.credential_expires_at}\u0000${tile.provider}\u0000${tile.target}\u0000${tile.detail}\u0000${tile.history}`;
}

/** `GET /api/status`: the model, its cursor, and with `since` only the tiles changed after it. */
export interface StatusAnswer extends StatusModel {
  /** Pass as `?since=` to get only what changes after this answer. */
  cursor: string;
  /** True when `environments[].surfaces` lists every tile, false when only the changed ones. */
  full: boolean;
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
    environments: model.environments.map((view) => ({
      ...view,
      surfaces: view.surfaces.filter((tile) => changes.changedAt(tile) > after),
    })),
  };
}

import type { ProbeStatus } from './source.js';

/** Results kept per surface: the strip under each tile. */
export const HISTORY_LENGTH = 60;

/**
 * One character per result, so a surface's history is a short string: cheap to keep, to send as
 * JSON (`"uuuud"`, oldest first) and to render, even when every surface flaps.
 */
export const HISTORY_CODES: Readonly<Record<string, ProbeStatus>> = { u: 'up', d: 'degraded', x: 'down' };
/**
 * A strip cell's class by code and run length (index 1 to HISTORY_LENGTH): the result's code, then
 * how many results the cell spans when more than one. A table, not a function, so that the page,
 * the stylesheet and the browser script (which gets it as JSON) all read the same names.
 */
export const STRIP_CELL_CLASSES: Readonly<Record<string, readonly string[]>> = Object.fromEntries(
  Object.keys(HISTORY_CODES).map((code) => [
    code,
    Array.from({ length: HISTORY_LENGTH + 1 }, (_, run) => (run <= 1 ? code : `${code}${run}`)),
  ]),
);

const CODE_OF: Readonly<Record<ProbeStatus, number>> = {
  up: 'u'.charCodeAt(0),
  degraded: 'd'.charCodeAt(0),
  down: 'x'.charCodeAt(0),
};

interface Ring {
  codes: Uint8Array;
  next: number;
  filled: number;
}

const latin1 = new TextDecoder('latin1');

/**
 * The last results of every surface, in memory: one 60-byte ring per surface, so 10,000 surfaces
 * cost about 600 KB whatever the uptime.
 */
export class ProbeHistory {
  private readonly rings = new Map<string, Ring>();

  /** The hook the poller calls each time it records a probe. */
  readonly record = (env: string, surface: string, status: ProbeStatus): void => {
    const key = historyKey(env, surface);
    let ring = this.rings.get(key);
    if (!ring) {
      ring = { codes: new Uint8Array(HISTORY_LENGTH), next: 0, filled: 0 };
      this.rings.set(key, ring);
    }
    ring.codes[ring.next] = CODE_OF[status];
    ring.next = (ring.next + 1) % HISTORY_LENGTH;
    ring.filled = Math.min(HISTORY_LENGTH, ring.filled + 1);
  };

  /** The surface's results, oldest first, one HISTORY_CODES character each; empty before the first. */
  codes(env: string, surface: string): string {
    const ring = this.rings.get(historyKey(env, surface));
    if (!ring) return '';
    if (ring.filled < HISTORY_LENGTH) return latin1.decode(ring.codes.subarray(0, ring.filled));
    return latin1.decode(ring.codes.subarray(ring.next)) + latin1.decode(ring.codes.subarray(0, ring.next));
  }

  get size(): number {
    return this.rings.size;
  }

  /** Drops the rings of surfaces a reload removed; `present` holds the keys still registered. */
  retain(present: ReadonlySet<string>): void {
    for (const key of this.rings.keys()) if (!present.has(key)) this.rings.delete(key);
  }
}

export function historyKey(env: string, surface: string): string {
  return `${env}/${surface}`;
}

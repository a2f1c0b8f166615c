import { setTimeout as delay } from 'node:timers/promises';

/**
 * One run of `task` at a time, plus at most one waiting. A call while a run is in flight joins the
 * waiting run, which starts when the current one ends: a burst of SIGHUPs, `/-/reload` calls and
 * file events costs two loads at most, and every caller gets the result of a load that began after
 * its call, so nobody is told "reloaded" about a file read before they changed it.
 */
export function coalesce<T>(task: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  let waiting: Promise<T> | undefined;
  const start = (): Promise<T> => {
    const current = task().finally(() => {
      if (running === current) running = undefined;
    });
    running = current;
    return current;
  };
  return () => {
    if (waiting) return waiting;
    if (!running) return start();
    const settled = () => {
      waiting = undefined;
      return start();
    };
    waiting = running.then(settled, settled);
    return waiting;
  };
}

export interface SettleOptions {
  /** Time between two reads that must agree. */
  delayMs: number;
  /** Reads before giving up on a file that keeps changing. */
  maxReads: number;
  /** Called with each read's text; tests use it to write the rest of a file between two reads. */
  onRead?: (text: string, attempt: number) => void;
}

/**
 * A non-atomic writer (`cat > surfaces.yaml`, a slow copy) leaves a file that is valid YAML halfway:
 * applied, half the surfaces would be removed. So a reload uses a text only once two reads
 * `delayMs` apart agree, and gives up after `maxReads`, keeping the running registry.
 */
export const DEFAULT_SETTLE: SettleOptions = { delayMs: 200, maxReads: 5 };

export class UnsettledFileError extends Error {}

export async function readSettled(
  read: () => Promise<string>,
  options: SettleOptions,
  signal?: AbortSignal,
): Promise<string> {
  signal?.throwIfAborted();
  let previous = await read();
  options.onRead?.(previous, 1);
  for (let attempt = 2; attempt <= options.maxReads; attempt++) {
    // Abortable and unref'd: a reload waiting here neither outlives a stop nor holds the process open.
    await delay(options.delayMs, undefined, { signal, ref: false });
    const current = await read();
    options.onRead?.(current, attempt);
    if (current === previous) return current;
    previous = current;
  }
  throw new UnsettledFileError(
    `the file was still changing: ${options.maxReads} reads ${options.delayMs} ms apart never agreed`,
  );
}

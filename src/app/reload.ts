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

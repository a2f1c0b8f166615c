import type { Logger } from 'pino';

const TICK_MS = 250;
/** A delay this long means probes' deadlines and schedules were not honoured; worth a log line. */
const BLOCKED_THRESHOLD_SECONDS = 1;

/**
 * Notices a blocked event loop (a misbehaving probe doing synchronous work, a GC storm) by how
 * late a steady timer fires. The worst delay goes to a gauge; a block over a second is logged.
 */
export function startEventLoopWatchdog(
  metrics: { noteEventLoopLag(seconds: number): void },
  log: Logger,
): () => void {
  let expected = performance.now() + TICK_MS;
  const timer = setInterval(() => {
    const now = performance.now();
    const lagSeconds = Math.max(0, now - expected) / 1000;
    expected = now + TICK_MS;
    metrics.noteEventLoopLag(lagSeconds);
    if (lagSeconds >= BLOCKED_THRESHOLD_SECONDS) {
      log.warn(
        { event: 'event_loop_blocked', lag_seconds: Math.round(lagSeconds * 1000) / 1000 },
        'event_loop_blocked',
      );
    }
  }, TICK_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * What the status page reads, and nothing more: the page depends on these shapes, not on the
 * poller's classes, so the poller can change behind one adapter (pollerSource.ts).
 */
export type ProbeStatus = 'up' | 'degraded' | 'down';

/** One surface as the poller last saw it. Optional fields come from features that may be absent. */
export interface SurfaceReading {
  env: string;
  surface: string;
  provider: string;
  /** Where the probe goes; shown only with `status_page.show_targets: true`. */
  target: string;
  status: ProbeStatus | 'unknown';
  error: string | null;
  detail: string | null;
  /** ISO time of the last completed check, null before the first. */
  checked_at: string | null;
  duration_ms: number | null;
  consecutive_failures: number;
  /** True while the surface is in a maintenance window; absent when nothing says so. */
  maintenance?: boolean;
  /** ISO expiry of the credential the probe uses, when something watches it. */
  credential_expires_at?: string | null;
}

export interface PollerHeartbeat {
  /** False when the exporter runs without its background poller (--no-poller, TESTING=true). */
  enabled: boolean;
  stale: boolean;
  lastPollAt: string | null;
  ageSeconds: number | null;
}

export interface StatusSource {
  surfaces(): SurfaceReading[];
  heartbeat(): PollerHeartbeat;
  staleAfterSeconds(): number;
  intervalSeconds(): number;
  /** Wall-clock milliseconds, from the same clock that stamps `checked_at`. */
  now(): number;
}

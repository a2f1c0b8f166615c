import type { Clock } from './clock.js';

/** What a job reported about itself with `POST /api/push/{env}/{surface}`. */
export interface PushReport {
  status: 'ok' | 'fail';
  /** Free text from the job, at most 256 characters, secrets masked; never a label. */
  detail: string | undefined;
  /** How long the job says it ran. */
  durationSeconds: number | undefined;
  /** Milliseconds since the epoch, for people. */
  receivedAt: number;
  /** Clock.monotonic() at receipt: the heartbeat is judged on this, so a wall-clock step neither fakes nor hides a missed push. */
  receivedAtMonotonic: number;
}

/** Reads the last report of a surface; what the poller hands each probe. */
export interface PushReports {
  last(env: string, surface: string): PushReport | undefined;
}

/**
 * The last push of each surface, in memory. It outlives reloads, so a changed push surface keeps
 * its job's last word; it starts empty with the process, which is why a push surface is `unknown`
 * for its first heartbeat.
 */
export class PushLedger implements PushReports {
  private readonly reports = new Map<string, PushReport>();

  constructor(private readonly clock: Clock) {}

  record(env: string, surface: string, report: Omit<PushReport, 'receivedAt' | 'receivedAtMonotonic'>): void {
    this.reports.set(`${env}/${surface}`, {
      ...report,
      receivedAt: this.clock.now(),
      receivedAtMonotonic: this.clock.monotonic(),
    });
  }

  last(env: string, surface: string): PushReport | undefined {
    return this.reports.get(`${env}/${surface}`);
  }
}

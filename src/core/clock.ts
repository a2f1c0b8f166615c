/**
 * Wall time is what operators read (`checked_at`); monotonic time is what staleness is judged on,
 * so a wall-clock jump neither fakes nor hides a stalled poller.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Milliseconds from an arbitrary origin; never goes back. */
  monotonic(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
};

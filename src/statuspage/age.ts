/**
 * How the page writes a duration: "12 s", "4 min", "3 h", "2 d", coarse enough to read at a
 * glance. A table rather than code so that the browser script, which rewrites every "ago" between
 * renders, reads the same steps (assets.ts injects it) instead of a copy of them.
 */
export interface AgeStep {
  /** The step applies to durations shorter than this many seconds; the last step has none. */
  below?: number;
  /** Seconds per unit. */
  seconds: number;
  unit: string;
}

export const AGE_STEPS: readonly AgeStep[] = [
  { below: 120, seconds: 1, unit: 's' },
  { below: 7200, seconds: 60, unit: 'min' },
  { below: 172_800, seconds: 3600, unit: 'h' },
  { seconds: 86_400, unit: 'd' },
];

export function formatAge(seconds: number): string {
  // The last step has no bound, so one always matches.
  const step = AGE_STEPS.find(
    (candidate) => candidate.below === undefined || seconds < candidate.below,
  ) as AgeStep;
  return `${Math.round(seconds / step.seconds)} ${step.unit}`;
}

/** Whole seconds from a check to `nowMs`; a check stamped a little ahead of it reads as 0. */
export function ageSeconds(checkedAtMs: number, nowMs: number): number {
  return Math.max(0, Math.round((nowMs - checkedAtMs) / 1000));
}

import { z } from 'zod';

/**
 * Planned maintenance: while a window is open the surface is still probed and exported, but no
 * per-surface alert fires (the rules read `surface_maintenance`).
 */

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

const MINUTES_PER_DAY = 24 * 60;
const MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY;

/** A zone Intl knows (the IANA database Node ships), refused at load rather than at 02:00 on Sunday. */
export function isKnownTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const rfc3339 = z.iso.datetime({
  offset: true,
  error: 'an RFC 3339 time with a zone, e.g. 2026-12-01T02:00:00Z',
});

const ABSOLUTE_KEYS = ['from', 'to'] as const;
const WEEKLY_KEYS = ['every', 'at', 'for_minutes', 'timezone'] as const;

/**
 * One object with both forms' keys, not a union: a union's error is "invalid input" for the whole
 * window, where this one names the field that is wrong.
 */
export const maintenanceWindow = z
  .object({
    from: rfc3339.optional().describe('Absolute window: start (RFC 3339, with Z or an offset).'),
    to: rfc3339.optional().describe('Absolute window: end (RFC 3339), after `from`.'),
    every: z
      .array(z.enum(WEEKDAYS, { error: `a weekday: ${WEEKDAYS.join(', ')}` }))
      .min(1)
      .optional()
      .describe('Weekly window: weekdays it opens on (sun, mon, ..., sat), in `timezone`.'),
    at: z
      .string()
      .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a local time HH:MM (00:00 to 23:59)')
      .optional()
      .describe('Weekly window: local time it opens, HH:MM.'),
    for_minutes: z
      .number()
      .int()
      .min(1)
      .max(MINUTES_PER_WEEK)
      .optional()
      .describe('Weekly window: how long it stays open, in wall-clock minutes of `timezone`.'),
    timezone: z
      .string()
      .refine(isKnownTimeZone, 'an IANA time zone, e.g. Europe/Berlin or UTC')
      .optional()
      .describe('Weekly window: IANA time zone of `every` and `at`, e.g. Europe/Berlin.'),
  })
  .strict()
  .superRefine((window, ctx) => {
    const has = (key: string) => (window as Record<string, unknown>)[key] !== undefined;
    const absolute = ABSOLUTE_KEYS.some(has);
    const weekly = WEEKLY_KEYS.some(has);
    if (absolute && weekly) {
      ctx.addIssue({
        code: 'custom',
        message: 'either {from, to} or {every, at, for_minutes, timezone}, not both',
      });
      return;
    }
    const needed = absolute || !weekly ? ABSOLUTE_KEYS : WEEKLY_KEYS;
    for (const key of needed) {
      if (!has(key))
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `required in a ${absolute || !weekly ? 'absolute' : 'weekly'} window`,
        });
    }
    if (window.from && window.to && Date.parse(window.to) <= Date.parse(window.from)) {
      ctx.addIssue({ code: 'custom', path: ['to'], message: '`to` must be after `from`' });
    }
  });
export type MaintenanceWindow = z.infer<typeof maintenanceWindow>;

export const maintenanceList = z.array(maintenanceWindow).max(32);

export const MAINTENANCE_DESCRIPTION =
  'Planned maintenance windows: `{from, to}` (RFC 3339) or `{every: [sun, ...], at: "02:00", for_minutes: 60, timezone: "Europe/Berlin"}`. While one is open, probes and metrics go on but no per-surface alert fires.';

/** True while any window is open at `nowMs` (milliseconds since the epoch). */
export function inMaintenance(windows: readonly MaintenanceWindow[], nowMs: number): boolean {
  return windows.some((window) => windowOpen(window, nowMs));
}

function windowOpen(window: MaintenanceWindow, nowMs: number): boolean {
  if (window.from !== undefined && window.to !== undefined) {
    return nowMs >= Date.parse(window.from) && nowMs < Date.parse(window.to);
  }
  const { every, at, for_minutes: forMinutes, timezone } = window;
  // The schema lets no window through without one of the two complete forms.
  if (!every || !at || forMinutes === undefined || !timezone) return false;
  const now = weekMinute(nowMs, timezone);
  const [hours, minutes] = at.split(':').map(Number) as [number, number];
  return every.some((day) => {
    const opens = WEEKDAYS.indexOf(day) * MINUTES_PER_DAY + hours * 60 + minutes;
    // Modulo a week, so Saturday 23:00 for 120 minutes still covers Sunday 00:30.
    return (now - opens + MINUTES_PER_WEEK) % MINUTES_PER_WEEK < forMinutes;
  });
}

const weekdayFormats = new Map<string, Intl.DateTimeFormat>();

/**
 * Minutes since Sunday 00:00 on the wall clock of `zone`. Windows are in wall-clock time, as people
 * write them ("Sundays 02:00 Berlin"), so a window spanning a DST change is an hour longer or shorter.
 */
function weekMinute(nowMs: number, zone: string): number {
  let format = weekdayFormats.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    weekdayFormats.set(zone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(nowMs).map((part) => [part.type, part.value]));
  const day = WEEKDAYS.indexOf(String(parts.weekday).toLowerCase().slice(0, 3) as Weekday);
  return day * MINUTES_PER_DAY + Number(parts.hour) * 60 + Number(parts.minute);
}

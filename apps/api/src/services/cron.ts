import { checkCron, isValidTimeZone, parseCron } from '@mfb/config';
import { InvalidCronError, InvalidTimeZoneError, ScheduleTooFrequentError } from '../errors.js';

/** @throws InvalidTimeZoneError unless `tz` is an IANA zone this runtime knows. */
export function assertTimeZone(tz: string): void {
  if (!isValidTimeZone(tz)) throw new InvalidTimeZoneError(tz);
}

/**
 * Validate a schedule's cron + time zone with the one rule the config file uses too
 * (`checkCron` of @mfb/config: shape, the parser BullMQ runs it with, never-firing patterns,
 * the minimum interval) and return its next run and shortest interval.
 * @throws InvalidTimeZoneError, InvalidCronError, ScheduleTooFrequentError
 */
export function checkSchedule(cron: string, tz: string, from: Date = new Date()): { nextRunAt: Date; intervalSeconds: number } {
  const r = checkCron(cron, tz, from);
  if (r.ok) return { nextRunAt: r.nextRunAt, intervalSeconds: r.intervalSeconds };
  if (r.kind === 'timezone') throw new InvalidTimeZoneError(tz);
  if (r.kind === 'too-frequent') throw new ScheduleTooFrequentError(r.intervalSeconds);
  throw new InvalidCronError(cron, r.message);
}

/** Next run and interval (between the next two runs) of a stored schedule, or null when it cannot be computed. */
export function describeSchedule(cron: string, tz: string, from: Date): { nextRunAt: Date; intervalSeconds: number } | null {
  try {
    assertTimeZone(tz);
    const expr = parseCron(cron, tz, from);
    if (typeof expr === 'string') return null;
    const a = expr.next().toDate();
    const b = expr.next().toDate();
    return { nextRunAt: a, intervalSeconds: Math.round((b.getTime() - a.getTime()) / 1000) };
  } catch {
    return null;
  }
}

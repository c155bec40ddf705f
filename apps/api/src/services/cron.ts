import { CronExpressionParser } from 'cron-parser';
import { cronProblem, isValidTimeZone } from '@mfb/config';
import { InvalidCronError, InvalidTimeZoneError, ScheduleTooFrequentError } from '../errors.js';

/** Shortest interval a schedule may have. */
export const MIN_INTERVAL_SECONDS = 60;

/** @throws InvalidTimeZoneError unless `tz` is an IANA zone this runtime knows. */
export function assertTimeZone(tz: string): void {
  if (!isValidTimeZone(tz)) throw new InvalidTimeZoneError(tz);
}

function parse(cron: string, tz: string, from: Date) {
  // The config file's rule first (same messages as a bad schedule in the config), then the
  // parser BullMQ uses for everything else (ranges, impossible dates).
  const problem = cronProblem(cron);
  if (problem) throw new InvalidCronError(cron, problem);
  try {
    return CronExpressionParser.parse(cron, { tz, currentDate: from, strict: false });
  } catch (err) {
    throw new InvalidCronError(cron, (err as Error).message.slice(0, 200));
  }
}

/**
 * Validate a schedule's cron + time zone the way BullMQ will run it (same parser) and
 * return its next run and interval (between its next two runs).
 * @throws InvalidTimeZoneError, InvalidCronError, ScheduleTooFrequentError
 */
export function checkSchedule(cron: string, tz: string, from: Date = new Date()): { nextRunAt: Date; intervalSeconds: number } {
  assertTimeZone(tz);
  const expr = parse(cron, tz, from);
  let a: Date;
  let b: Date;
  try {
    a = expr.next().toDate();
    b = expr.next().toDate();
  } catch (err) {
    throw new InvalidCronError(cron, `never runs (${(err as Error).message.slice(0, 120)})`);
  }
  const intervalSeconds = Math.round((b.getTime() - a.getTime()) / 1000);
  if (intervalSeconds < MIN_INTERVAL_SECONDS) throw new ScheduleTooFrequentError(intervalSeconds);
  return { nextRunAt: a, intervalSeconds };
}

/** Next run and interval of a stored schedule, or null when it cannot be computed. */
export function describeSchedule(cron: string, tz: string, from: Date): { nextRunAt: Date; intervalSeconds: number } | null {
  try {
    assertTimeZone(tz);
    const expr = parse(cron, tz, from);
    const a = expr.next().toDate();
    const b = expr.next().toDate();
    return { nextRunAt: a, intervalSeconds: Math.round((b.getTime() - a.getTime()) / 1000) };
  } catch {
    return null;
  }
}

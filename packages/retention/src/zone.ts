import type { RetentionDuration } from './duration.js';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** Civil date (proleptic Gregorian) of a day number since 1970-01-01 (H. Hinnant's algorithm). */
export function civilFromDays(days: number): { y: number; m: number; d: number } {
  const ym = monthIndexOfDay(days);
  const y = Math.floor(ym / 12);
  const m = ym - y * 12 + 1;
  const first = new Date(0);
  first.setUTCFullYear(y, m - 1, 1); // Date.UTC would read years 0-99 as 1900-1999
  return { y, m, d: days - Math.floor(first.getTime() / DAY_MS) + 1 };
}

/** `year * 12 + month - 1` of a day number, without allocating (bucket keys for 100,000 backups). */
export function monthIndexOfDay(days: number): number {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const mp = Math.floor((5 * (doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))) + 2) / 153);
  const m = mp < 10 ? mp + 3 : mp - 9;
  return (yoe + era * 400 + (m <= 2 ? 1 : 0)) * 12 + m - 1;
}

/** Monday-based weekday, 0 = Monday (1970-01-01 was a Thursday). */
export const weekdayMon0 = (day: number): number => (((day + 3) % 7) + 7) % 7;

/** ISO-8601 week-numbering year and week of the week that starts on Monday `mondayDay`. */
export function isoWeek(mondayDay: number): { year: number; week: number } {
  const thursday = mondayDay + 3;
  const year = civilFromDays(thursday).y;
  const jan1 = new Date(0);
  jan1.setUTCFullYear(year, 0, 1);
  return { year, week: Math.floor((thursday - Math.floor(jan1.getTime() / DAY_MS)) / 7) + 1 };
}

/** Whether `tz` is an IANA time zone this runtime knows. */
export function isKnownTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/**
 * UTC offsets of one IANA time zone, fast enough for 100,000 look-ups.
 *
 * `Intl.DateTimeFormat#formatToParts` costs microseconds, so offsets are cached per UTC day:
 * when the offset at the start of a day equals the offset at the start of the next, the whole
 * day has that offset (time zones never change offset twice within 24 hours). A day with a
 * transition is resolved per UTC hour the same way, and an hour with a transition inside it
 * (zones that switch at :30) per instant.
 */
export class ZoneClock {
  readonly timeZone: string;
  private readonly fixedZero: boolean;
  private readonly fmt: Intl.DateTimeFormat;
  private readonly edge = new Map<number, number>();
  private readonly days = new Map<number, number>();
  private readonly hours = new Map<number, number>();
  private lastDay = Number.NaN;
  private lastDayOffset = Number.NaN;

  constructor(timeZone: string) {
    this.timeZone = timeZone;
    this.fmt = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    const resolved = this.fmt.resolvedOptions().timeZone;
    this.fixedZero = resolved === 'UTC' || resolved === 'Etc/UTC' || resolved === 'Etc/GMT';
  }

  /** Offset (local - UTC, ms) at the instant `t` (ms since the epoch), computed by Intl. */
  private exact(t: number): number {
    const p: Record<string, number> = {};
    for (const part of this.fmt.formatToParts(t)) if (part.type !== 'literal') p[part.type] = Number(part.value);
    const local = Date.UTC(p['year']!, p['month']! - 1, p['day']!, p['hour'] === 24 ? 0 : p['hour']!, p['minute']!, p['second']!);
    return local - (t - (((t % 1000) + 1000) % 1000));
  }

  private edgeOffset(t: number): number {
    let v = this.edge.get(t);
    if (v === undefined) {
      v = this.exact(t);
      this.edge.set(t, v);
    }
    return v;
  }

  /** The offset throughout span `index` of `size` ms, or NaN when it changes inside the span. */
  private spanOffset(cache: Map<number, number>, index: number, size: number): number {
    let v = cache.get(index);
    if (v === undefined) {
      const a = this.edgeOffset(index * size);
      v = a === this.edgeOffset((index + 1) * size) ? a : Number.NaN;
      cache.set(index, v);
    }
    return v;
  }

  /** Offset (local - UTC, ms) at instant `t`. */
  offset(t: number): number {
    if (this.fixedZero) return 0;
    const day = Math.floor(t / DAY_MS);
    // sorted input: most look-ups hit the day before
    const v = day === this.lastDay ? this.lastDayOffset : this.spanOffset(this.days, day, DAY_MS);
    this.lastDay = day;
    this.lastDayOffset = v;
    if (!Number.isNaN(v)) return v;
    const w = this.spanOffset(this.hours, Math.floor(t / HOUR_MS), HOUR_MS);
    return Number.isNaN(w) ? this.exact(t) : w;
  }

  /** Wall-clock time at `t`, as milliseconds of a UTC-coded date (`new Date(x).getUTCHours()` is the local hour). */
  local(t: number): number {
    return t + this.offset(t);
  }

  /**
   * The instant whose wall-clock time is `local`. Ambiguous times (the repeated hour when
   * clocks go back) resolve to the earlier instant; times skipped when clocks go forward use
   * the offset from before the change (02:30 in a gap becomes 03:30 after it).
   */
  instantOf(local: number): number {
    const before = this.offset(local - DAY_MS);
    const t1 = local - before;
    if (this.offset(t1) === before) return t1;
    const after = this.offset(local + DAY_MS);
    const t2 = local - after;
    return this.offset(t2) === after ? t2 : t1;
  }

  /**
   * `t` minus a calendar duration, as restic computes the `--keep-within` cut-off: years, months
   * and days are subtracted on the wall clock of this zone (day overflow normalised: 31 March
   * minus 1m is 3 March), then hours as elapsed time.
   */
  minus(t: number, d: RetentionDuration): number {
    const local = this.local(t);
    const day = Math.floor(local / DAY_MS);
    const { y, m, d: dd } = civilFromDays(day);
    const shifted = new Date(0);
    shifted.setUTCFullYear(y - d.years, m - 1 - d.months, dd - d.days); // not Date.UTC: it reads years 0-99 as 19xx
    return this.instantOf(shifted.getTime() + (local - day * DAY_MS)) - d.hours * HOUR_MS;
  }
}

const clocks = new Map<string, ZoneClock>();

/** One shared {@link ZoneClock} per zone, so offsets computed by one plan serve the next. */
export function zoneClock(timeZone: string): ZoneClock {
  let c = clocks.get(timeZone);
  if (!c) {
    c = new ZoneClock(timeZone);
    clocks.set(timeZone, c);
  }
  return c;
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Milliseconds since the epoch of an ISO-8601 time, NaN when it is not one. The exact shape
 * `Date#toISOString` writes (`2026-11-30T14:05:09.123Z`, what the catalog hands over) is read
 * digit by digit, several times faster than `Date.parse` for 100,000 backups; anything else
 * goes to `Date.parse`.
 */
export function parseInstant(s: string): number {
  if (s.length !== 24 || s.charCodeAt(23) !== 90 /* Z */) return Date.parse(s);
  const seps = s.charCodeAt(4) === 45 && s.charCodeAt(7) === 45 && s.charCodeAt(10) === 84 && s.charCodeAt(13) === 58 && s.charCodeAt(16) === 58 && s.charCodeAt(19) === 46;
  const y = digits(s, 0, 4);
  const mo = digits(s, 5, 2);
  const d = digits(s, 8, 2);
  const h = digits(s, 11, 2);
  const mi = digits(s, 14, 2);
  const sec = digits(s, 17, 2);
  const ms = digits(s, 20, 3);
  // y < 100: Date.UTC would read years 0-99 as 19xx; anything unusual: Date.parse decides
  if (!seps || y < 100 || mo < 1 || mo > 12 || d < 1 || d > DAYS_IN_MONTH[mo - 1]! || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59 || ms < 0) return Date.parse(s);
  return daysFromCivil(y, mo, d) * DAY_MS + h * HOUR_MS + mi * 60_000 + sec * 1000 + ms;
}

/** Day number since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm; no Date call). */
function daysFromCivil(y0: number, m: number, d: number): number {
  const y = m <= 2 ? y0 - 1 : y0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  return era * 146_097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719_468;
}

/** The decimal number in s[i, i + len), or -1 when a character there is not a digit. (No closure: hot path.) */
function digits(s: string, i: number, len: number): number {
  let v = 0;
  for (let j = i; j < i + len; j++) {
    const c = s.charCodeAt(j) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

import { RetentionPolicyError } from './errors.js';

/**
 * A calendar duration in restic's format (`1y2m3d4h`): years, months, days and hours. Months
 * and years are calendar months and years, not fixed lengths: `1m` before 31 March is
 * 3 March (the day overflows, as Go's and JavaScript's date arithmetic do).
 */
export interface RetentionDuration {
  years: number;
  months: number;
  days: number;
  hours: number;
  /** Canonical spelling, units in the order y m d h (`1y2m`, `30d`, `13d23h`). */
  text: string;
}

const UNITS: Record<string, 'years' | 'months' | 'days' | 'hours'> = { y: 'years', m: 'months', d: 'days', h: 'hours' };
const UNIT_HELP = 'units: y = years, m = months, d = days, h = hours; e.g. 30d, 12h, 1y2m; 14d for two weeks';
/** Large enough for any retention, small enough that date arithmetic stays exact. */
const MAX_AMOUNT = 100_000;

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/**
 * Parse a duration such as `30d`, `12h` or `1y2m` (restic's `--keep-within` format: units y, m
 * (months), d, h, each at most once, in any order). Throws {@link RetentionPolicyError} naming
 * `field` for anything else: an unknown unit (`2w`, `30D`, `10min`), a number without a unit,
 * a sign, a repeated unit, or a zero duration.
 */
export function parseDuration(text: unknown, field = 'duration'): RetentionDuration {
  if (typeof text !== 'string') {
    throw new RetentionPolicyError(field, `must be a duration string such as "30d" or "1y2m", got ${describe(text)}`);
  }
  const s = text.trim();
  if (s === '') throw new RetentionPolicyError(field, `must be a duration such as "30d" or "1y2m", got an empty string (${UNIT_HELP})`);
  const d = { years: 0, months: 0, days: 0, hours: 0 };
  const seen = new Set<string>();
  let i = 0;
  while (i < s.length) {
    let j = i;
    while (isDigit(s[j])) j++;
    if (j === i) throw new RetentionPolicyError(field, `expected a number at position ${i + 1} of ${JSON.stringify(s)} (${UNIT_HELP})`);
    let k = j;
    while (k < s.length && !isDigit(s[k])) k++;
    const num = s.slice(i, j);
    const unit = s.slice(j, k);
    if (unit === '') throw new RetentionPolicyError(field, `number ${num} has no unit in ${JSON.stringify(s)} (${UNIT_HELP})`);
    const name = UNITS[unit];
    if (name === undefined) throw new RetentionPolicyError(field, `unknown unit ${JSON.stringify(unit)} in ${JSON.stringify(s)} (${UNIT_HELP})`);
    if (seen.has(unit)) throw new RetentionPolicyError(field, `unit ${JSON.stringify(unit)} appears twice in ${JSON.stringify(s)}`);
    seen.add(unit);
    const n = Number(num);
    if (n > MAX_AMOUNT) throw new RetentionPolicyError(field, `${num}${unit} is too large (at most ${MAX_AMOUNT} per unit)`);
    d[name] = n;
    i = k;
  }
  if (d.years + d.months + d.days + d.hours === 0) {
    throw new RetentionPolicyError(field, `must be longer than zero, got ${JSON.stringify(s)} (omit ${field} to turn the rule off)`);
  }
  const text2 = (d.years ? `${d.years}y` : '') + (d.months ? `${d.months}m` : '') + (d.days ? `${d.days}d` : '') + (d.hours ? `${d.hours}h` : '');
  return { ...d, text: text2 };
}

/** A short, secret-free rendering of a bad value for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v);
  if (typeof v === 'object') return 'an object';
  return String(v);
}

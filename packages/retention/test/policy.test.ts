import { describe, expect, it } from 'vitest';
import { formatBytes, parseByteSize, parseDuration, planRetention, RetentionPolicyError, validateRetentionPolicy } from '../src/index.js';

function policyError(raw: unknown): RetentionPolicyError {
  try {
    validateRetentionPolicy(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(RetentionPolicyError);
    return err as RetentionPolicyError;
  }
  throw new Error(`accepted ${JSON.stringify(raw)}`);
}

describe('validateRetentionPolicy', () => {
  it('names the exact field and the bad value', () => {
    const cases: Array<[unknown, string, string]> = [
      [{ keepDaily: -1 }, 'keepDaily', 'keepDaily: must be an integer >= 0, got -1'],
      [{ keepLast: 1.5 }, 'keepLast', 'keepLast: must be an integer >= 0, got 1.5'],
      [{ keepWeekly: '4' }, 'keepWeekly', 'keepWeekly: must be an integer >= 0, got "4"'],
      [{ keepMonthly: null }, 'keepMonthly', 'keepMonthly: must be an integer >= 0, got null'],
      [{ keepDaily: 7, minKeep: -2 }, 'minKeep', 'minKeep: must be an integer >= 0, got -2'],
      [{ keepDaily: 7, keepDayly: 3 }, 'keepDayly', 'keepDayly: unknown retention field; allowed: keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly, keepWithin, maxAge, maxTotalBytes, minKeep, timezone'],
      [{ keepWithin: '2w' }, 'keepWithin', 'keepWithin: unknown unit "w" in "2w" (units: y = years, m = months, d = days, h = hours; e.g. 30d, 12h, 1y2m; 14d for two weeks)'],
      [{ maxAge: 90 }, 'maxAge', 'maxAge: must be a duration string such as "30d" or "1y2m", got 90'],
      [{ keepDaily: 7, timezone: 'Europe/Berln' }, 'timezone', 'timezone: unknown time zone "Europe/Berln" (use an IANA name such as Europe/Berlin or UTC)'],
      [{ keepDaily: 7, maxTotalBytes: 0 }, 'maxTotalBytes', 'maxTotalBytes: must be at least 1 byte (omit maxTotalBytes for no budget)'],
      [{ keepDaily: 7, maxTotalBytes: '10 GB of data' }, 'maxTotalBytes', expect.stringContaining('maxTotalBytes: must be a number of bytes or a size such as "10GiB"') as unknown as string],
      [[], '', 'a retention policy must be an object with fields such as keepLast or keepDaily, got a list'],
    ];
    for (const [raw, field, message] of cases) {
      const err = policyError(raw);
      expect(err.field).toBe(field);
      expect(err.message).toEqual(message);
      expect(err.code).toBe('RETENTION_INVALID_POLICY');
      expect(err.status).toBe(400);
    }
  });

  it('refuses a policy that would delete everything but the newest backup', () => {
    for (const raw of [{}, { minKeep: 0 }, { keepLast: 0, keepDaily: 0 }, { maxTotalBytes: 1000 }, { timezone: 'UTC' }]) {
      const err = policyError(raw);
      expect(err.field).toBe('minKeep');
      expect(err.message).toMatch(/^minKeep: must be >= 1 when no keep rule is set \(keepLast, .* or maxAge\), got (0|none): this policy would delete every backup but the newest$/);
    }
    expect(validateRetentionPolicy({ minKeep: 1 })).toEqual({ minKeep: 1 });
    expect(validateRetentionPolicy({ maxAge: '90d' })).toEqual({ maxAge: '90d' });
  });

  it('normalises durations and byte sizes and freezes the result', () => {
    const p = validateRetentionPolicy({ keepWithin: ' 1y1d1m ', maxAge: '2160h', maxTotalBytes: '10GiB', timezone: 'Europe/Berlin', keepDaily: 7 });
    expect(p).toEqual({ keepDaily: 7, keepWithin: '1y1m1d', maxAge: '2160h', maxTotalBytes: 10 * 2 ** 30, timezone: 'Europe/Berlin' });
    expect(Object.isFrozen(p)).toBe(true);
  });

  it('is what the planner applies: a bad policy never plans', () => {
    expect(() => planRetention([], { keepDaily: -1 }, new Date())).toThrow('keepDaily: must be an integer >= 0, got -1');
  });
});

describe('parseDuration', () => {
  it('reads restic durations in any unit order', () => {
    expect(parseDuration('30d')).toEqual({ years: 0, months: 0, days: 30, hours: 0, text: '30d' });
    expect(parseDuration('12h').hours).toBe(12);
    expect(parseDuration('1y2m')).toMatchObject({ years: 1, months: 2, text: '1y2m' });
    expect(parseDuration('3h2d1y').text).toBe('1y2d3h');
  });

  it('rejects anything else with a precise message', () => {
    const bad: Array<[string, string]> = [
      ['', 'keepWithin: must be a duration such as "30d" or "1y2m", got an empty string'],
      ['30D', 'keepWithin: unknown unit "D" in "30D"'],
      ['10min', 'keepWithin: unknown unit "min" in "10min"'],
      ['10', 'keepWithin: number 10 has no unit in "10"'],
      ['d', 'keepWithin: expected a number at position 1 of "d"'],
      ['-1d', 'keepWithin: expected a number at position 1 of "-1d"'],
      ['1d2d', 'keepWithin: unit "d" appears twice in "1d2d"'],
      ['0d', 'keepWithin: must be longer than zero, got "0d" (omit keepWithin to turn the rule off)'],
      ['200000y', 'keepWithin: 200000y is too large (at most 100000 per unit)'],
    ];
    for (const [text, message] of bad) expect(() => parseDuration(text, 'keepWithin'), text).toThrow(message);
  });
});

describe('byte sizes', () => {
  it('parses SI and IEC units and formats IEC', () => {
    expect(parseByteSize('10GiB')).toBe(10 * 2 ** 30);
    expect(parseByteSize('500 MB')).toBe(500e6);
    expect(parseByteSize('1.5tib')).toBe(1.5 * 2 ** 40);
    expect(parseByteSize(123)).toBe(123);
    expect(formatBytes(10 * 2 ** 30)).toBe('10 GiB');
    expect(formatBytes(1.25 * 2 ** 20)).toBe('1.3 MiB');
    expect(formatBytes(512)).toBe('512 B');
  });
});

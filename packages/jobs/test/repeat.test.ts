import { describe, expect, it } from 'vitest';
import { defaultRepeatStrategy, type RepeatOptions } from 'bullmq';
import { memoizedRepeatStrategy } from '../src/repeat.js';

/** Whether the UTC offset of `tz` changes within a day of `millis`. */
const formats = new Map<string, Intl.DateTimeFormat>();
function dstDay(millis: number, tz: string): boolean {
  let f = formats.get(tz);
  if (!f) formats.set(tz, (f = new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: 'shortOffset' })));
  return f.format(new Date(millis - 86_400_000)) !== f.format(new Date(millis + 86_400_000 * 7));
}

describe('memoizedRepeatStrategy', () => {
  it('answers exactly as BullMQ\'s strategy for any instant, time zone and pattern, computing each cron once per interval', () => {
    let calls = 0;
    const counted = (millis: number, opts: RepeatOptions) => {
      calls++;
      return defaultRepeatStrategy(millis, opts);
    };
    const memo = memoizedRepeatStrategy(counted);
    const patterns = ['0 3 * * *', '*/15 * * * *', '30 2 * * 0', '0 9 31 3 *', '0 0 1 * *'];
    const zones = ['UTC', 'Europe/Berlin', 'America/New_York'];
    // Instants across a DST change in Berlin and New York, including exact fire times.
    const start = Date.parse('2026-03-07T00:00:00Z');
    let asked = 0;
    for (let step = 0; step < 500; step++) {
      const millis = start + step * 41 * 60_000 + (step % 3 === 0 ? 0 : 12_345);
      for (const pattern of patterns)
        for (const tz of zones) {
          asked++;
          const m = memo(millis, { pattern, tz }) as number;
          const b = defaultRepeatStrategy(millis, { pattern, tz }) as number;
          const what = `${pattern} ${tz} @ ${new Date(millis).toISOString()}`;
          // Off DST-change days: exactly BullMQ's answer. On them, cron-parser's answer for a
          // time in the skipped hour depends on the instant asked (from before the gap it
          // shifts the run past the gap, from inside it skips to the next week); the memo
          // keeps the first answer: still in the future, and never later than BullMQ's.
          if (dstDay(millis, tz)) {
            expect(m, what).toBeGreaterThan(millis);
            expect(m, what).toBeLessThanOrEqual(b);
          } else {
            expect(m, what).toBe(b);
          }
        }
    }
    expect(calls).toBeLessThan(asked / 3);
  });

  it('leaves options it does not understand to BullMQ', () => {
    let calls = 0;
    const memo = memoizedRepeatStrategy((m, o) => {
      calls++;
      return defaultRepeatStrategy(m, o);
    });
    const startDate = new Date('2030-01-01T00:00:00Z');
    for (let i = 0; i < 3; i++) expect(memo(Date.parse('2026-01-01T00:00:00Z') + i, { pattern: '0 3 * * *', tz: 'UTC', startDate })).toBe(Date.parse('2030-01-01T03:00:00Z'));
    expect(calls).toBe(3);
  });
});

import { describe, expect, it } from 'vitest';
import { planRetention, RetentionInputError } from '../src/index.js';
import type { RetentionItem, RetentionPlan, RetentionPolicy } from '../src/index.js';

const NOW = new Date('2026-12-01T12:00:00Z');
const b = (backupId: string, createdAt: string, extra: Partial<RetentionItem> = {}): RetentionItem => ({ backupId, createdAt, pinned: false, ...extra });
const keptIds = (p: RetentionPlan): string[] => p.keep;
const reasonsOf = (p: RetentionPlan, id: string): string[] | undefined => p.kept.find((k) => k.backupId === id)?.reasons;

describe('calendar rules: restic forget documentation examples (doc/060_forget.rst)', () => {
  it('--keep-daily 5 keeps the newest of each of the last five days THAT HAVE backups', () => {
    // "backups every weekday for the past two weeks, and on Fridays an additional backup";
    // the Wednesday 2025-04-30 backup is missing.
    const snaps = [
      ['60e5c031', '2025-04-21T11:00:00Z'],
      ['1dccffe9', '2025-04-22T11:00:00Z'],
      ['90a5c949', '2025-04-23T11:00:00Z'],
      ['79580708', '2025-04-24T11:00:00Z'],
      ['8a603ddf', '2025-04-25T11:00:00Z'],
      ['ae33bf10', '2025-04-25T23:00:00Z'],
      ['fb8b1418', '2025-04-28T11:00:00Z'],
      ['1db188b4', '2025-04-29T11:00:00Z'],
      ['7baa4f28', '2025-05-01T11:00:00Z'],
      ['05c48af3', '2025-05-02T11:00:00Z'],
      ['ad72e262', '2025-05-02T23:00:00Z'],
    ].map(([id, t]) => b(id!, t!));
    const plan = planRetention(snaps, { keepDaily: 5 }, NOW);
    // restic's documented result, by time (its keep table prints 8a603ddf beside 23:00, a typo
    // for ae33bf10: 8a603ddf is the 11:00 snapshot and is listed under "remove" as well).
    expect(keptIds(plan)).toEqual(['ad72e262', '7baa4f28', '1db188b4', 'fb8b1418', 'ae33bf10']);
    expect(plan.delete.map((d) => d.backupId).sort()).toEqual(['05c48af3', '1dccffe9', '60e5c031', '79580708', '8a603ddf', '90a5c949'].sort());
    expect(reasonsOf(plan, 'ae33bf10')).toEqual(['keepDaily 2025-04-25']);
    expect(plan.delete.every((d) => d.reason === 'not kept by any rule' && d.rule === 'none')).toBe(true);
  });

  it('one backup a day for 100 years with --keep-daily 7 --keep-weekly 5 --keep-monthly 12 --keep-yearly 75', () => {
    // The docs: the most recent 7 daily snapshots, last-day-of-the-week ones, 12 or 11
    // last-day-of-the-month and 75 or 74 last-day-of-the-year ones (overlaps counted once).
    const days: RetentionItem[] = [];
    const last = Date.parse('2026-11-30T12:00:00Z');
    for (let t = Date.parse('1926-12-01T12:00:00Z'); t <= last; t += 86_400_000) days.push(b(new Date(t).toISOString().slice(0, 10), new Date(t).toISOString()));
    const plan = planRetention(days, { keepDaily: 7, keepWeekly: 5, keepMonthly: 12, keepYearly: 75 }, NOW);
    const by = (rule: string): string[] => plan.kept.filter((k) => k.rules.includes(rule as never)).map((k) => k.backupId);
    expect(by('keepDaily')).toEqual(['2026-11-30', '2026-11-29', '2026-11-28', '2026-11-27', '2026-11-26', '2026-11-25', '2026-11-24']);
    // 2026-11-30 is a Monday: the newest of its week, then the Sundays before it
    expect(by('keepWeekly')).toEqual(['2026-11-30', '2026-11-29', '2026-11-22', '2026-11-15', '2026-11-08']);
    expect(by('keepMonthly')).toEqual(['2026-11-30', '2026-10-31', '2026-09-30', '2026-08-31', '2026-07-31', '2026-06-30', '2026-05-31', '2026-04-30', '2026-03-31', '2026-02-28', '2026-01-31', '2025-12-31']);
    const yearly = by('keepYearly');
    expect(yearly).toHaveLength(75);
    expect(yearly[0]).toBe('2026-11-30');
    expect(yearly.slice(1).every((id, i) => id === `${2025 - i}-12-31`)).toBe(true);
    expect(reasonsOf(plan, '2025-12-31')).toEqual(['keepMonthly 2025-12', 'keepYearly 2025']);
    expect(reasonsOf(plan, '2026-11-30')).toEqual(['newest', 'keepDaily 2026-11-30', 'keepWeekly 2026-W49', 'keepMonthly 2026-11', 'keepYearly 2026']);
    // the union, each backup once: 7 daily + 3 more weekly + 11 more monthly + 73 more yearly
    // (the newest is daily, weekly, monthly and yearly; 2025-12-31 is monthly and yearly)
    expect(plan.keep).toHaveLength(7 + 3 + 11 + 73);
  });

  it('keeps the oldest backup too while a rule has buckets left (restic >= 0.16)', () => {
    const plan = planRetention([b('a', '2026-11-30T08:00:00Z'), b('b', '2026-11-30T09:00:00Z'), b('c', '2026-11-30T10:00:00Z')], { keepDaily: 7 }, NOW);
    expect(plan.keep).toEqual(['c', 'a']);
    expect(reasonsOf(plan, 'a')).toEqual(['keepDaily 2026-11-30 (oldest)']);
  });
});

describe('calendar rules in a time zone', () => {
  it('buckets days by the wall clock of the policy time zone, not UTC', () => {
    // 21:30Z and 22:30Z on 24 Oct are 23:30 on 24 Oct and 00:30 on 25 Oct in Berlin (CEST)
    const backups = [b('late', '2026-10-24T22:30:00Z'), b('evening', '2026-10-24T21:30:00Z'), b('morning', '2026-10-24T06:00:00Z')];
    const berlin = planRetention(backups, { keepDaily: 2, timezone: 'Europe/Berlin' }, NOW);
    expect(berlin.keep).toEqual(['late', 'evening']);
    expect(reasonsOf(berlin, 'late')).toEqual(['newest', 'keepDaily 2026-10-25']);
    const utc = planRetention(backups, { keepDaily: 2 }, NOW);
    expect(utc.keep).toEqual(['late', 'morning']); // one UTC day: the newest, then the oldest while a bucket is left
  });

  it('Europe/Berlin, clocks back (25 Oct 2026, 03:00 CEST -> 02:00 CET): the repeated hour is one hourly bucket', () => {
    // 00:30Z = 02:30 CEST and 01:30Z = 02:30 CET: both in local hour 02, like restic's YYYYMMDDHH
    const backups = [b('cest', '2026-10-25T00:30:00Z'), b('cet', '2026-10-25T01:30:00Z'), b('before', '2026-10-24T23:30:00Z'), b('after', '2026-10-25T02:10:00Z')];
    const plan = planRetention(backups, { keepHourly: 3, timezone: 'Europe/Berlin' }, NOW);
    expect(plan.keep).toEqual(['after', 'cet', 'before']);
    expect(plan.kept.map((k) => k.reasons.at(-1))).toEqual(['keepHourly 2026-10-25T03', 'keepHourly 2026-10-25T02', 'keepHourly 2026-10-25T01']);
    expect(plan.delete.map((d) => d.backupId)).toEqual(['cest']);
  });

  it('Europe/Berlin, clocks forward (29 Mar 2026, 02:00 CET -> 03:00 CEST): no hour 02, and keepWithin counts wall-clock days', () => {
    const backups = [b('cet', '2026-03-29T00:59:00Z'), b('cest', '2026-03-29T01:00:00Z')];
    const plan = planRetention(backups, { keepHourly: 2, timezone: 'Europe/Berlin' }, NOW);
    expect(plan.kept.map((k) => k.reasons.at(-1))).toEqual(['keepHourly 2026-03-29T03', 'keepHourly 2026-03-29T01']);

    // keepWithin 1d from 12:00 CEST on 29 Mar reaches back to 12:00 CET on 28 Mar: 23 hours
    const anchor = b('anchor', '2026-03-29T10:00:00Z');
    const within = planRetention([anchor, b('23h30', '2026-03-28T10:30:00Z'), b('22h30', '2026-03-28T11:30:00Z')], { keepWithin: '1d', timezone: 'Europe/Berlin' }, NOW);
    expect(within.keep).toEqual(['anchor', '22h30']);
    expect(reasonsOf(within, '22h30')).toEqual(['keepWithin 1d']);
    const utc = planRetention([anchor, b('23h30', '2026-03-28T10:30:00Z'), b('22h30', '2026-03-28T11:30:00Z')], { keepWithin: '1d' }, NOW);
    expect(utc.keep).toEqual(['anchor', '22h30', '23h30']);
  });

  it('America/New_York, clocks back (1 Nov 2026): a 25-hour day is one daily bucket', () => {
    // 04:30Z on 1 Nov = 00:30 EDT; 04:30Z on 2 Nov = 23:30 EST, still 1 Nov
    const backups = [b('nov1-late', '2026-11-02T04:30:00Z'), b('nov1-early', '2026-11-01T04:30:00Z'), b('oct31', '2026-11-01T03:30:00Z')];
    const plan = planRetention(backups, { keepDaily: 2, timezone: 'America/New_York' }, NOW);
    expect(plan.keep).toEqual(['nov1-late', 'oct31']);
    expect(plan.kept.map((k) => k.reasons.at(-1))).toEqual(['keepDaily 2026-11-01', 'keepDaily 2026-10-31']);
  });

  it('America/New_York, clocks forward (8 Mar 2026): a 23-hour day is one daily bucket', () => {
    // 05:00Z on 8 Mar = 00:00 EST; 03:59Z on 9 Mar = 23:59 EDT, both 8 Mar
    const backups = [b('mar8-last', '2026-03-09T03:59:00Z'), b('mar8-first', '2026-03-08T05:00:00Z'), b('mar7', '2026-03-08T04:59:00Z')];
    const plan = planRetention(backups, { keepDaily: 2, timezone: 'America/New_York' }, NOW);
    expect(plan.keep).toEqual(['mar8-last', 'mar7']);
  });

  it('ISO weeks across year ends: 2026-W53 runs to Sunday 3 Jan 2027; Monday 30 Dec 2024 is 2025-W01', () => {
    const daily: RetentionItem[] = [];
    for (let t = Date.parse('2026-12-20T12:00:00Z'); t <= Date.parse('2027-01-10T12:00:00Z'); t += 86_400_000) daily.push(b(new Date(t).toISOString().slice(0, 10), new Date(t).toISOString()));
    const plan = planRetention(daily, { keepWeekly: 3 }, NOW);
    expect(plan.kept.map((k) => `${k.backupId} ${k.reasons.at(-1)!}`)).toEqual(['2027-01-10 keepWeekly 2027-W01', '2027-01-03 keepWeekly 2026-W53', '2026-12-27 keepWeekly 2026-W52']);

    const turn = planRetention([b('sun', '2024-12-29T12:00:00Z'), b('mon', '2024-12-30T12:00:00Z'), b('next-sun', '2025-01-05T12:00:00Z')], { keepWeekly: 2 }, NOW);
    expect(turn.kept.map((k) => `${k.backupId} ${k.reasons.at(-1)!}`)).toEqual(['next-sun keepWeekly 2025-W01', 'sun keepWeekly 2024-W52']);
  });

  it('yearly buckets turn at local midnight on 1 January', () => {
    // 23:30Z on 31 Dec is already 00:30 on 1 Jan 2027 in Berlin
    const backups = [b('ny', '2026-12-31T23:30:00Z'), b('nye', '2026-12-31T22:30:00Z'), b('june', '2026-06-01T12:00:00Z')];
    const berlin = planRetention(backups, { keepYearly: 2, timezone: 'Europe/Berlin' }, new Date('2027-01-02T00:00:00Z'));
    expect(berlin.kept.map((k) => `${k.backupId} ${k.reasons.at(-1)!}`)).toEqual(['ny keepYearly 2027', 'nye keepYearly 2026']);
    const utc = planRetention(backups, { keepYearly: 2 }, new Date('2027-01-02T00:00:00Z'));
    expect(utc.kept.map((k) => `${k.backupId} ${k.reasons.at(-1)!}`)).toEqual(['ny keepYearly 2026', 'june keepYearly 2026 (oldest)']);
  });
});

describe('age, budget and floor', () => {
  const history = (sizes: number[], hoursApart = 24): RetentionItem[] =>
    sizes.map((s, i) => b(`b${i}`, new Date(NOW.getTime() - (i + 1) * hoursApart * 3_600_000).toISOString(), { sizeBytes: s }));

  it('maxAge keeps what is younger and names itself when it deletes; pins and minKeep still win', () => {
    const backups = history([1, 1, 1, 1, 1], 30 * 24); // 30, 60, 90, 120, 150 days old
    backups[4]!.pinned = true;
    const plan = planRetention(backups, { maxAge: '90d', minKeep: 1 }, NOW);
    expect(plan.keep).toEqual(['b0', 'b1', 'b2', 'b4']);
    expect(reasonsOf(plan, 'b2')).toEqual(['maxAge 90d (younger)']);
    expect(reasonsOf(plan, 'b4')).toEqual(['pinned']);
    expect(plan.delete.map((d) => [d.backupId, d.reason, d.rule])).toEqual([['b3', 'maxAge 90d: 120 days old', 'maxAge']]);

    const floor = planRetention(backups, { maxAge: '7d', minKeep: 3 }, NOW);
    expect(floor.keep).toEqual(['b0', 'b1', 'b2', 'b4']);
    expect(reasonsOf(floor, 'b2')).toEqual(['minKeep 3']);
  });

  it('maxTotalBytes deletes the oldest kept first and never a pinned, the newest or the minKeep newest', () => {
    const GiB = 2 ** 30;
    const backups = history([4 * GiB, 3 * GiB, 3 * GiB, 2 * GiB, 2 * GiB, 1 * GiB]);
    backups[5]!.pinned = true;
    const plan = planRetention(backups, { keepLast: 6, minKeep: 2, maxTotalBytes: 10 * GiB }, NOW);
    // kept by the rules: 15 GiB; the budget removes b4 (2 GiB) then b3 (2 GiB) then b2 (3 GiB)... stops at <= 10 GiB
    expect(plan.keep).toEqual(['b0', 'b1', 'b5']);
    expect(plan.delete.map((d) => [d.backupId, d.reason])).toEqual([
      ['b2', 'maxTotalBytes 10 GiB: over budget by 1 GiB (was kept by keepLast 6)'],
      ['b3', 'maxTotalBytes 10 GiB: over budget by 3 GiB (was kept by keepLast 6)'],
      ['b4', 'maxTotalBytes 10 GiB: over budget by 5 GiB (was kept by keepLast 6)'],
    ]);
    expect(plan.totals).toEqual({ backups: 6, kept: 3, deleted: 3, keptBytes: 8 * GiB, deletedBytes: 7 * GiB, maxTotalBytes: 10 * GiB, overBudgetBytes: 0 });

    // pins and the floor can keep the total over budget: reported, not hidden
    const tight = planRetention(backups, { keepLast: 6, minKeep: 2, maxTotalBytes: 5 * GiB }, NOW);
    expect(tight.keep).toEqual(['b0', 'b1', 'b5']);
    expect(tight.totals.overBudgetBytes).toBe(3 * GiB);
  });

  it('needs every size under a byte budget', () => {
    expect(() => planRetention([b('a', '2026-01-01T00:00:00Z')], { keepLast: 1, maxTotalBytes: 100 }, NOW)).toThrow(RetentionInputError);
    expect(() => planRetention([b('a', '2026-01-01T00:00:00Z')], { keepLast: 1, maxTotalBytes: 100 }, NOW)).toThrow('backup a: sizeBytes must be an integer >= 0 (maxTotalBytes needs every size), got undefined');
  });

  it('keepWithin counts from the newest backup, so a stopped schedule never ages everything out', () => {
    const backups = history([1, 1, 1, 1], 24 * 200); // 200..800 days old
    const plan = planRetention(backups, { keepWithin: '1y' } satisfies RetentionPolicy, NOW);
    expect(plan.keep).toEqual(['b0', 'b1']);
    expect(reasonsOf(plan, 'b1')).toEqual(['keepWithin 1y']);
  });
});

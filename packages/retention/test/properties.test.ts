import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planRetention } from '../src/index.js';
import type { KeepRule, RetentionItem, RetentionPolicy } from '../src/index.js';
import { parseInstant, ZoneClock } from '../src/zone.js';

const T0 = Date.parse('2023-01-01T00:00:00Z');
const SPAN = 4 * 365 * 86_400_000;
const ZONES = ['UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata', 'Pacific/Chatham'];

/** Irregular histories: bursts, gaps, equal timestamps, pins, sizes (some 0). */
const historyArb = fc
  .uniqueArray(
    fc.record({
      backupId: fc.string({ minLength: 1, maxLength: 8 }),
      createdAt: fc.oneof(
        fc.integer({ min: 0, max: SPAN }), // anywhere in four years
        fc.integer({ min: 0, max: 50 }).map((m) => SPAN - m * 3_600_000), // a burst of recent hourly ones
        fc.constantFrom(0, SPAN / 2, SPAN), // shared instants
      ),
      pinned: fc.integer({ min: 0, max: 7 }).map((n) => n === 0),
      sizeBytes: fc.integer({ min: 0, max: 1000 }),
    }),
    { selector: (x) => x.backupId, maxLength: 80 },
  )
  .map((xs) => xs.map((x) => ({ ...x, createdAt: new Date(T0 + x.createdAt).toISOString() })));

const durationArb = fc
  .record({ y: fc.integer({ min: 0, max: 2 }), m: fc.integer({ min: 0, max: 14 }), d: fc.integer({ min: 0, max: 40 }), h: fc.integer({ min: 0, max: 50 }) })
  .filter((x) => x.y + x.m + x.d + x.h > 0)
  .map((x) => (x.y ? `${x.y}y` : '') + (x.m ? `${x.m}m` : '') + (x.d ? `${x.d}d` : '') + (x.h ? `${x.h}h` : ''));

const count = fc.option(fc.integer({ min: 0, max: 12 }), { nil: undefined });
const policyArb: fc.Arbitrary<RetentionPolicy> = fc
  .record({
    keepLast: count,
    keepHourly: count,
    keepDaily: count,
    keepWeekly: count,
    keepMonthly: count,
    keepYearly: count,
    keepWithin: fc.option(durationArb, { nil: undefined }),
    maxAge: fc.option(durationArb, { nil: undefined }),
    maxTotalBytes: fc.option(fc.integer({ min: 1, max: 20_000 }), { nil: undefined }),
    minKeep: fc.option(fc.integer({ min: 0, max: 10 }), { nil: undefined }),
    timezone: fc.constantFrom(...ZONES),
  })
  .map((p) => {
    const out = Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as RetentionPolicy;
    const keeps = [p.keepLast, p.keepHourly, p.keepDaily, p.keepWeekly, p.keepMonthly, p.keepYearly].some((n) => (n ?? 0) > 0);
    if (!keeps && !p.keepWithin && !p.maxAge && (p.minKeep ?? 0) < 1) out.minKeep = 1; // the validator refuses this policy
    return out;
  });

const nowArb = fc.integer({ min: SPAN - 30 * 86_400_000, max: SPAN + 400 * 86_400_000 }).map((x) => new Date(T0 + x));

const newestFirst = (xs: readonly RetentionItem[]): RetentionItem[] =>
  [...xs].sort((x, y) => Date.parse(String(y.createdAt)) - Date.parse(String(x.createdAt)) || (x.backupId < y.backupId ? 1 : x.backupId > y.backupId ? -1 : 0));

const PROTECTED: KeepRule[] = ['pinned', 'newest', 'minKeep'];

describe('planRetention properties (random histories and policies)', () => {
  it('partitions the input, keeps the newest and the pinned, never goes below minKeep, and respects the budget unless protected backups forbid it', () => {
    fc.assert(
      fc.property(historyArb, policyArb, nowArb, (backups, policy, now) => {
        const plan = planRetention(backups, policy, now);
        const kept = new Set(plan.keep);
        const deleted = new Set(plan.delete.map((d) => d.backupId));
        expect(kept.size + deleted.size).toBe(backups.length);
        for (const x of backups) expect(kept.has(x.backupId) !== deleted.has(x.backupId)).toBe(true);
        for (const x of backups) if (x.pinned) expect(kept.has(x.backupId)).toBe(true);
        const sorted = newestFirst(backups);
        if (sorted.length) expect(kept.has(sorted[0]!.backupId)).toBe(true);
        for (const x of sorted.slice(0, policy.minKeep ?? 0)) expect(kept.has(x.backupId)).toBe(true);
        expect(plan.keep.length).toBeGreaterThanOrEqual(Math.min(backups.length, policy.minKeep ?? 0));
        // order: newest first in both lists; reasons everywhere
        expect(plan.keep).toEqual(sorted.filter((x) => kept.has(x.backupId)).map((x) => x.backupId));
        expect(plan.delete.map((d) => d.backupId)).toEqual(sorted.filter((x) => deleted.has(x.backupId)).map((x) => x.backupId));
        for (const k of plan.kept) expect(k.reasons.length).toBeGreaterThan(0);
        for (const d of plan.delete) expect(d.reason).toMatch(/^(maxAge |maxTotalBytes |not kept by any rule$)/);
        // budget
        const keptBytes = backups.filter((x) => kept.has(x.backupId)).reduce((s, x) => s + x.sizeBytes, 0);
        expect(plan.totals.keptBytes).toBe(keptBytes);
        if (policy.maxTotalBytes !== undefined && keptBytes > policy.maxTotalBytes) {
          for (const k of plan.kept) expect(k.rules.some((r) => PROTECTED.includes(r))).toBe(true);
          expect(plan.totals.overBudgetBytes).toBe(keptBytes - policy.maxTotalBytes);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('is deterministic and independent of input order', () => {
    fc.assert(
      fc.property(historyArb, policyArb, nowArb, fc.func(fc.integer()), (backups, policy, now, key) => {
        const a = planRetention(backups, policy, now);
        const shuffled = [...backups].sort((x, y) => key(x.backupId) - key(y.backupId));
        const again = planRetention(shuffled, policy, now);
        expect(again).toEqual(planRetention(backups, policy, now));
        expect(again.keep).toEqual(a.keep);
        expect(again.kept).toEqual(a.kept);
        expect(again.delete.map((d) => [d.backupId, d.reason])).toEqual(a.delete.map((d) => [d.backupId, d.reason]));
      }),
      { numRuns: 200 },
    );
  });

  it('is idempotent: planning again over what a plan keeps deletes nothing more', () => {
    fc.assert(
      fc.property(historyArb, policyArb, nowArb, (backups, policy, now) => {
        const plan = planRetention(backups, policy, now);
        const kept = new Set(plan.keep);
        const second = planRetention(
          backups.filter((x) => kept.has(x.backupId)),
          policy,
          now,
        );
        expect(second.delete.map((d) => `${d.backupId}: ${d.reason}`)).toEqual([]);
      }),
      { numRuns: 400 },
    );
  });

  it('without a budget, keeps exactly the union of what each keep rule keeps on its own', () => {
    fc.assert(
      fc.property(historyArb, policyArb, nowArb, (backups, full, now) => {
        const policy: RetentionPolicy = { ...full };
        delete policy.maxTotalBytes;
        const union = new Set<string>();
        for (const [field, value] of Object.entries(policy)) {
          if (field === 'timezone' || value === 0) continue;
          for (const id of planRetention(backups, { [field]: value, timezone: policy.timezone } as RetentionPolicy, now).keep) union.add(id);
        }
        if (union.size === 0) return; // only zero counts and minKeep 0: nothing to compare
        expect(new Set(planRetention(backups, policy, now).keep)).toEqual(union);
      }),
      { numRuns: 200 },
    );
  });
});

describe('ZoneClock', () => {
  const fmt = new Map(ZONES.map((z) => [z, new Intl.DateTimeFormat('en-US', { timeZone: z, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' })]));
  /** Wall-clock time at `t` straight from Intl, no caching: the reference. */
  const wallClock = (zone: string, t: number): number => {
    const p = Object.fromEntries(fmt.get(zone)!.formatToParts(t).map((x) => [x.type, Number(x.value)]));
    return Date.UTC(p['year']!, p['month']! - 1, p['day']!, p['hour']!, p['minute']!, p['second']!);
  };
  // The UTC days of 2024-2027 on which each zone changes offset (DST, at :00, :30 or :45)
  const transitionDays: Array<[string, number]> = [];
  for (const zone of ZONES) {
    for (let day = Date.parse('2024-01-01T00:00:00Z'); day < Date.parse('2028-01-01T00:00:00Z'); day += 86_400_000) {
      if (wallClock(zone, day) - day !== wallClock(zone, day + 86_400_000) - (day + 86_400_000)) transitionDays.push([zone, day]);
    }
  }

  it('matches Intl for any instant, and minute by minute around every DST change (offsets of :30 and :45, changes at :30)', () => {
    expect(transitionDays.length).toBe(4 * 4 * 2); // two a year for four years in all zones but UTC and Kolkata
    const instant = fc.oneof(
      fc.tuple(fc.constantFrom(...ZONES), fc.integer({ min: Date.parse('1971-01-01T00:00:00Z'), max: Date.parse('2099-12-31T00:00:00Z') })),
      fc.tuple(fc.constantFrom(...transitionDays), fc.integer({ min: 0, max: 24 * 60 })).map(([[zone, day], minute]) => [zone, day + minute * 60_000] as [string, number]),
    );
    fc.assert(
      fc.property(instant, ([zone, t0]) => {
        const t = t0 - (t0 % 1000);
        expect(new ZoneClock(zone).local(t)).toBe(wallClock(zone, t));
        expect(shared.get(zone)!.local(t)).toBe(wallClock(zone, t));
      }),
      { numRuns: 4000 },
    );
  });
  const shared = new Map(ZONES.map((z) => [z, new ZoneClock(z)]));
});

describe('parseInstant', () => {
  it('agrees with Date.parse on every string, in and out of the fast toISOString shape', () => {
    const iso = fc.integer({ min: -1e12, max: 8e12 }).map((t) => new Date(t).toISOString());
    const mangled = fc.tuple(iso, fc.nat(23), fc.constantFrom('0', '9', ' ', 'x', '-', ':', 'T', 'Z', '.')).map(([s, i, c]) => s.slice(0, i) + c + s.slice(i + 1));
    fc.assert(
      fc.property(fc.oneof(iso, mangled, fc.string({ maxLength: 30 })), (s) => {
        expect(Object.is(parseInstant(s), Date.parse(s))).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });
});

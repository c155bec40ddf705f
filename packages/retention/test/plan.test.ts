import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planRetention } from '../src/index.js';
import type { RetentionItem } from '../src/index.js';

const NOW = new Date('2026-11-26T12:00:00Z');

function b(id: string, createdAt: string, pinned = false): RetentionItem {
  return { backupId: id, createdAt, pinned };
}

describe('planRetention keepLast', () => {
  it('keeps the newest keepLast and deletes the rest, newest first', () => {
    const backups = [b('a', '2026-01-01T00:00:00Z'), b('c', '2026-01-03T00:00:00Z'), b('b', '2026-01-02T00:00:00Z'), b('d', '2026-01-04T00:00:00Z')];
    const plan = planRetention(backups, { keepLast: 2 }, NOW);
    expect(plan.keep).toEqual(['d', 'c']);
    expect(plan.delete.map((x) => x.backupId)).toEqual(['b', 'a']);
    expect(plan.delete[0]!.reason).toBe('not kept by any rule');
    expect(plan.kept).toEqual([
      { backupId: 'd', reasons: ['newest', 'keepLast 2'], rules: ['newest', 'keepLast'] },
      { backupId: 'c', reasons: ['keepLast 2'], rules: ['keepLast'] },
    ]);
  });

  it('always keeps pinned backups, which also count towards keepLast', () => {
    const backups = [b('a', '2026-01-01T00:00:00Z', true), b('b', '2026-01-02T00:00:00Z'), b('c', '2026-01-03T00:00:00Z', true), b('d', '2026-01-04T00:00:00Z')];
    const plan = planRetention(backups, { keepLast: 1 }, NOW);
    expect(plan.keep).toEqual(['d', 'c', 'a']);
    expect(plan.delete.map((x) => x.backupId)).toEqual(['b']);
    expect(plan.kept.find((k) => k.backupId === 'a')!.reasons).toEqual(['pinned']);
  });

  it('returns the caller objects (catalog records) in delete', () => {
    const recs = [
      { backupId: 'x', createdAt: '2026-01-01T00:00:00Z', pinned: false, locations: ['nas'] },
      { backupId: 'y', createdAt: '2026-01-02T00:00:00Z', pinned: false, locations: ['local'] },
    ];
    const plan = planRetention(recs, { keepLast: 1 }, NOW);
    expect(plan.delete).toEqual([{ ...recs[0], reason: expect.any(String), rule: 'none' }]);
    expect(plan.delete[0]!.locations).toEqual(['nas']);
  });

  it('orders equal timestamps by backupId (the catalog order) and accepts Dates', () => {
    const t = '2026-01-01T00:00:00Z';
    const plan = planRetention([b('m', t), { backupId: 'z', createdAt: new Date(t), pinned: false }, b('a', t)], { keepLast: 2 }, NOW);
    expect(plan.keep).toEqual(['z', 'm']);
    expect(plan.delete.map((x) => x.backupId)).toEqual(['a']);
  });

  it('handles no backups and fewer backups than keepLast', () => {
    expect(planRetention([], { keepLast: 3 }, NOW)).toMatchObject({ keep: [], delete: [], kept: [], totals: { backups: 0, kept: 0, deleted: 0 } });
    expect(planRetention([b('a', '2026-01-01T00:00:00Z')], { keepLast: 3 }, NOW).keep).toEqual(['a']);
  });

  it('refuses keepLast < 1 when it is the only rule, and malformed input with stable codes', () => {
    for (const keepLast of [0, -1, 1.5, Number.NaN]) {
      expect(() => planRetention([b('a', '2026-01-01T00:00:00Z')], { keepLast }, NOW)).toThrow(expect.objectContaining({ code: 'RETENTION_INVALID_POLICY' }));
    }
    expect(() => planRetention([b('a', 'yesterday')], { keepLast: 1 }, NOW)).toThrow(expect.objectContaining({ code: 'RETENTION_INVALID_INPUT' }));
    expect(() => planRetention([b('a', '2026-01-01T00:00:00Z'), b('a', '2026-01-02T00:00:00Z')], { keepLast: 1 }, NOW)).toThrow(
      expect.objectContaining({ code: 'RETENTION_INVALID_INPUT' }),
    );
  });
});

describe('planRetention properties', () => {
  const backupsArb = fc
    .uniqueArray(
      fc.record({
        backupId: fc.string({ minLength: 1, maxLength: 12 }),
        // few distinct instants so equal timestamps are common
        createdAt: fc.integer({ min: 0, max: 40 }).map((m) => new Date(Date.parse('2026-01-01T00:00:00Z') + m * 60_000).toISOString()),
        pinned: fc.boolean(),
      }),
      { selector: (x) => x.backupId, maxLength: 60 },
    );

  const newestFirst = (xs: RetentionItem[]): RetentionItem[] =>
    [...xs].sort((x, y) => Date.parse(String(y.createdAt)) - Date.parse(String(x.createdAt)) || (x.backupId < y.backupId ? 1 : x.backupId > y.backupId ? -1 : 0));

  it('never deletes a pinned backup or the newest, keeps exactly the newest min(n, keepLast) unpinned-or-not, and partitions the input', () => {
    fc.assert(
      fc.property(backupsArb, fc.integer({ min: 1, max: 70 }), (backups, keepLast) => {
        const plan = planRetention(backups, { keepLast }, NOW);
        const deleted = new Set(plan.delete.map((d) => d.backupId));
        const kept = new Set(plan.keep);
        // partition
        expect(kept.size + deleted.size).toBe(backups.length);
        for (const x of backups) expect(kept.has(x.backupId) !== deleted.has(x.backupId)).toBe(true);
        // pinned never deleted
        for (const x of backups) if (x.pinned) expect(deleted.has(x.backupId)).toBe(false);
        const sorted = newestFirst(backups);
        // newest never deleted
        if (sorted.length > 0) expect(kept.has(sorted[0]!.backupId)).toBe(true);
        // the newest min(n, keepLast) are kept; beyond them exactly the pinned ones are kept
        const head = sorted.slice(0, Math.min(sorted.length, keepLast));
        for (const x of head) expect(kept.has(x.backupId)).toBe(true);
        for (const x of sorted.slice(keepLast)) expect(kept.has(x.backupId)).toBe(x.pinned);
        // unpinned kept = exactly the unpinned among the newest min(n, keepLast)
        const unpinnedKept = sorted.filter((x) => !x.pinned && kept.has(x.backupId)).map((x) => x.backupId);
        expect(unpinnedKept).toEqual(head.filter((x) => !x.pinned).map((x) => x.backupId));
        // keep is newest first
        expect(plan.keep).toEqual(sorted.filter((x) => kept.has(x.backupId)).map((x) => x.backupId));
      }),
      { numRuns: 500 },
    );
  });

  it('is independent of input order and does not mutate its input', () => {
    fc.assert(
      fc.property(backupsArb, fc.integer({ min: 1, max: 10 }), fc.integer(), (backups, keepLast, seed) => {
        const copy = JSON.parse(JSON.stringify(backups)) as RetentionItem[];
        const shuffled = [...backups].sort((x, y) => ((x.backupId.charCodeAt(0) * seed) % 7) - ((y.backupId.charCodeAt(0) * seed) % 7));
        const a = planRetention(backups, { keepLast }, NOW);
        const b2 = planRetention(shuffled, { keepLast }, NOW);
        expect(b2.keep).toEqual(a.keep);
        expect(b2.delete.map((d) => d.backupId)).toEqual(a.delete.map((d) => d.backupId));
        expect(backups).toEqual(copy);
      }),
      { numRuns: 200 },
    );
  });
});

describe('planRetention order', () => {
  it('orders newest first by (createdAt, backupId) to the millisecond, over any time range', () => {
    const ref = (xs: RetentionItem[]): string[] =>
      [...xs].sort((x, y) => (y.createdAt as Date).getTime() - (x.createdAt as Date).getTime() || (x.backupId < y.backupId ? 1 : -1)).map((x) => x.backupId);
    // a second, 300 years, the whole Date range (too wide for packed sort keys with 512+ backups)
    const spanArb = fc.constantFrom(1_000, 86_400_000 * 365 * 300, 2 * 8.64e15);
    const itemsArb = spanArb.chain((span) =>
      fc.uniqueArray(
        fc.record({
          backupId: fc.string({ minLength: 1, maxLength: 6 }),
          ms: fc.oneof(fc.integer({ min: -span / 2, max: span / 2 }), fc.integer({ min: 0, max: 2 })), // and sub-second ties
        }),
        { selector: (x) => x.backupId, minLength: 1, maxLength: 700, size: 'max' },
      ),
    );
    fc.assert(
      fc.property(itemsArb, (items) => {
        const xs = items.map((x) => ({ backupId: x.backupId, createdAt: new Date(x.ms), pinned: false }));
        expect(planRetention(xs, { keepLast: xs.length }, NOW).keep).toEqual(ref(xs));
      }),
      { numRuns: 60, endOnFailure: true }, // shrinking 700-item arrays takes minutes
    );
  });
});

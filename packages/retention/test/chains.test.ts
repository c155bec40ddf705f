import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planRetention } from '../src/index.js';
import type { RetentionItem } from '../src/index.js';

const NOW = new Date('2026-11-26T12:00:00Z');
type Item = RetentionItem & { parentId?: string | null; manifest?: { parentId?: string | null } };
const day = (d: number): string => new Date(Date.UTC(2026, 0, d)).toISOString();

describe('incremental chains: a backup a kept backup needs is never deleted', () => {
  it('keepLast 1 over full f1 <- d1 <- d2: the whole chain stays, reasons name the kept backup', () => {
    const items: Item[] = [
      { backupId: 'f1', createdAt: day(1), pinned: false, parentId: null, sizeBytes: 100 },
      { backupId: 'd1', createdAt: day(2), pinned: false, parentId: 'f1', sizeBytes: 10 },
      { backupId: 'd2', createdAt: day(3), pinned: false, parentId: 'd1', sizeBytes: 10 },
    ];
    const plan = planRetention(items, { keepLast: 1 }, NOW);
    expect(plan.keep).toEqual(['d2', 'd1', 'f1']);
    expect(plan.delete).toEqual([]);
    expect(plan.kept.find((k) => k.backupId === 'f1')).toEqual({ backupId: 'f1', reasons: ['needed by d2'], rules: [] });
    expect(plan.totals).toMatchObject({ kept: 3, deleted: 0, keptBytes: 120, deletedBytes: 0 });
  });

  it('catalog records (parent in manifest.parentId); an older chain nobody needs still goes; a pin keeps its chain', () => {
    const items: Item[] = [
      { backupId: 'f0', createdAt: day(1), pinned: false, manifest: { parentId: null } },
      { backupId: 'e1', createdAt: day(2), pinned: true, manifest: { parentId: 'f0' } },
      { backupId: 'g0', createdAt: day(3), pinned: false, manifest: {} },
      { backupId: 'h0', createdAt: day(4), pinned: false, manifest: { parentId: null } },
      { backupId: 'h1', createdAt: day(5), pinned: false, manifest: { parentId: 'h0' } },
    ];
    const plan = planRetention(items, { keepLast: 1 }, NOW);
    expect(plan.keep).toEqual(['h1', 'h0', 'e1', 'f0']);
    expect(plan.delete.map((d) => d.backupId)).toEqual(['g0']);
    expect(plan.kept.find((k) => k.backupId === 'f0')!.reasons).toEqual(['needed by e1']);
  });

  it('property: every kept delta has its whole chain kept; without parents the plan is unchanged', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 5 }), (links, keepLast) => {
        // links[i] = 0: a full; otherwise a delta of the previous backup.
        const items: Item[] = links.map((l, i) => ({ backupId: `b${String(i).padStart(2, '0')}`, createdAt: day(i + 1), pinned: false, parentId: l && i ? `b${String(i - 1).padStart(2, '0')}` : null }));
        const plan = planRetention(items, { keepLast }, NOW);
        const kept = new Set(plan.keep);
        for (const it of items) if (kept.has(it.backupId) && it.parentId) expect(kept.has(it.parentId)).toBe(true);
        const plain = planRetention(items.map(({ parentId: _p, ...rest }) => rest), { keepLast }, NOW);
        expect(plain.keep).toEqual(plan.keep.filter((id) => !plan.kept.find((k) => k.backupId === id)!.reasons[0]!.startsWith('needed by')));
        expect(plan.totals.kept + plan.totals.deleted).toBe(items.length);
      }),
      { numRuns: 200 },
    );
  });
});

describe('compaction: a delta compacted into a full of the same instant is replaced by it', () => {
  type C = Item & { compactedFrom?: string; manifest?: { parentId?: string | null; compactedFrom?: string } };
  const chain = (): C[] => [
    { backupId: 'f1', createdAt: day(1), pinned: false, parentId: null, sizeBytes: 100 },
    { backupId: 'd1', createdAt: day(2), pinned: false, parentId: 'f1', sizeBytes: 10 },
    { backupId: 'd2', createdAt: day(3), pinned: false, parentId: 'd1', sizeBytes: 10 },
  ];

  it('keepLast 1: before compaction the chain stays; after, the compacted full alone is kept and the chain goes', () => {
    expect(planRetention(chain(), { keepLast: 1 }, NOW).delete).toEqual([]);
    const items: C[] = [...chain(), { backupId: 'd2x', createdAt: day(3), pinned: false, parentId: null, compactedFrom: 'd2', sizeBytes: 100 }];
    const plan = planRetention(items, { keepLast: 1 }, NOW);
    expect(plan.keep).toEqual(['d2x']);
    expect(plan.delete.map((d) => [d.backupId, d.rule, d.reason])).toEqual([
      ['d2', 'compacted', 'compacted into d2x'],
      ['d1', 'none', 'not kept by any rule'],
      ['f1', 'none', 'not kept by any rule'],
    ]);
    expect(plan.totals).toMatchObject({ backups: 4, kept: 1, deleted: 3, keptBytes: 100, deletedBytes: 120 });
  });

  it('a compacted delta that a kept delta still needs stays (needed by); a pinned one keeps its chain; catalog records carry it in the manifest', () => {
    const items: C[] = [
      ...chain(),
      { backupId: 'd1x', createdAt: day(2), pinned: false, manifest: { parentId: null, compactedFrom: 'd1' }, sizeBytes: 100 },
    ];
    const plan = planRetention(items, { keepLast: 1 }, NOW);
    expect(plan.keep).toEqual(['d2', 'd1', 'f1']);
    expect(plan.kept.find((k) => k.backupId === 'd1')!.reasons).toEqual(['needed by d2']);
    expect(plan.delete.map((d) => d.backupId)).toEqual(['d1x']);

    const pinned: C[] = [...chain().map((b) => (b.backupId === 'd2' ? { ...b, pinned: true } : b)), { backupId: 'd2x', createdAt: day(3), pinned: false, compactedFrom: 'd2', sizeBytes: 100 }];
    const p2 = planRetention(pinned, { keepLast: 1 }, NOW);
    expect(new Set(p2.keep)).toEqual(new Set(['d2x', 'd2', 'd1', 'f1']));
  });

  it('without the compacted full in the set (another target), the delta is planned as before', () => {
    const items: C[] = chain().map((b) => (b.backupId === 'f1' ? { ...b, compactedFrom: 'zz' } : b));
    expect(planRetention(items, { keepLast: 1 }, NOW)).toEqual(planRetention(chain(), { keepLast: 1 }, NOW));
  });
});

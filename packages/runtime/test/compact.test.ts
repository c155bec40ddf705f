import { describe, expect, it } from 'vitest';
import type { BackupRecord } from '@mfb/catalog';
import { compactionCandidates, PENDING_UPLOAD_RULE, type RetentionPlanView } from '../src/index.js';

type Item = RetentionPlanView['items'][number];
const rec = (backupId: string, parentId: string | null, extra: Partial<BackupRecord> = {}): BackupRecord =>
  ({ backupId, pinned: false, manifest: { kind: parentId ? 'delta' : 'full', parentId }, ...extra }) as unknown as BackupRecord;
const keep = (backupId: string, rules: Item['rules'], reasons: string[]): Item => ({ backupId, createdAt: '', ageSeconds: 0, sizeBytes: 1, pinned: false, action: 'keep', reasons, rules });
const plan = (items: Item[]): RetentionPlanView => ({ items }) as unknown as RetentionPlanView;

describe('compactionCandidates (incremental.compactOnPrune)', () => {
  // Newest first: n (newest, its own chain), d2 <- d1 <- f1 (a closed chain kept for d2 only).
  const records = [rec('n', 'f2'), rec('f2', null), rec('d2', 'd1'), rec('d1', 'f1'), rec('f1', null)];
  const base = [
    keep('n', ['newest'], ['newest']),
    keep('f2', [], ['needed by n']),
    keep('d2', ['keepDaily'], ['keepDaily 2026-11-20']),
    keep('d1', [], ['needed by d2']),
    keep('f1', [], ['needed by d2']),
  ];

  it('a delta kept by a rule whose every link is kept only for it; never the newest', () => {
    expect(compactionCandidates(plan(base), records).map((r) => r.backupId)).toEqual(['d2']);
  });

  it('not when a link is kept by a rule of its own, when pinned, kept only for a pending upload, or compacted already', () => {
    const ownRule = base.map((i) => (i.backupId === 'd1' ? keep('d1', ['keepWeekly'], ['keepWeekly 2026-W47']) : i));
    expect(compactionCandidates(plan(ownRule), records)).toEqual([]);
    const pinned = records.map((r) => (r.backupId === 'd2' ? rec('d2', 'd1', { pinned: true }) : r));
    expect(compactionCandidates(plan(base), pinned)).toEqual([]);
    const pending = base.map((i) => (i.backupId === 'd2' ? keep('d2', [PENDING_UPLOAD_RULE], ['pending upload to nas']) : i));
    expect(compactionCandidates(plan(pending), records)).toEqual([]);
    const done = [...records, { backupId: 'd2x', pinned: false, manifest: { kind: 'full', parentId: null, compactedFrom: 'd2' } } as unknown as BackupRecord];
    expect(compactionCandidates(plan(base), done)).toEqual([]);
  });
});

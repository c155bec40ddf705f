import type { RetentionItem, RetentionPlan } from './plan.js';

/**
 * The parent an incremental (delta) backup needs to restore: `parentId` on the item, or on
 * the manifest of a catalog record (`manifest.parentId`). Null/absent for fulls.
 */
function parentIdOf(b: RetentionItem): string | null {
  const x = b as RetentionItem & { parentId?: unknown; manifest?: { parentId?: unknown } };
  const p = x.parentId ?? x.manifest?.parentId;
  return typeof p === 'string' ? p : null;
}

const timeOf = (b: RetentionItem): number => (b.createdAt instanceof Date ? b.createdAt.getTime() : Date.parse(b.createdAt));

/**
 * Post-step of {@link planRetention} for incremental backups (issue 12): a backup that a kept
 * backup needs to restore (its parent, the parent's parent, ... down to the full base) is never
 * deleted. Such a backup moves from `delete` to `keep` with the reason `needed by <id>` (the
 * nearest kept backup that needs it) and no rule of its own, and the totals follow. A pinned
 * delta therefore keeps its whole chain. Backups without parents leave the plan unchanged.
 */
export function keepChainParents<T extends RetentionItem>(plan: RetentionPlan<T>, backups: readonly T[]): void {
  const parent = new Map<string, string>();
  for (const b of backups) {
    const p = parentIdOf(b);
    if (p !== null) parent.set(b.backupId, p);
  }
  if (parent.size === 0 || plan.delete.length === 0) return;
  const deleting = new Map(plan.delete.map((d) => [d.backupId, d]));
  const neededBy = new Map<string, string>();
  for (const id of plan.keep) {
    for (let p = parent.get(id); p !== undefined && deleting.has(p) && !neededBy.has(p); p = parent.get(p)) neededBy.set(p, id);
  }
  if (neededBy.size === 0) return;

  const byId = new Map(backups.map((b) => [b.backupId, b]));
  const newestFirst = (a: string, b: string): number => timeOf(byId.get(b)!) - timeOf(byId.get(a)!) || (a < b ? 1 : a > b ? -1 : 0);
  const reasons = new Map(plan.kept.map((k) => [k.backupId, k]));
  for (const [id, by] of neededBy) {
    reasons.set(id, { backupId: id, reasons: [`needed by ${by}`], rules: [] });
    const size = deleting.get(id)!.sizeBytes ?? 0;
    plan.totals.keptBytes += size;
    plan.totals.deletedBytes -= size;
  }
  plan.keep = [...plan.keep, ...neededBy.keys()].sort(newestFirst);
  plan.kept = plan.keep.map((id) => reasons.get(id)!);
  plan.delete = plan.delete.filter((d) => !neededBy.has(d.backupId));
  plan.totals.kept = plan.keep.length;
  plan.totals.deleted = plan.delete.length;
  if (plan.totals.maxTotalBytes !== undefined) plan.totals.overBudgetBytes = Math.max(0, plan.totals.keptBytes - plan.totals.maxTotalBytes);
}

/** The delta a full was compacted from: `compactedFrom` on the item or on a catalog record's manifest. */
function compactedFromOf(b: RetentionItem): string | null {
  const x = b as RetentionItem & { compactedFrom?: unknown; manifest?: { compactedFrom?: unknown } };
  const c = x.compactedFrom ?? x.manifest?.compactedFrom;
  return typeof c === 'string' ? c : null;
}

/**
 * Backups of the set replaced by a compaction (`backupctl compact`): delta id -> id of the full
 * of the same instant that was compacted from it. Only when that full is in the set too (on
 * this target) and the delta is not pinned (a pin keeps the delta and its chain).
 */
export function compactedAway(backups: readonly RetentionItem[]): Map<string, string> {
  const away = new Map<string, string>();
  let ids: Map<string, RetentionItem> | undefined;
  for (const b of backups) {
    const from = compactedFromOf(b);
    if (from === null || from === b.backupId) continue;
    ids ??= new Map(backups.map((x) => [x.backupId, x]));
    const d = ids.get(from);
    if (d && !d.pinned) away.set(from, b.backupId);
  }
  return away;
}

/**
 * Add the replaced deltas of {@link compactedAway} to the plan's deletes (reason
 * `compacted into <id>`, rule `compacted`), keeping the deletes newest first and the totals.
 * `keepChainParents` afterwards keeps those that a kept delta still needs.
 */
export function deleteCompacted<T extends RetentionItem>(plan: RetentionPlan<T>, backups: readonly T[], away: ReadonlyMap<string, string>): void {
  for (const b of backups) {
    const into = away.get(b.backupId);
    if (into === undefined) continue;
    const d = Object.assign({}, b) as T & { reason: string; rule: 'compacted' };
    d.reason = `compacted into ${into}`;
    d.rule = 'compacted';
    plan.delete.push(d);
    plan.totals.backups++;
    plan.totals.deleted++;
    plan.totals.deletedBytes += b.sizeBytes ?? 0;
  }
  plan.delete.sort((a, b) => timeOf(b) - timeOf(a) || (a.backupId < b.backupId ? 1 : a.backupId > b.backupId ? -1 : 0));
}

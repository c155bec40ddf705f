import { RetentionInputError, RetentionPolicyError } from './errors.js';

/** What the planner needs to know about a backup. Callers may pass richer objects (catalog records). */
export interface RetentionItem {
  backupId: string;
  /** ISO-8601 string or Date. */
  createdAt: string | Date;
  /** Pinned backups are always kept. */
  pinned: boolean;
}

/**
 * Which backups to keep. Every rule is optional except `keepLast`; a backup is kept when ANY
 * rule keeps it (the union, like `restic forget`), when it is pinned, or when it is the newest.
 * Rules to come, added as optional fields so existing callers keep compiling and meaning the
 * same thing:
 * - age: `keepWithinMs` (everything newer than now - N)
 * - calendar (GFS): `keepDaily`, `keepWeekly`, `keepMonthly`, `keepYearly` (+ `timezone`)
 * - size: `maxTotalBytes` (a cap applied after the keep rules, never touching pinned/newest)
 */
export interface RetentionPolicy {
  /** Keep the newest N backups (N >= 1: the newest backup is never deleted). */
  keepLast: number;
}

export interface RetentionPlan<T extends RetentionItem = RetentionItem> {
  /** Ids kept, newest first. */
  keep: string[];
  /** Backups to delete, newest first: the caller's own objects plus why they go. */
  delete: Array<T & { reason: string }>;
  /** Why each kept backup is kept, in `keep` order (for `list --explain`, the API, logs). */
  kept: Array<{ backupId: string; reasons: string[] }>;
}

function validatePolicy(policy: RetentionPolicy): void {
  if (typeof policy !== 'object' || policy === null) throw new RetentionPolicyError('retention policy: not an object');
  const k = policy.keepLast;
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1) {
    throw new RetentionPolicyError(`retention keepLast must be an integer >= 1 (the newest backup is never deleted), got ${String(k)}`);
  }
}

/**
 * Decide which backups to keep and which to delete. Pure: no I/O, no clock (`now` is given
 * so age and calendar rules can be added without changing the signature).
 *
 * Order is newest first by (createdAt, backupId), the catalog's order. Guarantees, for any
 * input: pinned backups are kept; the newest backup is kept; exactly the newest
 * `min(n, keepLast)` backups are kept by `keepLast` (pinned ones count towards it too);
 * every input backup appears exactly once in `keep` or `delete`.
 */
export function planRetention<T extends RetentionItem>(backups: readonly T[], policy: RetentionPolicy, now: Date): RetentionPlan<T> {
  validatePolicy(policy);
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new RetentionInputError('now: not a valid Date');
  const seen = new Set<string>();
  const sorted = backups.map((b) => {
    if (seen.has(b.backupId)) throw new RetentionInputError(`backup ${b.backupId} appears twice`);
    seen.add(b.backupId);
    const t = b.createdAt instanceof Date ? b.createdAt.getTime() : Date.parse(b.createdAt);
    if (Number.isNaN(t)) throw new RetentionInputError(`backup ${b.backupId}: createdAt is not a valid time`);
    return { b, t };
  });
  sorted.sort((x, y) => y.t - x.t || (x.b.backupId < y.b.backupId ? 1 : x.b.backupId > y.b.backupId ? -1 : 0));

  const plan: RetentionPlan<T> = { keep: [], delete: [], kept: [] };
  sorted.forEach(({ b }, i) => {
    const reasons: string[] = [];
    if (i === 0) reasons.push('newest');
    if (i < policy.keepLast) reasons.push(`keepLast ${policy.keepLast}`);
    if (b.pinned) reasons.push('pinned');
    if (reasons.length > 0) {
      plan.keep.push(b.backupId);
      plan.kept.push({ backupId: b.backupId, reasons });
    } else {
      plan.delete.push({ ...b, reason: `older than the newest ${policy.keepLast} (keepLast) and not pinned` });
    }
  });
  return plan;
}

import type { BackupRecord, Catalog } from '@mfb/catalog';
import type { DatabaseConfig, RetentionConfig, TargetConfig } from '@mfb/config';
import { TargetNotFoundError } from '@mfb/errors';
import { planRetention, type DeleteRule, type KeepRule, type RetentionTotals } from '@mfb/retention';

/** Why a backup the policy would delete is kept anyway: a configured target has no copy of it yet. */
export const PENDING_UPLOAD_RULE = 'pendingUpload';

/** One backup of a retention plan, newest first. */
export interface RetentionPlanItem {
  backupId: string;
  createdAt: string;
  /** Seconds between `createdAt` and the planning instant (0 for a backup dated in the future). */
  ageSeconds: number;
  sizeBytes: number;
  pinned: boolean;
  action: 'keep' | 'delete';
  /** Every rule that keeps it (keep), or the one reason it goes (delete): docs/retention.md#reasons. */
  reasons: string[];
  /** Machine-readable rules: keep rules, the delete rule (`maxAge`, `maxTotalBytes`, `none`) or `pendingUpload`. */
  rules: Array<KeepRule | DeleteRule | typeof PENDING_UPLOAD_RULE>;
}

/** The retention plan of one database on one target: what a prune would do now. */
export interface RetentionPlanView {
  databaseId: string;
  /** `local` = primary storage. */
  target: string;
  /** The policy that applies (validated, `maxTotalBytes` in bytes). */
  policy: RetentionConfig;
  plannedAt: string;
  /** Live copies on the target, newest first. */
  items: RetentionPlanItem[];
  /** The planner's totals, and how many are kept only because an upload to a target is pending (primary storage only). */
  totals: RetentionTotals & { pendingUpload: number };
}

export interface TargetRetentionPlan {
  view: RetentionPlanView;
  /** The catalog records to delete from the target, newest first (`view.items` with action `delete`). */
  delete: BackupRecord[];
}

/**
 * The policy of `target` for `db`: the database's own `retention` for the primary storage
 * (`local`), the target's for a target (both default to `localRetention` in the config).
 * @throws TargetNotFoundError for a target that is not configured.
 */
export function retentionPolicyFor(config: { readonly targets: readonly TargetConfig[] }, db: DatabaseConfig, target: string): RetentionConfig {
  if (target === 'local') return db.retention;
  const t = config.targets.find((x) => x.name === target);
  if (!t) throw new TargetNotFoundError(target, ['local', ...config.targets.map((x) => x.name)]);
  return t.retention;
}

/** Every backup of `databaseId` with a live copy on `target`, newest first. */
async function liveCopies(catalog: Catalog, databaseId: string, target: string): Promise<BackupRecord[]> {
  const live: BackupRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await catalog.listBackups({ databaseId, target, limit: 500, ...(cursor ? { cursor } : {}) });
    live.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return live;
}

/**
 * For the primary storage: the targets of `db` each backup still waits for, by backup id. A
 * backup waits for target `t` when it has no copy there (live or deleted) and is not older
 * than the oldest backup ever copied to `t`: older ones were made before `t` was configured
 * for the database and will never be uploaded, so they do not hold the primary storage forever.
 */
async function pendingUploads(catalog: Catalog, db: DatabaseConfig, records: readonly BackupRecord[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (db.targets.length === 0) return out;
  const usage = await catalog.storageUsage({ databaseId: db.id });
  for (const t of db.targets) {
    const first = usage.find((u) => u.target === t)?.firstCopyAt ?? null;
    const from = first === null ? Number.NEGATIVE_INFINITY : Date.parse(first);
    for (const r of records) {
      if (Date.parse(r.createdAt) < from || r.locations.some((l) => l.target === t)) continue;
      out.set(r.backupId, [...(out.get(r.backupId) ?? []), t]);
    }
  }
  return out;
}

/**
 * The retention plan of database `db` on `target` at `now`, from the catalog: the pure planner
 * of @mfb/retention over the live copies there (with their sizes), plus one rule only the
 * catalog can know: on the primary storage, a backup whose upload to a configured target is
 * still pending is kept (`pending upload to <target>`), so a prune never deletes the only copy
 * before it reached the target. The prune job, `backupctl prune --dry-run` and
 * `GET /v1/databases/:id/retention` all show this plan.
 * @throws TargetNotFoundError for a target that is not configured.
 */
export async function planTargetRetention(
  deps: { config: { readonly targets: readonly TargetConfig[] }; catalog: Catalog },
  db: DatabaseConfig,
  target: string,
  now: Date,
): Promise<TargetRetentionPlan> {
  const policy = retentionPolicyFor(deps.config, db, target);
  const live = await liveCopies(deps.catalog, db.id, target);
  const plan = planRetention(live, policy, now);
  const pending = target === 'local' ? await pendingUploads(deps.catalog, db, plan.delete) : new Map<string, string[]>();

  const kept = new Map(plan.kept.map((k) => [k.backupId, k]));
  const going = new Map(plan.delete.map((d) => [d.backupId, d]));
  const totals: RetentionPlanView['totals'] = { ...plan.totals, pendingUpload: 0 };
  const items: RetentionPlanItem[] = [];
  const del: BackupRecord[] = [];
  // `live` is newest first already (the catalog's order, the planner's too).
  for (const r of live) {
    const base = {
      backupId: r.backupId,
      createdAt: r.createdAt,
      ageSeconds: Math.max(0, Math.floor((now.getTime() - Date.parse(r.createdAt)) / 1000)),
      sizeBytes: r.sizeBytes,
      pinned: r.pinned,
    };
    const k = kept.get(r.backupId);
    const waits = pending.get(r.backupId);
    if (k) {
      items.push({ ...base, action: 'keep', reasons: k.reasons, rules: k.rules });
    } else if (waits) {
      items.push({ ...base, action: 'keep', reasons: waits.map((t) => `pending upload to ${t}`), rules: [PENDING_UPLOAD_RULE] });
      totals.pendingUpload++;
      totals.kept++;
      totals.deleted--;
      totals.keptBytes += r.sizeBytes;
      totals.deletedBytes -= r.sizeBytes;
    } else {
      const d = going.get(r.backupId)!;
      items.push({ ...base, action: 'delete', reasons: [d.reason], rules: [d.rule] });
      del.push(r);
    }
  }
  if (totals.maxTotalBytes !== undefined) totals.overBudgetBytes = Math.max(0, totals.keptBytes - totals.maxTotalBytes);
  return {
    view: { databaseId: db.id, target, policy, plannedAt: now.toISOString(), items, totals },
    delete: del,
  };
}

import { deleteCopy } from '@mfb/backup';
import type { BackupRecord, Catalog, CopyRef, DeletingCopy, HousekeepingResult } from '@mfb/catalog';
import type { StorageDriver } from '@mfb/storage';
import type { Config, DatabaseConfig, RetentionConfig, TargetConfig } from '@mfb/config';
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

/** Copies deleted so far / to delete in this run (resumed ones included). */
export interface PruneProgress {
  done: number;
  total: number;
  /** Artifact bytes of the copies done / to do (set by `pruneTarget`, which knows the sizes). */
  bytesDone?: number;
  bytesTotal?: number;
}

export interface DeleteCopiesOptions {
  signal?: AbortSignal;
  onProgress?: (p: PruneProgress) => void;
  /** Copies per catalog transaction. @defaultValue 256 */
  batchSize?: number;
  /** Copies deleted from storage at once (each one's own deletes stay in order). @defaultValue 8 */
  concurrency?: number;
}

export interface DeleteCopiesResult {
  deleted: DeletingCopy[];
  /** Refused by the catalog: pinned. */
  pinned: CopyRef[];
  /** Nothing to delete: no live copy there. */
  gone: CopyRef[];
}

/** Run `fn` over `items` with at most `limit` at once; every item is tried, the first error is thrown after all settled. */
async function eachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<{ ok: T[]; error: unknown }> {
  const ok: T[] = [];
  let error: unknown;
  let failed = false;
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
        ok.push(item);
      } catch (err) {
        if (!failed) error = err;
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return { ok, error: failed ? (error ?? new Error('copy delete failed')) : undefined };
}

/**
 * Storage and catalog steps 2-4 of the deletion protocol for copies already marked
 * `deleting`: `deleteCopy` (manifest, artifact, pin marker) for each, then ONE catalog
 * transaction marks the ones whose storage delete finished. A crash anywhere leaves the
 * rest `deleting`; {@link finishInterruptedDeletes} completes them.
 */
async function finishDeletes(catalog: Catalog, storage: StorageDriver, started: readonly DeletingCopy[], concurrency: number): Promise<DeletingCopy[]> {
  const { ok, error } = await eachLimit(started, concurrency, (c) => deleteCopy(storage, c.artifactKey));
  if (ok.length) await catalog.markLocationsDeleted(ok);
  if (error !== undefined) throw error;
  return ok;
}

/**
 * Delete copies through the one deletion protocol, in batches:
 * 1. one catalog transaction marks each copy `deleting` unless its backup is pinned (a pin
 *    the API acknowledged is never deleted; from here on a pin is refused with BACKUP_DELETING);
 * 2. storage: manifest, artifact, pin marker (`deleteCopy` of @mfb/backup);
 * 3. one catalog transaction marks them deleted.
 * Used by the prune job, `backupctl prune` and the API's DELETE.
 */
export async function deleteCopies(catalog: Catalog, storage: StorageDriver, copies: readonly CopyRef[], opts: DeleteCopiesOptions = {}): Promise<DeleteCopiesResult> {
  const batch = opts.batchSize ?? 256;
  const out: DeleteCopiesResult = { deleted: [], pinned: [], gone: [] };
  for (let i = 0; i < copies.length; i += batch) {
    opts.signal?.throwIfAborted();
    const r = await catalog.beginCopyDeletes(copies.slice(i, i + batch));
    out.pinned.push(...r.pinned);
    out.gone.push(...r.gone);
    out.deleted.push(...(await finishDeletes(catalog, storage, r.started, opts.concurrency ?? 8)));
    opts.onProgress?.({ done: Math.min(i + batch, copies.length), total: copies.length });
  }
  return out;
}

/**
 * Finish the deletions of `databaseId`'s copies on `target` that a killed prune (or delete)
 * left marked `deleting`: they are committed to deletion (partly gone from storage already),
 * whatever a plan made now would say. Returns what was finished.
 */
export async function finishInterruptedDeletes(catalog: Catalog, storage: StorageDriver, databaseId: string, target: string, opts: DeleteCopiesOptions = {}): Promise<DeletingCopy[]> {
  const pending = await catalog.listDeletingCopies({ databaseId, target });
  const done: DeletingCopy[] = [];
  const batch = opts.batchSize ?? 256;
  for (let i = 0; i < pending.length; i += batch) {
    opts.signal?.throwIfAborted();
    done.push(...(await finishDeletes(catalog, storage, pending.slice(i, i + batch), opts.concurrency ?? 8)));
  }
  return done;
}

export interface PruneTargetResult {
  plan: TargetRetentionPlan;
  /** Backups whose copy on the target this run deleted (by the plan). */
  deleted: string[];
  /** Copies a killed earlier run had begun to delete, finished first. */
  resumed: string[];
  /** Planned for deletion but pinned meanwhile: kept. */
  pinned: string[];
}

/**
 * Apply retention to one target of `db`: finish interrupted deletes, plan
 * ({@link planTargetRetention}), delete the planned copies ({@link deleteCopies}). The caller
 * holds the database's lock (the worker's job lock, or the CLI's).
 */
export async function pruneTarget(
  deps: { config: { readonly targets: readonly TargetConfig[] }; catalog: Catalog; storage: StorageDriver },
  db: DatabaseConfig,
  target: string,
  now: Date,
  opts: DeleteCopiesOptions & { onPlan?: (plan: TargetRetentionPlan) => void } = {},
): Promise<PruneTargetResult> {
  const resumed = await finishInterruptedDeletes(deps.catalog, deps.storage, db.id, target, opts);
  const plan = await planTargetRetention(deps, db, target, now);
  opts.onPlan?.(plan);
  // Progress in bytes too: prefix sums of the planned copies' sizes.
  const sums = [0];
  for (const b of plan.delete) sums.push(sums[sums.length - 1]! + b.sizeBytes);
  const onProgress = opts.onProgress;
  const r = await deleteCopies(
    deps.catalog,
    deps.storage,
    plan.delete.map((b) => ({ backupId: b.backupId, target })),
    { ...opts, ...(onProgress ? { onProgress: (p: PruneProgress) => onProgress({ ...p, bytesDone: sums[p.done]!, bytesTotal: sums[p.total]! }) } : {}) },
  );
  return { plan, deleted: r.deleted.map((c) => c.backupId), resumed: resumed.map((c) => c.backupId), pinned: r.pinned.map((c) => c.backupId) };
}

const DAY_MS = 86_400_000;

/**
 * Trim the catalog as `config.housekeeping` says (0 = never that way): job history older than
 * `jobHistoryDays` or beyond the newest `jobHistoryMax`, and backups with no copy left whose
 * last copy was deleted more than `deletedBackupDays` ago. Run by the worker at start and on
 * a timer. Returns the rows removed.
 */
export async function runHousekeeping(config: Pick<Config, 'housekeeping'>, catalog: Catalog, now: Date = new Date()): Promise<HousekeepingResult> {
  const h = config.housekeeping;
  return catalog.housekeep({
    ...(h.jobHistoryDays > 0 ? { jobsFinishedBefore: new Date(now.getTime() - h.jobHistoryDays * DAY_MS).toISOString() } : {}),
    ...(h.jobHistoryMax > 0 ? { jobsMax: h.jobHistoryMax } : {}),
    ...(h.deletedBackupDays > 0 ? { deletedBefore: new Date(now.getTime() - h.deletedBackupDays * DAY_MS).toISOString() } : {}),
  });
}

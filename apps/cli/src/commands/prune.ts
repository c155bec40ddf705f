import { planTargetRetention, pruneTarget, type RetentionPlanView } from '@mfb/runtime';
import type { Context } from '../context.js';
import { age, bytes, fields, table } from '../format.js';
import { withDatabaseLock } from '../lock.js';
import { interruptSignal } from '../signals.js';

export interface PruneOptions {
  target?: string;
  dryRun?: boolean;
  /** Redis unreachable: prune without the lock (every worker must be stopped). */
  force?: boolean;
}

/** The plan, and (without `--dry-run`) what was done. */
export type PruneReport = RetentionPlanView & {
  dryRun: boolean;
  /** Backups whose copy on the target was deleted. */
  deleted?: string[];
  /** Copies a killed earlier prune had begun to delete, finished first. */
  resumed?: string[];
  /** Planned for deletion but pinned meanwhile: kept. */
  keptPinned?: string[];
};

/**
 * `prune <db> [--target t] [--dry-run]`: the plan a prune of the target would carry out now
 * (the same function as the prune job and `GET /v1/databases/:id/retention`), and without
 * `--dry-run` carry it out exactly as the worker's prune job does (`pruneTarget`: interrupted
 * deletes finished first, then the one deletion protocol), under the same per-database lock
 * in Redis (`withDatabaseLock`). Redis unreachable: refused (CLI_USAGE) unless `--force`; a job
 * holds the database: refused (CLI_DATABASE_LOCKED). Nothing is deleted then.
 */
export async function runPrune(ctx: Context, databaseId: string, o: PruneOptions): Promise<PruneReport> {
  const config = await ctx.config();
  const db = await ctx.database(databaseId);
  const target = o.target ?? 'local';
  const storage = await ctx.storage(target); // TARGET_NOT_FOUND before anything else
  const catalog = await ctx.catalog();
  if (o.dryRun) return { ...(await planTargetRetention({ config, catalog }, db, target, new Date())).view, dryRun: true };

  return withDatabaseLock(ctx, db.id, { ...(o.force ? { force: true } : {}), what: 'backupctl prune', requireRedis: true }, async (lock) => {
    const interrupt = interruptSignal();
    try {
      const r = await pruneTarget({ config, catalog, storage }, db, target, new Date(), {
        signal: AbortSignal.any([interrupt.signal, lock.signal]),
        onProgress: (p) => ctx.progress.update({ stage: 'prune', bytesDone: p.bytesDone ?? 0, bytesTotal: p.bytesTotal ?? 0 }),
      });
      ctx.progress.done();
      return { ...r.plan.view, dryRun: false, deleted: r.deleted, resumed: r.resumed, keptPinned: r.pinned };
    } finally {
      interrupt.dispose();
    }
  });
}

/** `keepLast 7, keepDaily 7, maxTotalBytes 10 GiB, timezone Europe/Berlin` */
function policyText(p: RetentionPlanView['policy']): string {
  return Object.entries(p)
    .map(([k, v]) => `${k} ${k === 'maxTotalBytes' ? bytes(v as number) : String(v)}`)
    .join(', ');
}

export function humanPrune(plan: PruneReport): string {
  const t = plan.totals;
  const head = fields([
    ['database', plan.databaseId],
    ['target', plan.target],
    ['policy', policyText(plan.policy)],
    plan.dryRun
      ? ['dry run', `nothing deleted (planned at ${plan.plannedAt})`]
      : ['deleted', `${plan.deleted?.length ?? 0} (${bytes(plan.totals.deletedBytes)})${plan.resumed?.length ? `, and ${plan.resumed.length} a killed prune had begun` : ''}`],
    ...(plan.keptPinned?.length ? [['kept', `${plan.keptPinned.length} pinned since the plan was made`] as [string, string]] : []),
  ]);
  const rows = plan.items.map((i) => [
    i.backupId,
    age(i.ageSeconds),
    bytes(i.sizeBytes),
    i.action === 'keep' ? 'KEEP' : plan.keptPinned?.includes(i.backupId) ? 'KEEP (pinned)' : plan.dryRun ? 'DELETE' : 'DELETED',
    i.reasons.join('; '),
  ]);
  const body = rows.length ? table(['BACKUP', 'AGE', 'SIZE', 'PLAN', 'REASONS'], rows) : 'no backups on this target';
  const over = t.overBudgetBytes > 0 ? `; still ${bytes(t.overBudgetBytes)} over maxTotalBytes (pins, minKeep and the newest are never deleted)` : '';
  const pending = t.pendingUpload > 0 ? `; ${t.pendingUpload} kept until their upload finishes` : '';
  return `${head}\n\n${body}\n\nkeep ${t.kept} (${bytes(t.keptBytes)}), delete ${t.deleted} (${bytes(t.deletedBytes)})${pending}${over}`;
}

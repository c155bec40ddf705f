import { planTargetRetention, type RetentionPlanView } from '@mfb/runtime';
import type { Context } from '../context.js';
import { UsageError } from '../errors.js';
import { age, bytes, fields, table } from '../format.js';

export interface PruneOptions {
  target?: string;
  dryRun?: boolean;
}

/**
 * `prune <db> --dry-run`: the plan a prune of the target would carry out now, from the
 * catalog (the same function as the prune job and `GET /v1/databases/:id/retention`).
 * Deleting is left to the worker's prune job, which holds the per-database lock; the CLI has
 * no lock of its own yet, so without `--dry-run` it refuses instead of racing a job.
 */
export async function runPrune(ctx: Context, databaseId: string, o: PruneOptions): Promise<RetentionPlanView> {
  if (!o.dryRun) {
    throw new UsageError(
      'prune without --dry-run is not available in the CLI: deleting needs the per-database lock that the worker holds. ' +
        'Look at the plan with --dry-run; the worker prunes after each backup and upload, or on a schedule with job: prune',
    );
  }
  const config = await ctx.config();
  const db = await ctx.database(databaseId);
  const catalog = await ctx.catalog();
  const plan = await planTargetRetention({ config, catalog }, db, o.target ?? 'local', new Date());
  return plan.view;
}

/** `keepLast 7, keepDaily 7, maxTotalBytes 10 GiB, timezone Europe/Berlin` */
function policyText(p: RetentionPlanView['policy']): string {
  return Object.entries(p)
    .map(([k, v]) => `${k} ${k === 'maxTotalBytes' ? bytes(v as number) : String(v)}`)
    .join(', ');
}

export function humanPrune(plan: RetentionPlanView): string {
  const t = plan.totals;
  const head = fields([
    ['database', plan.databaseId],
    ['target', plan.target],
    ['policy', policyText(plan.policy)],
    ['dry run', `nothing deleted (planned at ${plan.plannedAt})`],
  ]);
  const rows = plan.items.map((i) => [
    i.backupId,
    age(i.ageSeconds),
    bytes(i.sizeBytes),
    i.action === 'keep' ? 'KEEP' : 'DELETE',
    i.reasons.join('; '),
  ]);
  const body = rows.length ? table(['BACKUP', 'AGE', 'SIZE', 'PLAN', 'REASONS'], rows) : 'no backups on this target';
  const over = t.overBudgetBytes > 0 ? `; still ${bytes(t.overBudgetBytes)} over maxTotalBytes (pins, minKeep and the newest are never deleted)` : '';
  const pending = t.pendingUpload > 0 ? `; ${t.pendingUpload} kept until their upload finishes` : '';
  return `${head}\n\n${body}\n\nkeep ${t.kept} (${bytes(t.keptBytes)}), delete ${t.deleted} (${bytes(t.deletedBytes)})${pending}${over}`;
}

import type { Logger } from '@mfb/observability';
import type { RetentionPlanView } from '@mfb/runtime';

/** Deleted backups named one by one in the info line; beyond that only counted (the debug lines have all). */
const MAX_LISTED = 100;

/**
 * Log a prune's plan: one info line (policy, totals, how many each rule keeps, every deletion
 * with its reason up to {@link MAX_LISTED}, backups kept for a pending upload), and one debug
 * line per backup with its decision and reasons.
 */
export function logRetentionPlan(log: Logger, plan: RetentionPlanView): void {
  const keptBy: Record<string, number> = {};
  const deleted: Array<{ backupId: string; reason: string }> = [];
  const pending: Array<{ backupId: string; reasons: string[] }> = [];
  for (const it of plan.items) {
    if (it.action === 'delete') {
      deleted.push({ backupId: it.backupId, reason: it.reasons[0]! });
      continue;
    }
    for (const r of it.rules) keptBy[r] = (keptBy[r] ?? 0) + 1;
    if (it.rules.includes('pendingUpload')) pending.push({ backupId: it.backupId, reasons: it.reasons });
  }
  log.info(
    {
      databaseId: plan.databaseId,
      target: plan.target,
      policy: plan.policy,
      totals: plan.totals,
      keptBy,
      deleted: deleted.slice(0, MAX_LISTED),
      ...(deleted.length > MAX_LISTED ? { deletedNotListed: deleted.length - MAX_LISTED } : {}),
      ...(pending.length ? { pendingUpload: pending.slice(0, MAX_LISTED) } : {}),
    },
    `retention plan for ${plan.databaseId} on ${plan.target}: keep ${plan.totals.kept}, delete ${plan.totals.deleted}`,
  );
  if (!log.isLevelEnabled('debug')) return;
  for (const it of plan.items) {
    log.debug(
      { databaseId: plan.databaseId, target: plan.target, backupId: it.backupId, createdAt: it.createdAt, sizeBytes: it.sizeBytes, pinned: it.pinned, action: it.action, reasons: it.reasons },
      `retention ${it.action} ${it.backupId}`,
    );
  }
}

import { deleteCopy } from '@mfb/backup';
import { planTargetRetention } from '@mfb/runtime';
import type { Handler } from '../context.js';
import { logRetentionPlan } from './retention-log.js';

/**
 * Apply retention to one target: plan over the catalog's live copies there (the target's
 * policy with sizes; on the primary storage a backup still waiting for an upload is kept),
 * delete each copy with `deleteCopy` (manifest, artifact, pin marker), then mark it deleted in
 * the catalog (storage first: a crash in between leaves a catalog entry pointing at nothing,
 * which the next prune or a catalog rebuild repairs, never an orphan the catalog forgot). With
 * `everyTarget` (the scheduled prune) it then chains one prune per target of the database.
 */
export const pruneHandler: Handler<'prune', 'catalog' | 'storageFor' | 'targets' | 'metrics' | 'followUp'> = async (ctx) => {
  const { databaseId, target } = ctx.payload;
  const plan = await planTargetRetention({ config: { targets: ctx.targets }, catalog: ctx.catalog }, ctx.database, target, new Date());
  logRetentionPlan(ctx.log, plan.view);
  const storage = ctx.storageFor(target);

  const deleted: string[] = [];
  for (const b of plan.delete) {
    ctx.signal.throwIfAborted();
    const loc = b.locations.find((l) => l.target === target && l.deletedAt === null);
    if (!loc) continue;
    // The API pins without the database lock: re-read right before deleting so a pin that
    // landed after the plan was made still wins.
    if ((await ctx.catalog.getBackup(b.backupId))?.pinned) continue;
    // The one deletion protocol (shared with the API's DELETE): manifest first, artifact, then
    // the pin marker (not pinned in the catalog, so a marker here is stale: an unpin that
    // crashed before deleting it), then the catalog mark.
    await deleteCopy(storage, loc.artifactKey, () => ctx.catalog.markLocationDeleted(b.backupId, target));
    deleted.push(b.backupId);
  }
  ctx.metrics.prunedTotal.inc({ target }, deleted.length);
  // The scheduled prune: every target of the database next, each with its own retention.
  const chained = ctx.payload.everyTarget ? ctx.database.targets.filter((t) => t !== target).map((t) => ctx.followUp('prune', { databaseId, target: t })) : [];
  return { target, kept: plan.view.totals.backups - deleted.length, deleted, ...(chained.length ? { prunes: chained } : {}) };
};

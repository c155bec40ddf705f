import { manifestKeyFor, pinKeyFor } from '@mfb/backup';
import { planTargetRetention } from '@mfb/runtime';
import type { Handler } from '../context.js';
import { logRetentionPlan } from './retention-log.js';

/**
 * Apply retention to one target: plan over the catalog's live copies there (the target's
 * policy with sizes; on the primary storage a backup still waiting for an upload is kept),
 * delete artifact and manifest from the target's storage, then mark the copy deleted in the
 * catalog (storage first: a crash in between leaves a catalog entry pointing at nothing,
 * which the next prune or a catalog rebuild repairs, never an orphan the catalog forgot).
 */
export const pruneHandler: Handler<'prune', 'catalog' | 'storageFor' | 'targets' | 'metrics'> = async (ctx) => {
  const { target } = ctx.payload;
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
    // Manifest first: a crash in between leaves an orphan artifact (garbage), never a
    // manifest pointing at nothing that a catalog rebuild would bring back.
    await storage.delete(manifestKeyFor(loc.artifactKey));
    await storage.delete(loc.artifactKey);
    // Not pinned in the catalog (the plan keeps pinned backups), so a pin marker here is
    // stale (an unpin that crashed before deleting it): remove it with its artifact.
    await storage.delete(pinKeyFor(loc.artifactKey));
    await ctx.catalog.markLocationDeleted(b.backupId, target);
    deleted.push(b.backupId);
  }
  ctx.metrics.prunedTotal.inc({ target }, deleted.length);
  return { target, kept: plan.view.totals.backups - deleted.length, deleted };
};

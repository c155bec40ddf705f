import type { BackupRecord } from '@mfb/catalog';
import { deleteCopy } from '@mfb/backup';
import { planRetention } from '@mfb/retention';
import type { Handler } from '../context.js';
import { TargetNotFoundError } from '../errors.js';

/**
 * Apply retention to one target: plan over the catalog's live copies there, delete each copy
 * with `deleteCopy` (manifest, artifact, pin marker), then mark it deleted in the catalog (storage
 * first: a crash in between leaves a catalog entry pointing at nothing, which the next prune
 * or a catalog rebuild repairs, never an orphan the catalog forgot). With `everyTarget` (the
 * scheduled prune) it then chains one prune per target of the database.
 */
export const pruneHandler: Handler<'prune', 'catalog' | 'storageFor' | 'targets' | 'metrics' | 'followUp'> = async (ctx) => {
  const { databaseId, target } = ctx.payload;
  // Primary storage: the database's own retention (it defaults to localRetention in config).
  const policy = target === 'local' ? ctx.database.retention : ctx.targets.find((t) => t.name === target)?.retention;
  if (!policy) throw new TargetNotFoundError(target);
  const storage = ctx.storageFor(target);

  const live: BackupRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await ctx.catalog.listBackups({ databaseId, target, status: 'available', limit: 500, ...(cursor ? { cursor } : {}) });
    live.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);

  const plan = planRetention(live, { keepLast: policy.keepLast }, new Date());
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
  return { target, kept: live.length - deleted.length, deleted, ...(chained.length ? { prunes: chained } : {}) };
};

import { compactForRetention, pruneTarget } from '@mfb/runtime';
import type { Handler } from '../context.js';
import { logRetentionPlan } from './retention-log.js';

/**
 * Apply retention to one target (`pruneTarget` of @mfb/runtime, shared with `backupctl
 * prune`), under the job's per-database lock: first finish the copies a killed earlier run
 * had begun to delete, then plan over the catalog's live copies there (the target's policy
 * with sizes; on the primary storage a backup still waiting for an upload is kept) and delete
 * each planned copy through the one deletion protocol: the catalog marks it `deleting` in a
 * transaction that refuses pinned backups (a pin the API acknowledged is never deleted; a pin
 * arriving later is refused with BACKUP_DELETING), then storage (manifest, artifact, pin
 * marker), then the catalog marks it deleted. A kill at any step leaves the copy `deleting`,
 * and the next prune finishes it. With `everyTarget` (the scheduled prune) it then chains one
 * prune per target of the database. With `incremental.compactOnPrune`, a prune of the primary
 * storage first compacts the deltas whose chain is kept only for them (`compactForRetention`).
 */
export const pruneHandler: Handler<'prune', 'catalog' | 'storageFor' | 'targets' | 'metrics' | 'followUp' | 'keys' | 'tmpDir'> = async (ctx) => {
  const { databaseId, target } = ctx.payload;
  // `incremental.compactOnPrune`: kept deltas whose chain is kept only for them become fulls
  // first (from storage, not the live database), so this prune deletes their chains.
  const compacted =
    target === 'local' && ctx.database.incremental?.compactOnPrune
      ? await compactForRetention(
          { config: { targets: ctx.targets }, catalog: ctx.catalog, storageFor: (t) => ctx.storageFor(t), keys: ctx.keys, tmpDir: ctx.tmpDir },
          ctx.database,
          new Date(),
          { signal: ctx.signal, fence: ctx.fence },
        )
      : [];
  if (compacted.length) ctx.log.info({ compacted: compacted.map((c) => ({ from: c.from, into: c.backupId })) }, `compacted ${compacted.length} chains before pruning`);
  // Targets that do not have the delta yet get the new full by the usual upload.
  const uploads = compacted.flatMap((c) => ctx.database.targets.filter((t) => !c.targets.includes(t)).map((t) => ctx.followUp('upload', { databaseId, backupId: c.backupId, target: t })));
  const r = await pruneTarget({ config: { targets: ctx.targets }, catalog: ctx.catalog, storage: ctx.storageFor(target) }, ctx.database, target, new Date(), {
    signal: ctx.signal,
    onPlan: (plan) => logRetentionPlan(ctx.log, plan.view),
  });
  if (r.resumed.length) ctx.log.warn({ target, backupIds: r.resumed }, `finished ${r.resumed.length} deletes a killed prune had begun`);
  if (r.pinned.length) ctx.log.info({ target, backupIds: r.pinned }, `kept ${r.pinned.length} backups pinned since the plan was made`);
  ctx.metrics.prunedTotal.inc({ target }, r.deleted.length + r.resumed.length);
  // The scheduled prune: every target of the database next, each with its own retention.
  const chained = ctx.payload.everyTarget ? ctx.database.targets.filter((t) => t !== target).map((t) => ctx.followUp('prune', { databaseId, target: t })) : [];
  return {
    target,
    kept: r.plan.view.totals.backups - r.deleted.length,
    deleted: r.deleted,
    ...(r.resumed.length ? { resumed: r.resumed } : {}),
    ...(compacted.length ? { compacted: compacted.map((c) => ({ from: c.from, backupId: c.backupId })) } : {}),
    ...(uploads.length ? { uploads } : {}),
    ...(chained.length ? { prunes: chained } : {}),
  };
};

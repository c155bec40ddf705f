import { manifestKeyFor } from '@mfb/backup';
import type { Handler } from '../context.js';
import { BackupNotFoundError, BackupNotOnTargetError } from '../errors.js';

/**
 * Copy artifact then manifest from the primary storage to a target (the manifest last: a
 * copy without manifest is invisible to a catalog rebuild), record the location, then
 * enqueue the prune of that target. Idempotent: a complete copy already there is kept.
 */
export const uploadHandler: Handler<'upload', 'catalog' | 'primary' | 'storageFor' | 'metrics' | 'followUp'> = async (ctx) => {
  const { backupId, target, databaseId } = ctx.payload;
  const rec = await ctx.catalog.getBackup(backupId);
  const local = rec?.locations.find((l) => l.target === 'local' && l.deletedAt === null);
  if (!rec || rec.databaseId !== databaseId) throw new BackupNotFoundError(backupId, { databaseId });
  if (!local) throw new BackupNotOnTargetError(backupId, 'local');
  const dst = ctx.storageFor(target);
  const src = ctx.primary;
  const key = local.artifactKey;
  const size = rec.manifest.artifact.sizeBytes;

  const there = await dst.head(key);
  if (!there || there.size !== size) {
    await dst.put(key, await src.get(key, { signal: ctx.signal }), {
      size,
      signal: ctx.signal,
      onProgress: (bytesDone) => ctx.progress({ stage: 'store', bytesDone, bytesTotal: size }),
    });
  }
  const mkey = manifestKeyFor(key);
  await dst.put(mkey, await src.get(mkey, { signal: ctx.signal }), { contentType: 'application/json', signal: ctx.signal });
  await ctx.catalog.addLocation(backupId, { target, artifactKey: key });
  ctx.metrics.uploadsTotal.inc({ target, outcome: 'completed' });
  const prune = ctx.followUp('prune', { databaseId, target });
  return { backupId, target, artifactKey: key, sizeBytes: size, prune };
};

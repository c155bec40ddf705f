import { copyBackup, deletePinMarker, writePinMarker } from '@mfb/backup';
import type { Handler } from '../context.js';
import { BackupNotFoundError, BackupNotOnTargetError } from '../errors.js';

/**
 * Copy a backup from the primary storage to a target (`copyBackup`: artifact proven against
 * the manifest's SHA-256, the pin marker when the backup is pinned, the manifest last), then
 * record the location with the storage class it got, then enqueue the prune of that target.
 * A source artifact that does not match its manifest fails with STORAGE_CHECKSUM_MISMATCH
 * and nothing is recorded. Idempotent: a complete copy already there is kept.
 */
export const uploadHandler: Handler<'upload', 'catalog' | 'primary' | 'storageFor' | 'targets' | 'metrics' | 'followUp'> = async (ctx) => {
  const { backupId, target, databaseId } = ctx.payload;
  const rec = await ctx.catalog.getBackup(backupId);
  const local = rec?.locations.find((l) => l.target === 'local' && l.deletedAt === null);
  if (!rec || rec.databaseId !== databaseId) throw new BackupNotFoundError(backupId, { databaseId });
  if (!local) throw new BackupNotOnTargetError(backupId, 'local');
  const dst = ctx.storageFor(target);
  const size = rec.manifest.artifact.sizeBytes;
  const configured = ctx.targets.find((t) => t.name === target)?.options?.storageClass;

  const started = process.hrtime.bigint();
  const copy = await copyBackup(ctx.primary, dst, { ...rec.manifest, artifactKey: local.artifactKey }, {
    pinned: rec.pinned,
    ...(typeof configured === 'string' ? { storageClass: configured } : {}),
    signal: ctx.signal,
    onProgress: (bytesDone) => ctx.progress({ stage: 'store', bytesDone, bytesTotal: size }),
  });
  ctx.metrics.stageDuration.observe({ stage: 'upload' }, Number(process.hrtime.bigint() - started) / 1e9);
  ctx.metrics.bytesReadTotal.inc({ queue: 'upload' }, size);
  ctx.metrics.bytesWrittenTotal.inc({ queue: 'upload' }, size);
  await ctx.catalog.addLocation(backupId, { target, artifactKey: copy.artifactKey, storageClass: copy.storageClass });
  // The API pins and unpins without the database lock, on the copies the catalog lists: a
  // change that landed during this copy did not see it. Re-read once the copy is listed.
  const pinnedNow = (await ctx.catalog.getBackup(backupId))?.pinned ?? rec.pinned;
  if (pinnedNow && !rec.pinned) await writePinMarker(dst, copy.artifactKey, backupId);
  if (!pinnedNow && rec.pinned) await deletePinMarker(dst, copy.artifactKey);
  ctx.metrics.uploadsTotal.inc({ target, outcome: 'completed' });
  const prune = ctx.followUp('prune', { databaseId, target });
  return { backupId, target, artifactKey: copy.artifactKey, sizeBytes: size, storageClass: copy.storageClass, prune };
};

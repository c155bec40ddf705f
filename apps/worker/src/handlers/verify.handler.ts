import { verifyBackup } from '@mfb/backup';
import type { Handler } from '../context.js';
import { observeStages } from '../job-metrics.js';
import { BackupNotFoundError, BackupNotOnTargetError, NoBackupError } from '../errors.js';

/** Fetch, check and decrypt a backup and run `PRAGMA integrity_check` on it (newest by default). */
export const verifyHandler: Handler<'verify', 'catalog' | 'storageFor' | 'keys' | 'tmpDir' | 'metrics'> = async (ctx) => {
  const { databaseId } = ctx.payload;
  const from = ctx.payload.from ?? 'local';
  let rec;
  if (ctx.payload.backupId !== undefined) {
    rec = await ctx.catalog.getBackup(ctx.payload.backupId);
    if (!rec || rec.databaseId !== databaseId) throw new BackupNotFoundError(ctx.payload.backupId, { databaseId });
  } else {
    const page = await ctx.catalog.listBackups({ databaseId, target: from, status: 'available', limit: 1 });
    rec = page.items[0];
    if (!rec) throw new NoBackupError(databaseId);
  }
  const loc = rec.locations.find((l) => l.target === from && l.deletedAt === null);
  if (!loc) throw new BackupNotOnTargetError(rec.backupId, from);
  const res = await verifyBackup({
    storage: ctx.storageFor(from),
    artifactKey: loc.artifactKey,
    keys: ctx.keys,
    tmpDir: ctx.tmpDir,
    signal: ctx.signal,
    onProgress: (p) => ctx.progress(p),
  });
  observeStages(ctx.metrics, res.timings);
  ctx.metrics.bytesReadTotal.inc({ queue: 'verify' }, rec.manifest.artifact.sizeBytes);
  ctx.metrics.lastVerifiedRestore.set({ database: databaseId, target: from }, Date.now() / 1000);
  return { backupId: rec.backupId, from, integrity: res.integrity, tables: res.tables };
};

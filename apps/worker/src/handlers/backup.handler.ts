import { createBackup } from '@mfb/backup';
import { enqueue } from '@mfb/jobs';
import type { Handler } from '../context.js';

/**
 * Snapshot the database into the primary storage, record it in the catalog, then enqueue one
 * upload per configured target and the prune of the primary storage.
 */
export const backupHandler: Handler<'backup'> = async (ctx) => {
  const { database: db, config } = ctx;
  const keyId = db.encryptionKeyId;
  const key = keyId === undefined ? undefined : config.keys.get(keyId);
  const result = await createBackup({
    databaseId: db.id,
    sourcePath: db.path,
    storage: ctx.primary,
    compression: { algorithm: db.compression.algorithm, level: db.compression.level },
    ...(keyId !== undefined && key !== undefined ? { encryption: { keyId, key } } : {}),
    tmpDir: config.tmpDir,
    signal: ctx.signal,
    onProgress: (p) => ctx.progress(p),
  });
  const m = result.manifest;
  await ctx.catalog.recordBackup(m, { target: 'local', artifactKey: m.artifactKey });
  ctx.metrics.lastBackupSuccess.set({ database: db.id }, Date.now() / 1000);
  ctx.metrics.backupSizeBytes.set({ database: db.id }, m.artifact.sizeBytes);

  const uploads: string[] = [];
  for (const target of db.targets) {
    const job = await enqueue(ctx.queues, 'upload', { databaseId: db.id, backupId: m.backupId, target });
    uploads.push(String(job.id));
  }
  const prune = await enqueue(ctx.queues, 'prune', { databaseId: db.id, target: 'local' });
  return { backupId: m.backupId, artifactKey: m.artifactKey, sizeBytes: m.artifact.sizeBytes, uploads, prune: prune.id };
};

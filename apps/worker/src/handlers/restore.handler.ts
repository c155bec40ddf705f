import { restoreBackup } from '@mfb/backup';
import type { Handler } from '../context.js';
import { observeStages } from '../job-metrics.js';
import { BackupNotFoundError, BackupNotOnTargetError } from '../errors.js';
import { InvalidPayloadError } from '@mfb/jobs';

/** Written to the job's progress once the restore is done, so a re-run does not restore again over newer writes. */
interface RestoredMarker {
  stage: 'restored';
  result: Record<string, unknown>;
}

/**
 * Restore a backup (from `local` or a target) into a new file or over the live database. A
 * re-run of a restore that completed (the worker died before the job was acknowledged) returns
 * the recorded result instead of restoring again.
 */
export const restoreHandler: Handler<'restore', 'job' | 'catalog' | 'storageFor' | 'keys' | 'tmpDir' | 'metrics'> = async (ctx) => {
  const done = ctx.job.progress as Partial<RestoredMarker> | null;
  if (done && typeof done === 'object' && done.stage === 'restored' && done.result) return done.result;
  const { backupId, mode, databaseId } = ctx.payload;
  const from = ctx.payload.from ?? 'local';
  const rec = await ctx.catalog.getBackup(backupId);
  const loc = rec?.locations.find((l) => l.target === from && l.deletedAt === null);
  if (!rec || rec.databaseId !== databaseId) throw new BackupNotFoundError(backupId, { databaseId });
  if (!loc) throw new BackupNotOnTargetError(backupId, from);
  const targetPath = ctx.payload.targetPath ?? (mode === 'replace' ? ctx.database.path : undefined);
  if (targetPath === undefined) throw new InvalidPayloadError('restore', '/targetPath', 'is required for mode new');
  const res = await restoreBackup({
    storage: ctx.storageFor(from),
    artifactKey: loc.artifactKey,
    keys: ctx.keys,
    tmpDir: ctx.tmpDir,
    targetPath,
    mode,
    signal: ctx.signal,
    fence: ctx.fence,
    onProgress: (p) => ctx.progress(p),
  });
  observeStages(ctx.metrics, res.timings);
  ctx.metrics.bytesReadTotal.inc({ queue: 'restore' }, rec.manifest.artifact.sizeBytes);
  ctx.metrics.bytesWrittenTotal.inc({ queue: 'restore' }, rec.manifest.snapshot.sizeBytes);
  const result = { backupId, from, targetPath: res.targetPath, safetyCopyPath: res.safetyCopyPath ?? null, integrity: res.integrity, tables: res.tables };
  await ctx.job.updateProgress({ stage: 'restored', result } satisfies RestoredMarker).catch(() => undefined);
  return result;
};

import { createBackup, readManifest, snapshotNeedsScratch, type Manifest } from '@mfb/backup';
import { checkBackupSpace } from '@mfb/runtime';
import type { Handler } from '../context.js';
import { observeStages, setBackupSizes } from '../job-metrics.js';
import { UnknownKeyIdError } from '../errors.js';

/** Written to the job's progress once the artifact is durable, so a retry does not redo it. */
interface StoredMarker {
  stage: 'stored';
  backupId: string;
  artifactKey: string;
  bytesDone: number;
  bytesTotal: number;
}

function storedMarker(progress: unknown): StoredMarker | null {
  const p = progress as Partial<StoredMarker> | null;
  return p && typeof p === 'object' && p.stage === 'stored' && typeof p.artifactKey === 'string' ? (p as StoredMarker) : null;
}

export interface BackupHandlerOptions {
  /**
   * How long a snapshot waits for a writer's lock on the source before failing with the
   * transient BACKUP_SOURCE_BUSY (the job is then retried with backoff).
   * @defaultValue the engine's default (30 s)
   */
  busyTimeoutMs?: number;
}

/**
 * Snapshot the database into the primary storage, record it in the catalog, then enqueue one
 * upload per configured target and the prune of the primary storage. A retry after the
 * artifact was stored (crash or catalog error in between) reuses it instead of taking a
 * second backup.
 */
export type BackupReach = 'job' | 'catalog' | 'primary' | 'keys' | 'tmpDir' | 'metrics' | 'followUp';

export const createBackupHandler = (opts: BackupHandlerOptions = {}): Handler<'backup', BackupReach> => async (ctx) => {
  const { database: db } = ctx;
  let manifest: Manifest | null = null;
  const marker = storedMarker(ctx.job.progress);
  if (marker) manifest = await readManifest(ctx.primary, marker.artifactKey).catch(() => null);

  if (!manifest) {
    const keyId = db.encryptionKeyId;
    const key = keyId === undefined ? undefined : ctx.keys.get(keyId);
    // Never fall back to an unencrypted backup because a key is missing.
    if (keyId !== undefined && key === undefined) throw new UnknownKeyIdError(keyId);
    // Room for it? INSUFFICIENT_SPACE (permanent: not retried) before anything is written.
    await checkBackupSpace({ tmpDir: ctx.tmpDir, storageUrl: ctx.primary.url }, ctx.catalog, db.id, { scratch: snapshotNeedsScratch(db.snapshot?.method) });
    const result = await createBackup({
      databaseId: db.id,
      sourcePath: db.path,
      storage: ctx.primary,
      compression: { algorithm: db.compression.algorithm, level: db.compression.level },
      ...(keyId !== undefined && key !== undefined ? { encryption: { keyId, key } } : {}),
      tmpDir: ctx.tmpDir,
      ...(opts.busyTimeoutMs !== undefined ? { busyTimeoutMs: opts.busyTimeoutMs } : {}),
      ...(db.incremental ? { incremental: db.incremental } : {}),
      ...(db.snapshot?.method ? { snapshotMethod: db.snapshot.method } : {}),
      ...(db.snapshot?.sourceCheck ? { sourceCheck: db.snapshot.sourceCheck } : {}),
      signal: ctx.signal,
      fence: ctx.fence,
      onProgress: (p) => ctx.progress(p),
    });
    manifest = result.manifest;
    // A streaming snapshot that could not run here (a better-sqlite3 build without sqlite_dbpage) fell back to a scratch copy: say why.
    if (result.snapshot?.includes('sqlite_dbpage')) ctx.log.warn({ databaseId: db.id, snapshot: result.snapshot }, 'snapshot fell back to a scratch copy');
    observeStages(ctx.metrics, result.timings);
    ctx.metrics.bytesReadTotal.inc({ queue: 'backup' }, manifest.snapshot.sizeBytes);
    ctx.metrics.bytesWrittenTotal.inc({ queue: 'backup' }, manifest.artifact.sizeBytes);
    const size = manifest.artifact.sizeBytes;
    await ctx.job.updateProgress({ stage: 'stored', backupId: manifest.backupId, artifactKey: manifest.artifactKey, bytesDone: size, bytesTotal: size } satisfies StoredMarker);
  }
  const m = manifest;
  if (!(await ctx.catalog.getBackup(m.backupId))) {
    ctx.fence();
    await ctx.catalog.recordBackup(m, { target: 'local', artifactKey: m.artifactKey });
  }
  setBackupSizes(ctx.metrics, m);

  const uploads = db.targets.map((target) => ctx.followUp('upload', { databaseId: db.id, backupId: m.backupId, target }));
  const prune = ctx.followUp('prune', { databaseId: db.id, target: 'local' });
  return { backupId: m.backupId, artifactKey: m.artifactKey, sizeBytes: m.artifact.sizeBytes, uploads, prune };
};

/** The backup handler with the engine's defaults. */
export const backupHandler: Handler<'backup', BackupReach> = createBackupHandler();

import { createBackup, snapshotNeedsScratch, SourceBusyError, type CompressionAlgorithm, type Manifest } from '@mfb/backup';
import { checkBackupSpace } from '@mfb/runtime';
import { prepareScratchDir, type Context } from '../context.js';
import { NO_KEY_HINT, UnknownKeyIdError, UsageError, WrongHostError } from '../errors.js';
import { bytes, fields, seconds } from '../format.js';
import { lockOptions, withDatabaseLock } from '../lock.js';
import { interruptSignal } from '../signals.js';

export interface BackupCommandOptions {
  compression?: string;
  level?: string;
  busyTimeout?: string;
  /** A full backup even when the incremental policy would take a delta. */
  full?: boolean;
  /** Proceed without the per-database lock. */
  force?: boolean;
  /** Back up a database whose `host` is another machine (the file at its path here). */
  anyHost?: boolean;
  lockWait?: string;
}

/** `--busy-timeout` seconds as milliseconds (undefined = the engine's default). */
export function busyTimeoutMs(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const s = Number(v);
  if (!(s >= 0 && s <= 3600)) throw new UsageError(`--busy-timeout must be 0-3600 seconds (got "${v}")`);
  return Math.round(s * 1000);
}

/** Summary printed (and returned as JSON) for a finished backup. */
export function backupSummary(manifest: Manifest, storageUrl: string, elapsedMs: number) {
  return {
    backupId: manifest.backupId,
    databaseId: manifest.databaseId,
    createdAt: manifest.createdAt,
    artifactKey: manifest.artifactKey,
    storage: storageUrl,
    snapshotBytes: manifest.snapshot.sizeBytes,
    artifactBytes: manifest.artifact.sizeBytes,
    compression: manifest.compression,
    encrypted: manifest.encryption !== null,
    keyId: manifest.encryption?.keyId ?? null,
    artifactSha256: manifest.artifact.sha256,
    kind: manifest.kind ?? 'full',
    parentId: manifest.parentId ?? null,
    chainLength: manifest.chainLength ?? 0,
    elapsedMs: Math.round(elapsedMs),
  };
}

export function humanBackup(s: ReturnType<typeof backupSummary>): string {
  return fields([
    ['backup', s.backupId],
    ['database', s.databaseId],
    ['artifact', `${s.storage.replace(/\/$/, '')}/${s.artifactKey}`],
    ['size', `${bytes(s.artifactBytes)} (snapshot ${bytes(s.snapshotBytes)}, ${s.compression.algorithm}${s.compression.level !== null ? `-${s.compression.level}` : ''})`],
    ['kind', s.kind === 'delta' ? `delta of ${s.parentId} (chain length ${s.chainLength})` : 'full'],
    ['encrypted', s.encrypted ? `yes (key ${s.keyId})` : 'no'],
    ['sha256', s.artifactSha256],
    ['took', seconds(s.elapsedMs)],
  ]);
}

/** Back up one configured database into primary storage and record it in the catalog. */
export async function runBackup(ctx: Context, databaseId: string, o: BackupCommandOptions) {
  const cfg = await ctx.config();
  const db = await ctx.database(databaseId);
  // Workers take this database's backups only on its host; so does the CLI.
  if (db.host !== undefined && db.host !== cfg.worker.host && !o.anyHost) throw new WrongHostError(db.id, db.host, cfg.worker.host);
  const storage = await ctx.storage();
  const catalog = await ctx.writableCatalog();
  await prepareScratchDir(ctx, cfg.tmpDir);

  let algorithm: CompressionAlgorithm = db.compression.algorithm;
  let level: number | undefined = db.compression.level;
  if (o.compression !== undefined) {
    if (!['gzip', 'zstd', 'none'].includes(o.compression)) throw new UsageError(`--compression must be gzip, zstd or none (got "${o.compression}")`);
    algorithm = o.compression as CompressionAlgorithm;
    if (o.level === undefined) level = undefined;
  }
  if (o.level !== undefined) {
    level = Number(o.level);
    if (!Number.isInteger(level)) throw new UsageError(`--level must be an integer (got "${o.level}")`);
  }
  let encryption: { keyId: string; key: Buffer } | undefined;
  if (db.encryptionKeyId) {
    const key = cfg.keys.get(db.encryptionKeyId);
    if (!key) throw new UnknownKeyIdError(db.encryptionKeyId, { hint: NO_KEY_HINT });
    encryption = { keyId: db.encryptionKeyId, key };
  }

  const busy = busyTimeoutMs(o.busyTimeout);
  // Room for it? INSUFFICIENT_SPACE before anything is written.
  await checkBackupSpace({ tmpDir: cfg.tmpDir, storageUrl: storage.url }, catalog, db.id, { scratch: snapshotNeedsScratch(db.snapshot?.method) });
  const started = Date.now();
  const interrupt = interruptSignal();
  try {
    return await withDatabaseLock(ctx, db.id, { ...lockOptions(o), what: 'backupctl backup' }, async (lock) => {
      const res = await createBackup({
        databaseId: db.id,
        sourcePath: db.path,
        storage,
        compression: { algorithm, ...(level !== undefined ? { level } : {}) },
        ...(encryption ? { encryption } : {}),
        tmpDir: cfg.tmpDir,
        ...(busy !== undefined ? { busyTimeoutMs: busy } : {}),
        incremental: { ...db.incremental, ...(o.full ? { forceFull: true } : {}) },
        ...(db.snapshot?.method ? { snapshotMethod: db.snapshot.method } : {}),
        ...(db.snapshot?.sourceCheck ? { sourceCheck: db.snapshot.sourceCheck } : {}),
        signal: AbortSignal.any([interrupt.signal, lock.signal]),
        fence: lock.fence,
        onProgress: (p) => ctx.progress.update(p),
      });
      ctx.progress.done();
      // A streaming snapshot that could not run here (a better-sqlite3 build without sqlite_dbpage) fell back to a scratch copy: say why.
      if (res.snapshot?.includes('sqlite_dbpage')) process.stderr.write(`warning: ${res.snapshot}\n`);
      lock.fence();
      await catalog.recordBackup(res.manifest, { target: 'local', artifactKey: res.manifest.artifactKey });
      return backupSummary(res.manifest, storage.url, Date.now() - started);
    });
  } catch (err) {
    if (err instanceof SourceBusyError) {
      const waited = err.details?.['busyTimeoutMs'];
      throw new SourceBusyError(db.path, {
        cause: err,
        ...(typeof waited === 'number' ? { busyTimeoutMs: waited } : {}),
        hint: 'a writer kept it locked; wait longer with --busy-timeout <seconds> (up to 3600)',
      });
    }
    throw err;
  } finally {
    interrupt.dispose();
  }
}

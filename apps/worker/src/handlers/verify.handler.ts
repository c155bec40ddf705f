import { verifyBackup } from '@mfb/backup';
import type { BackupRecord, Catalog } from '@mfb/catalog';
import type { Metrics } from '@mfb/observability';
import { isAppError } from '@mfb/errors';
import type { Handler, HandlerContext } from '../context.js';
import { observeStages } from '../job-metrics.js';
import { BackupNotFoundError, BackupNotOnTargetError, NoBackupError, RestoreDrillFailedError } from '../errors.js';

type VerifyReach = 'catalog' | 'storageFor' | 'keys' | 'tmpDir' | 'metrics';

/** Outcome of the drill on one target. */
export interface DrillTargetResult {
  target: string;
  outcome: 'ok' | 'failed';
  backupId: string | null;
  errorCode?: string;
  error?: string;
  tables?: number;
  rows?: number;
}

/**
 * Verify one backup (newest of `from`, default `local`, unless `backupId`): fetch, check and
 * decrypt it, restore it to scratch, `PRAGMA integrity_check`, row counts against the
 * manifest. With `drill: true` (every scheduled verify), a restore drill instead: see
 * {@link runDrill}.
 */
export const verifyHandler: Handler<'verify', VerifyReach> = async (ctx) => {
  if (ctx.payload.drill) return runDrill(ctx);
  const { databaseId } = ctx.payload;
  const from = ctx.payload.from ?? 'local';
  let rec;
  if (ctx.payload.backupId !== undefined) {
    rec = await ctx.catalog.getBackup(ctx.payload.backupId);
    if (!rec || rec.databaseId !== databaseId) throw new BackupNotFoundError(ctx.payload.backupId, { databaseId });
  } else {
    rec = await newestOn(ctx, from);
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
  return { backupId: rec.backupId, from, integrity: res.integrity, tables: res.tables };
};

async function newestOn(ctx: HandlerContext<'verify', VerifyReach>, target: string): Promise<BackupRecord | undefined> {
  const page = await ctx.catalog.listBackups({ databaseId: ctx.payload.databaseId, target, status: 'available', limit: 1 });
  return page.items[0];
}

/**
 * Restore drill: for `local` and every configured target of the database, the newest backup
 * with a live copy there is downloaded from THAT target and verified as a restore would
 * (SHA-256, authentication, decompression, restore to scratch, integrity_check, row counts
 * against the manifest). Each target's outcome is recorded in the catalog (`recordDrill`: the
 * last verified restore per database and target) and in the metrics
 * (`mfb_last_verified_restore_timestamp_seconds`, `mfb_restore_drills_total`). A target with
 * no backup counts as failed (`WORKER_NO_BACKUP`). When a target failed, the job fails after
 * every target was drilled: with the (permanent) RESTORE_DRILL_FAILED, or, when every failure
 * was transient (a storage that did not answer), with the first of them, so it is retried.
 */
async function runDrill(ctx: HandlerContext<'verify', VerifyReach>): Promise<{ drill: DrillTargetResult[] }> {
  const db = ctx.database;
  const results: DrillTargetResult[] = [];
  let permanent = false;
  let firstTransient: unknown;
  for (const target of ['local', ...db.targets]) {
    ctx.signal.throwIfAborted();
    let r: DrillTargetResult;
    const rec = await newestOn(ctx, target);
    try {
      if (!rec) throw new NoBackupError(db.id);
      const loc = rec.locations.find((l) => l.target === target && l.deletedAt === null)!;
      const res = await verifyBackup({
        storage: ctx.storageFor(target),
        artifactKey: loc.artifactKey,
        keys: ctx.keys,
        tmpDir: ctx.tmpDir,
        signal: ctx.signal,
        onProgress: (p) => ctx.progress(p),
      });
      observeStages(ctx.metrics, res.timings);
      ctx.metrics.bytesReadTotal.inc({ queue: 'verify' }, rec.manifest.artifact.sizeBytes);
      const tables = Object.values(res.tables);
      r = { target, outcome: 'ok', backupId: rec.backupId, tables: tables.length, rows: tables.reduce((a, n) => a + n, 0) };
    } catch (err) {
      // Shutdown or a lost lock: the job runs again; that is no verdict on the backup.
      if (ctx.signal.aborted) throw err;
      const code = isAppError(err) ? err.code : 'INTERNAL';
      if (!isAppError(err) || err.permanent) permanent = true;
      else firstTransient ??= err;
      r = { target, outcome: 'failed', backupId: rec?.backupId ?? null, errorCode: code, error: err instanceof Error ? err.message : String(err) };
      ctx.log.error({ databaseId: db.id, target, backupId: r.backupId, code, err: r.error }, 'restore drill failed');
    }
    const at = new Date();
    await ctx.catalog.recordDrill({
      databaseId: db.id,
      target,
      at: at.toISOString(),
      outcome: r.outcome,
      backupId: r.backupId,
      ...(r.outcome === 'failed' ? { errorCode: r.errorCode ?? null, error: r.error ?? null } : {}),
    });
    ctx.metrics.restoreDrillsTotal.inc({ database: db.id, target, outcome: r.outcome });
    if (r.outcome === 'ok') ctx.metrics.lastVerifiedRestore.set({ database: db.id, target }, at.getTime() / 1000);
    results.push(r);
  }
  const failed = results.filter((r) => r.outcome === 'failed');
  if (failed.length === 0) return { drill: results };
  // Only transient failures (a storage that did not answer): the job is retried with backoff.
  if (!permanent) throw firstTransient;
  throw new RestoreDrillFailedError(db.id, failed.map((f) => `${f.target}: ${f.errorCode}`));
}

/**
 * Set `mfb_last_verified_restore_timestamp_seconds` from the catalog (at worker start), so the
 * gauge exists for every database and target that was ever verified, not only after the next
 * drill of this process.
 */
export async function loadDrillMetrics(catalog: Pick<Catalog, 'listDrills'>, metrics: Pick<Metrics, 'lastVerifiedRestore'>): Promise<void> {
  for (const d of await catalog.listDrills()) {
    if (d.lastVerifiedAt !== null) metrics.lastVerifiedRestore.set({ database: d.databaseId, target: d.target }, Date.parse(d.lastVerifiedAt) / 1000);
  }
}

import type { Catalog, DrillRecord } from './types.js';

export interface CopyReport {
  backups: number;
  copies: number;
  deletedCopies: number;
  pinned: number;
  schedules: number;
  jobs: number;
  /** Copies a killed prune left marked `deleting` (the next prune on the new store finishes them). */
  deletingCopies: number;
  /** Restore drill records (database x target). */
  drills: number;
  /** Key ids the config had at the last start (carried so the key-removal check keeps its memory). */
  configKeyIds: number;
}

export interface CopyOptions {
  /** Job history rows per database to carry over, newest first (1-500). @defaultValue 500 */
  jobsPerDatabase?: number;
  onProgress?: (done: number) => void;
}

/**
 * Copy every record of `from` into `to` (`backupctl catalog migrate`): backups with all their
 * copies (deleted ones too, with when they were deleted and their storage class; `deleting`
 * marks of a prune that was killed half-way, with their time), pins, schedules, the newest job
 * history of each database, restore drill results and the config's key ids. Idempotent:
 * records already in `to` are written again with the same values, so an interrupted copy is
 * finished by running it again.
 */
export async function copyCatalog(from: Catalog, to: Catalog, opts: CopyOptions = {}): Promise<CopyReport> {
  const report: CopyReport = { backups: 0, copies: 0, deletedCopies: 0, pinned: 0, schedules: 0, jobs: 0, deletingCopies: 0, drills: 0, configKeyIds: 0 };
  const databases = new Set<string>();
  let cursor: string | null = null;
  do {
    const page: Awaited<ReturnType<Catalog['listBackups']>> = await from.listBackups({ limit: 500, ...(cursor ? { cursor } : {}) });
    for (const b of page.items) {
      databases.add(b.databaseId);
      const [first, ...rest] = b.locations;
      if (!first) continue; // never had a copy: nothing to carry
      const loc = (l: typeof first) => ({ target: l.target, artifactKey: l.artifactKey, storedAt: l.storedAt, storageClass: l.storageClass });
      await to.recordBackup(b.manifest, loc(first));
      for (const l of rest) await to.addLocation(b.backupId, loc(l));
      for (const l of b.locations) {
        report.copies++;
        if (l.deletedAt !== null) {
          await to.markLocationDeleted(b.backupId, l.target, l.deletedAt);
          report.deletedCopies++;
        }
      }
      if (b.pinned) {
        await to.setPinned(b.backupId, true);
        report.pinned++;
      }
      report.backups++;
    }
    opts.onProgress?.(report.backups);
    cursor = page.nextCursor;
  } while (cursor);
  for (const s of await from.listSchedules()) {
    databases.add(s.databaseId);
    await to.upsertSchedule({ databaseId: s.databaseId, scheduleId: s.scheduleId, job: s.job, cron: s.cron, timezone: s.timezone, paused: s.paused, origin: s.origin });
    report.schedules++;
  }
  for (const databaseId of databases) {
    for (const j of await from.listJobs({ databaseId, limit: opts.jobsPerDatabase ?? 500 })) {
      await to.recordJob(j);
      report.jobs++;
    }
  }
  // After the pins: a pinned backup is never marked deleting (the source refused that too).
  const deleting = await from.listDeletingCopies();
  for (const d of deleting) {
    const r = await to.beginCopyDeletes([{ backupId: d.backupId, target: d.target }], d.deletingAt);
    report.deletingCopies += r.started.length;
  }
  for (const d of await from.listDrills()) {
    await copyDrill(to, d);
    report.drills++;
  }
  const keyIds = await from.configKeyIds();
  if (keyIds.length > 0) await to.setConfigKeyIds(keyIds);
  report.configKeyIds = keyIds.length;
  return report;
}

/**
 * A drill record is written through `recordDrill` (the only writer): the last success first,
 * then the last run when it failed after it, so both "last verified" and "last run" survive.
 */
async function copyDrill(to: Catalog, d: DrillRecord): Promise<void> {
  const base = { databaseId: d.databaseId, target: d.target };
  if (d.lastVerifiedAt !== null && d.lastVerifiedAt !== d.lastRunAt)
    await to.recordDrill({ ...base, at: d.lastVerifiedAt, outcome: 'ok', backupId: d.lastVerifiedBackupId });
  await to.recordDrill({ ...base, at: d.lastRunAt, outcome: d.lastOutcome, backupId: d.lastBackupId, errorCode: d.lastErrorCode, error: d.lastError });
}

import { AppError } from '@mfb/errors';

/** Shared with the API and the CLI: one code per situation (docs/errors.md). */
export { BackupNotFoundError, BackupNotOnTargetError, DatabaseNotFoundError, TargetNotFoundError } from '@mfb/errors';
export { UnknownKeyIdError } from '@mfb/backup';

/** The database has no backup yet (verify without backupId). */
export class NoBackupError extends AppError {
  constructor(databaseId: string) {
    super('WORKER_NO_BACKUP', `database ${databaseId} has no backup to verify`, { permanent: true, status: 404, details: { databaseId } });
  }
}

/** The job was stopped by shutdown (or lock loss) and will run again. */
export class JobAbortedError extends AppError {
  constructor(reason: string) {
    super('WORKER_JOB_ABORTED', `job aborted: ${reason}`, { permanent: false, status: 503 });
  }
}

/**
 * A restore drill failed on at least one target (each target's outcome is in the catalog and
 * the metrics; the job's result lists them). Permanent: a person must look.
 */
export class RestoreDrillFailedError extends AppError {
  constructor(databaseId: string, failures: readonly string[]) {
    super('RESTORE_DRILL_FAILED', `restore drill of ${databaseId} failed on ${failures.join(', ')}`, {
      permanent: true,
      status: 500,
      details: { databaseId, failures: [...failures] },
    });
  }
}

/**
 * A host-bound job (backup, restore `replace`) reached a worker of another host than its
 * database's: the producer that queued it and this worker disagree on `databases[].host`.
 * Permanent: running it would snapshot (or overwrite) whatever file is at that path here.
 */
export class WrongHostError extends AppError {
  constructor(databaseId: string, host: string, workerHost: string, queue: string) {
    super(
      'WORKER_WRONG_HOST',
      `database ${databaseId} is on host ${host} (databases[].host), but this job was queued in ${queue} and taken by a worker of ${workerHost}: make databases[].host the same in every process's config`,
      { permanent: true, status: 409, details: { databaseId, host, workerHost } },
    );
  }
}

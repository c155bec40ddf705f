import { AppError } from '@mfb/errors';

/** The job names a database that is not in the config. */
export class UnknownDatabaseError extends AppError {
  constructor(databaseId: string) {
    super('WORKER_UNKNOWN_DATABASE', `database ${databaseId} is not configured`, { permanent: true, status: 404, details: { databaseId } });
  }
}

/** The job names a storage target that is not in the config. */
export class UnknownTargetError extends AppError {
  constructor(target: string) {
    super('WORKER_UNKNOWN_TARGET', `storage target ${target} is not configured`, { permanent: true, status: 404, details: { target } });
  }
}

/** The job names a backup the catalog does not know (or that has no live copy where needed). */
export class BackupNotFoundError extends AppError {
  constructor(backupId: string, where?: string) {
    super('WORKER_BACKUP_NOT_FOUND', `backup ${backupId} not found${where ? ` on ${where}` : ''}`, {
      permanent: true,
      status: 404,
      details: { backupId, ...(where ? { target: where } : {}) },
    });
  }
}

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

/** The database is configured to encrypt with a key id that has no key. */
export class MissingKeyError extends AppError {
  constructor(databaseId: string, keyId: string) {
    super('WORKER_MISSING_KEY', `database ${databaseId} encrypts with key ${keyId}, which is not configured`, {
      permanent: true,
      status: 500,
      details: { databaseId, keyId },
    });
  }
}

import { AppError } from './app-error.js';

/**
 * Errors for situations every process meets (API, worker, CLI): one class and one code per
 * situation, so a script sees the same code whichever way it asked. All permanent.
 */

/** A database id that is not in the config. */
export class DatabaseNotFoundError extends AppError {
  /** `known`: the configured ids, named in the message (CLI); omit where they are not the caller's business. */
  constructor(databaseId: string, known?: readonly string[]) {
    const list = known === undefined ? '' : known.length ? ` (configured: ${known.join(', ')})` : ' (none configured)';
    super('DATABASE_NOT_FOUND', `no database "${databaseId}" is configured${list}`, { permanent: true, status: 404, details: { databaseId } });
  }
}

/** A storage target name that is not in the config (`local` is the primary storage). */
export class TargetNotFoundError extends AppError {
  constructor(target: string, known?: readonly string[]) {
    const list = known === undefined ? '' : ` (configured: ${known.join(', ')})`;
    super('TARGET_NOT_FOUND', `no storage target "${target}" is configured${list}`, { permanent: true, status: 404, details: { target } });
  }
}

/** A backup the catalog (or storage) does not know, or that belongs to another database. */
export class BackupNotFoundError extends AppError {
  constructor(backupId: string, opts: { databaseId?: string; hint?: string } = {}) {
    const where = opts.databaseId !== undefined ? `database "${opts.databaseId}" has no backup "${backupId}"` : `backup not found: ${backupId}`;
    super('BACKUP_NOT_FOUND', `${where}${opts.hint ? ` (${opts.hint})` : ''}`, {
      permanent: true,
      status: 404,
      details: { backupId, ...(opts.databaseId !== undefined ? { databaseId: opts.databaseId } : {}) },
    });
  }
}

/** The backup exists but has no live copy on the target asked for. */
export class BackupNotOnTargetError extends AppError {
  constructor(backupId: string, target: string) {
    super('BACKUP_NOT_ON_TARGET', `backup "${backupId}" has no live copy on target "${target}"`, {
      permanent: true,
      status: 404,
      details: { backupId, target },
    });
  }
}

/** An id that cannot be one (wrong characters, too long): malformed, not merely unknown. */
export class InvalidIdError extends AppError {
  constructor(kind: 'database' | 'backup' | 'target' | 'schedule' | 'job', value: string, rule: string) {
    super('INVALID_ID', `${JSON.stringify(value.slice(0, 100))} is not a valid ${kind} id (must match ${rule})`, {
      permanent: true,
      status: 400,
      details: { kind },
    });
  }
}

/**
 * Not enough free space for a backup, found before any work started (the scratch directory
 * or the primary storage's volume has less than the last snapshot of the database needs).
 * Permanent: retrying fills nothing; free space, then run again.
 */
export class InsufficientSpaceError extends AppError {
  constructor(what: string, dir: string, freeBytes: number, neededBytes: number) {
    super('INSUFFICIENT_SPACE', `not enough free space for a backup in ${what} ${dir}: ${freeBytes} bytes free, ${neededBytes} needed (last snapshot size plus margin); free space there, then run again`, {
      permanent: true,
      status: 507,
      details: { dir, freeBytes, neededBytes },
    });
  }
}

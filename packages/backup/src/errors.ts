import { AppError } from '@mfb/errors';

type Opts = { cause?: unknown; details?: Record<string, unknown> };

/** Base of every engine error; `code` is stable, `permanent` says whether a retry can help. */
export class BackupError extends AppError {}

// ---- options -------------------------------------------------------------------------------

export class InvalidBackupOptionsError extends BackupError {
  constructor(message: string, opts: Opts = {}) {
    super('BACKUP_INVALID_OPTIONS', message, { ...opts, permanent: true, status: 400 });
  }
}

// ---- source database ------------------------------------------------------------------------

export class SourceNotFoundError extends BackupError {
  constructor(path: string, opts: Opts = {}) {
    super('BACKUP_SOURCE_NOT_FOUND', `source database not found: ${path}`, { ...opts, permanent: true, status: 422, details: { path } });
  }
}

export class SourceUnreadableError extends BackupError {
  constructor(path: string, reason: string, opts: Opts = {}) {
    super('BACKUP_SOURCE_UNREADABLE', `source database is not readable: ${path} (${reason})`, {
      ...opts,
      permanent: true,
      status: 422,
      details: { path },
    });
  }
}

export class NotSqliteError extends BackupError {
  constructor(path: string, opts: Opts = {}) {
    super('BACKUP_NOT_SQLITE', `not a SQLite database: ${path}`, { ...opts, permanent: true, status: 422, details: { path } });
  }
}

export class SourceCorruptError extends BackupError {
  constructor(path: string, reason: string, opts: Opts = {}) {
    super('BACKUP_SOURCE_CORRUPT', `source database is corrupt: ${path} (${reason})`, {
      ...opts,
      permanent: true,
      status: 422,
      details: { path },
    });
  }
}

/** The source stayed locked by a writer longer than the busy timeout. */
export class SourceBusyError extends BackupError {
  constructor(path: string, opts: Opts & { busyTimeoutMs?: number; hint?: string } = {}) {
    const waited = opts.busyTimeoutMs !== undefined ? ` for ${opts.busyTimeoutMs / 1000} s (the busy timeout)` : '';
    super('BACKUP_SOURCE_BUSY', `source database stayed locked${waited}: ${path}${opts.hint ? `; ${opts.hint}` : ''}`, {
      cause: opts.cause,
      permanent: false,
      status: 503,
      details: { path, ...(opts.busyTimeoutMs !== undefined ? { busyTimeoutMs: opts.busyTimeoutMs } : {}) },
    });
  }
}

// ---- resources ------------------------------------------------------------------------------

/**
 * The engine's own working space is full (the snapshot, scratch files, a restore target).
 * Permanent, like `STORAGE_DISK_FULL`: a retry would only fill the same disk again (often the
 * disk of the live database); the run fails at once and says what to free.
 */
export class DiskFullError extends BackupError {
  constructor(where: string, opts: Opts = {}) {
    super('BACKUP_DISK_FULL', `no space left on device while writing ${where}; not retried: free space there, then run it again`, {
      ...opts,
      permanent: true,
      status: 507,
    });
  }
}

export class AbortedError extends BackupError {
  constructor(opts: Opts = {}) {
    super('BACKUP_ABORTED', 'operation aborted', { ...opts, permanent: false, status: 499 });
  }
}

// ---- artifact / manifest --------------------------------------------------------------------

export class ArtifactNotFoundError extends BackupError {
  constructor(key: string, opts: Opts = {}) {
    super('BACKUP_NOT_FOUND', `backup not found: ${key}`, { ...opts, permanent: true, status: 404, details: { key } });
  }
}

export class ManifestInvalidError extends BackupError {
  constructor(key: string, reason: string, opts: Opts = {}) {
    super('BACKUP_MANIFEST_INVALID', `manifest ${key} is invalid: ${reason}`, { ...opts, permanent: true, status: 422, details: { key } });
  }
}

export class ManifestMismatchError extends BackupError {
  constructor(key: string, reason: string, opts: Opts = {}) {
    super('BACKUP_MANIFEST_MISMATCH', `artifact ${key} does not match its manifest: ${reason}`, {
      ...opts,
      permanent: true,
      status: 422,
      details: { key },
    });
  }
}

export class ChecksumMismatchError extends BackupError {
  constructor(what: 'artifact' | 'snapshot', key: string, opts: Opts = {}) {
    super('BACKUP_CHECKSUM_MISMATCH', `${what} SHA-256 of ${key} does not match the manifest`, {
      ...opts,
      permanent: true,
      status: 422,
      details: { key, what },
    });
  }
}

/**
 * A delta's chain does not lead back to a full backup of the same database: a link is
 * missing, belongs to another database or chain, is out of order, or does not apply.
 */
export class ChainBrokenError extends BackupError {
  constructor(key: string, reason: string, opts: Opts = {}) {
    super('BACKUP_CHAIN_BROKEN', `backup chain of ${key} is broken: ${reason}`, { ...opts, permanent: true, status: 422, details: { key } });
  }
}

export class DecompressError extends BackupError {
  constructor(reason: string, opts: Opts = {}) {
    super('BACKUP_DECOMPRESS_FAILED', `artifact does not decompress: ${reason}`, { ...opts, permanent: true, status: 422 });
  }
}

export class IntegrityCheckError extends BackupError {
  constructor(reason: string, opts: Opts = {}) {
    super('BACKUP_INTEGRITY_CHECK_FAILED', `restored database fails PRAGMA integrity_check: ${reason}`, {
      ...opts,
      permanent: true,
      status: 422,
    });
  }
}

// ---- encryption -----------------------------------------------------------------------------

export class WrongKeyError extends BackupError {
  constructor(keyId: string, opts: Opts = {}) {
    super('BACKUP_WRONG_KEY', `the key configured as "${keyId}" is not the key this artifact was encrypted with`, {
      ...opts,
      permanent: true,
      status: 422,
      details: { keyId },
    });
  }
}

/** No key with the id an artifact (or a database's config) names: nothing to encrypt or decrypt with. */
export class UnknownKeyIdError extends BackupError {
  constructor(keyId: string, opts: Opts & { hint?: string } = {}) {
    const { hint, ...rest } = opts;
    super('BACKUP_UNKNOWN_KEY_ID', `no key configured with id "${keyId}"${hint ? ` (${hint})` : ''}`, { ...rest, permanent: true, status: 422, details: { keyId } });
  }
}

export class AuthFailedError extends BackupError {
  constructor(reason: string, opts: Opts = {}) {
    super('BACKUP_AUTH_FAILED', `artifact failed authentication (tampered or truncated): ${reason}`, {
      ...opts,
      permanent: true,
      status: 422,
    });
  }
}

// ---- restore target -------------------------------------------------------------------------

export class RestoreTargetExistsError extends BackupError {
  constructor(path: string, opts: Opts = {}) {
    super('RESTORE_TARGET_EXISTS', `restore target already exists: ${path}`, { ...opts, permanent: true, status: 409, details: { path } });
  }
}

export class RestoreTargetNotFoundError extends BackupError {
  constructor(path: string, opts: Opts = {}) {
    super('RESTORE_TARGET_NOT_FOUND', `database to replace does not exist: ${path}`, {
      ...opts,
      permanent: true,
      status: 404,
      details: { path },
    });
  }
}

export class RestoreTargetBusyError extends BackupError {
  constructor(path: string, opts: Opts = {}) {
    super('RESTORE_TARGET_BUSY', `restore target is locked by another connection: ${path}`, {
      ...opts,
      permanent: false,
      status: 409,
      details: { path },
    });
  }
}

export class RestoreTargetNotWritableError extends BackupError {
  constructor(path: string, reason: string, opts: Opts = {}) {
    super('RESTORE_TARGET_NOT_WRITABLE', `restore target is not writable: ${path} (${reason})`, {
      ...opts,
      permanent: true,
      status: 422,
      details: { path },
    });
  }
}

// ---- helpers --------------------------------------------------------------------------------

/** errno / SQLite code of an unknown error, following `cause` links. */
export function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && !code.startsWith('BACKUP_') && !code.startsWith('RESTORE_') && !code.startsWith('STORAGE_')) return code;
  }
  return undefined;
}

export function isDiskFull(err: unknown): boolean {
  for (let e: unknown = err, d = 0; e && typeof e === 'object' && d < 8; e = (e as { cause?: unknown }).cause, d++) {
    if ((e as { code?: unknown }).code === 'STORAGE_DISK_FULL') return true;
  }
  const code = errorCode(err);
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL';
}

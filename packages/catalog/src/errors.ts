import { AppError } from '@mfb/errors';

/** Base class of every catalog error. */
export class CatalogError extends AppError {}

/** The backup (or the copy of it on a target) is not in the catalog. */
export class CatalogNotFoundError extends CatalogError {
  constructor(what: string) {
    super('CATALOG_NOT_FOUND', `${what} not found in the catalog`, { permanent: true, status: 404 });
  }
}

/**
 * A pin refused: a copy of the backup is being deleted (a prune or `DELETE` committed to it),
 * or no copy is left. Nothing was pinned.
 */
export class CatalogBackupDeletingError extends CatalogError {
  constructor(backupId: string) {
    super('BACKUP_DELETING', `backup ${backupId} is being deleted (or has no copy left) and cannot be pinned`, {
      permanent: true,
      status: 409,
      details: { backupId },
    });
  }
}

/** A query the catalog cannot answer as asked (bad limit, bad time, bad cursor). */
export class CatalogInvalidQueryError extends CatalogError {
  constructor(message: string) {
    super('CATALOG_INVALID_QUERY', message, { permanent: true, status: 400 });
  }
}

/** A record that cannot be stored (malformed manifest, unknown job kind, ...). */
export class CatalogInvalidRecordError extends CatalogError {
  constructor(message: string) {
    super('CATALOG_INVALID_RECORD', message, { permanent: true, status: 400 });
  }
}

/** The catalog file was written by a newer version of this program. */
export class CatalogSchemaTooNewError extends CatalogError {
  constructor(path: string, found: number, known: number) {
    super(
      'CATALOG_SCHEMA_TOO_NEW',
      `catalog ${path} has schema version ${found}, this program knows up to ${known}; upgrade the program (or rebuild the catalog from storage)`,
      { permanent: true, status: 500 },
    );
  }
}

/** Another process held the catalog locked longer than busy_timeout: retry later. */
export class CatalogBusyError extends CatalogError {
  constructor(operation: string, cause: unknown) {
    super('CATALOG_BUSY', `${operation}: catalog is busy (locked by another process)`, { permanent: false, status: 503, cause });
  }
}

/** The catalog file is damaged or not a SQLite database; rebuild it from storage. */
export class CatalogCorruptError extends CatalogError {
  constructor(operation: string, cause: unknown) {
    super('CATALOG_CORRUPT', `${operation}: catalog file is damaged or not a catalog (rebuild it from storage)`, { permanent: true, status: 500, cause });
  }
}

/** Any other failure of the catalog store (disk full, I/O error); transient. */
export class CatalogIoError extends CatalogError {
  constructor(operation: string, cause: unknown) {
    const code = (cause as { code?: string } | undefined)?.code;
    super('CATALOG_IO', `${operation}: ${code ?? (cause instanceof Error ? cause.message : String(cause))}`, { permanent: false, status: 503, cause });
  }
}

/** Map a better-sqlite3 / fs error to a catalog error. */
export function mapDbError(operation: string, err: unknown): Error {
  if (err instanceof AppError) return err;
  const code = (err as { code?: string } | undefined)?.code ?? '';
  if (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_') || code === 'SQLITE_LOCKED') return new CatalogBusyError(operation, err);
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT_')) return new CatalogCorruptError(operation, err);
  return new CatalogIoError(operation, err);
}

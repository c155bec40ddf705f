import { AppError } from '@mfb/errors';

/** Base class of every error a storage driver throws on purpose. */
export class StorageError extends AppError {}

/** `get` of a key that does not exist. */
export class StorageNotFoundError extends StorageError {
  constructor(key: string, url?: string) {
    super('STORAGE_NOT_FOUND', `object not found: ${key}${url ? ` in ${url}` : ''}`, {
      permanent: true,
      status: 404,
      details: { key },
    });
  }
}

/** A key or prefix that is not allowed (`..`, absolute, NUL, backslash, empty segment, reserved name). */
export class StorageInvalidKeyError extends StorageError {
  constructor(key: string, reason: string) {
    super('STORAGE_INVALID_KEY', `invalid storage key ${JSON.stringify(key)}: ${reason}`, {
      permanent: true,
      status: 400,
      details: { key, reason },
    });
  }
}

/** A list cursor that this driver did not produce. */
export class StorageInvalidCursorError extends StorageError {
  constructor() {
    super('STORAGE_INVALID_CURSOR', 'invalid list cursor', { permanent: true, status: 400 });
  }
}

/** No driver is registered for the URL scheme. */
export class StorageUnsupportedSchemeError extends StorageError {
  constructor(scheme: string, known: string[]) {
    super(
      'STORAGE_UNSUPPORTED_SCHEME',
      `unsupported storage URL scheme "${scheme}:" (supported: ${known.map((s) => s + '://').join(', ')})`,
      { permanent: true, status: 400, details: { scheme } },
    );
  }
}

/** A storage URL that cannot be parsed by the driver of its scheme. */
export class StorageInvalidUrlError extends StorageError {
  constructor(safeUrl: string, reason: string) {
    super('STORAGE_INVALID_URL', `invalid storage URL ${safeUrl}: ${reason}`, { permanent: true, status: 400 });
  }
}

/**
 * The device is full (ENOSPC / EDQUOT).
 *
 * Permanent on purpose: retrying a backup against a full disk would fill it again on every
 * attempt, and the disk is often shared with the live database the backup protects. The job
 * fails at once with a clear code; the operator (or a prune) frees space and re-runs it.
 */
export class StorageDiskFullError extends StorageError {
  constructor(operation: string, cause: unknown) {
    super('STORAGE_DISK_FULL', `${operation}: no space left on device`, { permanent: true, status: 507, cause });
  }
}

/** Permission denied or read-only filesystem: a configuration problem, not worth retrying. */
export class StoragePermissionError extends StorageError {
  constructor(operation: string, cause: unknown) {
    const code = (cause as NodeJS.ErrnoException | undefined)?.code ?? 'EACCES';
    super('STORAGE_PERMISSION_DENIED', `${operation}: permission denied (${code})`, { permanent: true, status: 500, cause });
  }
}

/** The key collides with an existing directory/object on a hierarchical store (`a` vs `a/b`). */
export class StorageKeyConflictError extends StorageError {
  constructor(key: string, cause: unknown) {
    super('STORAGE_KEY_CONFLICT', `key ${JSON.stringify(key)} conflicts with an existing object or directory`, {
      permanent: true,
      status: 409,
      cause,
      details: { key },
    });
  }
}

/** Any other I/O failure; transient (the job layer retries it). */
export class StorageIoError extends StorageError {
  constructor(operation: string, cause: unknown) {
    const c = cause as NodeJS.ErrnoException | undefined;
    super('STORAGE_IO', `${operation}: ${c?.code ?? (c instanceof Error ? c.message : String(cause))}`, {
      permanent: false,
      status: 503,
      cause,
    });
  }
}

/** The operation was aborted through its `AbortSignal`; partial writes were removed. */
export class StorageAbortedError extends StorageError {
  constructor(operation: string, cause?: unknown) {
    super('STORAGE_ABORTED', `${operation}: aborted`, { permanent: false, status: 499, cause });
  }
}

/**
 * Map a Node.js filesystem error to a storage error. Errors that are not filesystem errors
 * (no `syscall`), e.g. one thrown by the caller's body stream, are returned unchanged so
 * their own code survives.
 */
export function mapFsError(operation: string, err: unknown, key?: string): Error {
  if (err instanceof StorageError) return err;
  const e = err as NodeJS.ErrnoException | undefined;
  if (!e || typeof e !== 'object' || typeof e.syscall !== 'string') {
    return err instanceof Error ? err : new Error(`${operation}: ${String(err)}`);
  }
  switch (e.code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new StorageDiskFullError(operation, err);
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new StoragePermissionError(operation, err);
    case 'ENOTDIR':
    case 'EISDIR':
    case 'EEXIST':
      if (key !== undefined) return new StorageKeyConflictError(key, err);
      return new StorageIoError(operation, err);
    default:
      return new StorageIoError(operation, err);
  }
}

/**
 * Driver options that are not valid: an unknown key (the message lists the valid ones), a
 * bad value, or the same key both in the URL query and in `targets[].options`.
 */
export class StorageInvalidOptionsError extends StorageError {
  constructor(safeUrl: string, reason: string, details: Record<string, unknown> = {}) {
    super('STORAGE_INVALID_OPTIONS', `invalid options for storage ${safeUrl}: ${reason}`, { permanent: true, status: 400, details });
  }
}

/**
 * The bytes read from a put's body do not hash to `PutOptions.sha256`. The upload was
 * aborted and nothing was stored under the key. Transient: the artifact may be re-read.
 */
export class StorageChecksumMismatchError extends StorageError {
  constructor(key: string, safeUrl: string, expected: string, actual: string) {
    super('STORAGE_CHECKSUM_MISMATCH', `put ${key} to ${safeUrl}: SHA-256 of the body is ${actual}, expected ${expected}; nothing was stored`, {
      permanent: false,
      status: 422,
      details: { key, expected, actual },
    });
  }
}

/** The bucket / container named by the target does not exist. */
export class StorageBucketNotFoundError extends StorageError {
  constructor(operation: string, safeUrl: string, cause?: unknown) {
    super('STORAGE_BUCKET_NOT_FOUND', `${operation}: the bucket of ${safeUrl} does not exist`, { permanent: true, status: 502, cause });
  }
}

/** The credentials are valid but not allowed to do this (IAM policy, bucket policy, ACL). */
export class StorageAccessDeniedError extends StorageError {
  constructor(operation: string, safeUrl: string, cause?: unknown) {
    super('STORAGE_ACCESS_DENIED', `${operation}: access denied by ${safeUrl} (check the policy of these credentials)`, {
      permanent: true,
      status: 502,
      cause,
    });
  }
}

/** The provider does not accept the credentials (unknown key id, bad signature, expired token). */
export class StorageAuthFailedError extends StorageError {
  constructor(operation: string, safeUrl: string, cause?: unknown) {
    super('STORAGE_AUTH_FAILED', `${operation}: ${safeUrl} rejected the credentials (unknown key, wrong secret or expired token)`, {
      permanent: true,
      status: 502,
      cause,
    });
  }
}

/**
 * The provider could not be reached or did not answer usefully (throttling, 5xx, connection
 * reset, timeout) even after the SDK's own retries. Transient: the job's backoff retries it.
 */
export class StorageUnavailableError extends StorageError {
  constructor(operation: string, safeUrl: string, reason: string, cause?: unknown) {
    super('STORAGE_UNAVAILABLE', `${operation}: ${safeUrl} is unavailable (${reason})`, { permanent: false, status: 503, cause });
  }
}

/**
 * The provider refused the request for a reason retrying cannot fix (an invalid argument,
 * an unsupported storage class, a precondition): permanent. The provider's error code is in
 * the message, its full answer in `cause`.
 */
export class StorageRejectedError extends StorageError {
  constructor(operation: string, safeUrl: string, reason: string, cause?: unknown) {
    super('STORAGE_REJECTED', `${operation}: ${safeUrl} rejected the request (${reason})`, { permanent: true, status: 502, cause });
  }
}

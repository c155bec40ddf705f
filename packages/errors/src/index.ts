export { AppError } from './app-error.js';
export { DatabaseNotFoundError, TargetNotFoundError, BackupNotFoundError, BackupNotOnTargetError, InvalidIdError, InsufficientSpaceError } from './common.js';
export { isSecretName, redactUrl } from './redact.js';
import { AppError } from './app-error.js';

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError || (typeof err === 'object' && err !== null && 'code' in err && 'permanent' in err && err instanceof Error);
}

/** Wrap an unknown failure with the operation that was attempted (`upload to s3://b/k`). */
export function wrap(operation: string, cause: unknown): Error {
  if (cause instanceof AppError) return cause;
  return new Error(operation + ': ' + (cause instanceof Error ? cause.message : String(cause)), { cause });
}

/**
 * Exit codes scripts can rely on (documented in apps/cli/README.md). The mapping is by the
 * stable error `code`, never by message text.
 */
export const ExitCode = {
  OK: 0,
  /** Anything not covered below (I/O errors, bugs). */
  FAILURE: 1,
  /** Bad command line: unknown command/option, missing argument, invalid value. */
  USAGE: 2,
  /** Config file missing/invalid, unknown key id, storage URL not usable. */
  CONFIG: 3,
  /** Backup, artifact, manifest or database id not found. */
  NOT_FOUND: 4,
  /** The artifact cannot be trusted: checksum, authentication (wrong key, tampered, truncated), manifest, integrity_check. */
  INTEGRITY: 5,
  /** Restore target exists, is busy (locked) or not writable; init would overwrite. */
  TARGET: 6,
  /** The source database is missing, unreadable, not SQLite, corrupt or stays locked. */
  SOURCE: 7,
  /** The database is locked by a worker job or another backupctl (`--force` to proceed anyway). */
  LOCKED: 8,
  /** Interrupted by SIGINT/SIGTERM; the engine removed its temp files. */
  INTERRUPTED: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

const BY_CODE: Record<string, ExitCode> = {
  // CLI
  CLI_USAGE: ExitCode.USAGE,
  CLI_ARTIFACT_NOT_FOUND: ExitCode.NOT_FOUND,
  CLI_REBUILD_NOTHING_FOUND: ExitCode.NOT_FOUND,
  CLI_KEY_FILE_INVALID: ExitCode.CONFIG,
  CLI_NO_API_KEY: ExitCode.CONFIG,
  CLI_CONFIG_EXISTS: ExitCode.TARGET,
  CLI_DATABASE_LOCKED: ExitCode.LOCKED,
  CLI_WRONG_HOST: ExitCode.SOURCE,
  JOBS_LOCK_LOST: ExitCode.LOCKED,
  // shared by CLI, API and worker
  INVALID_ID: ExitCode.USAGE,
  DATABASE_NOT_FOUND: ExitCode.NOT_FOUND,
  TARGET_NOT_FOUND: ExitCode.NOT_FOUND,
  BACKUP_NOT_ON_TARGET: ExitCode.NOT_FOUND,
  // engine: source
  BACKUP_SOURCE_NOT_FOUND: ExitCode.SOURCE,
  BACKUP_SOURCE_UNREADABLE: ExitCode.SOURCE,
  BACKUP_NOT_SQLITE: ExitCode.SOURCE,
  BACKUP_SOURCE_CORRUPT: ExitCode.SOURCE,
  BACKUP_SOURCE_BUSY: ExitCode.SOURCE,
  BACKUP_INVALID_OPTIONS: ExitCode.USAGE,
  BACKUP_ABORTED: ExitCode.INTERRUPTED,
  STORAGE_ABORTED: ExitCode.INTERRUPTED,
  // engine: artifact
  BACKUP_NOT_FOUND: ExitCode.NOT_FOUND,
  BACKUP_MANIFEST_INVALID: ExitCode.INTEGRITY,
  BACKUP_MANIFEST_MISMATCH: ExitCode.INTEGRITY,
  BACKUP_CHECKSUM_MISMATCH: ExitCode.INTEGRITY,
  BACKUP_CHAIN_BROKEN: ExitCode.INTEGRITY,
  BACKUP_DECOMPRESS_FAILED: ExitCode.INTEGRITY,
  BACKUP_INTEGRITY_CHECK_FAILED: ExitCode.INTEGRITY,
  BACKUP_WRONG_KEY: ExitCode.INTEGRITY,
  BACKUP_AUTH_FAILED: ExitCode.INTEGRITY,
  BACKUP_UNKNOWN_KEY_ID: ExitCode.CONFIG,
  KEY_STILL_IN_USE: ExitCode.CONFIG,
  RESTORE_DRILL_FAILED: ExitCode.INTEGRITY,
  // engine: restore target
  RESTORE_TARGET_EXISTS: ExitCode.TARGET,
  RESTORE_TARGET_BUSY: ExitCode.TARGET,
  RESTORE_TARGET_NOT_WRITABLE: ExitCode.TARGET,
  RESTORE_TARGET_NOT_FOUND: ExitCode.NOT_FOUND,
  // API (remote commands)
  AUTH_REQUIRED: ExitCode.CONFIG,
  AUTH_INVALID_CREDENTIALS: ExitCode.CONFIG,
  AUTH_INSUFFICIENT_SCOPE: ExitCode.CONFIG,
  VALIDATION_FAILED: ExitCode.USAGE,
  RESTORE_TARGET_REQUIRED: ExitCode.USAGE,
  RESTORE_INVALID_TARGET_PATH: ExitCode.USAGE,
  INVALID_AT: ExitCode.USAGE,
  AT_TOO_FAR: ExitCode.USAGE,
  // storage
  STORAGE_NOT_FOUND: ExitCode.NOT_FOUND,
  STORAGE_UNSUPPORTED_SCHEME: ExitCode.CONFIG,
  STORAGE_INVALID_URL: ExitCode.CONFIG,
  STORAGE_INVALID_KEY: ExitCode.USAGE,
  // a target the config names wrongly, or credentials/permissions to fix: the operator's config
  STORAGE_INVALID_OPTIONS: ExitCode.CONFIG,
  STORAGE_BUCKET_NOT_FOUND: ExitCode.CONFIG,
  STORAGE_ACCESS_DENIED: ExitCode.CONFIG,
  STORAGE_AUTH_FAILED: ExitCode.CONFIG,
};

/** Exit code for an error `code`; unknown codes fall back on their family, then FAILURE. */
export function exitCodeFor(code: string | undefined): ExitCode {
  if (!code) return ExitCode.FAILURE;
  const exact = BY_CODE[code];
  if (exact !== undefined) return exact;
  if (code.startsWith('CONFIG_')) return ExitCode.CONFIG;
  if (code.endsWith('_NOT_FOUND')) return ExitCode.NOT_FOUND;
  if (code.startsWith('BACKUP_SOURCE_')) return ExitCode.SOURCE;
  if (code.startsWith('RESTORE_TARGET_')) return ExitCode.TARGET;
  return ExitCode.FAILURE;
}

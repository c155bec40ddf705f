import { AppError } from '@mfb/errors';

/** Shared with the API and the worker: one code per situation (docs/errors.md). */
export { BackupNotFoundError, DatabaseNotFoundError, InvalidIdError, TargetNotFoundError } from '@mfb/errors';
export { UnknownKeyIdError } from '@mfb/backup';
export { KeyStillInUseError } from '@mfb/runtime';

/** Added to BACKUP_UNKNOWN_KEY_ID in the CLI: where an operator gives a key. */
export const NO_KEY_HINT = 'use --key-file or configure keys';

/** Errors the CLI itself raises; engine/storage/config errors pass through with their own codes. */
export class CliError extends AppError {}

export class UsageError extends CliError {
  constructor(message: string) {
    super('CLI_USAGE', message, { permanent: true, status: 400 });
  }
}

export class ArtifactFileNotFoundError extends CliError {
  constructor(path: string, what = 'artifact') {
    super('CLI_ARTIFACT_NOT_FOUND', `${what} not found: ${path}`, { permanent: true, status: 404, details: { path } });
  }
}

export class ConfigExistsError extends CliError {
  constructor(path: string) {
    super('CLI_CONFIG_EXISTS', `${path} already exists (use --force to overwrite the config; existing key files are never overwritten)`, {
      permanent: true,
      status: 409,
      details: { path },
    });
  }
}

export class KeyFileError extends CliError {
  /** `problem`: why the file is refused (default: it holds no key). */
  constructor(path: string, problem = `key file ${path} does not hold a 32-byte key (base64 or hex)`) {
    super('CLI_KEY_FILE_INVALID', problem, { permanent: true, status: 400, details: { path } });
  }
}

export class NoApiKeyError extends CliError {
  constructor(scope: string) {
    super('CLI_NO_API_KEY', `no API key with "${scope}" scope: pass --api-key-file or configure api.keys`, { permanent: true, status: 400 });
  }
}

/** The per-database lock is held by a worker job or another backupctl (`--force` proceeds anyway). */
export class DatabaseLockedError extends CliError {
  constructor(databaseId: string, holder: string, hint: string) {
    super('CLI_DATABASE_LOCKED', `database ${databaseId} is locked by ${holder}: ${hint}`, { permanent: false, status: 409, details: { databaseId } });
  }
}

/**
 * `backupctl backup` of a database whose `host` is another machine than this one
 * (`worker.host` / `MFB_HOST`): the file at its path here is not that database.
 */
export class WrongHostError extends CliError {
  constructor(databaseId: string, host: string, here: string) {
    super(
      'CLI_WRONG_HOST',
      `database ${databaseId} is on host ${host} (databases[].host), and this is ${here} (MFB_HOST / worker.host): run backupctl on ${host}, or pass --any-host to back up the file at its path here`,
      { permanent: true, status: 409, details: { databaseId, host, here } },
    );
  }
}

/** `catalog rebuild` found no manifest where it was pointed: nothing to rebuild from (wrong or empty folder, target or prefix). */
export class RebuildFoundNothingError extends CliError {
  constructor(url: string) {
    super(
      'CLI_REBUILD_NOTHING_FOUND',
      `no backup manifest (*.manifest.json) in ${url}: nothing rebuilt. Point --from-dir at the backup folder itself ` +
        '(it holds <database-id>/<backup-id>.sqlite.gz[.enc] with its .manifest.json), or --from at the target that has the backups',
      { permanent: true, status: 404, details: { storage: url } },
    );
  }
}

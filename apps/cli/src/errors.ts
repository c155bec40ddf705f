import { AppError } from '@mfb/errors';

/** Errors the CLI itself raises; engine/storage/config errors pass through with their own codes. */
export class CliError extends AppError {}

export class UsageError extends CliError {
  constructor(message: string) {
    super('CLI_USAGE', message, { permanent: true, status: 400 });
  }
}

export class UnknownDatabaseError extends CliError {
  constructor(databaseId: string, known: string[]) {
    super(
      'CLI_DATABASE_UNKNOWN',
      `no database "${databaseId}" in the config${known.length ? ` (configured: ${known.join(', ')})` : ' (none configured)'}`,
      { permanent: true, status: 404, details: { databaseId } },
    );
  }
}

export class BackupNotFoundError extends CliError {
  constructor(ref: string, hint?: string) {
    super('CLI_BACKUP_NOT_FOUND', `backup not found: ${ref}${hint ? ` (${hint})` : ''}`, { permanent: true, status: 404, details: { ref } });
  }
}

export class ArtifactFileNotFoundError extends CliError {
  constructor(path: string, what = 'artifact') {
    super('CLI_ARTIFACT_NOT_FOUND', `${what} not found: ${path}`, { permanent: true, status: 404, details: { path } });
  }
}

export class NoKeyError extends CliError {
  constructor(keyId: string) {
    super('CLI_NO_KEY', `the artifact is encrypted with key "${keyId}" and no key was given (use --key-file or configure keys)`, {
      permanent: true,
      status: 400,
      details: { keyId },
    });
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
  constructor(path: string) {
    super('CLI_KEY_FILE_INVALID', `key file ${path} does not hold a 32-byte key (base64 or hex)`, { permanent: true, status: 400, details: { path } });
  }
}

export class NoApiKeyError extends CliError {
  constructor(scope: string) {
    super('CLI_NO_API_KEY', `no API key with "${scope}" scope: pass --api-key-file or configure api.keys`, { permanent: true, status: 400 });
  }
}

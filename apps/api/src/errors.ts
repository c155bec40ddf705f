import { AppError } from '@mfb/errors';

/** Errors the API raises itself. Every one maps to a problem+json answer with its `code`. */
export class ApiProblem extends AppError {
  /** Sent as the `retry-after` header (seconds) when set. */
  retryAfterSeconds?: number;

  constructor(code: string, status: number, message: string, details?: Record<string, unknown>) {
    super(code, message, { status, permanent: status < 500, ...(details ? { details } : {}) });
  }
}

export class DatabaseNotFoundError extends ApiProblem {
  constructor(databaseId: string) {
    super('DATABASE_NOT_FOUND', 404, `no database with id "${databaseId}" is configured`);
  }
}

export class BackupNotFoundError extends ApiProblem {
  constructor(databaseId: string, backupId: string) {
    super('BACKUP_NOT_FOUND', 404, `database "${databaseId}" has no backup "${backupId}"`);
  }
}

export class BackupNotOnTargetError extends ApiProblem {
  constructor(backupId: string, target: string) {
    super('BACKUP_NOT_ON_TARGET', 404, `backup "${backupId}" has no live copy on target "${target}"`);
  }
}

export class TargetNotFoundError extends ApiProblem {
  constructor(target: string) {
    super('TARGET_NOT_FOUND', 404, `no storage target named "${target}" is configured`);
  }
}

export class BackupPinnedError extends ApiProblem {
  constructor(backupId: string) {
    super('BACKUP_PINNED', 409, `backup "${backupId}" is pinned; unpin it before deleting`);
  }
}

export class DatabaseBusyError extends ApiProblem {
  constructor(databaseId: string, retryAfterSeconds: number) {
    super('DATABASE_BUSY', 409, `database "${databaseId}" is busy with a job (backup, upload, prune, restore or verify); retry later`);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export class JobNotFoundError extends ApiProblem {
  constructor(jobId: string) {
    super('JOB_NOT_FOUND', 404, `no job with id "${jobId}" (unknown, or removed from the queue history)`);
  }
}

export class ScheduleNotFoundError extends ApiProblem {
  constructor(databaseId: string, scheduleId: string) {
    super('SCHEDULE_NOT_FOUND', 404, `database "${databaseId}" has no schedule "${scheduleId}"`);
  }
}

export class ScheduleExistsError extends ApiProblem {
  constructor(databaseId: string, scheduleId: string) {
    super('SCHEDULE_EXISTS', 409, `database "${databaseId}" already has a schedule "${scheduleId}"; use PATCH to change it`);
  }
}

export class ScheduleFromConfigError extends ApiProblem {
  constructor(scheduleId: string) {
    super(
      'SCHEDULE_FROM_CONFIG',
      409,
      `schedule "${scheduleId}" comes from the config file; change it there (only pause/resume are allowed here)`,
    );
  }
}

export class InvalidCronError extends ApiProblem {
  constructor(cron: string, reason: string) {
    super('SCHEDULE_INVALID_CRON', 400, `invalid cron pattern "${cron.slice(0, 120)}": ${reason}`);
  }
}

export class InvalidTimeZoneError extends ApiProblem {
  constructor(tz: string) {
    super('SCHEDULE_INVALID_TIMEZONE', 400, `"${tz.slice(0, 64)}" is not an IANA time zone`);
  }
}

export class ScheduleTooFrequentError extends ApiProblem {
  constructor(seconds: number) {
    super('SCHEDULE_TOO_FREQUENT', 400, `schedule would run every ${seconds} s; the minimum interval is 60 s`);
  }
}

export class InvalidRequestError extends ApiProblem {
  constructor(code: string, message: string) {
    super(code, 400, message);
  }
}

export class UnauthorizedError extends ApiProblem {
  constructor(message = 'an API key is required (Authorization: Bearer <key> or x-api-key)') {
    super('AUTH_REQUIRED', 401, message);
  }
}

export class InvalidCredentialsError extends ApiProblem {
  constructor() {
    super('AUTH_INVALID_CREDENTIALS', 401, 'the credentials are not valid');
  }
}

export class ForbiddenError extends ApiProblem {
  constructor(required: string) {
    super('AUTH_INSUFFICIENT_SCOPE', 403, `this operation needs the "${required}" scope`);
  }
}

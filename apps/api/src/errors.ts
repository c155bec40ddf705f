import { AppError } from '@mfb/errors';

/** Shared with the worker and the CLI: one code per situation (docs/errors.md). */
export { BackupNotFoundError, BackupNotOnTargetError, DatabaseNotFoundError, InvalidIdError, TargetNotFoundError } from '@mfb/errors';

/**
 * Codes the API answers with that have no error class of their own (framework and routing
 * errors, limits, request checks), with their HTTP status. `httpProblem()` and
 * `InvalidRequestError` accept only these, so every code sent is listed here or is an
 * error class's (docs/errors.md lists both; a test holds them equal).
 */
export const HTTP_PROBLEMS = {
  BAD_REQUEST: 400,
  VALIDATION_FAILED: 400,
  INVALID_JSON: 400,
  EMPTY_JSON_BODY: 400,
  INVALID_CONTENT_LENGTH: 400,
  INVALID_CHUNKED_ENCODING: 400,
  BAD_URL: 400,
  INVALID_AT: 400,
  AT_TOO_FAR: 400,
  INVALID_RANGE: 400,
  RESTORE_TARGET_REQUIRED: 400,
  RESTORE_INVALID_TARGET_PATH: 400,
  FORBIDDEN: 403,
  CORS_ORIGIN_NOT_ALLOWED: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  NOT_ACCEPTABLE: 406,
  REQUEST_TIMEOUT: 408,
  BODY_TOO_LARGE: 413,
  URI_TOO_LONG: 414,
  UNSUPPORTED_MEDIA_TYPE: 415,
  HEADERS_TOO_LARGE: 431,
  RATE_LIMITED: 429,
  INTERNAL_ERROR: 500,
  REDIS_UNAVAILABLE: 503,
  SERVICE_UNAVAILABLE: 503,
  OVERLOADED: 503,
  NOT_READY: 503,
} as const satisfies Record<string, number>;
export type HttpProblemCode = keyof typeof HTTP_PROBLEMS;

/** Errors the API raises itself. Every one maps to a problem+json answer with its `code`. */
export class ApiProblem extends AppError {
  /** Sent as the `retry-after` header (seconds) when set. */
  retryAfterSeconds?: number;

  constructor(code: string, status: number, message: string, details?: Record<string, unknown>) {
    // As the client sees it: 408 and 429 may succeed when retried.
    super(code, message, { status, permanent: status < 500 && status !== 408 && status !== 429, ...(details ? { details } : {}) });
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

/** A request that passed its schema but is still wrong (`at` too far, bad range, ...). */
export class InvalidRequestError extends ApiProblem {
  constructor(code: HttpProblemCode, message: string) {
    super(code, HTTP_PROBLEMS[code], message);
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

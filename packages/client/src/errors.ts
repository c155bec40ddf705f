import type { Problem } from './schemas.js';

/** Codes the client gives itself when there is no problem document (the API's codes pass through). */
export const CLIENT_TRANSPORT_CODES = ['API_UNREACHABLE', 'API_BAD_RESPONSE'] as const;

/**
 * Base of the client's errors: `code` (stable), `status` (HTTP, 0 if none) and `permanent`
 * (retrying cannot help). The same shape as the repository's `AppError` (so its `isAppError`
 * accepts these) without depending on `@mfb/errors`: the client is published and installed on
 * its own (docs/architecture.md, "The client package").
 */
export class ClientError extends Error {
  readonly code: string;
  readonly permanent: boolean;
  readonly status: number;

  constructor(code: string, message: string, opts: { permanent: boolean; status: number; cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.permanent = opts.permanent;
    this.status = opts.status;
  }
}

/**
 * The API answered with an error (problem+json), or could not be reached.
 * `code` is the problem's stable code (`DATABASE_NOT_FOUND`, ...) or `API_UNREACHABLE`
 * / `API_BAD_RESPONSE` for transport failures; `status` is the HTTP status (0 if none).
 */
export class ApiError extends ClientError {
  readonly problem: Problem | null;

  constructor(code: string, message: string, status: number, problem: Problem | null = null, cause?: unknown) {
    // 5xx, 429 and transport failures may succeed when retried; other 4xx will not.
    super(code, message, { status, permanent: status >= 400 && status < 500 && status !== 429 && status !== 408, cause });
    this.problem = problem;
  }
}

/** `waitForJob` gave up before the job finished. */
export class JobWaitTimeoutError extends ClientError {
  constructor(jobId: string, timeoutMs: number) {
    super('CLIENT_JOB_WAIT_TIMEOUT', `job ${jobId} did not finish within ${timeoutMs} ms`, { permanent: false, status: 0 });
  }
}

/** `waitForJob`: the job ended in `failed`. `job` is its final view. */
export class JobFailedError extends ClientError {
  readonly job: unknown;
  constructor(jobId: string, reason: string, job: unknown) {
    super('CLIENT_JOB_FAILED', `job ${jobId} failed: ${reason}`, { permanent: true, status: 0 });
    this.job = job;
  }
}

/**
 * Base class for every error this project throws on purpose.
 *
 * - `code` is stable: scripts, the API (problem+json `code`) and tests match on it.
 * - `permanent` tells the job layer whether retrying can help (bad config, missing
 *   database, wrong key: permanent; network, lock contention, disk pressure: transient).
 * - `status` is the HTTP status the API maps it to (4xx for the caller's mistakes).
 *
 * Messages must never contain secrets (keys, tokens, credentials).
 */
export class AppError extends Error {
  readonly code: string;
  readonly permanent: boolean;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: string,
    message: string,
    opts: { permanent?: boolean; status?: number; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.permanent = opts.permanent ?? true;
    this.status = opts.status ?? 500;
    this.details = opts.details;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

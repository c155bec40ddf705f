import { AppError } from '@mfb/errors';

/** A job payload failed its schema; `field` names the first offending field (JSON pointer). */
export class InvalidPayloadError extends AppError {
  readonly field: string;
  constructor(jobName: string, field: string, reason: string) {
    super('JOBS_INVALID_PAYLOAD', `invalid ${jobName} payload: ${field || '(root)'} ${reason}`, {
      permanent: true,
      status: 400,
      details: { job: jobName, field: field || '/', reason },
    });
    this.field = field;
  }
}

/** A job name that is not in `JOB_NAMES`. */
export class UnknownJobError extends AppError {
  constructor(name: string) {
    super('JOBS_UNKNOWN_JOB', `unknown job name: ${name}`, { permanent: true, status: 400, details: { job: name } });
  }
}

/** Bad enqueue options (e.g. both `at` and `delayMs`, or an invalid date). */
export class InvalidEnqueueOptionsError extends AppError {
  constructor(message: string) {
    super('JOBS_INVALID_OPTIONS', message, { permanent: true, status: 400 });
  }
}

/** Redis could not be reached at start-up. The message says how to start one. */
export class RedisUnavailableError extends AppError {
  constructor(url: string, cause: unknown) {
    super(
      'JOBS_REDIS_UNAVAILABLE',
      `cannot reach Redis at ${url}. Start one with \`redis-server\` (or \`docker compose up redis\`), ` +
        'or point `redis.url` in the config (or REDIS_URL) at a running instance',
      { permanent: false, status: 503, cause },
    );
  }
}

/**
 * The per-database lock was taken over by another owner, or could not be renewed before it
 * expired (Redis unreachable, the process paused): the job stops before its next durable step
 * and goes back to the queue.
 */
export class LockLostError extends AppError {
  constructor(databaseId: string, reason: string) {
    super('JOBS_LOCK_LOST', `lock of database ${databaseId} lost: ${reason}`, { permanent: false, status: 503, details: { databaseId } });
  }
}

/**
 * `requireReplica`: no replica acknowledged the lock write within the timeout, so a failover
 * could lose it; the lock was given back and the job goes back to the queue (transient).
 */
export class LockNotReplicatedError extends AppError {
  constructor(databaseId: string, acknowledged: number, wanted: number, timeoutMs: number) {
    super('JOBS_LOCK_NOT_REPLICATED', `lock of database ${databaseId}: ${acknowledged} of ${wanted} replica(s) acknowledged it within ${timeoutMs} ms`, {
      permanent: false,
      status: 503,
      details: { databaseId, acknowledged, wanted },
    });
  }
}

import { tryDatabaseLock } from '@mfb/runtime';
import type { Context } from './context.js';
import { DatabaseLockedError, UsageError } from './errors.js';

/** What a command holding the per-database lock gets. */
export interface CliLock {
  /** `redis`: the workers' lock; `forced`: `--force` with Redis unreachable, no lock at all. */
  readonly kind: 'redis' | 'forced';
  /** Aborted when the Redis lock is lost. */
  readonly signal: AbortSignal;
}

export interface DatabaseLockOptions {
  /** Proceed without the lock when Redis cannot be reached (explicit `--force`). */
  force?: boolean;
  /** What holds the lock (messages). */
  what?: string;
}

const HINT = 'wait for it to finish and run the command again';

/**
 * Run `fn` holding the per-database lock the workers take (same Redis key and TTL), so the
 * command never runs beside a worker job of the same database. Redis unreachable: refused
 * unless `force` (then no lock; the command says so). A held lock: CLI_DATABASE_LOCKED.
 */
export async function withDatabaseLock<T>(ctx: Context, databaseId: string, o: DatabaseLockOptions, fn: (lock: CliLock) => Promise<T>): Promise<T> {
  const attempt = await tryDatabaseLock(await ctx.config(), databaseId);
  if (attempt.state === 'busy') throw new DatabaseLockedError(databaseId, 'a worker job or another backupctl (the Redis lock is held)', HINT);
  if (attempt.state === 'no-redis') {
    if (!o.force) {
      throw new UsageError(
        `cannot take the per-database lock of ${databaseId} (Redis unreachable: ${attempt.reason}). ` +
          'Start Redis, or stop every worker and run again with --force',
      );
    }
    ctx.out.note(`warning: --force: Redis unreachable; ${o.what ?? 'backupctl'} proceeds without the lock of database ${databaseId}`);
    return fn({ kind: 'forced', signal: new AbortController().signal });
  }
  try {
    return await fn({ kind: 'redis', signal: attempt.lock.signal });
  } finally {
    await attempt.release();
  }
}

import type { Config } from '@mfb/config';
import { checkRedis, createRedis, type HeldLock } from '@mfb/jobs';
import { locksFor } from './start.js';

/** Outcome of {@link tryDatabaseLock}. */
export type DatabaseLockAttempt =
  | { state: 'held'; lock: HeldLock; release(): Promise<void> }
  | { state: 'busy' }
  | { state: 'no-redis'; reason: string };

/**
 * Take the per-database lock the workers use (same key and TTL), for an offline command that
 * changes a database's backups. `no-redis` when Redis cannot be reached within `timeoutMs`
 * (the caller decides: refuse, or go on with an explicit `--force`).
 */
export async function tryDatabaseLock(config: Pick<Config, 'redis' | 'worker'>, databaseId: string, timeoutMs = 2000): Promise<DatabaseLockAttempt> {
  try {
    await checkRedis(config.redis, timeoutMs);
  } catch (err) {
    return { state: 'no-redis', reason: err instanceof Error ? err.message : String(err) };
  }
  const redis = createRedis(config.redis, 'producer', { maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  const lock = await locksFor(config, redis)
    .tryAcquire(databaseId)
    .catch((err: unknown) => {
      redis.disconnect();
      throw err;
    });
  if (!lock) {
    redis.disconnect();
    return { state: 'busy' };
  }
  return {
    state: 'held',
    lock,
    async release() {
      await lock.release().catch(() => undefined);
      redis.disconnect();
    },
  };
}

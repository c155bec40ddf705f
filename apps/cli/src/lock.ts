import { tryLocalLock, type LocalLock } from '@mfb/backup';
import { createRedis, LockNotReplicatedError, type HeldLock } from '@mfb/jobs';
import { locksFor } from '@mfb/runtime';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Context } from './context.js';
import { DatabaseLockedError, UsageError } from './errors.js';

/** `--lock-wait` seconds as milliseconds (undefined = the default, 30 s). */
function lockWaitMs(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const s = Number(v);
  if (!(s >= 0 && s <= 86_400)) throw new UsageError(`--lock-wait must be 0-86400 seconds (got "${v}")`);
  return Math.round(s * 1000);
}

/** What a command holding the per-database lock gets. */
export interface CliLock {
  /**
   * `redis`: the workers' lock (and the local one); `local`: Redis was not reachable, only the
   * lock file in the scratch directory; `forced`: `--force`, no lock at all.
   */
  readonly kind: 'redis' | 'local' | 'forced';
  /** Aborted when the Redis lock is lost or could not be renewed in time (JOBS_LOCK_LOST). */
  readonly signal: AbortSignal;
  /** Throws JOBS_LOCK_LOST once the lock can no longer be trusted; for the engine's `fence`. */
  fence(): void;
}

export interface DatabaseLockOptions {
  /** Proceed without the lock (explicit `--force`): a running worker job may collide. */
  force?: boolean;
  /** What holds the lock, written into the lock file (`backupctl backup`). */
  what?: string;
  /** How long to wait for a held lock before failing with CLI_DATABASE_LOCKED. @defaultValue 30000 */
  waitMs?: number;
  /** How long to try reaching Redis before falling back to the local lock. @defaultValue 1000 */
  redisTimeoutMs?: number;
  /**
   * No fallback to the local lock when Redis is unreachable: refuse (CLI_USAGE) unless
   * `force`. For deleting (`prune`): a worker on another host, which the local lock file does
   * not reach, must never prune the same database at the same time.
   */
  requireRedis?: boolean;
}

const HINT = 'wait for it to finish, or pass --force to proceed anyway (a running job and this command may then collide)';

async function redisLock(ctx: Context, databaseId: string, timeoutMs: number): Promise<{ held: HeldLock; close(): void } | 'unreachable' | 'held'> {
  const cfg = await ctx.config();
  const redis = createRedis(cfg.redis, 'producer', {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 1,
    // Renewals keep trying a few times; the lock's own deadline decides when to give up.
    retryStrategy: (times) => (times > 5 ? null : 200),
    enableOfflineQueue: true,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
  } catch {
    redis.disconnect();
    return 'unreachable';
  }
  try {
    // The workers' key space (on a Redis Cluster the prefix is a hash tag), TTL and replica
    // acknowledgement (Sentinel).
    const held = await locksFor(cfg, redis, { warn: (_fields, msg) => ctx.out.note(`warning: ${msg}`) }).tryAcquire(databaseId);
    if (!held) {
      redis.disconnect();
      return 'held';
    }
    return { held, close: () => redis.disconnect() };
  } catch (err) {
    redis.disconnect();
    // Reached Redis, but `worker.lockReplicaRequired` and no replica took the lock: say so.
    if (err instanceof LockNotReplicatedError) throw err;
    return 'unreachable';
  }
}

/**
 * Run `fn` holding the per-database lock the workers take, so a CLI backup or `restore
 * --replace` never runs beside a worker job of the same database (which shares the scratch
 * directory and storage with it):
 *
 * - the Redis lock (`DatabaseLocks` of @mfb/jobs, same key, same TTL) when the configured
 *   Redis answers within `redisTimeoutMs`;
 * - always also the local lock file `<tmpDir>/.mfb-lock-<databaseId>` (pid + host; stale when
 *   its process is dead), which is all there is when Redis is not reachable and which workers
 *   honour too;
 * - with `force`, neither: the command says so on stderr.
 *
 * A held lock fails with CLI_DATABASE_LOCKED (exit 8) naming the holder.
 */
export async function withDatabaseLock<T>(ctx: Context, databaseId: string, o: DatabaseLockOptions, fn: (lock: CliLock) => Promise<T>): Promise<T> {
  if (o.force) {
    ctx.out.note(`warning: --force: proceeding without the lock of database ${databaseId}; a worker job of it may run at the same time`);
    return fn({ kind: 'forced', signal: new AbortController().signal, fence: () => undefined });
  }
  const cfg = await ctx.config();
  const what = o.what ?? 'backupctl';
  const until = Date.now() + (o.waitMs ?? 30_000);
  let noted = false;
  for (;;) {
    const local = await tryLocalLock(cfg.tmpDir, databaseId, what);
    let holder: string;
    if ('lock' in local) {
      const remote = await redisLock(ctx, databaseId, o.redisTimeoutMs ?? 1000).catch(async (err: unknown) => {
        await local.lock.release();
        throw err;
      });
      if (remote === 'unreachable' && o.requireRedis) {
        await local.lock.release();
        throw new UsageError(
          `cannot take the per-database lock of ${databaseId} (Redis unreachable): ${what} deletes backups and needs the lock that workers on every host take; ` +
            'start Redis, or stop every worker of this deployment and pass --force',
        );
      }
      if (remote !== 'held') return run(ctx, databaseId, local.lock, remote, fn);
      await local.lock.release();
      holder = 'a worker job (the Redis lock is held)';
    } else {
      const h = local.holder;
      holder = `${h.what} (pid ${h.pid} on ${h.host}, since ${h.since || 'unknown'})`;
    }
    if (Date.now() >= until) throw new DatabaseLockedError(databaseId, holder, HINT);
    if (!noted) ctx.out.note(`waiting for the lock of database ${databaseId}, held by ${holder} (up to ${Math.ceil((until - Date.now()) / 1000)} s; --force to proceed anyway)`);
    noted = true;
    await sleep(Math.min(until - Date.now(), 150 + Math.random() * 200));
  }
}

async function run<T>(
  ctx: Context,
  databaseId: string,
  localLock: LocalLock,
  remote: Exclude<Awaited<ReturnType<typeof redisLock>>, 'held'>,
  fn: (lock: CliLock) => Promise<T>,
): Promise<T> {
  try {
    if (remote === 'unreachable') {
      if (ctx.out.debug) ctx.out.note(`note: Redis not reachable; took the local lock of database ${databaseId} only (${localLock.path})`);
      return await fn({ kind: 'local', signal: new AbortController().signal, fence: () => undefined });
    }
    const held = remote.held;
    return await fn({ kind: 'redis', signal: held.signal, fence: () => held.check() });
  } finally {
    if (typeof remote === 'object') {
      await remote.held.release().catch(() => undefined);
      remote.close();
    }
    await localLock.release();
  }
}


/** The lock options of a command's `--force` / `--lock-wait`. */
export function lockOptions(o: { force?: boolean; lockWait?: string }): DatabaseLockOptions {
  const wait = lockWaitMs(o.lockWait);
  return { ...(o.force ? { force: true } : {}), ...(wait !== undefined ? { waitMs: wait } : {}) };
}

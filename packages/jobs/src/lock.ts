import { randomUUID } from 'node:crypto';
import type { RedisConnection } from './redis.js';

// Compare-and-delete / compare-and-extend: only the owner token may release or renew, so a
// holder whose lock expired (paused process, lost network) can never free someone else's lock.
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

/** A held per-database lock. `lost` turns true when a renewal finds another owner. */
export interface HeldLock {
  readonly key: string;
  readonly token: string;
  readonly lost: boolean;
  /** Aborted when the lock is lost, so the job stops touching the database. */
  readonly signal: AbortSignal;
  release(): Promise<void>;
}

/**
 * Per-database mutual exclusion across processes and hosts: `SET key token NX PX ttl`,
 * renewed every ttl/3 while held, released with a compare-and-delete script. A lock of a
 * killed worker disappears after `ttlMs`.
 */
type LockRedis = RedisConnection & {
  mfbLockRelease(key: string, token: string): Promise<number>;
  mfbLockRenew(key: string, token: string, ttlMs: string): Promise<number>;
};

export class DatabaseLocks {
  private readonly redis: LockRedis;

  constructor(
    redis: RedisConnection,
    private readonly prefix: string,
    private readonly ttlMs: number,
  ) {
    // defineCommand: EVALSHA with the script cached by Redis (EVAL fallback after a restart).
    if (!('mfbLockRelease' in redis)) {
      redis.defineCommand('mfbLockRelease', { numberOfKeys: 1, lua: RELEASE });
      redis.defineCommand('mfbLockRenew', { numberOfKeys: 1, lua: RENEW });
    }
    this.redis = redis as LockRedis;
  }

  keyOf(databaseId: string): string {
    return `${this.prefix}:mfb:lock:db:${databaseId}`;
  }

  /** Try once; `null` when another owner holds the lock. */
  async tryAcquire(databaseId: string): Promise<HeldLock | null> {
    const key = this.keyOf(databaseId);
    const token = randomUUID();
    const ok = await this.redis.set(key, token, 'PX', this.ttlMs, 'NX');
    if (ok !== 'OK') return null;
    const controller = new AbortController();
    let lost = false;
    let released = false;
    const timer = setInterval(() => {
      this.redis.mfbLockRenew(key, token, String(this.ttlMs)).then(
        (r) => {
          if (r !== 1 && !released) {
            lost = true;
            clearInterval(timer);
            controller.abort(new Error(`lock of database ${databaseId} lost`));
          }
        },
        // Transient Redis errors: keep trying; the TTL bounds the damage.
        () => undefined,
      );
    }, Math.max(50, Math.floor(this.ttlMs / 3)));
    timer.unref();
    const redis = this.redis;
    return {
      key,
      token,
      get lost() {
        return lost;
      },
      signal: controller.signal,
      async release() {
        if (released) return;
        released = true;
        clearInterval(timer);
        await redis.mfbLockRelease(key, token);
      },
    };
  }

  /** Current owner token (tests, diagnostics). */
  async owner(databaseId: string): Promise<string | null> {
    return this.redis.get(this.keyOf(databaseId));
  }
}

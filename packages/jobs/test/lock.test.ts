import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { DatabaseLocks } from '@mfb/jobs';
import { ownRedis } from '@mfb/testkit';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

function setup(): { redis: Redis; prefix: string } {
  const prefix = `t-${randomUUID()}`;
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
  cleanups.push(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });
  return { redis, prefix };
}

describe('DatabaseLocks', () => {
  it('keeps the key format of deployed workers, excludes a second owner, frees on release', async () => {
    const { redis, prefix } = setup();
    const a = new DatabaseLocks(redis, prefix, 30_000);
    // Two instances on one connection (worker + API in one test process) share the scripts.
    const b = new DatabaseLocks(redis, prefix, 30_000);
    expect(a.keyOf('main')).toBe(`${prefix}:mfb:lock:db:main`);

    const held = await a.tryAcquire('main');
    expect(held).not.toBeNull();
    expect(await redis.get(`${prefix}:mfb:lock:db:main`)).toBe(held!.token);
    expect(await b.tryAcquire('main')).toBeNull();
    // Another database is independent.
    const other = await b.tryAcquire('other');
    expect(other).not.toBeNull();
    await other!.release();

    await held!.release();
    expect(await a.owner('main')).toBeNull();
    const again = await b.tryAcquire('main');
    expect(again).not.toBeNull();
    await again!.release();
  });

  it('a stale holder cannot release or renew the lock of the new owner', async () => {
    const { redis, prefix } = setup();
    const locks = new DatabaseLocks(redis, prefix, 30_000);
    const stale = await locks.tryAcquire('main');
    expect(stale).not.toBeNull();
    // Simulate expiry + takeover by someone else.
    await redis.set(locks.keyOf('main'), 'someone-else');
    await stale!.release();
    expect(await locks.owner('main')).toBe('someone-else');
  });

  it('fences a holder cut off from Redis: the signal aborts and check() throws before the TTL ends, another owner gets the lock', async () => {
    const own = await ownRedis();
    cleanups.push(() => own.dispose());
    // No reconnect storms while Redis is paused: commands just wait.
    const redis = new Redis(own.url, { maxRetriesPerRequest: null });
    cleanups.push(async () => redis.disconnect());
    const ttl = 1500;
    const locks = new DatabaseLocks(redis, 'fence', ttl);
    const held = await locks.tryAcquire('main');
    expect(held).not.toBeNull();
    expect(() => held!.check()).not.toThrow();
    const aborted = new Promise<number>((res) => held!.signal.addEventListener('abort', () => res(Date.now()), { once: true }));
    const pid = own.pid!;
    const stoppedAt = Date.now();
    process.kill(pid, 'SIGSTOP');
    try {
      // The deadline (TTL minus the safety margin after the last renewal) passes while every
      // renewal hangs: the holder must stop trusting the lock on its own, before the key expires.
      const at = await Promise.race([aborted, new Promise<null>((res) => setTimeout(() => res(null), ttl * 3))]);
      expect(at, 'the lock signal never aborted while Redis was unreachable').not.toBeNull();
      // It stopped trusting the lock before the key could expire in Redis.
      expect(held!.validUntil).toBeLessThan(stoppedAt + ttl);
      expect(held!.lost).toBe(true);
      expect(() => held!.check()).toThrow(/JOBS_LOCK_LOST|lost/);
      expect((held!.signal.reason as { code?: string }).code).toBe('JOBS_LOCK_LOST');
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    // Redis is back; the key expired (TTL), so another worker takes the lock, and the fenced
    // holder's late renewal or release cannot touch it.
    const otherRedis = new Redis(own.url);
    cleanups.push(async () => otherRedis.disconnect());
    const other = new DatabaseLocks(otherRedis, 'fence', 30_000);
    let next = null;
    for (let i = 0; i < 50 && !next; i++) {
      next = await other.tryAcquire('main');
      if (!next) await new Promise((r) => setTimeout(r, 100));
    }
    expect(next).not.toBeNull();
    await held!.release();
    expect(await other.owner('main')).toBe(next!.token);
    await next!.release();
  });

  it('keeps a lock whose renewals succeed past several TTLs', async () => {
    const { redis, prefix } = setup();
    const locks = new DatabaseLocks(redis, prefix, 300);
    const held = await locks.tryAcquire('main');
    await new Promise((r) => setTimeout(r, 1200));
    expect(held!.lost).toBe(false);
    expect(() => held!.check()).not.toThrow();
    expect(held!.validUntil).toBeGreaterThan(Date.now());
    await held!.release();
  });
});

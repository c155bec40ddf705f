import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { DatabaseLocks } from '@mfb/jobs';

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
});

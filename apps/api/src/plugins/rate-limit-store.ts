import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { RedisConnection } from '@mfb/jobs';

// INCR, and start the window on the first hit: one round trip, atomic across API processes.
const INCR = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}`;

type LimitRedis = RedisConnection & { mfbRateLimit(key: string, windowMs: string): Promise<[number, number]> };

export interface SharedStoreOptions {
  redis: RedisConnection;
  /** Key prefix, e.g. `mfb:mfb:ratelimit:` (the deployment's Redis prefix first). */
  keyPrefix: string;
  /** A Redis answer slower than this falls back to the process's own counters. @defaultValue 200 */
  timeoutMs?: number;
  /** Called once each time the store switches to or back from its local fallback. */
  onDegraded?: (degraded: boolean, reason?: string) => void;
}

/**
 * A rate-limit store shared by every API process through Redis (so N processes behind a load
 * balancer allow `rateLimitPerMinute` per key in all, not N times it). When Redis is down or
 * slow, the limit is kept per process from local fixed windows instead of failing the request
 * or letting every request through; it returns to Redis as soon as Redis answers again.
 */
export function sharedRateLimitStore(opts: SharedStoreOptions): FastifyRateLimitStoreCtor {
  if (!('mfbRateLimit' in opts.redis)) opts.redis.defineCommand('mfbRateLimit', { numberOfKeys: 1, lua: INCR });
  const redis = opts.redis as LimitRedis;
  const timeoutMs = opts.timeoutMs ?? 200;
  const local = new Map<string, { count: number; resetAt: number }>();
  let degraded = false;
  const setDegraded = (d: boolean, reason?: string): void => {
    if (d === degraded) return;
    degraded = d;
    opts.onDegraded?.(d, reason);
  };
  const localIncr = (key: string, windowMs: number): { current: number; ttl: number } => {
    const now = Date.now();
    let e = local.get(key);
    if (!e || e.resetAt <= now) {
      if (local.size > 10_000) for (const [k, v] of local) if (v.resetAt <= now) local.delete(k);
      e = { count: 0, resetAt: now + windowMs };
      local.set(key, e);
    }
    e.count++;
    return { current: e.count, ttl: e.resetAt - now };
  };
  class Store implements FastifyRateLimitStore {
    incr(key: string, cb: (err: Error | null, res?: { current: number; ttl: number }) => void, timeWindow: number): void {
      let settled = false;
      const fallback = (reason: string): void => {
        if (settled) return;
        settled = true;
        setDegraded(true, reason);
        cb(null, localIncr(key, timeWindow));
      };
      const timer = setTimeout(() => fallback(`no answer from Redis within ${timeoutMs} ms`), timeoutMs);
      redis.mfbRateLimit(opts.keyPrefix + key, String(timeWindow)).then(
        ([current, ttl]) => {
          clearTimeout(timer);
          if (settled) return;
          settled = true;
          setDegraded(false);
          cb(null, { current: Number(current), ttl: Number(ttl) });
        },
        (err: unknown) => {
          clearTimeout(timer);
          fallback(err instanceof Error ? err.message : String(err));
        },
      );
    }
    child(): FastifyRateLimitStore {
      return this;
    }
  }
  return Store;
}

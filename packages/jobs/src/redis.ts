import { Redis, type RedisOptions } from 'ioredis';
import { redactUrl } from '@mfb/errors';
import { RedisUnavailableError } from './errors.js';

/** The `redis` part of the config. */
export interface RedisSettings {
  url: string;
  tls: boolean;
}

/**
 * A new ioredis connection from config. `role: 'worker'` sets `maxRetriesPerRequest: null`
 * (BullMQ workers must wait through a Redis restart rather than fail commands); producers
 * (the API) fail fast so an HTTP request does not hang while Redis is down. Both reconnect
 * forever with a capped backoff.
 */
export function createRedis(settings: RedisSettings, role: 'worker' | 'producer', extra: RedisOptions = {}): Redis {
  const opts: RedisOptions = {
    maxRetriesPerRequest: role === 'worker' ? null : 3,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(200 * times, 5000),
    ...(settings.tls ? { tls: {} } : {}),
    ...extra,
  };
  return new Redis(settings.url, opts);
}

export interface RedisCheck {
  /** `maxmemory-policy` as reported by INFO; `unknown` if the server hides it. */
  maxmemoryPolicy: string;
  /** False when keys (jobs, locks) may be evicted under memory pressure. */
  evictionSafe: boolean;
  version: string;
}

/**
 * Start-up check: Redis is reachable within `timeoutMs` and its `maxmemory-policy` is
 * `noeviction` (anything else lets Redis silently drop jobs and locks under memory pressure).
 * @throws RedisUnavailableError with instructions to start Redis.
 */
export async function checkRedis(settings: RedisSettings, timeoutMs = 5000): Promise<RedisCheck> {
  const client = createRedis(settings, 'producer', {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const info = await client.info();
    const field = (k: string): string | undefined => info.match(new RegExp(`^${k}:(.*)$`, 'm'))?.[1]?.trim();
    const policy = field('maxmemory_policy') ?? 'unknown';
    return { maxmemoryPolicy: policy, evictionSafe: policy === 'noeviction', version: field('redis_version') ?? 'unknown' };
  } catch (err) {
    throw new RedisUnavailableError(redactUrl(settings.url), err);
  } finally {
    client.disconnect();
  }
}

/**
 * The rate limit is one budget per key across every API process of a deployment (counters in
 * Redis), and keeps limiting per process while Redis is away instead of failing requests.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createQueues, closeQueues } from '@mfb/jobs';
import { createLogger, createMetrics } from '@mfb/observability';
import { ownRedis } from '@mfb/testkit';
import { buildApp } from '../src/index.js';
import { bearer, problemOf, startTestApp, REDIS_URL, type TestApp } from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

/** A second API process of the same deployment: same config, Redis prefix and catalog. */
async function secondProcess(t: TestApp, redisUrl = REDIS_URL) {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  const queues = createQueues(redis, t.queues.prefix);
  const logs: string[] = [];
  const app = await buildApp(
    { config: t.config, catalog: t.catalog, queues, redis, metrics: createMetrics(), logger: createLogger('api', { level: 'info', destination: { write: (s: string) => void logs.push(s) } }) },
    { maxEventLoopDelayMs: 0 },
  );
  await app.ready();
  cleanups.push(async () => {
    await app.close();
    await closeQueues(queues);
    redis.disconnect();
  });
  return { app, logs };
}

describe('shared rate limit', () => {
  it('two API processes share one budget per key', async () => {
    const t = await startTestApp({ api: { rateLimitPerMinute: 4 } });
    cleanups.push(() => t.close());
    const b = await secondProcess(t);
    const get = (app: typeof t.app) => app.inject({ url: '/v1/databases', headers: bearer('read') });
    expect((await get(t.app)).statusCode).toBe(200);
    expect((await get(b.app)).statusCode).toBe(200);
    expect((await get(t.app)).statusCode).toBe(200);
    expect((await get(b.app)).statusCode).toBe(200);
    // Per process each has seen 2 of 4; together the key has used its 4.
    const limited = await get(b.app);
    expect(limited.statusCode).toBe(429);
    expect(problemOf(limited).code).toBe('RATE_LIMITED');
    expect((await get(t.app)).statusCode).toBe(429);
    // Another key has its own budget.
    expect((await b.app.inject({ url: '/v1/databases', headers: bearer('write') })).statusCode).toBe(200);
  });

  it('keeps limiting per process while Redis is down, and says so once in the log', async () => {
    const own = await ownRedis();
    cleanups.push(() => own.dispose());
    const t = await startTestApp({ api: { rateLimitPerMinute: 3 } });
    cleanups.push(() => t.close());
    const b = await secondProcess(t, own.url);
    const get = () => b.app.inject({ url: '/v1/databases', headers: bearer('read') });
    expect((await get()).statusCode).toBe(200);
    await own.stop();
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await get()).statusCode);
    // Local window from the first request after the outage: 3 allowed, then 429; never 5xx.
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(b.logs.filter((l) => l.includes('counting per process')).length).toBe(1);
  });
});

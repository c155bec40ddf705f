/**
 * bench/scale/reconcile: reconcile N schedules into BullMQ from empty (as after FLUSHALL), then
 * again in the steady state (nothing to change), and the Redis memory each schedule costs.
 *
 *   pnpm --filter @mfb/bench exec tsx --conditions=@mfb/source scale/reconcile.ts [N ...]
 *
 * Uses its own redis-server (no persistence) on a free port so `used_memory` is ours alone.
 */
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { closeQueues, createQueues, reconcileSchedules, type DesiredSchedule } from '@mfb/jobs';
import { ownRedis } from '@mfb/testkit';

const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
const counts = sizes.length ? sizes : [10_000];

function desired(n: number): DesiredSchedule[] {
  return Array.from({ length: n }, (_, i) => ({
    databaseId: `db${String(i).padStart(6, '0')}`,
    scheduleId: 'nightly',
    job: 'backup' as const,
    cron: `${i % 60} ${(i >> 6) % 24} * * *`,
    timezone: i % 2 ? 'Europe/Berlin' : 'UTC',
    paused: false,
  }));
}

const redisSrv = await ownRedis();
await redisSrv.start();
try {
  for (const n of counts) {
    const redis = new Redis(redisSrv.url, { maxRetriesPerRequest: null });
    await redis.flushall();
    if (process.env.LISTPACK) await redis.config("SET", "hash-max-listpack-value", process.env.LISTPACK);
    const before = Number((await redis.info('memory')).match(/used_memory:(\d+)/)?.[1]);
    const queues = createQueues(redis, 'mfb', { attempts: { backup: 3, upload: 3, prune: 3, restore: 1, verify: 3 }, backoffMs: 2000 });
    const want = desired(n);
    let t = performance.now();
    const first = await reconcileSchedules(queues, want);
    const fromEmpty = (performance.now() - t) / 1000;
    t = performance.now();
    const second = await reconcileSchedules(queues, want);
    const steady = (performance.now() - t) / 1000;
    const after = Number((await redis.info('memory')).match(/used_memory:(\d+)/)?.[1]);
    const keys = await redis.dbsize();
    if (process.env.STATS) console.log((await redis.info("commandstats")).split("\n").filter((l) => /calls=/.test(l)).join("\n"));
    console.log(
      JSON.stringify({
        schedules: n,
        fromEmptySeconds: +fromEmpty.toFixed(3),
        upserted: first.upserted.length,
        steadySeconds: +steady.toFixed(3),
        unchanged: second.unchanged.length,
        redisBytesPerSchedule: Math.round((after - before) / n),
        redisKeys: keys,
      }),
    );
    await closeQueues(queues);
    redis.disconnect();
  }
} finally {
  await redisSrv.stop();
  await redisSrv.dispose();
}

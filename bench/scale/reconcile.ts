/**
 * bench/scale/reconcile: reconcile N schedules into BullMQ from empty (as after FLUSHALL), and
 * again in the steady state (nothing to change), in parallel (the code's default) and one at a
 * time (the landed code's behaviour) alternately in the same run; and the Redis memory each
 * schedule costs with Redis's default hash encoding and with `hash-max-listpack-value 1024`,
 * and, as the reference, with the scheduler template of before issue 13's memory work (the
 * payload as job data, the queue's default job options merged in).
 *
 *   pnpm --filter @mfb/bench exec tsx --conditions=@mfb/source scale/reconcile.ts [N ...]
 *
 * Uses its own redis-server (no persistence) on a free port so `used_memory` is ours alone.
 */
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import type { Queue } from 'bullmq';
import { closeQueues, createQueues, reconcileSchedules, scheduledPayload, schedulerId, type DesiredSchedule, type Queues } from '@mfb/jobs';
import { ownRedis } from '@mfb/testkit';

const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
const counts = sizes.length ? sizes : [10_000];
const ROUNDS = Number(process.env.ROUNDS ?? 3);

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

/** The scheduler template written before (reference): payload data, queue defaults merged by BullMQ. */
async function reconcileAsBefore(queues: Queues, want: readonly DesiredSchedule[]): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < want.length) {
      const s = want[next++]!;
      const q = queues[s.job] as unknown as Queue;
      const { attempts, backoff } = q.defaultJobOptions;
      await q.upsertJobScheduler(schedulerId(s), { pattern: s.cron, tz: s.timezone }, { name: s.job, data: scheduledPayload(s), opts: { attempts, backoff } });
    }
  };
  await Promise.all(Array.from({ length: 8 }, lane));
}

const usedMemory = async (redis: Redis): Promise<number> => Number((await redis.info('memory')).match(/used_memory:(\d+)/)?.[1]);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const redisSrv = await ownRedis();
const redis = new Redis(redisSrv.url, { maxRetriesPerRequest: null });
try {
  for (const n of counts) {
    const want = desired(n);
    const times: Record<'parallel' | 'sequential', { empty: number[]; steady: number[] }> = { parallel: { empty: [], steady: [] }, sequential: { empty: [], steady: [] } };
    const bytes: Record<string, number> = {};
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of round % 2 ? (['sequential', 'parallel'] as const) : (['parallel', 'sequential'] as const)) {
        for (const listpack of ['default', '1024']) {
          if (listpack === '1024' && mode === 'sequential') continue;
          await redis.flushall();
          await redis.config('SET', 'hash-max-listpack-value', listpack === 'default' ? '64' : listpack);
          const before = await usedMemory(redis);
          const queues = createQueues(redis, 'mfb', { attempts: { backup: 3, upload: 3, prune: 3, restore: 1, verify: 3 }, backoffMs: 2000 });
          const parallelism = mode === 'parallel' ? undefined : 1;
          let t = performance.now();
          const first = await reconcileSchedules(queues, want, parallelism ? { parallelism } : {});
          const empty = (performance.now() - t) / 1000;
          t = performance.now();
          const second = await reconcileSchedules(queues, want, parallelism ? { parallelism } : {});
          const steady = (performance.now() - t) / 1000;
          if (first.upserted.length !== n || second.unchanged.length !== n) throw new Error('reconcile did not converge');
          const after = await usedMemory(redis);
          bytes[listpack] = Math.round((after - before) / n);
          if (listpack === 'default') {
            times[mode].empty.push(empty);
            times[mode].steady.push(steady);
          }
          await closeQueues(queues);
        }
      }
    }
    {
      await redis.flushall();
      await redis.config('SET', 'hash-max-listpack-value', '64');
      const before = await usedMemory(redis);
      const queues = createQueues(redis, 'mfb', { attempts: { backup: 3, upload: 3, prune: 3, restore: 1, verify: 3 }, backoffMs: 2000 });
      await reconcileAsBefore(queues, want);
      bytes['before'] = Math.round(((await usedMemory(redis)) - before) / n);
      await closeQueues(queues);
    }
    const p = { empty: median(times.parallel.empty), steady: median(times.parallel.steady) };
    const s = { empty: median(times.sequential.empty), steady: median(times.sequential.steady) };
    console.log(
      JSON.stringify({
        schedules: n,
        rounds: ROUNDS,
        parallel: { fromEmptySeconds: +p.empty.toFixed(3), steadySeconds: +p.steady.toFixed(3) },
        sequential: { fromEmptySeconds: +s.empty.toFixed(3), steadySeconds: +s.steady.toFixed(3) },
        fromEmptyRatio: +(p.empty / s.empty).toFixed(2),
        redisBytesPerSchedule: bytes['default'],
        redisBytesPerScheduleListpack1024: bytes['1024'],
        redisBytesPerScheduleBefore: bytes['before'],
      }),
    );
  }
} finally {
  redis.disconnect();
  await redisSrv.dispose();
}

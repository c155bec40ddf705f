/**
 * bench/scale/hosts: what host-bound jobs cost the schedules' reconcile. N backup schedules,
 * reconciled from empty (as after FLUSHALL) and in the steady state, with every database
 * unbound (the shared `backup` queue, the reference) and with the databases spread over H hosts
 * (`backup@<host>` queues), alternately in the same run; and the enqueue rate of backups
 * (shared vs host queues).
 *
 *   pnpm --filter @mfb/bench exec tsx --conditions=@mfb/source scale/hosts.ts [N] [H]
 *
 * Uses its own redis-server (no persistence) on a free port.
 */
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { closeQueues, createQueues, enqueue, reconcileSchedules, type DesiredSchedule } from '@mfb/jobs';
import { ownRedis } from '@mfb/testkit';

const n = Number(process.argv[2] ?? 10_000);
const hostCount = Number(process.argv[3] ?? 10);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const ENQUEUES = 5_000;

const want: DesiredSchedule[] = Array.from({ length: n }, (_, i) => ({
  databaseId: `db${String(i).padStart(6, '0')}`,
  scheduleId: 'nightly',
  job: 'backup' as const,
  cron: `${i % 60} ${(i >> 6) % 24} * * *`,
  timezone: 'UTC',
  paused: false,
}));
const hostOf = (id: string): string => `host-${Number(id.slice(2)) % hostCount}`;
const hosts = Array.from({ length: hostCount }, (_, i) => `host-${i}`);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const redisSrv = await ownRedis();
const redis = new Redis(redisSrv.url, { maxRetriesPerRequest: null });
const times: Record<'shared' | 'hosts', { empty: number[]; steady: number[]; enqueuePerSec: number[] }> = {
  shared: { empty: [], steady: [], enqueuePerSec: [] },
  hosts: { empty: [], steady: [], enqueuePerSec: [] },
};
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of round % 2 ? (['hosts', 'shared'] as const) : (['shared', 'hosts'] as const)) {
      await redis.flushall();
      const queues = createQueues(redis, 'mfb', {}, mode === 'hosts' ? { hostOf, hosts } : {});
      let t = performance.now();
      const first = await reconcileSchedules(queues, want);
      times[mode].empty.push((performance.now() - t) / 1000);
      t = performance.now();
      const second = await reconcileSchedules(queues, want);
      times[mode].steady.push((performance.now() - t) / 1000);
      if (first.upserted.length !== n || second.unchanged.length !== n) throw new Error(`${mode}: reconcile did not converge`);
      t = performance.now();
      for (let i = 0; i < ENQUEUES; i += 100) {
        await Promise.all(Array.from({ length: 100 }, (_, k) => enqueue(queues, 'backup', { databaseId: want[(i + k) % n]!.databaseId, trigger: 'api' })));
      }
      times[mode].enqueuePerSec.push(ENQUEUES / ((performance.now() - t) / 1000));
      await closeQueues(queues);
    }
  }
  const s = { empty: median(times.shared.empty), steady: median(times.shared.steady), enq: median(times.shared.enqueuePerSec) };
  const h = { empty: median(times.hosts.empty), steady: median(times.hosts.steady), enq: median(times.hosts.enqueuePerSec) };
  console.log(
    JSON.stringify({
      schedules: n,
      hosts: hostCount,
      rounds: ROUNDS,
      shared: { fromEmptySeconds: +s.empty.toFixed(3), steadySeconds: +s.steady.toFixed(3), enqueuePerSecond: Math.round(s.enq) },
      hostQueues: { fromEmptySeconds: +h.empty.toFixed(3), steadySeconds: +h.steady.toFixed(3), enqueuePerSecond: Math.round(h.enq) },
      ratios: { fromEmpty: +(h.empty / s.empty).toFixed(2), steady: +(h.steady / s.steady).toFixed(2), enqueue: +(h.enq / s.enq).toFixed(2) },
    }),
  );
} finally {
  redis.disconnect();
  await redisSrv.dispose();
}

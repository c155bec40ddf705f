import { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { ownRedis } from '@mfb/testkit';
const srv = await ownRedis();
const redis = new Redis(srv.url, { maxRetriesPerRequest: null });
const n = Number(process.argv[2] ?? 10000);
const backoff = { type: 'exponential', delay: 2000, jitter: 0.5 };
const rm = { removeOnComplete: { age: 604800, count: 5000 }, removeOnFail: { age: 2592000, count: 5000 } };
type V = { name: string; prefix?: string; sid: (i: number) => string; data: (i: number) => object; opts: object; qdefaults: object; maxLen?: number };
const id = (i: number) => `db${String(i).padStart(6, '0')}`;
const variants: V[] = [
  { name: 'current', sid: (i) => `mfb.${id(i)}.nightly`, data: (i) => ({ databaseId: id(i), trigger: 'schedule', scheduleId: 'nightly' }), opts: { attempts: 3, backoff }, qdefaults: { attempts: 3, backoff, ...rm } },
  { name: 'no data', sid: (i) => `mfb.${id(i)}.nightly`, data: () => ({}), opts: { attempts: 3, backoff }, qdefaults: { attempts: 3, backoff, ...rm } },
  { name: 'db data', sid: (i) => `mfb.${id(i)}.nightly`, data: (i) => ({ databaseId: id(i) }), opts: { attempts: 3, backoff }, qdefaults: { attempts: 3, backoff, ...rm } },
  { name: 'no data, no removeOn', sid: (i) => `mfb.${id(i)}.nightly`, data: () => ({}), opts: { attempts: 3, backoff, removeOnComplete: undefined, removeOnFail: undefined }, qdefaults: { attempts: 3, backoff, ...rm } },
  { name: 'no data, no removeOn, nojitter', sid: (i) => `mfb.${id(i)}.nightly`, data: () => ({}), opts: { attempts: 3, backoff: { type: 'exponential', delay: 2000 }, removeOnComplete: undefined, removeOnFail: undefined }, qdefaults: { attempts: 3, backoff, ...rm } },
  { name: 'no data, no opts', sid: (i) => `mfb.${id(i)}.nightly`, data: () => ({}), opts: { attempts: undefined, backoff: undefined, removeOnComplete: undefined, removeOnFail: undefined }, qdefaults: { attempts: 3, backoff, ...rm } },
  { name: 'no data, no removeOn, maxLen 1000', sid: (i) => `mfb.${id(i)}.nightly`, data: () => ({}), opts: { attempts: 3, backoff, removeOnComplete: undefined, removeOnFail: undefined }, qdefaults: { attempts: 3, backoff, ...rm }, maxLen: 1000 },
  { name: 'no data, no removeOn, short sid', sid: (i) => `${id(i)}.nightly`, data: () => ({}), opts: { attempts: 3, backoff, removeOnComplete: undefined, removeOnFail: undefined }, qdefaults: { attempts: 3, backoff, ...rm } },
];
for (const v of variants) {
  await redis.flushall();
  const before = Number((await redis.info('memory')).match(/used_memory:(\d+)/)?.[1]);
  const q = new Queue('backup', { connection: redis, prefix: 'mfb', defaultJobOptions: v.qdefaults as never, ...(v.maxLen ? { streams: { events: { maxLen: v.maxLen } } } : {}) });
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => { while (next < n) { const i = next++; await q.upsertJobScheduler(v.sid(i), { pattern: `${i % 60} ${(i >> 6) % 24} * * *`, tz: i % 2 ? 'Europe/Berlin' : 'UTC' }, { name: 'backup', data: v.data(i), opts: v.opts as never }); } }));
  const after = Number((await redis.info('memory')).match(/used_memory:(\d+)/)?.[1]);
  const sk = `mfb:backup:repeat:${v.sid(1)}`;
  const jk = (await redis.keys(`${sk}:*`))[0]!;
  console.log(JSON.stringify({ v: v.name, perSchedule: Math.round((after - before) / n), sched: [await redis.object('ENCODING', sk), await redis.memory('USAGE', sk)], job: [await redis.object('ENCODING', jk), await redis.memory('USAGE', jk)], events: Math.round(Number(await redis.memory('USAGE', 'mfb:backup:events')) / n) }));
  if (v.name.includes('nojitter')) console.log(await redis.hgetall(sk), await redis.hgetall(jk));
  await q.close();
}
redis.disconnect(); await srv.dispose();

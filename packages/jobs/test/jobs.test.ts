import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import {
  BACKOFF_JITTER,
  InvalidPayloadError,
  checkRedis,
  closeQueues,
  createQueues,
  createRedis,
  effectivePrefix,
  enqueue,
  enqueueBackupNow,
  getJobStatus,
  jobPayload,
  liveWorkersByHost,
  reconcileSchedules,
  scheduledPayload,
  startHostHeartbeat,
  schedulerId,
  validatePayload,
  workerJobSettings,
  type DesiredSchedule,
  type Queues,
  type RedisConnection,
} from '@mfb/jobs';
import { ownRedis, type OwnRedis } from '@mfb/testkit';

/**
 * The Redis this suite runs on: one server by default; `jobs.cluster.test.ts` and
 * `jobs.sentinel.test.ts` run the same suite on a Redis Cluster (hash-tagged prefix) and on a
 * Sentinel-managed primary by setting MFB_TEST_REDIS_URL before importing this file.
 */
const REDIS_URL = process.env.MFB_TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Tests that start their own single redis-server (FLUSHALL, eviction policy) run once, on the default topology. */
const SINGLE = !process.env.MFB_TEST_REDIS_URL;

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

function setup(url = REDIS_URL, retry = {}): { queues: Queues; prefix: string; redis: RedisConnection } {
  const prefix = effectivePrefix({ url, prefix: `t-${randomUUID()}` });
  const redis = createRedis({ url, tls: false }, 'worker');
  const queues = createQueues(redis, prefix, retry);
  cleanups.push(async () => {
    for (const name of ['backup', 'upload', 'prune', 'restore', 'verify'] as const) await queues[name].obliterate({ force: true }).catch(() => undefined);
    await closeQueues(queues);
    redis.disconnect();
  });
  return { queues, prefix, redis };
}

describe('payload validation', () => {
  it('names the offending field', () => {
    expect(() => validatePayload('backup', { trigger: 'manual' })).toThrowError(InvalidPayloadError);
    try {
      validatePayload('upload', { databaseId: 'db1', backupId: 'nope', target: 'nas' });
    } catch (err) {
      expect((err as InvalidPayloadError).code).toBe('JOBS_INVALID_PAYLOAD');
      expect((err as InvalidPayloadError).field).toBe('/backupId');
      expect((err as Error).message).toContain('/backupId');
    }
    expect(() => validatePayload('prune', { databaseId: 'db1', target: 'local', extra: 1 })).toThrowError(/JOBS_INVALID_PAYLOAD|extra|invalid prune/);
  });

  it('refuses to enqueue an invalid payload and enqueues nothing', async () => {
    const { queues } = setup();
    await expect(enqueue(queues, 'backup', { databaseId: 'Bad Id!', trigger: 'manual' })).rejects.toMatchObject({ code: 'JOBS_INVALID_PAYLOAD', field: '/databaseId' });
    expect(await queues.backup.count()).toBe(0);
  });
});

describe('enqueue', () => {
  it('enqueues now, after a delay, and at an instant; status is readable by id', async () => {
    const { queues } = setup();
    const now = await enqueue(queues, 'verify', { databaseId: 'db1' });
    const later = await enqueue(queues, 'prune', { databaseId: 'db1', target: 'local' }, { delayMs: 60_000 });
    const at = new Date(Date.now() + 3_600_000);
    const atJob = await enqueue(queues, 'backup', { databaseId: 'db1', trigger: 'api' }, { at });
    expect(String(now.id)).toMatch(/^verify-/);
    expect((await getJobStatus(queues, String(now.id)))?.state).toBe('waiting');
    const s = await getJobStatus(queues, String(later.id));
    expect(s).toMatchObject({ state: 'delayed', name: 'prune', maxAttempts: 3 });
    const sa = await getJobStatus(queues, String(atJob.id));
    expect(sa?.state).toBe('delayed');
    expect(Math.abs(new Date(sa!.runAt!).getTime() - at.getTime())).toBeLessThan(2000);
    expect(await getJobStatus(queues, 'backup-does-not-exist')).toBeNull();
    await expect(enqueue(queues, 'verify', { databaseId: 'db1' }, { at, delayMs: 5 })).rejects.toMatchObject({ code: 'JOBS_INVALID_OPTIONS' });
  });

  it('deduplicates "backup now" while the backup waits, per database', async () => {
    const { queues } = setup();
    const a = await enqueueBackupNow(queues, { databaseId: 'db1' });
    const b = await enqueueBackupNow(queues, { databaseId: 'db1', trigger: 'api' });
    const c = await enqueueBackupNow(queues, { databaseId: 'db2' });
    expect(a.deduplicated).toBe(false);
    expect(b.deduplicated).toBe(true);
    expect(b.job.id).toBe(a.job.id);
    expect(b.job.data.trigger).toBe('manual');
    expect(c.deduplicated).toBe(false);
    expect(await queues.backup.count()).toBe(2);
  });
});

describe('retries', () => {
  it('retries with exponential backoff and jitter, then fails; UnrecoverableError fails at once', async () => {
    const { queues, prefix, redis } = setup(REDIS_URL, { attempts: { verify: 4, restore: 5 }, backoffMs: 150 });
    const starts = new Map<string, number[]>();
    const worker = (name: 'verify' | 'restore', fn: (job: Job) => Promise<unknown>): Worker =>
      new Worker(
        name,
        async (job) => {
          starts.set(String(job.id), [...(starts.get(String(job.id)) ?? []), Date.now()]);
          return fn(job);
        },
        { connection: redis, prefix },
      );
    const w1 = worker('verify', async () => {
      throw new Error('transient');
    });
    const w2 = worker('restore', async () => {
      throw new UnrecoverableError('wrong key');
    });
    cleanups.push(() => w1.close(), () => w2.close());
    const j1 = await enqueue(queues, 'verify', { databaseId: 'db1' });
    const j2 = await enqueue(queues, 'restore', { databaseId: 'db1', backupId: '20261126T124800123Z-1a2b3c4d', mode: 'new', targetPath: '/tmp/x' });
    expect(j1.opts.backoff).toEqual({ type: 'exponential', delay: 150, jitter: BACKOFF_JITTER });

    const done = async (q: Queue, id: string): Promise<Job> => {
      for (;;) {
        // State first, then the job: a job read before it failed lacks its final fields.
        if ((await q.getJobState(id)) === 'failed') return (await q.getJob(id))!;
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const f1 = await done(queues.verify, String(j1.id));
    const f2 = await done(queues.restore, String(j2.id));
    expect(f1.attemptsMade).toBe(4);
    expect(f2.attemptsMade).toBe(1);
    expect(f2.failedReason).toBe('wrong key');
    expect(starts.get(String(j2.id))).toHaveLength(1);
    const t = starts.get(String(j1.id))!;
    expect(t).toHaveLength(4);
    // The n-th retry waits at least (1 - jitter) * base * 2^(n-1): the backoff grows.
    for (let n = 1; n < t.length; n++) expect(t[n]! - t[n - 1]!).toBeGreaterThanOrEqual(Math.floor((1 - BACKOFF_JITTER) * 150 * 2 ** (n - 1)) - 5);
  });
});

/** UTC instant at which the wall clock in `tz` shows the given local time (independent of BullMQ). */
function zonedToUtc(tz: string, y: number, mo: number, d: number, h: number, mi: number): number {
  const fmt = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric' });
  const offsetAt = (t: number): number => {
    const p = Object.fromEntries(fmt.formatToParts(new Date(t)).map((x) => [x.type, x.value]));
    return Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute)) - t;
  };
  const wall = Date.UTC(y, mo - 1, d, h, mi);
  let t = wall - offsetAt(wall);
  t = wall - offsetAt(t);
  return t;
}

describe('schedules', () => {
  const berlin = (scheduleId: string, cron: string): DesiredSchedule => ({ databaseId: 'db1', scheduleId, job: 'backup', cron, timezone: 'Europe/Berlin', paused: false });

  it('fires a Europe/Berlin schedule at the right UTC instant, in summer and winter time', async () => {
    const { queues } = setup();
    // 09:00 Berlin on 31 March (always after the switch to CEST) and on 15 January (CET).
    const r = await reconcileSchedules(queues, [berlin('summer', '0 9 31 3 *'), berlin('winter', '0 9 15 1 *')]);
    expect(r.upserted.sort()).toEqual(['mfb.db1.summer', 'mfb.db1.winter']);
    const nextOf = (mo: number, d: number): number => {
      const y = new Date().getUTCFullYear();
      const thisYear = zonedToUtc('Europe/Berlin', y, mo, d, 9, 0);
      return thisYear > Date.now() ? thisYear : zonedToUtc('Europe/Berlin', y + 1, mo, d, 9, 0);
    };
    const summer = await queues.backup.getJobScheduler(schedulerId({ databaseId: 'db1', scheduleId: 'summer' }));
    const winter = await queues.backup.getJobScheduler(schedulerId({ databaseId: 'db1', scheduleId: 'winter' }));
    expect(summer?.next).toBe(nextOf(3, 31));
    expect(winter?.next).toBe(nextOf(1, 15));
    expect(new Date(summer!.next!).getUTCHours()).toBe(7);
    expect(new Date(winter!.next!).getUTCHours()).toBe(8);
    // The scheduler's delayed job resolves to the schedule's payload and fires at that instant.
    const delayed = await queues.backup.getDelayed();
    const s = delayed.find((j) => j.repeatJobKey === 'mfb.db1.summer');
    expect(validatePayload('backup', jobPayload('backup', s!))).toEqual({ databaseId: 'db1', trigger: 'schedule', scheduleId: 'summer' });
    expect((await getJobStatus(queues, String(s!.id)))?.data).toEqual({ databaseId: 'db1', trigger: 'schedule', scheduleId: 'summer' });
    expect(s!.timestamp + s!.delay).toBe(nextOf(3, 31));
  });

  it('a scheduled job runs with the schedule payload, the configured attempts and a growing backoff', { timeout: 30_000 }, async () => {
    const { queues, prefix, redis } = setup(REDIS_URL, { attempts: { prune: 3 }, backoffMs: 100 });
    // Every second: the first run comes within a second.
    await reconcileSchedules(queues, [{ databaseId: 'db1', scheduleId: 'often', job: 'prune', cron: '* * * * * *', timezone: 'UTC', paused: false }]);
    const runs: Array<{ id: string; at: number; payload: unknown }> = [];
    let first: string | undefined;
    const worker = new Worker(
      'prune',
      async (job) => {
        runs.push({ id: String(job.id), at: Date.now(), payload: validatePayload('prune', jobPayload('prune', job)) });
        first ??= String(job.id);
        // The first scheduled job fails twice, then succeeds on its last attempt.
        if (job.id === first && job.attemptsMade < 2) throw new Error('transient');
        return 'ok';
      },
      { connection: redis, prefix, ...workerJobSettings() },
    );
    worker.on('error', () => undefined);
    cleanups.push(() => worker.close());
    const deadline = Date.now() + 20_000;
    while (!first || (await queues.prune.getJobState(first)) !== 'completed') {
      if (Date.now() > deadline) throw new Error(`scheduled job did not complete: ${JSON.stringify(runs)} ${first ? await queues.prune.getJobState(first) : ''}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const mine = runs.filter((r) => r.id === first);
    expect(mine).toHaveLength(3);
    expect(mine[0]!.payload).toEqual({ databaseId: 'db1', target: 'local', everyTarget: true });
    // Retries wait the jittered exponential backoff: at least (1 - jitter) * 100 * 2^(n-1) ms.
    for (let n = 1; n < mine.length; n++) expect(mine[n]!.at - mine[n - 1]!.at).toBeGreaterThanOrEqual(Math.floor((1 - BACKOFF_JITTER) * 100 * 2 ** (n - 1)) - 5);
    const done = await queues.prune.getJob(first);
    expect(done?.attemptsMade).toBe(3);
    expect(done?.opts.attempts).toBe(3);
  });

  it('a job scheduler costs Redis little: its hash stays compact at default settings and stores no payload', async () => {
    const { queues, prefix, redis } = setup();
    // The longest ids and time zone a schedule can have.
    const long: DesiredSchedule = { databaseId: 'd'.repeat(63), scheduleId: 's'.repeat(64), job: 'backup', cron: '0 2 * * *', timezone: 'America/Argentina/ComodRivadavia', paused: false };
    // As an older version wrote it: the payload as data, the queue defaults merged in.
    await (queues.backup as unknown as Queue).upsertJobScheduler(schedulerId(long), { pattern: long.cron, tz: long.timezone }, { name: 'backup', data: scheduledPayload(long) });
    expect((await reconcileSchedules(queues, [long])).upserted, 'rewritten once').toEqual([schedulerId(long)]);
    expect((await reconcileSchedules(queues, [long])).unchanged).toEqual([schedulerId(long)]);
    const key = `${prefix}:backup:repeat:${schedulerId(long)}`;
    // Redis's default `hash-max-listpack-value` (64): every field of the hash must fit it.
    const limit = Number(((await (redis as Redis).config('GET', 'hash-max-listpack-value')) as string[])[1]);
    expect(limit, 'test Redis runs with the default hash encoding limits').toBe(64);
    expect(await redis.call('OBJECT', 'ENCODING', key)).toBe('listpack');
    expect(await redis.hget(key, 'data')).toBeNull();
    const [job] = await queues.backup.getDelayed();
    expect(job!.data).toEqual({});
    expect(job!.opts).not.toHaveProperty('removeOnComplete');
    expect(jobPayload('backup', job!)).toEqual({ databaseId: long.databaseId, trigger: 'schedule', scheduleId: long.scheduleId });
  });

  it('reconciles: unchanged kept, changed updated, removed and paused deleted', async () => {
    const { queues } = setup();
    await reconcileSchedules(queues, [berlin('a', '0 1 * * *'), berlin('b', '0 2 * * *'), { ...berlin('v', '0 3 * * 0'), job: 'verify' }]);
    const r = await reconcileSchedules(queues, [berlin('a', '0 1 * * *'), { ...berlin('b', '0 2 * * *'), paused: true }, { ...berlin('v', '30 3 * * 0'), job: 'verify' }]);
    expect(r.unchanged).toEqual(['mfb.db1.a']);
    expect(r.removed).toEqual(['mfb.db1.b']);
    expect(r.upserted).toEqual(['mfb.db1.v']);
    expect((await queues.verify.getJobScheduler('mfb.db1.v'))?.pattern).toBe('30 3 * * 0');
    expect(await queues.backup.getJobSchedulersCount()).toBe(1);
  });

  it.runIf(SINGLE)('restores schedules after FLUSHALL (own redis-server)', async () => {
    const own: OwnRedis = await ownRedis();
    cleanups.push(() => own.dispose());
    const { queues, redis } = setup(own.url);
    const desired = [berlin('nightly', '0 2 * * *'), { ...berlin('weekly', '0 4 * * 0'), job: 'prune' as const }];
    await reconcileSchedules(queues, desired);
    await redis.flushall();
    expect(await queues.backup.getJobSchedulersCount()).toBe(0);
    const r = await reconcileSchedules(queues, desired);
    expect(r.upserted.sort()).toEqual(['mfb.db1.nightly', 'mfb.db1.weekly']);
    expect((await queues.backup.getJobScheduler('mfb.db1.nightly'))?.tz).toBe('Europe/Berlin');
    expect(await queues.prune.getJobSchedulersCount()).toBe(1);
    expect(await queues.backup.getDelayedCount()).toBe(1);
  });
});

describe.runIf(SINGLE)('redis check', () => {
  it('reports the eviction policy, and explains how to start Redis when unreachable', async () => {
    const own = await ownRedis();
    cleanups.push(() => own.dispose());
    expect(await checkRedis({ url: own.url, tls: false })).toMatchObject({ maxmemoryPolicy: 'noeviction', evictionSafe: true });
    const c = new Redis(own.url);
    await c.config('SET', 'maxmemory-policy', 'allkeys-lru');
    c.disconnect();
    expect(await checkRedis({ url: own.url, tls: false })).toMatchObject({ maxmemoryPolicy: 'allkeys-lru', evictionSafe: false });
    await own.stop();
    await expect(checkRedis({ url: own.url, tls: false }, 1000)).rejects.toThrow(/redis-server.*docker compose up redis/);
  });
});

describe('host-bound jobs (databases[].host)', () => {
  it('backups and restore replace of a database with a host go to its host queue, the rest to the shared queues; status and dedup work there', async () => {
    const prefix = effectivePrefix({ url: REDIS_URL, prefix: `t-${randomUUID()}` });
    const redis = createRedis({ url: REDIS_URL, tls: false }, 'worker');
    const hostOf: Record<string, string> = { a: 'db-1' };
    const queues = createQueues(redis, prefix, {}, { hostOf: (id) => hostOf[id], hosts: ['db-1'] });
    cleanups.push(async () => {
      for (const q of queues.all()) await q.obliterate({ force: true }).catch(() => undefined);
      await closeQueues(queues);
      redis.disconnect();
    });
    const backupId = '20261126T124800123Z-1a2b3c4d';
    const placed = await Promise.all([
      enqueue(queues, 'backup', { databaseId: 'a', trigger: 'api' }),
      enqueue(queues, 'backup', { databaseId: 'u', trigger: 'api' }),
      enqueue(queues, 'restore', { databaseId: 'a', backupId, mode: 'replace' }),
      enqueue(queues, 'restore', { databaseId: 'a', backupId, mode: 'new', targetPath: '/tmp/x.db' }),
      enqueue(queues, 'upload', { databaseId: 'a', backupId, target: 'nas' }),
      enqueue(queues, 'verify', { databaseId: 'a' }),
      enqueue(queues, 'prune', { databaseId: 'a', target: 'local' }),
    ]);
    expect(placed.map((j) => j.queueName)).toEqual(['backup@db-1', 'backup', 'restore@db-1', 'restore', 'upload', 'verify', 'prune']);
    expect(queues.all().map((q) => q.name)).toEqual(['backup', 'upload', 'prune', 'restore', 'verify', 'backup@db-1', 'restore@db-1']);
    expect(await getJobStatus(queues, String(placed[0]!.id))).toMatchObject({ name: 'backup', queue: 'backup@db-1', state: 'waiting' });
    expect(await getJobStatus(queues, String(placed[2]!.id))).toMatchObject({ name: 'restore', queue: 'restore@db-1' });
    // "Back up now" deduplicates in the host queue as in the shared one.
    const first = await enqueueBackupNow(queues, { databaseId: 'a' });
    const second = await enqueueBackupNow(queues, { databaseId: 'a' });
    expect([first.job.queueName, first.deduplicated, second.deduplicated, second.job.id]).toEqual(['backup@db-1', false, true, first.job.id]);
    expect((await queues.backup.getJobCounts('waiting')).waiting).toBe(1);
  });

  it('workers announce the host they serve; a stopped worker is gone at once', async () => {
    const prefix = effectivePrefix({ url: REDIS_URL, prefix: `t-${randomUUID()}` });
    const redis = createRedis({ url: REDIS_URL, tls: false }, 'worker');
    cleanups.push(async () => redis.disconnect());
    expect(await liveWorkersByHost(redis, prefix)).toEqual(new Map());
    const beats = await Promise.all([startHostHeartbeat(redis, prefix, 'db-1'), startHostHeartbeat(redis, prefix, 'db-1'), startHostHeartbeat(redis, prefix, 'db-2')]);
    cleanups.push(() => Promise.all(beats.map((b) => b.stop())));
    expect(await liveWorkersByHost(redis, prefix)).toEqual(new Map([['db-1', 2], ['db-2', 1]]));
    await beats[2]!.stop();
    expect(await liveWorkersByHost(redis, prefix)).toEqual(new Map([['db-1', 2]]));
  });
});

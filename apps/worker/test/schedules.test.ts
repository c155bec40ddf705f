import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openCatalog } from '@mfb/catalog';
import { JOB_NAMES } from '@mfb/jobs';
import { createLogger } from '@mfb/observability';
import { startWorker } from '../src/runtime.js';
import { tempDir, testConfig, waitUntil } from './helpers.js';
import { ownRedis } from '@mfb/testkit';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

describe('schedules in the worker', () => {
  it('seeds config schedules into the catalog, reconciles them at start-up, and restores them after FLUSHALL', async () => {
    const own = await ownRedis();
    cleanups.push(() => own.dispose());
    const tmp = await tempDir();
    cleanups.push(() => tmp.dispose());
    const { config } = await testConfig({
      dir: tmp.dir,
      redisUrl: own.url,
      databases: [
        {
          id: 'a',
          path: join(tmp.dir, 'a.sqlite'),
          schedules: [
            { id: 'nightly', cron: '0 2 * * *', timezone: 'Europe/Berlin', job: 'backup', paused: false },
            { id: 'weekly-verify', cron: '0 4 * * 0', timezone: 'UTC', job: 'verify', paused: false },
            { id: 'off', cron: '0 5 * * *', timezone: 'UTC', job: 'backup', paused: true },
          ],
        },
      ],
    });
    const catalog = await openCatalog(config.catalogPath);
    await catalog.upsertSchedule({ databaseId: 'a', scheduleId: 'from-api', job: 'prune', cron: '30 3 * * *', timezone: 'UTC', paused: false, origin: 'api' });
    const runtime = await startWorker({ config, catalog, log: createLogger('worker-test', { level: 'silent' }), http: false, reconcileIntervalMs: 500 });
    cleanups.push(async () => {
      await runtime.close(1000);
      await catalog.close();
    });
    const q = runtime.queues;
    expect((await catalog.listSchedules('a')).map((s) => `${s.scheduleId}:${s.origin}`).sort()).toEqual(['from-api:api', 'nightly:config', 'off:config', 'restore-drill:config', 'weekly-verify:config']);
    const ids = async (): Promise<string[]> => {
      const out: string[] = [];
      for (const n of JOB_NAMES) for (const s of await q[n].getJobSchedulers(0, -1)) out.push(`${n}/${s.key}`);
      return out.sort();
    };
    expect(await ids()).toEqual(['backup/mfb.a.nightly', 'prune/mfb.a.from-api', 'verify/mfb.a.restore-drill', 'verify/mfb.a.weekly-verify']);
    expect((await q.backup.getJobScheduler('mfb.a.nightly'))?.tz).toBe('Europe/Berlin');

    // A flushed Redis gets its schedules back without a person (periodic reconcile).
    const { Redis } = await import('ioredis');
    const r = new Redis(own.url);
    await r.flushall();
    r.disconnect();
    await waitUntil(async () => (await ids()).length === 4, 15_000, 'schedules restored');
    expect(await ids()).toEqual(['backup/mfb.a.nightly', 'prune/mfb.a.from-api', 'verify/mfb.a.restore-drill', 'verify/mfb.a.weekly-verify']);

    // A change in the catalog (as the API makes) is applied by reconcile().
    await catalog.deleteSchedule('a', 'from-api');
    const res = await runtime.reconcile();
    expect(res.removed).toEqual(['mfb.a.from-api']);
  });

  it('runs a scheduled job, which carries no payload, as the schedule says (database and job from the scheduler id)', async () => {
    const own = await ownRedis();
    cleanups.push(() => own.dispose());
    const tmp = await tempDir();
    cleanups.push(() => tmp.dispose());
    const { config } = await testConfig({ dir: tmp.dir, redisUrl: own.url, databases: [{ id: 'a', path: join(tmp.dir, 'a.sqlite'), schedules: [] }] });
    const catalog = await openCatalog(config.catalogPath);
    // Every second (the API refuses that; the catalog takes it), so the first run comes at once.
    await catalog.upsertSchedule({ databaseId: 'a', scheduleId: 'often', job: 'prune', cron: '* * * * * *', timezone: 'UTC', paused: false, origin: 'api' });
    const runtime = await startWorker({ config, catalog, log: createLogger('worker-test', { level: 'silent' }), http: false });
    cleanups.push(async () => {
      await runtime.close(1000);
      await catalog.close();
    });
    const [delayed] = await runtime.queues.prune.getDelayed();
    expect(delayed?.data, 'the scheduled job stores no payload').toEqual({});
    await waitUntil(async () => (await catalog.listJobs({ databaseId: 'a' })).some((j) => j.queue === 'prune'), 15_000, 'the scheduled prune ran');
    const [run] = (await catalog.listJobs({ databaseId: 'a' })).filter((j) => j.queue === 'prune');
    expect(run).toMatchObject({ databaseId: 'a', state: 'completed', error: null });
    expect(run!.jobId).toMatch(/^repeat:mfb\.a\.often:/);
  });
});

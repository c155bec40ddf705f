
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Manifest } from '@mfb/backup';
import { openCatalog } from '@mfb/catalog';
import { JOB_NAMES } from '@mfb/jobs';
import { createLogger } from '@mfb/observability';
import { testConfig as kitConfig } from '@mfb/testkit';
import { startWorker } from '../src/runtime.js';
import { fakeManifest, REDIS_URL, tempDir, waitUntil } from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

const DAY = 86_400_000;

const manifest = (createdAt: Date, n: number): Manifest => fakeManifest('a', createdAt, n, { artifact: 10, snapshot: 10 });

describe('catalog housekeeping', () => {
  it('defaults, and refuses bad values naming the field', async () => {
    const tmp = await tempDir('mfb-hk-');
    cleanups.push(() => tmp.dispose());
    const { config } = await kitConfig({ dir: tmp.dir, redisUrl: REDIS_URL, settings: { databases: [] } });
    expect(config.housekeeping).toEqual({ jobHistoryDays: 90, jobHistoryMax: 100_000, deletedBackupDays: 90 });
    await expect(kitConfig({ dir: tmp.dir, settings: { housekeeping: { jobHistoryDays: -1 } } })).rejects.toThrow(/housekeeping\.jobHistoryDays/);
    await expect(kitConfig({ dir: tmp.dir, settings: { housekeeping: { jobsDays: 3 } } })).rejects.toThrow(/housekeeping/);
  });

  it('the worker trims old job history (by age and count) and long-deleted backups at start', async () => {
    const tmp = await tempDir('mfb-hk-');
    cleanups.push(() => tmp.dispose());
    const { config } = await kitConfig({
      dir: tmp.dir,
      redisUrl: REDIS_URL,
      settings: {
        databases: [{ id: 'a', path: join(tmp.dir, 'a.sqlite') }],
        housekeeping: { jobHistoryDays: 30, jobHistoryMax: 5, deletedBackupDays: 7 },
      },
    });
    const catalog = await openCatalog(config.catalogPath);
    const now = Date.now();
    // 10 jobs 0..9 days old and 2 of 40 days: the old two go by age, then the newest 5 stay.
    for (const [i, age] of [...Array.from({ length: 10 }, (_, i) => i), 40, 41].entries()) {
      const at = new Date(now - age * DAY - i).toISOString();
      await catalog.recordJob({ jobId: `j${i}`, queue: 'prune', name: 'prune', databaseId: 'a', state: 'completed', attempts: 1, startedAt: at, finishedAt: at, error: null, result: null });
    }
    // backups: #0 the first ever (stays), #1 deleted 30 days ago (goes), #2 deleted 2 days ago, #3 live, #4 pinned.
    const ms = [0, 1, 2, 3, 4].map((i) => manifest(new Date(now - (60 - i) * DAY), i));
    for (const m of ms) await catalog.recordBackup(m, { target: 'local', artifactKey: m.artifactKey });
    await catalog.setPinned(ms[4]!.backupId, true);
    for (const [i, age] of [[0, 30], [1, 30], [2, 2], [4, 30]] as const) await catalog.markLocationDeleted(ms[i]!.backupId, 'local', new Date(now - age * DAY).toISOString());

    const runtime = await startWorker({ config, catalog, log: createLogger('worker-test', { level: 'silent' }), http: false });
    cleanups.push(async () => {
      for (const n of JOB_NAMES) await runtime.queues[n].obliterate({ force: true }).catch(() => undefined);
      await runtime.close(1000);
      await catalog.close();
    });
    await waitUntil(async () => (await catalog.getBackup(ms[1]!.backupId)) === null, 30_000, 'housekeeping ran');
    await waitUntil(async () => (await catalog.listJobs({ limit: 100 })).length === 5, 30_000, 'job history trimmed');
    expect((await catalog.listJobs({ limit: 100 })).map((j) => j.jobId)).toEqual(['j0', 'j1', 'j2', 'j3', 'j4']);
    for (const i of [0, 2, 3, 4]) expect(await catalog.getBackup(ms[i]!.backupId), `backup #${i} stays`).not.toBeNull();
  });
});

/**
 * Follow-up jobs have deterministic ids: a backup job that runs again after it enqueued its
 * uploads (crash after the enqueue, stalled job re-run) does not upload twice. Real runner,
 * engine, catalog, storage and Redis; the backup job is run by the processor directly, twice.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateFinanceDb } from '@mfb/demo-data';
import { followUpJobId, getJobStatus, scheduledPayload } from '@mfb/jobs';
import { inProcessRunner, tempDir, testConfig } from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

describe('follow-up job ids', () => {
  it('ids are deterministic, free of ":" and name their queue', () => {
    expect(followUpJobId('upload', { databaseId: 'a', backupId: '20261126T124800123Z-1a2b3c4d', target: 'nas' }, 'backup-x')).toBe('upload.20261126T124800123Z-1a2b3c4d.nas');
    expect(followUpJobId('prune', { databaseId: 'a', target: 'nas' }, 'repeat:a:nightly:1764547200000')).toBe('prune.a.nas.repeat_a_nightly_1764547200000');
  });

  async function setup() {
    const tmp = await tempDir('mfb-followup-');
    cleanups.push(() => tmp.dispose());
    const dbPath = join(tmp.dir, 'a.sqlite');
    await generateFinanceDb(dbPath, { sizeBytes: 128 * 1024 });
    const { config } = await testConfig({ dir: tmp.dir, databases: [{ id: 'a', path: dbPath, targets: ['nas', 'offsite'] }], targets: ['nas', 'offsite'] });
    return inProcessRunner(config, cleanups);
  }

  it('a backup job run twice (retried after enqueuing its follow-ups) leaves one backup and one upload job per target', async () => {
    const { catalog, queues, processor } = await setup();
    const job = await queues.backup.add('backup', { databaseId: 'a', trigger: 'manual' }, { jobId: 'backup-retried' });
    const first = (await processor(job)) as { backupId: string; uploads: string[]; prune: string };
    const second = (await processor(job)) as { backupId: string; uploads: string[]; prune: string };

    expect(second.backupId).toBe(first.backupId);
    expect(first.uploads).toEqual([`upload.${first.backupId}.nas`, `upload.${first.backupId}.offsite`]);
    expect(second.uploads).toEqual(first.uploads);
    expect(second.prune).toBe(first.prune);
    expect((await catalog.listBackups({ databaseId: 'a' })).items).toHaveLength(1);
    const uploads = await queues.upload.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed', 'prioritized']);
    expect(uploads.map((j) => j.id).sort()).toEqual(first.uploads);
    expect(await queues.prune.count()).toBe(1);
    // The API finds a follow-up by its id (queue hinted by the part before the first '.').
    expect(await getJobStatus(queues, first.uploads[0]!)).toMatchObject({ id: first.uploads[0], state: 'waiting' });
  });

  it('the scheduled prune (payload of the schedule) prunes local, then chains one prune per target, once', async () => {
    const { queues, processor } = await setup();
    const data = scheduledPayload({ databaseId: 'a', scheduleId: 'nightly', job: 'prune' });
    expect(data).toEqual({ databaseId: 'a', target: 'local', everyTarget: true });
    const job = await queues.prune.add('prune', data as never, { jobId: 'repeat:mfb.a.nightly:1764547200000' });
    const out = (await processor(job)) as { target: string; prunes: string[] };
    await processor(job);
    expect(out.target).toBe('local');
    // (The scheduled job itself was run by hand here, so it is still waiting: not counted.)
    const chained = (await queues.prune.getJobs(['waiting'])).filter((j) => j.id !== job.id);
    expect(chained.map((j) => j.data).sort((x, y) => x.target.localeCompare(y.target))).toEqual([
      { databaseId: 'a', target: 'nas' },
      { databaseId: 'a', target: 'offsite' },
    ]);
    expect(chained.map((j) => j.id).sort()).toEqual(out.prunes.sort());
  });
});

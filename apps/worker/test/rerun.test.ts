/**
 * Defect 8: a worker killed after an upload finished (copy stored, location recorded, lock
 * released) but before the job was acknowledged gets the job re-run; by then prune may have
 * removed the local copy. The re-run recognises the work as done and succeeds. The job history
 * records when the lock was taken and released. Real worker processes, Redis, catalog, storage.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { deleteCopy } from '@mfb/backup';
import { openCatalog } from '@mfb/catalog';
import { generateFinanceDb } from '@mfb/demo-data';
import { rm } from 'node:fs/promises';
import { enqueueBackupNow } from '@mfb/jobs';
import { createStorages } from '@mfb/runtime';
import { inProcessRunner, producerQueues, spawnReadyWorkers, spawnWorker, stopAll, tempDir, testConfig, waitUntil } from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

describe('re-run of work already done (defect 8)', () => {
  it('an upload re-run after its worker died between lock release and ack succeeds although the local copy was pruned', async () => {
    const tmp = await tempDir('mfb-rerun-');
    cleanups.push(() => tmp.dispose());
    const dbPath = join(tmp.dir, 'a.sqlite');
    await generateFinanceDb(dbPath, { sizeBytes: 256 * 1024 });
    const { config, file } = await testConfig({ dir: tmp.dir, databases: [{ id: 'a', path: dbPath, targets: ['offsite'] }], targets: ['offsite'], concurrency: 1, lockTtlMs: 2000 });
    const producer = producerQueues(config);
    cleanups.push(() => producer.dispose());
    const { queues } = producer;
    const catalog = await openCatalog(config.catalogPath);
    cleanups.push(() => catalog.close());

    const dying = spawnWorker(file, ['--test-only-die-after-release=upload']);
    cleanups.push(() => stopAll([dying]));
    await dying.waitForLog((l) => l.msg === 'worker ready');
    const { job } = await enqueueBackupNow(queues, { databaseId: 'a' });
    await dying.exited;

    const backup = (await catalog.listBackups({ databaseId: 'a' })).items[0]!;
    expect(backup).toBeDefined();
    const uploadId = `upload.${backup.backupId}.offsite`;
    // Died after the copy was recorded and the lock released, before history and ack.
    expect(backup.locations.find((l) => l.target === 'offsite' && l.deletedAt === null)).toBeDefined();
    expect(await catalog.getJob(uploadId)).toBeNull();
    expect(await queues.upload.getJobState(uploadId)).toBe('active');

    // Meanwhile prune removed the local copy.
    const local = backup.locations.find((l) => l.target === 'local')!;
    await deleteCopy(createStorages(config).primary, local.artifactKey, () => catalog.markLocationDeleted(backup.backupId, 'local'));

    await spawnReadyWorkers(1, file, cleanups);
    const state = await waitUntil(
      async () => {
        const s = await queues.upload.getJobState(uploadId);
        return s === 'completed' || s === 'failed' ? s : null;
      },
      90_000,
      'the re-run of the upload finishes',
    );
    const done = await queues.upload.getJob(uploadId);
    expect(state, done?.failedReason).toBe('completed');
    expect(done!.returnvalue).toMatchObject({ backupId: backup.backupId, target: 'offsite', alreadyThere: true });

    // The history tells when each run held the lock (taken before released).
    const hist = await catalog.getJob(uploadId);
    expect(hist).toMatchObject({ state: 'completed', queue: 'upload' });
    expect(hist!.lockAcquiredAt).toEqual(expect.any(String));
    expect(hist!.lockReleasedAt).toEqual(expect.any(String));
    expect(Date.parse(hist!.lockAcquiredAt!)).toBeLessThanOrEqual(Date.parse(hist!.lockReleasedAt!));
    const backupHist = await catalog.getJob(String(job.id));
    expect(backupHist).toMatchObject({ state: 'completed', queue: 'backup' });
    expect(Date.parse(backupHist!.lockReleasedAt!)).toBeLessThanOrEqual(Date.parse(hist!.lockAcquiredAt!));
  }, 180_000);

  it('a backup job re-run after its history was recorded returns the recorded result and backs up nothing again', async () => {
    const tmp = await tempDir('mfb-rerun-');
    cleanups.push(() => tmp.dispose());
    const dbPath = join(tmp.dir, 'a.sqlite');
    await generateFinanceDb(dbPath, { sizeBytes: 128 * 1024 });
    const { config } = await testConfig({ dir: tmp.dir, databases: [{ id: 'a', path: dbPath }] });
    const { catalog, queues, processor } = await inProcessRunner(config, cleanups);
    const job = await queues.backup.add('backup', { databaseId: 'a', trigger: 'manual' }, { jobId: 'backup-rerun' });
    const first = (await processor(job)) as { backupId: string };
    // The process died before BullMQ recorded the completion: the job comes back as a re-run.
    // Meanwhile prune removed the copy and the source is gone: redoing the work would fail.
    const rec = (await catalog.getBackup(first.backupId))!;
    await deleteCopy(createStorages(config).primary, rec.manifest.artifactKey, () => catalog.markLocationDeleted(first.backupId, 'local'));
    await rm(dbPath);
    (job as { attemptsStarted: number }).attemptsStarted = 2;
    const second = (await processor(job)) as { backupId: string };
    expect(second).toEqual(first);
    expect((await catalog.listBackups({ databaseId: 'a' })).items).toHaveLength(1);
  }, 60_000);
});

/**
 * Disk full is not retried: a backup whose scratch directory is a real, small tmpfs (the kernel
 * answers ENOSPC) fails on its first attempt with BACKUP_DISK_FULL although attempts > 1, and
 * says which directory to free. Root only (mount); skipped, saying so, otherwise.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openCatalog } from '@mfb/catalog';
import { generateFinanceDb } from '@mfb/demo-data';
import { JOB_NAMES, enqueue } from '@mfb/jobs';
import { createLogger } from '@mfb/observability';
import { canMountTmpfs, mountTmpfs } from '@mfb/testkit';
import { startWorker } from '../src/runtime.js';
import { finished, listFiles, tempDir, testConfig } from './helpers.js';

const canMount = canMountTmpfs('apps/worker/test/disk-full.test.ts');

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

describe.skipIf(!canMount)('disk full (real tmpfs)', () => {
  it('a full scratch directory fails the backup at once (permanent BACKUP_DISK_FULL), no retry into the full disk', async () => {
    const tmp = await tempDir('mfb-diskfull-');
    cleanups.push(() => tmp.dispose());
    const dbPath = join(tmp.dir, 'a.sqlite');
    await generateFinanceDb(dbPath, { sizeBytes: 4 * 1024 * 1024, journalMode: 'wal' });
    const { config } = await testConfig({ dir: tmp.dir, databases: [{ id: 'a', path: dbPath, snapshotMethod: 'backup-api' }], attempts: { backup: 3 }, backoffMs: 100 });
    const unmount = mountTmpfs(config.tmpDir, { sizeKiB: 1024 });
    cleanups.push(async () => unmount());

    const catalog = await openCatalog(config.catalogPath);
    await catalog.migrate();
    const runtime = await startWorker({ config, catalog, log: createLogger('worker-test', { level: 'silent' }), http: false });
    cleanups.push(async () => {
      for (const n of JOB_NAMES) await runtime.queues[n].obliterate({ force: true }).catch(() => undefined);
      await runtime.close(1000);
      await catalog.close();
    });

    const job = await finished(runtime.queues, await enqueue(runtime.queues, 'backup', { databaseId: 'a', trigger: 'api' }));
    expect(await job.getState()).toBe('failed');
    expect(job.opts.attempts).toBe(3);
    expect(job.attemptsMade).toBe(1);
    expect(job.failedReason).toMatch(/^BACKUP_DISK_FULL: no space left on device .* not retried: free space/);
    expect(job.failedReason).toContain(config.tmpDir);
    const history = await catalog.listJobs({ databaseId: 'a', limit: 10 });
    expect(history[0]).toMatchObject({ state: 'failed', attempts: 1 });
    expect(await listFiles(config.tmpDir)).toEqual([]);
    const metric = await runtime.metrics.diskFullTotal.get();
    expect(metric.values).toEqual([expect.objectContaining({ labels: { queue: 'backup', code: 'BACKUP_DISK_FULL' }, value: 1 })]);
  });
});

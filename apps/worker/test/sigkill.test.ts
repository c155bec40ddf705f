import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateFinanceDb } from '@mfb/demo-data';
import { enqueueBackupNow } from '@mfb/jobs';
import { listFiles, tempDir, testConfig, waitUntil, producerQueues, spawnReadyWorkers } from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

const isTemp = (f: string): boolean => f.includes('.mfb-tmp');

describe('SIGKILL resilience', () => {
  it('a backup whose worker is killed twice completes on a survivor: one artifact, no temp files', async () => {
    const tmp = await tempDir();
    cleanups.push(() => tmp.dispose());
    const dbPath = join(tmp.dir, 'big.sqlite');
    await generateFinanceDb(dbPath, { sizeBytes: 6 * 1024 * 1024 });
    const { config, file } = await testConfig({ dir: tmp.dir, databases: [{ id: 'big', path: dbPath }], concurrency: 1, lockTtlMs: 2000 });
    // Storage writes slowed to ~1 MiB/s so the kill lands in the middle of a real backup.
    const args = ['--test-only-throttle-bps=1048576'];
    const workers = await spawnReadyWorkers(3, file, cleanups, args);

    const producer = producerQueues(config);
    const { queues } = producer;
    cleanups.push(() => producer.dispose());
    const { job } = await enqueueBackupNow(queues, { databaseId: 'big' });
    const jobId = String(job.id);
    const dataDir = config.dataDir;

    const killed = new Set<number>();
    let leftovers = new Set<string>();
    for (let round = 0; round < 2; round++) {
      const runner = await waitUntil(
        async () => workers.find((w) => !killed.has(w.pid) && w.logs.some((l) => l.msg === 'job started' && l.jobId === jobId)),
        60_000,
        `round ${round}: a worker starts the job`,
      );
      // Wait until this run has its own half-written files on disk, then kill it mid-write.
      const before = leftovers;
      await waitUntil(async () => (await listFiles(dataDir)).some((f) => isTemp(f) && !before.has(f)), 30_000, 'temp files of the running backup');
      runner.kill('SIGKILL');
      await runner.exited;
      killed.add(runner.pid);
      leftovers = new Set((await listFiles(dataDir)).filter(isTemp));
      expect(leftovers.size).toBeGreaterThan(0);
    }

    const done = await waitUntil(
      async () => {
        // State first, then the job: a job read before its state changed lacks its return value.
        return (await queues.backup.getJobState(jobId)) === 'completed' ? queues.backup.getJob(jobId) : null;
      },
      90_000,
      'job completes on the surviving worker',
    );
    const survivor = workers.find((w) => !killed.has(w.pid))!;
    expect(survivor.logs.some((l) => l.msg === 'job completed' && l.jobId === jobId)).toBe(true);
    // The run after each kill removed what the killed run left behind.
    expect(workers.flatMap((w) => w.logs).filter((l) => l.msg === 'removed temp files of an earlier killed run' && l.jobId === jobId).length).toBeGreaterThanOrEqual(1);
    expect(done.returnvalue).toMatchObject({ backupId: expect.any(String) });
    const files = await listFiles(dataDir);
    expect(files.filter(isTemp)).toEqual([]);
    const artifacts = files.filter((f) => f.startsWith('backups/big/') && !f.endsWith('.manifest.json'));
    expect(artifacts).toHaveLength(1);
    expect(files).toContain(`${artifacts[0]}.manifest.json`);
  }, 240_000);
});

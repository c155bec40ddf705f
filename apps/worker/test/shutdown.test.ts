import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateFinanceDb } from '@mfb/demo-data';
import { enqueueBackupNow } from '@mfb/jobs';
import { listFiles, spawnWorker, stopAll, tempDir, testConfig, waitUntil, type WorkerProc, producerQueues } from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

async function setup(graceMs: number) {
  const tmp = await tempDir();
  cleanups.push(() => tmp.dispose());
  const dbPath = join(tmp.dir, 'slow.sqlite');
  await generateFinanceDb(dbPath, { sizeBytes: 4 * 1024 * 1024 });
  const { config, file } = await testConfig({ dir: tmp.dir, databases: [{ id: 'slow', path: dbPath }], concurrency: 1, shutdownGraceMs: graceMs });
  const producer = producerQueues(config);
  const workers: WorkerProc[] = [];
  cleanups.push(async () => {
    await stopAll(workers);
    await producer.dispose();
  });
  return { config, file, redis: producer.redis, queues: producer.queues, workers, dataDir: config.dataDir };
}

const args = ['--test-only-throttle-bps=1048576'];

/** One worker, one slowed backup: SIGTERM once its temp file exists; the worker must exit 0. */
async function sigtermDuringBackup(s: Awaited<ReturnType<typeof setup>>) {
  const w = spawnWorker(s.file, args);
  s.workers.push(w);
  await w.waitForLog((l) => l.msg === 'worker ready');
  const { job } = await enqueueBackupNow(s.queues, { databaseId: 'slow' });
  await w.waitForLog((l) => l.msg === 'job started' && l.jobId === job.id);
  await waitUntil(async () => (await listFiles(s.dataDir)).some((f) => f.includes('.mfb-tmp')), 30_000, 'backup in progress');
  w.kill('SIGTERM');
  expect(await w.exited).toBe(0);
  return { w, job };
}

describe('graceful shutdown', () => {
  it('SIGTERM within the grace period: the running backup completes, exit 0', async () => {
    const s = await setup(60_000);
    const { w, job } = await sigtermDuringBackup(s);
    const j = await s.queues.backup.getJob(String(job.id));
    expect(await j!.getState()).toBe('completed');
    expect(w.logs.some((l) => l.msg === 'job completed' && l.jobId === job.id)).toBe(true);
  }, 120_000);

  it('SIGTERM beyond the grace period: aborted cleanly, lock released, retried later by another worker', async () => {
    const s = await setup(300);
    const { w, job } = await sigtermDuringBackup(s);
    expect(w.logs.some((l) => l.msg === 'job aborted; returned to the queue')).toBe(true);
    const j = await s.queues.backup.getJob(String(job.id));
    expect(['delayed', 'waiting']).toContain(await j!.getState());
    expect(j!.attemptsMade).toBe(0);
    expect((await listFiles(s.dataDir)).filter((f) => f.includes('.mfb-tmp'))).toEqual([]);
    expect(await s.redis.exists(`${s.config.redis.prefix}:mfb:lock:db:slow`)).toBe(0);

    const w2 = spawnWorker(s.file);
    s.workers.push(w2);
    await waitUntil(async () => (await j!.getState()) === 'completed', 60_000, 'job completes on the next worker');
    const files = await listFiles(s.dataDir);
    expect(files.filter((f) => f.startsWith('backups/slow/') && !f.endsWith('.manifest.json'))).toHaveLength(1);
    w2.kill('SIGTERM');
    expect(await w2.exited).toBe(0);
  }, 120_000);
});

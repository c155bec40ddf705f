import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { openCatalog } from '@mfb/catalog';
import { generateFinanceDb } from '@mfb/demo-data';
import { DatabaseLocks, enqueueBackupNow, type HeldLock } from '@mfb/jobs';
import { ownRedis } from '@mfb/testkit';
import { listFiles, producerQueues, spawnReadyWorkers, tempDir, testConfig, waitUntil } from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

const isTemp = (f: string): boolean => f.includes('.mfb-tmp');
const durable = (files: string[]): string[] => files.filter((f) => f.startsWith('backups/big/') && !isTemp(f));

describe('lock fencing (defect 3)', () => {
  it('a worker cut off from Redis longer than the lock TTL stops before its next durable step; another owner gets the lock', async () => {
    const tmp = await tempDir();
    cleanups.push(() => tmp.dispose());
    const redis = await ownRedis();
    cleanups.push(() => redis.dispose());
    const dbPath = join(tmp.dir, 'big.sqlite');
    await generateFinanceDb(dbPath, { sizeBytes: 3 * 1024 * 1024 });
    const ttl = 2000;
    const { config, file } = await testConfig({ dir: tmp.dir, redisUrl: redis.url, databases: [{ id: 'big', path: dbPath }], concurrency: 1, lockTtlMs: ttl });
    // Storage writes slowed to 128 KiB/s: storing takes several TTLs.
    await spawnReadyWorkers(1, file, cleanups, ['--test-only-throttle-bps=131072']);
    const producer = producerQueues(config);
    cleanups.push(() => producer.dispose());
    const { job } = await enqueueBackupNow(producer.queues, { databaseId: 'big' });
    const jobId = String(job.id);

    // The backup is storing its artifact: cut the worker off from Redis (its renewals hang).
    await waitUntil(async () => (await listFiles(config.dataDir)).some((f) => f.startsWith('backups/big/') && isTemp(f)), 60_000, 'the artifact being stored');
    const pid = redis.pid!;
    process.kill(pid, 'SIGSTOP');
    let resumed = false;
    cleanups.push(async () => {
      if (!resumed) process.kill(pid, 'SIGCONT');
    });
    // Past the TTL the key is gone for everyone else; keep Redis away long enough for the
    // unfenced worker to finish storing, writing the manifest and the catalog row.
    await sleep(ttl * 4);
    const whileCutOff = durable(await listFiles(config.dataDir));
    const catalog = await openCatalog(config.catalogPath);
    cleanups.push(() => catalog.close());
    const rowsWhileCutOff = (await catalog.listBackups({ databaseId: 'big' })).items;
    process.kill(pid, 'SIGCONT');
    resumed = true;

    expect(whileCutOff, 'artifact or manifest written after the lock expired').toEqual([]);
    expect(rowsWhileCutOff, 'catalog row written after the lock expired').toEqual([]);

    // Another worker takes the lock at once (the fenced one's key expired; its late renewal
    // cannot revive it).
    const other = new Redis(redis.url);
    cleanups.push(async () => other.disconnect());
    const locks = new DatabaseLocks(other, config.redis.prefix, 30_000);
    let held: HeldLock | null = null;
    await waitUntil(async () => (held = await locks.tryAcquire('big')), 10_000, 'another owner takes the lock');
    // While the other owner holds it, the fenced job gives up cleanly and writes nothing.
    await waitUntil(async () => (await producer.queues.backup.getJobState(jobId)) !== 'active', 30_000, 'the fenced job leaves active');
    await sleep(500);
    expect(durable(await listFiles(config.dataDir))).toEqual([]);
    expect((await catalog.listBackups({ databaseId: 'big' })).items).toEqual([]);
    await held!.release();

    // Then the job runs again and completes: one artifact with its manifest.
    await waitUntil(async () => (await producer.queues.backup.getJobState(jobId)) === 'completed', 120_000, 'the job completes after the lock is free');
    const files = durable(await listFiles(config.dataDir));
    expect(files.filter((f) => f.endsWith('.manifest.json'))).toHaveLength(1);
    expect(files.filter((f) => !f.endsWith('.manifest.json'))).toHaveLength(1);
  }, 240_000);
});

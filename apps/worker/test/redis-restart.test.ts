import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateFinanceDb } from '@mfb/demo-data';
import { JOB_NAMES, closeQueues, createQueues, createRedis, enqueue, type Queues } from '@mfb/jobs';
import { listFiles, tempDir, testConfig, waitUntil, spawnReadyWorkers } from './helpers.js';
import { ownRedis } from '@mfb/testkit';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

describe('Redis restart', () => {
  it('jobs waiting while Redis restarts are not lost; workers reconnect and finish them', async () => {
    const own = await ownRedis();
    cleanups.push(() => own.dispose());
    const tmp = await tempDir();
    cleanups.push(() => tmp.dispose());
    const dbs = [];
    for (let i = 0; i < 4; i++) {
      const path = join(tmp.dir, `r${i}.sqlite`);
      await generateFinanceDb(path, { sizeBytes: 256 * 1024, seed: i + 1 });
      dbs.push({ id: `r${i}`, path, targets: ['nas'] });
    }
    const { config, file } = await testConfig({ dir: tmp.dir, redisUrl: own.url, databases: dbs, targets: ['nas'], localKeepLast: 10 });
    const workers = await spawnReadyWorkers(2, file, cleanups);

    let redis = createRedis(config.redis, 'producer');
    let queues: Queues = createQueues(redis, config.redis.prefix);
    const ids: string[] = [];
    for (const db of dbs) ids.push(String((await enqueue(queues, 'backup', { databaseId: db.id, trigger: 'api' }, { delayMs: 4000 })).id));
    await closeQueues(queues);
    redis.disconnect();

    await own.stop();
    await new Promise((r) => setTimeout(r, 1500));
    await own.start();

    redis = createRedis(config.redis, 'producer');
    queues = createQueues(redis, config.redis.prefix);
    cleanups.push(async () => {
      await closeQueues(queues);
      redis.disconnect();
    });
    await waitUntil(
      async () => {
        for (const id of ids) if ((await (await queues.backup.getJob(id))?.getState()) !== 'completed') return false;
        // Each backup chains an upload to `nas`; wait for those too.
        return (await queues.upload.getJobCounts('completed')).completed === ids.length;
      },
      90_000,
      'all backups and uploads completed after the restart',
    );
    const files = await listFiles(config.dataDir);
    for (const db of dbs) expect(files.filter((f) => f.startsWith(`backups/${db.id}/`) && f.endsWith('.manifest.json'))).toHaveLength(1);
    const nas = await listFiles(join(tmp.dir, 'targets', 'nas'));
    expect(nas.filter((f) => f.endsWith('.manifest.json'))).toHaveLength(dbs.length);
    for (const n of JOB_NAMES) expect((await queues[n].getJobCounts('failed')).failed).toBe(0);
    expect(workers.every((w) => w.proc.exitCode === null)).toBe(true);
  }, 150_000);
});

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { JOB_NAMES, enqueue, type JobName, type Payloads } from '@mfb/jobs';
import { tempDir, testConfig, waitUntil, producerQueues, spawnReadyWorkers } from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

function randomPayload(name: JobName, databaseId: string): Payloads[JobName] {
  const backupId = '20261126T124800123Z-1a2b3c4d';
  switch (name) {
    case 'backup':
      return { databaseId, trigger: 'api' };
    case 'upload':
      return { databaseId, backupId, target: 'nas' };
    case 'prune':
      return { databaseId, target: 'local' };
    case 'restore':
      return { databaseId, backupId, mode: 'new', targetPath: '/nonexistent/x.db' };
    case 'verify':
      return { databaseId };
  }
}

describe('per-database serialization across worker processes', () => {
  it('3 processes x concurrency 4, 50 databases, 2,000 mixed jobs: same database never overlaps, different ones do', async () => {
    const tmp = await tempDir();
    cleanups.push(() => tmp.dispose());
    const dbs = Array.from({ length: 50 }, (_, i) => ({ id: `db${i}`, path: join(tmp.dir, `db${i}.sqlite`), targets: ['nas'] }));
    const { config, file } = await testConfig({ dir: tmp.dir, databases: dbs, targets: ['nas'], concurrency: 4 });
    const record = join(tmp.dir, 'intervals.jsonl');
    const args = ['--test-only-handler=sleep', '--test-only-sleep-ms=3', `--test-only-record=${record}`];
    await spawnReadyWorkers(3, file, cleanups, args);

    const producer = producerQueues(config);
    const { queues } = producer;
    cleanups.push(() => producer.dispose());

    const total = 2000;
    for (let i = 0; i < total; i += 250) {
      await Promise.all(
        Array.from({ length: Math.min(250, total - i) }, (_, k) => {
          const n = JOB_NAMES[(i + k) % JOB_NAMES.length]!;
          const db = dbs[Math.floor(Math.random() * dbs.length)]!.id;
          return enqueue(queues, n, randomPayload(n, db) as never);
        }),
      );
    }
    await waitUntil(
      async () => {
        let done = 0;
        for (const n of JOB_NAMES) done += (await queues[n].getJobCounts('completed')).completed ?? 0;
        return done >= total;
      },
      120_000,
      'all jobs completed',
    );

    const lines = (await readFile(record, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { databaseId: string; start: number; end: number; pid: number; outcome: string });
    expect(lines).toHaveLength(total);
    expect(new Set(lines.map((l) => l.pid)).size).toBe(3);
    const byDb = new Map<string, typeof lines>();
    for (const l of lines) byDb.set(l.databaseId, [...(byDb.get(l.databaseId) ?? []), l]);
    for (const [, list] of byDb) {
      list.sort((a, b) => a.start - b.start);
      for (let i = 1; i < list.length; i++) expect(list[i]!.start).toBeGreaterThanOrEqual(list[i - 1]!.end);
    }
    // Different databases did run at the same time.
    const all = [...lines].sort((a, b) => a.start - b.start);
    let overlaps = 0;
    for (let i = 1; i < all.length; i++) if (all[i]!.start < all[i - 1]!.end && all[i]!.databaseId !== all[i - 1]!.databaseId) overlaps++;
    expect(overlaps).toBeGreaterThan(0);
    for (const n of JOB_NAMES) expect((await queues[n].getJobCounts('failed')).failed).toBe(0);
  }, 180_000);
});

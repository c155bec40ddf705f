/**
 * Past one machine: two worker processes (as on two hosts) share one PostgreSQL catalog and
 * one Redis. Real backups, uploads and prunes of several databases run through them; the
 * shared catalog ends up with exactly what storage holds, and the job history of every job.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { enqueue } from '@mfb/jobs';
import { openMigratedCatalog } from '@mfb/runtime';
import { ensurePostgres } from '@mfb/testkit';
import { idle, listFiles, producerQueues, spawnReadyWorkers, tempDir, testConfig, waitUntil } from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

describe('PostgreSQL catalog shared by worker processes', () => {
  it('backups, uploads and prunes from two workers land in one catalog that matches storage', { timeout: 120_000 }, async () => {
    const pgUrl = await ensurePostgres();
    const schema = `t_${randomBytes(6).toString('hex')}`;
    cleanups.push(async () => {
      const c = new pg.Client({ connectionString: pgUrl });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    });
    const tmp = await tempDir();
    cleanups.push(() => tmp.dispose());
    const dbs = ['a', 'b', 'c'].map((id) => ({ id, path: join(tmp.dir, `${id}.db`), targets: ['nas'], keepLast: 2 }));
    for (const d of dbs) {
      const db = new Database(d.path);
      db.exec('CREATE TABLE tx (id INTEGER PRIMARY KEY, memo TEXT)');
      const ins = db.prepare('INSERT INTO tx (memo) VALUES (?)');
      for (let i = 0; i < 300; i++) ins.run(`${d.id} payment ${i}`);
      db.close();
    }
    const { config, file } = await testConfig({ dir: tmp.dir, databases: dbs, targets: ['nas'], localKeepLast: 2, catalogUrl: `${pgUrl}?schema=${schema}` });
    await spawnReadyWorkers(2, file, cleanups);
    const producer = producerQueues(config);
    cleanups.push(() => producer.dispose());

    for (let round = 0; round < 3; round++) {
      await Promise.all(dbs.map((d) => enqueue(producer.queues, 'backup', { databaseId: d.id, trigger: 'api' })));
      await waitUntil(async () => (await producer.queues.backup.getJobCounts('completed')).completed === (round + 1) * dbs.length, 60_000, `round ${round} backups`);
    }
    const catalog = await openMigratedCatalog(config);
    cleanups.push(() => catalog.close());
    // The worker writes a job's history right after BullMQ completes it, and chains follow-ups:
    // wait for the queues to drain and for every database's 3 backups and 3 uploads on record.
    let seen = '';
    await waitUntil(
      async () => {
        await idle(producer.queues).catch(() => undefined);
        const jobs = await catalog.listJobs({ limit: 500 });
        const counts = ['backup', 'upload'].map((n) => jobs.filter((j) => j.name === n && j.state === 'completed').length);
        seen = `completed backup/upload jobs in the history: ${counts.join('/')}; failed: ${jobs.filter((j) => j.state === 'failed').map((j) => `${j.name} ${j.jobId}: ${j.error}`).join('; ')}`;
        return counts.every((c) => c >= 3 * dbs.length);
      },
      90_000,
      'job history of every backup and upload',
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}: ${seen}`);
    });
    await idle(producer.queues);
    expect(catalog.constructor.name).toBe('PostgresCatalog');
    for (const d of dbs) {
      const live = (await catalog.listBackups({ databaseId: d.id, status: 'available' })).items;
      // keepLast 2 on both the primary and the target: the third backup pruned everywhere.
      expect(live).toHaveLength(2);
      for (const b of live) expect(b.locations.filter((l) => l.deletedAt === null).map((l) => l.target).sort()).toEqual(['local', 'nas']);
      expect((await catalog.listBackups({ databaseId: d.id, status: 'deleted' })).items).toHaveLength(1);
      // Storage holds exactly the live copies (artifact + manifest + pin-less).
      const local = (await listFiles(join(config.dataDir, 'backups', d.id))).filter((f) => f.endsWith('.manifest.json'));
      const nas = (await listFiles(join(tmp.dir, 'targets', 'nas', d.id))).filter((f) => f.endsWith('.manifest.json'));
      expect(local.map((f) => f.split('.')[0]).sort()).toEqual(live.map((b) => b.backupId).sort());
      expect(nas.map((f) => f.split('.')[0]).sort()).toEqual(live.map((b) => b.backupId).sort());
      const jobs = await catalog.listJobs({ databaseId: d.id, limit: 100 });
      expect(jobs.filter((j) => j.name === 'backup' && j.state === 'completed')).toHaveLength(3);
      expect(jobs.filter((j) => j.name === 'upload' && j.state === 'completed')).toHaveLength(3);
    }
  });
});

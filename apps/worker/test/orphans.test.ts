/**
 * Defect 7 in the worker: a backup job deletes, under its database lock, the artifacts of that
 * database that have no manifest and are older than `worker.orphanArtifactAgeMs`.
 */
import { utimes, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { newBackupId } from '@mfb/backup';
import { generateFinanceDb } from '@mfb/demo-data';
import { inProcessRunner, listFiles, tempDir, testConfig } from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

describe('orphan artifacts (defect 7)', () => {
  it('a backup job deletes old manifest-less artifacts of its database in primary storage, keeps young ones', async () => {
    const tmp = await tempDir('mfb-orphans-');
    cleanups.push(() => tmp.dispose());
    const dbPath = join(tmp.dir, 'db05.sqlite');
    await generateFinanceDb(dbPath, { sizeBytes: 128 * 1024 });
    const { config } = await testConfig({ dir: tmp.dir, databases: [{ id: 'db05', path: dbPath }] });
    const { queues, processor } = await inProcessRunner(config, cleanups);
    // What a worker killed between artifact and manifest leaves (seen: db05/<id>.sqlite.gz.enc).
    const root = join(config.dataDir, 'backups');
    await mkdir(join(root, 'db05'), { recursive: true });
    const old = `db05/${newBackupId(new Date(Date.now() - 3 * 3600 * 1000))}.sqlite.gz.enc`;
    const young = `db05/${newBackupId()}.sqlite.gz.enc`;
    for (const k of [old, young]) await writeFile(join(root, k), Buffer.alloc(2048, 1));
    const past = new Date(Date.now() - 2 * 3600 * 1000);
    await utimes(join(root, old), past, past);

    const job = await queues.backup.add('backup', { databaseId: 'db05', trigger: 'manual' }, { jobId: 'backup-orphans' });
    const res = (await processor(job)) as { artifactKey: string };
    const files = await listFiles(root);
    expect(files).not.toContain(old);
    expect(files).toContain(young);
    expect(files).toContain(res.artifactKey);
  }, 60_000);
});

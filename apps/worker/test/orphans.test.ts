/**
 * Defect 7 in the worker: a backup job deletes, under its database lock, the artifacts of that
 * database that have no manifest and are older than `worker.orphanArtifactAgeMs`. And the other
 * half of a killed writer: a complete copy (artifact + manifest) that no job recorded is adopted
 * by the next backup (primary) or upload (its target) of that database.
 */
import { copyFile, utimes, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MANIFEST_SUFFIX, newBackupId } from '@mfb/backup';
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

  it('an upload job records a complete copy on its target that a killed upload left unrecorded (Redis flushed, job gone)', async () => {
    const tmp = await tempDir('mfb-adopt-');
    cleanups.push(() => tmp.dispose());
    const dbPath = join(tmp.dir, 'a.sqlite');
    await generateFinanceDb(dbPath, { sizeBytes: 128 * 1024 });
    const { config } = await testConfig({ dir: tmp.dir, databases: [{ id: 'a', path: dbPath, targets: ['nas'] }], targets: ['nas'] });
    const { catalog, queues, processor } = await inProcessRunner(config, cleanups);
    const backup = async (n: number) => (await processor(await queues.backup.add('backup', { databaseId: 'a', trigger: 'manual' }, { jobId: `backup-${n}` }))) as { backupId: string; artifactKey: string };
    const lost = await backup(1);
    // What an upload killed after storing the manifest, before recording the copy, leaves on the target.
    const local = join(config.dataDir, 'backups');
    const nas = join(tmp.dir, 'targets', 'nas');
    await mkdir(join(nas, 'a'), { recursive: true });
    for (const k of [lost.artifactKey, lost.artifactKey + MANIFEST_SUFFIX]) await copyFile(join(local, k), join(nas, k));
    expect((await catalog.getBackup(lost.backupId))!.locations.map((l) => l.target)).toEqual(['local']);

    const next = await backup(2);
    await processor(await queues.upload.add('upload', { databaseId: 'a', backupId: next.backupId, target: 'nas' }, { jobId: 'upload-next' }));
    const rec = await catalog.getBackup(lost.backupId);
    expect(rec!.locations.filter((l) => l.deletedAt === null).map((l) => l.target).sort()).toEqual(['local', 'nas']);
    expect((await catalog.getBackup(next.backupId))!.locations.map((l) => l.target).sort()).toEqual(['local', 'nas']);
  }, 60_000);
});

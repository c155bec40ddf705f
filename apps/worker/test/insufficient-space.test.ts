/**
 * INSUFFICIENT_SPACE: before a backup, the free space of the scratch directory and of the
 * primary storage's volume (real, small tmpfs mounts) is checked against the database's last
 * snapshot size from the catalog; too little fails the job at once (permanent, one attempt),
 * before anything is written. Root only (mount); skipped, saying so, otherwise.
 */

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { Manifest } from '@mfb/backup';
import { openCatalog } from '@mfb/catalog';
import { generateFinanceDb } from '@mfb/demo-data';
import { JOB_NAMES, enqueue } from '@mfb/jobs';
import { createLogger } from '@mfb/observability';
import { canMountTmpfs, mountTmpfs } from '@mfb/testkit';
import { startWorker } from '../src/runtime.js';
import { fakeManifest, finished, listFiles, tempDir, testConfig } from './helpers.js';

const canMount = canMountTmpfs('apps/worker/test/insufficient-space.test.ts');

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

const MIB = 1024 * 1024;

/** A past backup of `databaseId` in the catalog whose snapshot was `snapshotBytes` big. */
const pastBackup = (databaseId: string, snapshotBytes: number, n: number): Manifest =>
  fakeManifest(databaseId, new Date(Date.now() - 3600_000), n, { artifact: Math.floor(snapshotBytes / 4), snapshot: snapshotBytes });

describe.skipIf(!canMount)('INSUFFICIENT_SPACE (real tmpfs)', () => {
  it('fails a backup before any work when the scratch or the primary volume cannot hold the last snapshot; runs when they can', async () => {
    const tmp = await tempDir('mfb-space-');
    cleanups.push(() => tmp.dispose());
    // only c is really backed up; a and b fail before their (absent) files are opened
    const dbPath = join(tmp.dir, 'c.sqlite');
    await generateFinanceDb(dbPath, { sizeBytes: 256 * 1024, journalMode: 'wal' });
    const { config } = await testConfig({
      dir: tmp.dir,
      databases: [{ id: 'a', path: join(tmp.dir, 'a.sqlite') }, { id: 'b', path: join(tmp.dir, 'b.sqlite') }, { id: 'c', path: dbPath }],
      attempts: { backup: 3 },
      backoffMs: 100,
    });
    // scratch: 48 MiB; primary storage: 24 MiB (separate volumes)
    const unmountScratch = mountTmpfs(config.tmpDir, { sizeKiB: 48 * 1024 });
    cleanups.push(async () => unmountScratch());
    const storageDir = fileURLToPath(config.storageUrl);
    const unmountStorage = mountTmpfs(storageDir, { sizeKiB: 24 * 1024 });
    cleanups.push(async () => unmountStorage());

    const catalog = await openCatalog(config.catalogPath);
    // a: last snapshot 40 MiB (scratch holds it, the 24 MiB storage volume does not);
    // b: 60 MiB (neither); c: 1 MiB (both).
    for (const [i, [id, size]] of ([['a', 40 * MIB], ['b', 60 * MIB], ['c', MIB]] as const).entries()) {
      const m = pastBackup(id, size, i);
      await catalog.recordBackup(m, { target: 'local', artifactKey: m.artifactKey });
    }
    const runtime = await startWorker({ config, catalog, log: createLogger('worker-test', { level: 'silent' }), http: false });
    cleanups.push(async () => {
      for (const n of JOB_NAMES) await runtime.queues[n].obliterate({ force: true }).catch(() => undefined);
      await runtime.close(1000);
      await catalog.close();
    });

    for (const [id, where] of [['a', storageDir], ['b', storageDir]] as const) {
      const job = await finished(runtime.queues, await enqueue(runtime.queues, 'backup', { databaseId: id, trigger: 'api' }));
      expect(await job.getState()).toBe('failed');
      expect(job.attemptsMade, `${id}: not retried`).toBe(1);
      expect(job.failedReason).toMatch(/^INSUFFICIENT_SPACE: not enough free space for a backup in the primary storage /);
      expect(job.failedReason).toContain(where);
    }
    expect(await listFiles(config.tmpDir), 'nothing written to scratch').toEqual([]);
    expect((await listFiles(storageDir)).filter((f) => !f.startsWith('c/')), 'nothing written to storage').toEqual([]);
    expect((await catalog.listBackups({ databaseId: 'a' })).items).toHaveLength(1);

    const ok = await finished(runtime.queues, await enqueue(runtime.queues, 'backup', { databaseId: 'c', trigger: 'api' }));
    expect(await ok.getState(), String(ok.failedReason)).toBe('completed');
    expect((await catalog.listBackups({ databaseId: 'c' })).items).toHaveLength(2);
  });

  it('names the scratch directory when it is the one too small', async () => {
    const tmp = await tempDir('mfb-space-');
    cleanups.push(() => tmp.dispose());
    const { config } = await testConfig({ dir: tmp.dir, databases: [{ id: 'a', path: join(tmp.dir, 'a.sqlite') }] });
    const unmount = mountTmpfs(config.tmpDir, { sizeKiB: 8 * 1024 });
    cleanups.push(async () => unmount());
    const catalog = await openCatalog(config.catalogPath);
    cleanups.push(() => catalog.close());
    const m = pastBackup('a', 2 * MIB, 9);
    await catalog.recordBackup(m, { target: 'local', artifactKey: m.artifactKey });
    const { checkBackupSpace } = await import('@mfb/runtime');
    await expect(checkBackupSpace(config, catalog, 'a')).rejects.toMatchObject({
      code: 'INSUFFICIENT_SPACE',
      permanent: true,
      message: expect.stringContaining(`the scratch directory ${config.tmpDir}`),
      details: { dir: config.tmpDir, neededBytes: Math.ceil(2 * MIB * 1.1) + 16 * MIB },
    });
    // The streaming snapshot (the default method) writes no scratch copy: a small tmpDir is no reason to refuse.
    await expect(checkBackupSpace(config, catalog, 'a', { scratch: false })).resolves.toBeUndefined();
  });
});

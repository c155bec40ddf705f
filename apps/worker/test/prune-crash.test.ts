
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { manifestKeyFor, pinKeyFor, type Manifest } from '@mfb/backup';
import { openCatalog } from '@mfb/catalog';
import { enqueue } from '@mfb/jobs';
import { fakeManifest, listFiles, producerQueues, spawnWorker, stopAll, tempDir, testConfig, waitUntil } from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

const HOUR = 3600_000;

const manifest = (createdAt: Date, n: number): Manifest => fakeManifest('a', createdAt, n, { artifact: 100 + n });

const STEPS = ['manifest-delete', 'artifact-delete', 'marker-delete', 'catalog-mark'] as const;

/**
 * One prune killed (SIGKILL, by the worker's test-only switch) right after `step` of the
 * deletion protocol, then a prune by a fresh worker whose config now keeps everything
 * (keepLast 20): the copies the killed run had committed to are half gone from storage, so
 * they must be finished, not kept by the new plan (a kept backup without its manifest, or
 * a catalog entry pointing at nothing). Pins and kept backups survive throughout.
 */
async function crashScenario(step: (typeof STEPS)[number]): Promise<void> {
  const tmp = await tempDir('mfb-prune-crash-');
  cleanups.push(() => tmp.dispose());
  const { config, file } = await testConfig({ dir: tmp.dir, databases: [{ id: 'a', path: join(tmp.dir, 'a.sqlite'), keepLast: 2 }], lockTtlMs: 1500 });
  const producer = producerQueues(config);
  cleanups.push(() => producer.dispose());
  const catalog = await openCatalog(config.catalogPath);
  cleanups.push(() => catalog.close());
  const root = join(config.dataDir, 'backups');
  const put = async (key: string, body: string): Promise<void> => {
    await mkdir(dirname(join(root, key)), { recursive: true });
    await writeFile(join(root, key), body);
  };
  // 8 backups an hour apart; keepLast 2 keeps the 2 newest, the pin keeps #1: 5 to delete.
  // #2 and #4 carry stale pin markers (an unpin that crashed before deleting its marker).
  const t0 = Date.now() - 20 * HOUR;
  const ms = Array.from({ length: 8 }, (_, i) => manifest(new Date(t0 + i * HOUR), i));
  for (const m of ms) {
    await put(m.artifactKey, 'x'.repeat(m.artifact.sizeBytes));
    await put(manifestKeyFor(m.artifactKey), JSON.stringify(m));
    await catalog.recordBackup(m, { target: 'local', artifactKey: m.artifactKey });
  }
  await put(pinKeyFor(ms[1]!.artifactKey), '{}');
  await catalog.setPinned(ms[1]!.backupId, true);
  for (const i of [2, 4]) await put(pinKeyFor(ms[i]!.artifactKey), '{}');
  const doomed = new Set([0, 2, 3, 4, 5].map((i) => ms[i]!.backupId));

  // The 2nd manifest/artifact/marker delete (other copies are mid-way too: 8 at once); the
  // catalog records the whole batch of 5 in one transaction, so its 1st mark.
  const killed = spawnWorker(file, [`--test-only-kill-after=${step}:${step === 'catalog-mark' ? 1 : 2}`]);
  cleanups.push(() => stopAll([killed]));
  await killed.waitForLog((l) => l.msg === 'worker ready', 60_000);
  const job = await enqueue(producer.queues, 'prune', { databaseId: 'a', target: 'local' });
  await waitUntil(async () => killed.proc.exitCode !== null || killed.proc.signalCode !== null, 60_000, `${step}: the switch kills the worker`);
  expect(killed.proc.signalCode, `${step}: the switch killed the worker`).toBe('SIGKILL');

  // The killed run committed to its deletions: a pin now is refused, nothing is pinned.
  const committed = await catalog.listDeletingCopies({ databaseId: 'a', target: 'local' });
  if (step !== 'catalog-mark') {
    expect(committed.length, `${step}: copies left mid-deletion`).toBeGreaterThan(0);
    await expect(catalog.setPinned(committed[0]!.backupId, true)).rejects.toMatchObject({ code: 'BACKUP_DELETING' });
  }
  for (const c of committed) expect(doomed.has(c.backupId), `${step}: only planned copies are being deleted`).toBe(true);

  // The next run keeps everything by policy, yet finishes what the killed run began.
  const settings = JSON.parse(await readFile(file, 'utf8')) as { databases: Array<{ retention: unknown }> };
  settings.databases[0]!.retention = { keepLast: 20 };
  await writeFile(file, JSON.stringify(settings));
  const survivor = spawnWorker(file);
  cleanups.push(() => stopAll([survivor]));
  // The killed job itself runs again once BullMQ sees it stalled and its lock expired.
  await waitUntil(async () => (await producer.queues.prune.getJobState(String(job.id))) === 'completed', 60_000, `${step}: the killed prune completes on the survivor`);

  expect(await catalog.listDeletingCopies(), `${step}: no copy left mid-deletion`).toEqual([]);
  const live = new Set((await catalog.listBackups({ databaseId: 'a', target: 'local', limit: 100 })).items.map((b) => b.backupId));
  const files = new Set(await listFiles(root));
  for (const m of ms) {
    const inCatalog = live.has(m.backupId);
    // storage and catalog agree, copy by copy
    expect(files.has(m.artifactKey), `${step}: artifact of ${m.backupId}`).toBe(inCatalog);
    expect(files.has(manifestKeyFor(m.artifactKey)), `${step}: manifest of ${m.backupId}`).toBe(inCatalog);
    // a copy the killed run committed to is gone; every other one is kept
    if (committed.some((c) => c.backupId === m.backupId)) expect(inCatalog, `${step}: ${m.backupId} finished`).toBe(false);
    if (!doomed.has(m.backupId)) expect(inCatalog, `${step}: kept ${m.backupId}`).toBe(true);
  }
  // markers only beside live copies; the pinned backup keeps its marker and its pin
  for (const f of files) if (f.endsWith('.pin.json')) expect(live.has(ms.find((m) => pinKeyFor(m.artifactKey) === f)!.backupId), `${step}: marker ${f}`).toBe(true);
  expect(files.has(pinKeyFor(ms[1]!.artifactKey))).toBe(true);
  expect((await catalog.getBackup(ms[1]!.backupId))!.pinned).toBe(true);
  expect([...files].every((f) => f.endsWith('.sqlite.gz') || f.endsWith('.manifest.json') || f.endsWith('.pin.json')), `${step}: no stray files: ${[...files].join(', ')}`).toBe(true);
}

describe('prune killed at each step of the deletion protocol', () => {
  it('a rerun leaves storage and catalog in agreement; nothing pinned or kept is gone', async () => {
    // The four kills in parallel, each with its own data, catalog and Redis prefix.
    await Promise.all(STEPS.map((s) => crashScenario(s)));
  }, 120_000);
});

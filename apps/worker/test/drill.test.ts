/**
 * Restore drills: the scheduled verify restores the newest backup of EVERY target to scratch
 * and records "last verified restore" per database and target (catalog, metrics). Real
 * worker runtime, engine, catalog, local storages and Redis.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openCatalog, type Catalog } from '@mfb/catalog';
import { generateFinanceDb } from '@mfb/demo-data';
import { JOB_NAMES, enqueue, enqueueBackupNow, jobPayload, schedulerId } from '@mfb/jobs';
import { createLogger, createMetrics } from '@mfb/observability';
import { loadDrillMetrics } from '../src/handlers/verify.handler.js';
import { startWorker, type WorkerRuntime } from '../src/runtime.js';
import { finished, idle, tempDir, testConfig } from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

async function setup(): Promise<{ runtime: WorkerRuntime; catalog: Catalog; dir: string }> {
  const tmp = await tempDir('mfb-drill-');
  cleanups.push(() => tmp.dispose());
  const dbPath = join(tmp.dir, 'a.sqlite');
  await generateFinanceDb(dbPath, { sizeBytes: 256 * 1024 });
  const { config } = await testConfig({ dir: tmp.dir, databases: [{ id: 'a', path: dbPath, targets: ['nas', 'offsite'] }], targets: ['nas', 'offsite'] });
  const catalog = await openCatalog(config.catalogPath);
  await catalog.migrate();
  const runtime = await startWorker({ config, catalog, log: createLogger('drill-test', { level: (process.env.DRILL_LOG as 'info') ?? 'silent' }), http: false });
  cleanups.push(async () => {
    for (const n of JOB_NAMES) await runtime.queues[n].obliterate({ force: true }).catch(() => undefined);
    await runtime.close(1000);
    await catalog.close();
  });
  return { runtime, catalog, dir: tmp.dir };
}

async function metric(runtime: WorkerRuntime, name: string): Promise<Array<{ labels: Record<string, unknown>; value: number }>> {
  const m = await runtime.metrics.registry.getSingleMetric(name)!.get();
  return m.values.map((v) => ({ labels: v.labels, value: v.value }));
}

describe('restore drills (real worker, Redis, storage)', () => {
  it('the drill is scheduled from the config (weekly by default) as a verify job with drill: true', async () => {
    const { runtime, catalog } = await setup();
    expect(await catalog.getSchedule('a', 'restore-drill')).toMatchObject({ job: 'verify', cron: '30 4 * * 0', timezone: 'UTC', origin: 'config', paused: false });
    const schedulers = await runtime.queues.verify.getJobSchedulers(0, -1, true);
    const s = schedulers.find((j) => (j.key ?? j.id) === schedulerId({ databaseId: 'a', scheduleId: 'restore-drill' }));
    // Scheduled jobs carry no data; the worker derives the payload from the scheduler id.
    expect(jobPayload('verify', { data: s?.template?.data ?? {}, repeatJobKey: s?.key })).toEqual({ databaseId: 'a', drill: true });
  });

  it('a drill after a backup records success per target; a corrupted copy on one target records failure there only', async () => {
    const { runtime, catalog, dir } = await setup();
    const q = runtime.queues;
    await finished(q, (await enqueueBackupNow(q, { databaseId: 'a' })).job);
    await idle(q);
    const backup = (await catalog.listBackups({ databaseId: 'a' })).items[0]!;
    expect(backup.locations.filter((l) => l.deletedAt === null).map((l) => l.target).sort()).toEqual(['local', 'nas', 'offsite']);
    // Row counts are recorded at backup time: the drill compares them.
    expect(Object.keys(backup.manifest.snapshot.tables ?? {}).length).toBeGreaterThan(0);

    const ok = await finished(q, await enqueue(q, 'verify', { databaseId: 'a', drill: true }));
    expect(await ok.getState()).toBe('completed');
    expect((ok.returnvalue as { drill: Array<{ target: string; outcome: string }> }).drill.map((d) => [d.target, d.outcome])).toEqual([
      ['local', 'ok'],
      ['nas', 'ok'],
      ['offsite', 'ok'],
    ]);
    const first = await catalog.listDrills('a');
    expect(first.map((d) => [d.target, d.lastOutcome, d.lastVerifiedBackupId])).toEqual([
      ['local', 'ok', backup.backupId],
      ['nas', 'ok', backup.backupId],
      ['offsite', 'ok', backup.backupId],
    ]);
    expect((await metric(runtime, 'mfb_last_verified_restore_timestamp_seconds')).map((v) => v.labels.target).sort()).toEqual(['local', 'nas', 'offsite']);

    // Flip one byte of the copy on nas: same size, another SHA-256.
    const nasKey = backup.locations.find((l) => l.target === 'nas')!.artifactKey;
    const fh = await open(join(dir, 'targets', 'nas', nasKey), 'r+');
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, 100);
    b[0] = b[0]! ^ 0x01;
    await fh.write(b, 0, 1, 100);
    await fh.close();

    const bad = await finished(q, await enqueue(q, 'verify', { databaseId: 'a', drill: true }));
    expect(await bad.getState()).toBe('failed');
    expect(bad.failedReason).toContain('nas: BACKUP_CHECKSUM_MISMATCH');
    expect(bad.attemptsMade).toBe(1); // permanent: not retried
    const second = await catalog.listDrills('a');
    const byTarget = Object.fromEntries(second.map((d) => [d.target, d]));
    expect(byTarget['nas']).toMatchObject({ lastOutcome: 'failed', lastErrorCode: 'BACKUP_CHECKSUM_MISMATCH', lastBackupId: backup.backupId });
    // The last verified restore of nas is still the first drill's.
    expect(byTarget['nas']!.lastVerifiedAt).toBe(first.find((d) => d.target === 'nas')!.lastVerifiedAt);
    expect(byTarget['local']).toMatchObject({ lastOutcome: 'ok', lastErrorCode: null });
    expect(byTarget['offsite']).toMatchObject({ lastOutcome: 'ok', lastErrorCode: null });
    expect(Date.parse(byTarget['offsite']!.lastVerifiedAt!)).toBeGreaterThan(Date.parse(first.find((d) => d.target === 'offsite')!.lastVerifiedAt!));
    // (Every database and target starts at 0 for both outcomes.)
    const outcomes = (await metric(runtime, 'mfb_restore_drills_total')).filter((v) => v.labels.outcome === 'failed' && v.value > 0);
    expect(outcomes).toEqual([{ labels: { database: 'a', target: 'nas', outcome: 'failed' }, value: 1 }]);

    // A restarted worker has the gauge from the catalog at once (nas: the first drill's time).
    const fresh = createMetrics();
    await loadDrillMetrics(catalog, fresh);
    const gauge = (await fresh.registry.getSingleMetric('mfb_last_verified_restore_timestamp_seconds')!.get()).values;
    expect(gauge.find((v) => v.labels.target === 'nas')!.value).toBe(Date.parse(first.find((d) => d.target === 'nas')!.lastVerifiedAt!) / 1000);
    expect(gauge).toHaveLength(3);
  });
});

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writePinMarker } from '@mfb/backup';
import { openCatalog } from '@mfb/catalog';
import type { Catalog } from '@mfb/catalog';
import { generateFinanceDb } from '@mfb/demo-data';
import { JOB_NAMES, createRedis, enqueue, enqueueBackupNow, getJobStatus } from '@mfb/jobs';
import { createLogger } from '@mfb/observability';
import { openStorage } from '@mfb/storage';
import { startWorker, type WorkerRuntime } from '../src/runtime.js';
import { finished, idle, listFiles, tempDir, testConfig, waitUntil } from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

async function setup(): Promise<{ runtime: WorkerRuntime; catalog: Catalog; dir: string; config: Awaited<ReturnType<typeof testConfig>>['config'] }> {
  const tmp = await tempDir();
  cleanups.push(() => tmp.dispose());
  const dbPath = join(tmp.dir, 'a.sqlite');
  await generateFinanceDb(dbPath, { sizeBytes: 512 * 1024 });
  const { config } = await testConfig({
    dir: tmp.dir,
    databases: [
      // The database's own retention (2) wins over the primary storage's default (5).
      { id: 'a', path: dbPath, targets: ['nas'], keepLast: 2 },
      { id: 'missing', path: join(tmp.dir, 'does-not-exist.sqlite') },
    ],
    targets: ['nas'],
    localKeepLast: 5,
  });
  const catalog = await openCatalog(config.catalogPath);
  await catalog.migrate();
  const runtime = await startWorker({ config, catalog, log: createLogger('worker-test', { level: 'silent' }) });
  cleanups.push(async () => {
    for (const n of JOB_NAMES) await runtime.queues[n].obliterate({ force: true }).catch(() => undefined);
    await runtime.close(1000);
    await catalog.close();
  });
  return { runtime, catalog, dir: tmp.dir, config };
}

describe('worker runtime (real engine, catalog, storage, Redis)', () => {
  it('backup -> upload per target -> prune, with retention, history, progress and metrics', async () => {
    const { runtime, catalog, dir, config } = await setup();
    const q = runtime.queues;
    for (let i = 0; i < 3; i++) {
      const { job } = await enqueueBackupNow(q, { databaseId: 'a' });
      const done = await finished(q, job);
      expect(await done.getState()).toBe('completed');
      expect(done.progress).toMatchObject({ bytesDone: expect.any(Number), bytesTotal: expect.any(Number) });
      await idle(q);
      if (i === 0) {
        // A stale pin marker (an unpin that crashed before deleting it) beside the first
        // backup, which is not pinned in the catalog: prune deletes it with the artifact.
        const first = (await catalog.listBackups({ databaseId: 'a', limit: 1 })).items[0]!;
        await writePinMarker(openStorage(config.storageUrl), first.locations.find((l) => l.target === 'local')!.artifactKey, first.backupId);
      }
    }
    const all = await catalog.listBackups({ databaseId: 'a', limit: 10 });
    expect(all.items).toHaveLength(3);
    expect((await catalog.listBackups({ databaseId: 'a', target: 'local', status: 'available' })).items).toHaveLength(2);
    expect((await catalog.listBackups({ databaseId: 'a', target: 'nas', status: 'available' })).items).toHaveLength(2);
    const local = (await listFiles(join(config.dataDir, 'backups'))).filter((f) => f.endsWith('.manifest.json'));
    const nas = (await listFiles(join(dir, 'targets', 'nas'))).filter((f) => f.endsWith('.manifest.json'));
    expect(local).toHaveLength(2);
    expect(nas).toHaveLength(2);
    expect((await listFiles(join(config.dataDir, 'backups'))).filter((f) => f.endsWith('.pin.json'))).toEqual([]);
    const oldest = all.items[all.items.length - 1]!;
    expect(oldest.locations.every((l) => l.deletedAt !== null)).toBe(true);

    const history = await catalog.listJobs({ databaseId: 'a', limit: 100 });
    expect(history.filter((h) => h.queue === 'backup' && h.state === 'completed')).toHaveLength(3);
    expect(history.filter((h) => h.queue === 'upload' && h.state === 'completed')).toHaveLength(3);

    // verify (newest) and restore into a new file through the queue
    const v = await finished(q, await enqueue(q, 'verify', { databaseId: 'a' }));
    expect(v.returnvalue).toMatchObject({ integrity: 'ok' });
    const target = join(dir, 'restored.sqlite');
    const newest = all.items[0]!;
    const r = await finished(q, await enqueue(q, 'restore', { databaseId: 'a', backupId: newest.backupId, mode: 'new', targetPath: target, from: 'nas' }));
    expect(await r.getState()).toBe('completed');
    expect(existsSync(target)).toBe(true);

    const res = await fetch(`http://127.0.0.1:${runtime.httpPort}/metrics`);
    const text = await res.text();
    expect(text).toMatch(/mfb_jobs_total\{queue="backup",outcome="completed"\} 3/);
    expect(text).toMatch(/mfb_last_backup_success_timestamp_seconds\{database="a",target="local"\} \d/);
    expect(text).toMatch(/mfb_last_backup_success_timestamp_seconds\{database="a",target="nas"\} \d/);
    expect(text).toMatch(/mfb_last_backup_attempt_timestamp_seconds\{database="a",target="nas"\} \d/);
    expect(text).toMatch(/mfb_consecutive_failures\{queue="upload",database="a",target="nas"\} 0\n/);
    for (const stage of ['snapshot', 'compress_encrypt', 'store', 'upload', 'download', 'restore_check']) {
      expect(text).toMatch(new RegExp(`mfb_stage_duration_seconds_count\\{stage="${stage}"\\} [1-9]`));
    }
    // the generated database compresses: ratio of snapshot to artifact bytes above 1
    expect(Number(/mfb_backup_compression_ratio\{database="a"\} ([\d.]+)/.exec(text)?.[1])).toBeGreaterThan(1);
    expect(text).toMatch(/mfb_read_bytes_total\{queue="restore"\} [1-9]/);
    expect(text).toMatch(/mfb_written_bytes_total\{queue="backup"\} [1-9]/);
    expect(text).toMatch(/mfb_disk_free_bytes\{volume="scratch"\} [1-9]/);
    expect(text).toMatch(/mfb_disk_size_bytes\{volume="local"\} [1-9]/);
    // no family without samples (no lock waits or disk-full failures happened here)
    expect(text).not.toContain('mfb_disk_full_total');
    expect(text).not.toContain('mfb_http_request_duration_seconds');
    expect(text).toMatch(/mfb_queue_depth\{queue="backup",state="completed"\} 3/);
    expect(text).toMatch(/mfb_job_duration_seconds_bucket\{le="[^"]+",queue="upload"\}/);
    // storage usage from the catalog after backup, upload and prune: two copies on each
    const bytesOf = async (t: string) =>
      (await catalog.listBackups({ databaseId: 'a', target: t })).items.reduce((n, b) => n + b.sizeBytes, 0);
    expect(text).toContain(`mfb_storage_bytes{database="a",target="local"} ${await bytesOf('local')}`);
    expect(text).toContain(`mfb_storage_bytes{database="a",target="nas"} ${await bytesOf('nas')}`);
    expect(text).toMatch(/mfb_storage_backups\{database="a",target="nas"\} 2\n/);
    expect(text).toMatch(/mfb_storage_bytes\{database="missing",target="local"\} 0\n/);
    expect(text).not.toMatch(/backup-[0-9a-f]{8}-/);
    expect((await fetch(`http://127.0.0.1:${runtime.httpPort}/health`)).status).toBe(200);
  });

  it('fails at once (UnrecoverableError) for a bad payload, an unknown database and a missing source file', async () => {
    const { runtime, catalog } = await setup();
    const q = runtime.queues;
    const bad = await finished(q, await q.backup.add('backup', { databaseId: 'a' } as never, { jobId: 'backup-bad' }));
    const unknown = await finished(q, await enqueue(q, 'verify', { databaseId: 'nope' }));
    const missing = await finished(q, await enqueue(q, 'backup', { databaseId: 'missing', trigger: 'api' }));
    for (const j of [bad, unknown, missing]) {
      expect(await j.getState()).toBe('failed');
      expect(j.attemptsMade).toBe(1);
    }
    expect(bad.failedReason).toMatch(/JOBS_INVALID_PAYLOAD.*\/trigger/);
    expect(unknown.failedReason).toMatch(/DATABASE_NOT_FOUND/);
    expect(missing.opts.attempts).toBe(3);
    expect((await getJobStatus(q, String(missing.id)))?.state).toBe('failed');
    expect((await catalog.listJobs({ databaseId: 'missing' }))[0]).toMatchObject({ state: 'failed', attempts: 1 });
    const text = await runtime.metrics.render();
    expect(text).toMatch(/mfb_job_failures_total\{queue="backup",code="JOBS_INVALID_PAYLOAD"\} 1\n/);
    expect(text).toMatch(/mfb_job_failures_total\{queue="verify",code="DATABASE_NOT_FOUND"\} 1\n/);
    expect(text).toMatch(/mfb_job_failures_total\{queue="backup",code="BACKUP_SOURCE_NOT_FOUND"\} 1\n/);
    expect(text).toMatch(/mfb_consecutive_failures\{queue="backup",database="missing",target="local"\} 1\n/);
    expect(text).toMatch(/mfb_last_backup_attempt_timestamp_seconds\{database="missing",target="local"\} \d/);
    expect(text).not.toMatch(/mfb_last_backup_success_timestamp_seconds\{database="missing"/);
  });

  it('waits for a locked database (lock wait metric), dedups "backup now" until the backup starts', async () => {
    const { runtime, config } = await setup();
    const q = runtime.queues;
    const redis = createRedis(config.redis, 'producer');
    cleanups.push(async () => redis.disconnect());
    const lockKey = `${config.redis.prefix}:mfb:lock:db:a`;
    await redis.set(lockKey, 'someone-else', 'PX', 60_000);
    const first = await enqueueBackupNow(q, { databaseId: 'a' });
    await waitUntil(async () => (await runtime.metrics.lockWaitsTotal.get()).values.some((v) => v.value > 0), 10_000, 'a lock wait');
    const second = await enqueueBackupNow(q, { databaseId: 'a' });
    expect(second).toMatchObject({ deduplicated: true });
    expect(second.job.id).toBe(first.job.id);
    // (It may be momentarily active while it tries the lock again; it cannot have completed.)
    expect(await q.backup.getJobState(String(first.job.id))).not.toBe('completed');
    await redis.del(lockKey);
    await waitUntil(async () => (await (await q.backup.getJob(String(first.job.id)))?.getState()) === 'completed', 30_000, 'backup after the lock was freed');
    const third = await enqueueBackupNow(q, { databaseId: 'a' });
    expect(third.deduplicated).toBe(false);
    await finished(q, third.job);
    expect((await q.backup.getJob(String(first.job.id)))!.attemptsMade).toBe(1);
  });
});

describe('worker start-up', () => {
  it('opens every target at boot: a bad target option fails the start, naming the target', async () => {
    const tmp = await tempDir();
    cleanups.push(() => tmp.dispose());
    const { config } = await testConfig({ dir: tmp.dir, databases: [] });
    const bad = { ...config, targets: [{ name: 'offsite', url: 's3://bucket/mfb', options: { regoin: 'eu-west-1' }, retention: { keepLast: 3 } }] };
    const catalog = await openCatalog(config.catalogPath);
    cleanups.push(() => catalog.close());
    const err = await startWorker({ config: bad, catalog, log: createLogger('worker-test', { level: 'silent' }) }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'STORAGE_INVALID_OPTIONS' });
    expect((err as Error).message).toMatch(/^target "offsite": .*unknown option "regoin".*valid: .*region/);
  });
});

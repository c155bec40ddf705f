/**
 * Retry / backoff / UnrecoverableError behaviour of OUR worker (startWorker + createProcessor,
 * real engine, catalog, storage and Redis): transient engine errors are retried with the
 * exponential backoff with jitter of the job options, permanent ones fail at once.
 *
 * The transient failure is real: another connection holds the source database under
 * `BEGIN EXCLUSIVE` (rollback-journal mode), so the snapshot fails with BACKUP_SOURCE_BUSY
 * (permanent: false) once the handler's busy timeout has passed.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openCatalog, type Catalog } from '@mfb/catalog';
import type { Config } from '@mfb/config';
import { generateFinanceDb } from '@mfb/demo-data';
import { BACKOFF_JITTER, JOB_NAMES, enqueue } from '@mfb/jobs';
import { createLogger } from '@mfb/observability';
import { createBackupHandler } from '../src/handlers/backup.handler.js';
import { handlers as realHandlers } from '../src/handlers/index.js';
import { startWorker, type WorkerRuntime } from '../src/runtime.js';
import { finished, idle, listFiles, tempDir, testConfig } from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

/** Start and end times of every run of a backup job, from the runner's hooks. */
interface Run {
  start: number;
  end?: number;
  outcome?: string;
}

interface Setup {
  runtime: WorkerRuntime;
  catalog: Catalog;
  config: Config;
  dir: string;
  dbPath: string;
  runs: Run[];
  /** Called synchronously by the runner when a run ends (before the job is moved on). */
  onEnd: { fn?: (run: Run, n: number) => void };
}

async function setup(opts: { attempts: number; backoffMs: number; notSqlite?: boolean }): Promise<Setup> {
  const tmp = await tempDir('mfb-retry-');
  cleanups.push(() => tmp.dispose());
  const dbPath = join(tmp.dir, 'a.sqlite');
  if (opts.notSqlite) await writeFile(dbPath, 'date,amount\n'.repeat(100), { mode: 0o600 });
  else await generateFinanceDb(dbPath, { sizeBytes: 256 * 1024, journalMode: 'delete' });
  const { config } = await testConfig({ dir: tmp.dir, databases: [{ id: 'a', path: dbPath }], attempts: { backup: opts.attempts }, backoffMs: opts.backoffMs });
  const catalog = await openCatalog(config.catalogPath);
  await catalog.migrate();
  const runs: Run[] = [];
  const onEnd: Setup['onEnd'] = {};
  const runtime = await startWorker({
    config,
    catalog,
    log: createLogger('worker-test', { level: 'silent' }),
    http: false,
    // The real backup handler; only its busy timeout is short (default 30 s) so attempts fail fast.
    handlers: { ...realHandlers, backup: createBackupHandler({ busyTimeoutMs: 100 }) },
    hooks: {
      onStart: (i) => {
        if (i.queue === 'backup') runs.push({ start: Date.now() });
      },
      onEnd: (i) => {
        if (i.queue !== 'backup') return;
        const run = runs[runs.length - 1]!;
        run.end = Date.now();
        run.outcome = i.outcome;
        onEnd.fn?.(run, runs.length);
      },
    },
  });
  cleanups.push(async () => {
    for (const n of JOB_NAMES) await runtime.queues[n].obliterate({ force: true }).catch(() => undefined);
    await runtime.close(1000);
    await catalog.close();
  });
  return { runtime, catalog, config, dir: tmp.dir, dbPath, runs, onEnd };
}

/** Hold the database under an exclusive lock from another connection until `release()`. */
function holdExclusive(path: string): { release(): void } {
  const holder = new Database(path);
  holder.exec('BEGIN EXCLUSIVE');
  let held = true;
  const release = (): void => {
    if (!held) return;
    held = false;
    holder.exec('ROLLBACK');
    holder.close();
  };
  cleanups.push(async () => release());
  return { release };
}

/** [min, max] of the n-th retry's delay (n from 1), as documented for BACKOFF_JITTER. */
function backoffBounds(backoffMs: number, n: number): [number, number] {
  const max = backoffMs * 2 ** (n - 1);
  return [max * (1 - BACKOFF_JITTER), max];
}

/** Time from the end of each failed run to the start of the next one. */
function gaps(runs: Run[]): number[] {
  return runs.slice(1).map((r, i) => r.start - runs[i]!.end!);
}

async function jobsTotal(runtime: WorkerRuntime, outcome: string): Promise<number> {
  const m = await runtime.metrics.jobsTotal.get();
  return m.values.find((v) => v.labels.queue === 'backup' && v.labels.outcome === outcome)?.value ?? 0;
}

describe('worker retries (real engine, catalog, storage, Redis)', () => {
  it('a source busy under another connection is retried with growing backoff and completes once the lock is gone', async () => {
    const backoffMs = 250;
    const attempts = 4;
    const s = await setup({ attempts, backoffMs });
    const lock = holdExclusive(s.dbPath);
    // Free the source right when the 3rd run has failed: the 4th run (after the 3rd backoff) succeeds.
    s.onEnd.fn = (_run, n) => {
      if (n === attempts - 1) lock.release();
    };
    const job = await finished(s.runtime.queues, await enqueue(s.runtime.queues, 'backup', { databaseId: 'a', trigger: 'api' }));

    expect(await job.getState()).toBe('completed');
    expect(job.attemptsStarted).toBe(attempts);
    expect(s.runs.map((r) => r.outcome)).toEqual(['error', 'error', 'error', 'completed']);
    expect((job.stacktrace ?? []).join('\n')).toMatch(/BACKUP_SOURCE_BUSY|source database stayed locked/);

    // Each wait is at least the jittered minimum of its retry (it cannot be shorter than the
    // delay BullMQ chose); the minimum doubles per retry and the 3rd wait exceeds the 1st.
    const g = gaps(s.runs);
    expect(g).toHaveLength(attempts - 1);
    g.forEach((gap, i) => {
      const [min, max] = backoffBounds(s.config.worker.backoffMs, i + 1);
      expect(gap, `wait before run ${i + 2}`).toBeGreaterThanOrEqual(min - 5);
      // Generous: the delay itself is at most `max`, plus fetch latency on a busy machine.
      expect(gap, `wait before run ${i + 2}`).toBeLessThan(max + 5000);
    });
    expect(g[2]!).toBeGreaterThan(g[0]!);

    await idle(s.runtime.queues);
    // Exactly one artifact (failed attempts left nothing behind) and one catalog entry.
    const stored = await listFiles(join(s.config.dataDir, 'backups'));
    expect(stored.filter((f) => f.endsWith('.manifest.json'))).toHaveLength(1);
    expect(stored).toHaveLength(2);
    expect(await listFiles(s.config.tmpDir)).toEqual([]);
    const backups = await s.catalog.listBackups({ databaseId: 'a', limit: 10 });
    expect(backups.items).toHaveLength(1);
    expect(backups.items[0]!.backupId).toBe((job.returnvalue as { backupId: string }).backupId);

    // History: one row for the job, completed on its 4th attempt; no row per failed attempt.
    const history = (await s.catalog.listJobs({ databaseId: 'a', limit: 100 })).filter((h) => h.queue === 'backup');
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({ jobId: String(job.id), state: 'completed', attempts, error: null });
    expect(await jobsTotal(s.runtime, 'retried')).toBe(attempts - 1);
    expect(await jobsTotal(s.runtime, 'completed')).toBe(1);
    expect(await jobsTotal(s.runtime, 'failed')).toBe(0);
  });

  it('a source that stays busy fails after exactly config.worker.attempts.backup attempts, with the code in failedReason', async () => {
    const s = await setup({ attempts: 3, backoffMs: 100 });
    holdExclusive(s.dbPath);
    const job = await finished(s.runtime.queues, await enqueue(s.runtime.queues, 'backup', { databaseId: 'a', trigger: 'api' }));

    expect(await job.getState()).toBe('failed');
    expect(job.opts.attempts).toBe(s.config.worker.attempts.backup);
    expect(job.attemptsMade).toBe(s.config.worker.attempts.backup);
    expect(s.runs).toHaveLength(s.config.worker.attempts.backup);
    expect(s.runs.every((r) => r.outcome === 'error')).toBe(true);
    expect(job.failedReason).toMatch(/BACKUP_SOURCE_BUSY|source database stayed locked/);
    gaps(s.runs).forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(backoffBounds(s.config.worker.backoffMs, i + 1)[0] - 5));

    const history = await s.catalog.listJobs({ databaseId: 'a', limit: 100 });
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({ jobId: String(job.id), state: 'failed', attempts: 3 });
    expect(history[0]!.error).toMatch(/^BACKUP_SOURCE_BUSY: /);
    expect(await jobsTotal(s.runtime, 'retried')).toBe(2);
    expect(await jobsTotal(s.runtime, 'failed')).toBe(1);
    // Nothing stored, nothing left in the scratch dir.
    expect(await listFiles(join(s.config.dataDir, 'backups'))).toEqual([]);
    expect(await listFiles(s.config.tmpDir)).toEqual([]);
    expect((await s.catalog.listBackups({ databaseId: 'a', limit: 10 })).items).toHaveLength(0);
  });

  it('a permanent error (source is not SQLite) fails after 1 attempt although attempts > 1', async () => {
    const s = await setup({ attempts: 3, backoffMs: 100, notSqlite: true });
    const job = await finished(s.runtime.queues, await enqueue(s.runtime.queues, 'backup', { databaseId: 'a', trigger: 'api' }));

    expect(await job.getState()).toBe('failed');
    expect(job.opts.attempts).toBe(3);
    expect(job.attemptsMade).toBe(1);
    expect(s.runs).toHaveLength(1);
    expect(job.failedReason).toMatch(/^BACKUP_NOT_SQLITE: /);
    const history = await s.catalog.listJobs({ databaseId: 'a', limit: 100 });
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({ state: 'failed', attempts: 1 });
    expect(await jobsTotal(s.runtime, 'retried')).toBe(0);
    expect(await jobsTotal(s.runtime, 'failed')).toBe(1);
  });
});

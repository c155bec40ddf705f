import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { cleanupTempFiles, localLockHolder, reclaimOrphanArtifacts, type Progress } from '@mfb/backup';
import { rebuildFromStorage, type Catalog } from '@mfb/catalog';
import type { Config } from '@mfb/config';
import { isAppError } from '@mfb/errors';
import { boundHost, enqueue, followUpJobId, jobPayload, parseQueueName, validatePayload, type DatabaseLocks, type HostBoundJobName, type JobName, type Queues } from '@mfb/jobs';
import type { Logger, Metrics } from '@mfb/observability';
import type { Storages } from '@mfb/runtime';
import type { HandlerContext, Handlers } from './context.js';
import { DatabaseNotFoundError, JobAbortedError, WrongHostError } from './errors.js';
import { USAGE_CHANGING_JOBS, refreshStorageMetrics } from './storage-metrics.js';

/** Test hooks (interval recording); never used in production paths. */
export interface RunnerHooks {
  /** `host`: the `worker.host` of this process; `queueName`: the BullMQ queue (`backup@db-1` for a host queue). */
  onStart?(info: { jobId: string; queue: JobName; queueName: string; host: string; databaseId: string }): void;
  onEnd?(info: { jobId: string; queue: JobName; queueName: string; host: string; databaseId: string; outcome: string }): void;
  /** After a successful job released its lock and enqueued its follow-ups, before its history is written (kill tests). */
  afterRelease?(info: { jobId: string; queue: JobName; databaseId: string }): void;
}

export interface RunnerDeps {
  config: Config;
  catalog: Catalog;
  queues: Queues;
  locks: DatabaseLocks;
  metrics: Metrics;
  log: Logger;
  handlers: Handlers;
  storages: Storages;
  /** Aborted when shutdown exceeds its grace period. */
  shutdownSignal: AbortSignal;
  hooks?: RunnerHooks;
  /** Base delay before a job that found its database locked is tried again. @defaultValue 200 */
  lockRetryMs?: number;
  /** Minimum interval between progress writes to Redis. @defaultValue 500 */
  progressIntervalMs?: number;
  /** Refresh the storage usage gauges from the catalog after backups, uploads and prunes. @defaultValue true */
  refreshUsage?: boolean;
  /** Told each final outcome (success, or failure after the last attempt); must not throw or block (notifications). */
  onOutcome?: (o: { databaseId: string; job: string; target?: string; ok: boolean; error: string | null; jobId: string }) => void;
}

function jitter(base: number): number {
  // 0.5x..1.5x: contenders for one database spread out instead of retrying in lock-step.
  return Math.round(base * (0.5 + Math.random()));
}

function describe(err: unknown): string {
  if (isAppError(err)) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

/** Error code of a failure for `mfb_job_failures_total` (a fixed set: the documented codes, or UNKNOWN). */
function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return isAppError(err) && typeof code === 'string' ? code : 'UNKNOWN';
}

/** The storage a job works on, for the per-target metrics: `local` (primary) or a target name. */
function targetOf(queue: JobName, payload: unknown): string {
  const p = payload as { target?: unknown; from?: unknown };
  if (queue === 'upload' || queue === 'prune') return typeof p.target === 'string' ? p.target : 'local';
  if (queue === 'verify' || queue === 'restore') return typeof p.from === 'string' ? p.from : 'local';
  return 'local';
}

/** Jobs whose attempts set `mfb_last_backup_{attempt,success}_timestamp_seconds`. */
const BACKUP_COPY_JOBS: ReadonlySet<string> = new Set(['backup', 'upload']);

function isPermanent(err: unknown): boolean {
  return err instanceof UnrecoverableError || (typeof err === 'object' && err !== null && (err as { permanent?: unknown }).permanent === true);
}

/**
 * Wrap the handlers into one BullMQ processor: validate the payload, take the database lock
 * (or go back to delayed), clean what killed runs left, run the handler with an abort signal,
 * map permanent errors to `UnrecoverableError`, and write metrics and catalog history.
 */
export function createProcessor(deps: RunnerDeps): (job: Job, token?: string, signal?: AbortSignal) => Promise<unknown> {
  const { config, catalog, metrics, log, locks } = deps;
  const lockRetryMs = deps.lockRetryMs ?? 200;
  const progressEvery = deps.progressIntervalMs ?? 500;
  const swept = new Set<string>();

  async function history(
    job: Job,
    queue: JobName,
    databaseId: string,
    state: 'completed' | 'failed',
    error: string | null,
    result: unknown,
    lockTimes: { lockAcquiredAt?: string | null; lockReleasedAt?: string | null } = {},
  ): Promise<void> {
    try {
      await catalog.recordJob({
        jobId: String(job.id),
        queue,
        name: job.name,
        databaseId,
        state,
        attempts: job.attemptsMade + 1,
        startedAt: new Date(job.processedOn ?? Date.now()).toISOString(),
        finishedAt: new Date().toISOString(),
        error,
        result: result ?? null,
        lockAcquiredAt: lockTimes.lockAcquiredAt ?? null,
        lockReleasedAt: lockTimes.lockReleasedAt ?? null,
      });
    } catch (err) {
      log.error({ err: describe(err), jobId: job.id }, 'could not write job history to the catalog');
    }
  }

  function outcome(job: Job, queue: JobName, databaseId: string, payload: unknown, error: string | null): void {
    if (!deps.onOutcome) return;
    const target = (payload as { target?: unknown }).target;
    try {
      deps.onOutcome({ databaseId, job: queue, ...(typeof target === 'string' ? { target } : {}), ok: error === null, error, jobId: String(job.id) });
    } catch (err) {
      log.warn({ err: describe(err), jobId: job.id }, 'outcome hook failed');
    }
  }

  /** Fail `job` for good before it ran (nothing to retry): metrics, history, UnrecoverableError. */
  async function failAtOnce(job: Job, queue: JobName, databaseId: string, err: unknown): Promise<never> {
    metrics.jobsTotal.inc({ queue, outcome: 'failed' });
    metrics.jobFailuresTotal.inc({ queue, code: codeOf(err) });
    await history(job, queue, databaseId, 'failed', describe(err), null);
    throw new UnrecoverableError(describe(err));
  }

  return async (job, token, bullSignal) => {
    // `backup@db-1` (a host queue) carries backups as `backup` does.
    const queue = parseQueueName(job.queueName).job as JobName;
    // Scheduled jobs carry no data: their payload comes from the scheduler id.
    const data = jobPayload(queue, job);
    const databaseIdRaw = typeof (data as { databaseId?: unknown })?.databaseId === 'string' ? String((data as { databaseId: string }).databaseId) : '';
    let payload;
    try {
      payload = validatePayload(queue, data);
    } catch (err) {
      return failAtOnce(job, queue, databaseIdRaw, err);
    }
    const database = config.databases.find((d) => d.id === payload.databaseId);
    if (!database) return failAtOnce(job, queue, payload.databaseId, new DatabaseNotFoundError(payload.databaseId));
    const host = boundHost(queue, payload, deps.queues.hostOf);
    if (host !== undefined && host !== config.worker.host) {
      if (parseQueueName(job.queueName).host !== undefined) return failAtOnce(job, queue, database.id, new WrongHostError(database.id, host, config.worker.host, job.queueName));
      // On the shared queue, queued before its database named a host (a config change, or a
      // producer with an older config): hand it to that host's workers, under the same id
      // (the API's job status finds it there). Moved, not run: no lock, no history.
      const target = deps.queues.onHost(queue as HostBoundJobName, host);
      const jobId = String(job.id).replace(/[^A-Za-z0-9_.-]/g, '_');
      // The payload, not the data: a scheduled job's comes from its scheduler id, which the moved job lacks.
      await target.add(job.name as never, payload as never, { jobId });
      log.warn({ jobId: job.id, queue, databaseId: database.id, movedTo: target.name }, "job moved to the queue of its database's host");
      return { movedTo: target.name, jobId };
    }

    let lock = await locks.tryAcquire(database.id);
    // A backupctl run that could not reach Redis holds only the local lock file in the shared
    // scratch directory: honour it too.
    if (lock && (await localLockHolder(config.tmpDir, database.id).catch(() => null))) {
      await lock.release().catch(() => undefined);
      lock = null;
    }
    if (!lock) {
      metrics.lockWaitsTotal.inc({ queue });
      await job.moveToDelayed(Date.now() + jitter(lockRetryMs), token);
      throw new DelayedError();
    }

    const lockTimes: { lockAcquiredAt: string; lockReleasedAt: string | null } = { lockAcquiredAt: new Date().toISOString(), lockReleasedAt: null };
    const releaseLock = async (): Promise<void> => {
      if (lockTimes.lockReleasedAt !== null) return;
      // Stamped before the release is sent: the recorded interval lies inside the time the lock
      // was really held (acquired is stamped after SET NX answered), so the history of two jobs
      // of one database never shows an overlap that the lock did not allow (chaos suite audit).
      lockTimes.lockReleasedAt = new Date().toISOString();
      await lock.release();
    };
    const started = process.hrtime.bigint();
    const signals = [deps.shutdownSignal, lock.signal, ...(bullSignal ? [bullSignal] : [])];
    const signal = AbortSignal.any(signals);
    const fence = (): void => {
      lock.check();
      signal.throwIfAborted();
    };
    const info = { jobId: String(job.id), queue, queueName: job.queueName, host: config.worker.host, databaseId: database.id };
    const perTarget = { queue, database: database.id, target: targetOf(queue, payload) };
    const followUps: Array<{ name: JobName; data: unknown; id: string }> = [];
    let jobLog: Logger | undefined;
    let lastProgress = 0;
    const progress = (p: Progress): void => {
      const now = Date.now();
      if (now - lastProgress < progressEvery && !(p.bytesTotal > 0 && p.bytesDone >= p.bytesTotal)) return;
      lastProgress = now;
      job.updateProgress({ stage: p.stage, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal }).catch(() => undefined);
    };

    try {
      log.info({ jobId: job.id, queue, databaseId: database.id, attempt: job.attemptsMade + 1, pid: process.pid, host: config.worker.host }, 'job started');
      // From here on the backup has started: a new "backup now" must queue a fresh backup.
      if (job.deduplicationId) await job.removeDeduplicationKey();
      // A re-run of a job whose run completed and wrote its history (then the process died
      // before BullMQ recorded the completion): the work is done, its follow-ups were enqueued
      // before the history. Only re-runs: a new job that reuses an id is new work.
      if ((job.attemptsStarted ?? 0) > 1) {
        const done = await catalog.getJob(String(job.id)).catch(() => null);
        if (done && done.queue === queue && done.state === 'completed') {
          log.warn({ jobId: job.id, queue, databaseId: database.id }, 'job already completed (catalog job history); not run again');
          await releaseLock();
          metrics.jobsTotal.inc({ queue, outcome: 'completed' });
          return done.result;
        }
      }
      // We hold the database lock, so nothing live writes these: leftovers of killed runs.
      // A killed run's job comes back as a re-run (attemptsStarted > 1); other leftovers are
      // swept by the first job of each database in this process. Skipping the sweep otherwise
      // keeps two directory walks off every job's path.
      if ((job.attemptsStarted ?? 0) > 1 || !swept.has(database.id)) {
        fence();
        let removed = (await cleanupTempFiles({ tmpDir: config.tmpDir, databaseId: database.id })) + (await deps.storages.primary.cleanupIncomplete(`${database.id}/`));
        if (queue === 'upload') {
          // Best effort on a target: leftovers there are invisible (no manifest) and cost only
          // space, and some S3-compatible servers lack ListMultipartUploads (501). Failing the
          // upload for it would block every copy to that target; the put itself still fails
          // clearly if the target is really unusable.
          const target = (payload as { target: string }).target;
          removed += await deps.storages
            .storageFor(target)
            .cleanupIncomplete(`${database.id}/`)
            .catch((err: unknown) => {
              log.warn({ jobId: job.id, databaseId: database.id, target, err: describe(err) }, 'could not clean up incomplete uploads on the target; continuing');
              return 0;
            });
        }
        swept.add(database.id);
        if (removed > 0) log.warn({ jobId: job.id, databaseId: database.id, removed }, 'removed temp files of an earlier killed run');
      }

      if (queue === 'backup' || queue === 'upload') {
        // Artifacts whose manifest never came (a writer killed between the two): invisible to
        // the catalog, a rebuild and retention, so nothing else ever deletes them.
        const target = queue === 'upload' ? (payload as { target: string }).target : 'local';
        fence();
        const orphans = await reclaimOrphanArtifacts(deps.storages.storageFor(target), database.id, { olderThanMs: config.worker.orphanArtifactAgeMs }).catch((err: unknown) => {
          log.warn({ jobId: job.id, databaseId: database.id, target, err: describe(err) }, 'could not look for artifacts without a manifest; continuing');
          return [] as string[];
        });
        if (orphans.length > 0) log.warn({ jobId: job.id, databaseId: database.id, target, orphans }, 'deleted artifacts without a manifest left by a killed writer');
        // The other half of a killed writer: a complete copy (artifact and manifest stored)
        // whose job died, or lost its lock, before recording it, and whose job never comes
        // back (Redis flushed). Adopt it into the catalog so listing, retention and the prune
        // of the primary (which keeps copies whose upload looks pending) see it.
        fence();
        const adopted = await rebuildFromStorage(catalog, deps.storages.storageFor(target), target, { prefix: `${database.id}/`, onlyUnknown: true }).catch((err: unknown) => {
          log.warn({ jobId: job.id, databaseId: database.id, target, err: describe(err) }, 'could not look for unrecorded copies; continuing');
          return null;
        });
        const n = adopted ? adopted.added + adopted.updated : 0;
        if (n > 0) log.warn({ jobId: job.id, databaseId: database.id, target, adopted: n }, 'recorded complete copies that a killed job left unrecorded');
      }
      deps.hooks?.onStart?.(info);
      const ctx: HandlerContext = {
        job,
        payload,
        database,
        catalog,
        primary: deps.storages.primary,
        storageFor: deps.storages.storageFor,
        keys: config.keys,
        tmpDir: config.tmpDir,
        targets: config.targets,
        metrics,
        get log() {
          return (jobLog ??= log.child({ jobId: job.id, queue, databaseId: database.id }));
        },
        signal,
        fence,
        progress,
        followUp(name, data) {
          validatePayload(name, data);
          // Deterministic per (this job, payload): a retry of this job chains the same ids,
          // which BullMQ adds only once.
          const id = followUpJobId(name, data, String(job.id));
          followUps.push({ name, data, id });
          return id;
        },
      };
      const result = await (deps.handlers[queue] as (c: HandlerContext) => Promise<unknown>)(ctx);
      deps.hooks?.onEnd?.({ ...info, outcome: 'completed' });
      // Free the database first: chained jobs of the same database can start right away.
      // (Both go out in one round trip; a follow-up never needs this job's lock.)
      await Promise.all([releaseLock(), ...followUps.map((f) => enqueue(deps.queues, f.name, f.data as never, { jobId: f.id }))]);
      deps.hooks?.afterRelease?.(info);
      metrics.jobDuration.observe({ queue }, Number(process.hrtime.bigint() - started) / 1e9);
      metrics.jobsTotal.inc({ queue, outcome: 'completed' });
      metrics.consecutiveFailures.set(perTarget, 0);
      if (BACKUP_COPY_JOBS.has(queue)) {
        const now = Date.now() / 1000;
        metrics.lastBackupSuccess.set({ database: database.id, target: perTarget.target }, now);
        metrics.lastBackupAttempt.set({ database: database.id, target: perTarget.target }, now);
      }
      await history(job, queue, database.id, 'completed', null, result, lockTimes);
      outcome(job, queue, database.id, payload, null);
      if (deps.refreshUsage !== false && USAGE_CHANGING_JOBS.has(queue)) await refreshStorageMetrics({ config, catalog, metrics, log }, database.id);
      log.info({ jobId: job.id, queue, databaseId: database.id, pid: process.pid }, 'job completed');
      return result;
    } catch (err) {
      deps.hooks?.onEnd?.({ ...info, outcome: 'error' });
      metrics.jobDuration.observe({ queue }, Number(process.hrtime.bigint() - started) / 1e9);
      if (signal.aborted && !isPermanent(err)) {
        // Shutdown past its grace period (or the lock was lost): not the job's fault. Clean up,
        // free the database and put the job back without spending an attempt.
        const reason = describe(signal.reason ?? new JobAbortedError('aborted'));
        log.warn({ jobId: job.id, queue, databaseId: database.id, reason }, 'job aborted; returned to the queue');
        await cleanupTempFiles({ tmpDir: config.tmpDir, databaseId: database.id }).catch(() => 0);
        await releaseLock().catch(() => undefined);
        metrics.jobsTotal.inc({ queue, outcome: 'aborted' });
        await job.moveToDelayed(Date.now() + jitter(1000), token);
        throw new DelayedError();
      }
      const permanent = isPermanent(err);
      const final = permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      const code = (err as { code?: unknown } | null)?.code;
      if (code === 'BACKUP_DISK_FULL' || code === 'STORAGE_DISK_FULL' || code === 'RESTORE_DISK_FULL') metrics.diskFullTotal.inc({ queue, code });
      metrics.jobsTotal.inc({ queue, outcome: final ? 'failed' : 'retried' });
      metrics.jobFailuresTotal.inc({ queue, code: codeOf(err) });
      metrics.consecutiveFailures.inc(perTarget);
      metrics.lastFailure.set(perTarget, Date.now() / 1000);
      if (BACKUP_COPY_JOBS.has(queue)) metrics.lastBackupAttempt.set({ database: database.id, target: perTarget.target }, Date.now() / 1000);
      if (queue === 'upload') metrics.uploadsTotal.inc({ target: perTarget.target, outcome: 'failed' });
      log.error({ jobId: job.id, queue, databaseId: database.id, err: describe(err), permanent, final }, 'job failed');
      await releaseLock().catch(() => undefined);
      if (final) {
        await history(job, queue, database.id, 'failed', describe(err), null, lockTimes);
        outcome(job, queue, database.id, payload, describe(err));
      }
      if (permanent) throw new UnrecoverableError(describe(err));
      throw err;
    } finally {
      await releaseLock().catch(() => undefined);
    }
  };
}


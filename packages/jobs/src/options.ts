import { Backoffs, type BackoffStrategy, type DefaultJobOptions, type KeepJobs } from 'bullmq';
import { DEFAULTS } from '@mfb/config';
import type { JobName } from './contract.js';

/** Retry settings per job name (from `config.worker`). */
export interface RetrySettings {
  /** Attempts per job name, including the first run. @defaultValue {@link DEFAULT_ATTEMPTS} */
  attempts?: Partial<Record<JobName, number>>;
  /** Base delay of the exponential backoff, ms. @defaultValue {@link DEFAULT_BACKOFF_MS} (2000) */
  backoffMs?: number;
}

/**
 * The config's documented defaults (`worker.attempts`), one value for config and queues; the
 * type annotation makes a job name without a default a compile error.
 */
export const DEFAULT_ATTEMPTS: Readonly<Record<JobName, number>> = DEFAULTS.attempts;
/** The config's documented default of `worker.backoffMs`. */
export const DEFAULT_BACKOFF_MS: number = DEFAULTS.backoffMs;

/**
 * Share of each backoff delay that is randomized (BullMQ `jitter`): the n-th retry waits a
 * uniform random time in `[(1 - JITTER) * base * 2^(n-1), base * 2^(n-1)]`, so that jobs
 * failing together (e.g. a target outage) do not all retry in the same instant.
 */
export const BACKOFF_JITTER = 0.5;

/** Finished jobs BullMQ keeps (completed jobs are also kept in the catalog history). */
export const KEEP_COMPLETED: KeepJobs = { age: 7 * 24 * 3600, count: 5000 };
export const KEEP_FAILED: KeepJobs = { age: 30 * 24 * 3600, count: 5000 };

/**
 * Default BullMQ job options of one job name: attempts, exponential backoff with jitter,
 * bounded history (completed jobs are also kept in the catalog history).
 */
export function defaultJobOptions(name: JobName, settings: RetrySettings = {}): DefaultJobOptions {
  return {
    attempts: settings.attempts?.[name] ?? DEFAULT_ATTEMPTS[name],
    backoff: { type: 'exponential', delay: settings.backoffMs ?? DEFAULT_BACKOFF_MS, jitter: BACKOFF_JITTER },
    removeOnComplete: KEEP_COMPLETED,
    removeOnFail: KEEP_FAILED,
  };
}

/**
 * BullMQ backoff type of scheduled jobs: BullMQ's `exponential` with {@link BACKOFF_JITTER},
 * under a name short enough that a job scheduler's template options stay within Redis's
 * default `hash-max-listpack-value` (64 bytes), which keeps the scheduler's hash in the
 * compact encoding (bench/scale/reconcile: ~380 bytes less per schedule). Workers resolve it
 * with {@link backoffStrategy}.
 */
export const JITTERED_EXPONENTIAL = 'xj';

/** Resolves {@link JITTERED_EXPONENTIAL} (the only custom backoff type) to BullMQ's own exponential-with-jitter strategy. */
export const backoffStrategy: BackoffStrategy = (attemptsMade, type, _err, job) => {
  const delay = (job?.opts.backoff as { delay?: number } | undefined)?.delay ?? DEFAULT_BACKOFF_MS;
  if (type !== JITTERED_EXPONENTIAL) throw new Error(`unknown backoff type "${String(type)}"`);
  return Backoffs.builtinStrategies.exponential!(delay, BACKOFF_JITTER)(attemptsMade, type);
};

/**
 * Options every BullMQ Worker of ours needs for jobs that carry less than the queue defaults
 * (scheduled jobs, see `reconcileSchedules`): the history bounds the queue defaults give
 * every enqueued job, and the resolver of the scheduled jobs' backoff type.
 */
export function workerJobSettings(): { removeOnComplete: KeepJobs; removeOnFail: KeepJobs; settings: { backoffStrategy: BackoffStrategy } } {
  return { removeOnComplete: KEEP_COMPLETED, removeOnFail: KEEP_FAILED, settings: { backoffStrategy } };
}

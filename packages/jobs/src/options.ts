import type { DefaultJobOptions } from 'bullmq';
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

/**
 * Default BullMQ job options of one job name: attempts, exponential backoff with jitter,
 * bounded history (completed jobs are also kept in the catalog history).
 */
export function defaultJobOptions(name: JobName, settings: RetrySettings = {}): DefaultJobOptions {
  return {
    attempts: settings.attempts?.[name] ?? DEFAULT_ATTEMPTS[name],
    backoff: { type: 'exponential', delay: settings.backoffMs ?? DEFAULT_BACKOFF_MS, jitter: BACKOFF_JITTER },
    removeOnComplete: { age: 7 * 24 * 3600, count: 5000 },
    removeOnFail: { age: 30 * 24 * 3600, count: 5000 },
  };
}

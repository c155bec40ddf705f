import type { DefaultJobOptions } from 'bullmq';
import type { JobName } from './contract.js';

/** Retry settings per job name (from `config.worker`). */
export interface RetrySettings {
  /** Attempts per job name, including the first run. @defaultValue see DEFAULT_ATTEMPTS */
  attempts?: Partial<Record<JobName, number>>;
  /** Base delay of the exponential backoff, ms. @defaultValue 5000 */
  backoffMs?: number;
}

/** Used when config does not say otherwise. */
export const DEFAULT_ATTEMPTS: Readonly<Record<JobName, number>> = Object.freeze({
  backup: 5,
  upload: 8,
  prune: 3,
  restore: 1,
  verify: 3,
});

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
    backoff: { type: 'exponential', delay: settings.backoffMs ?? 5000, jitter: BACKOFF_JITTER },
    removeOnComplete: { age: 7 * 24 * 3600, count: 5000 },
    removeOnFail: { age: 30 * 24 * 3600, count: 5000 },
  };
}

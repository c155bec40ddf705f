import type { Job } from 'bullmq';
import type { Progress } from '@mfb/backup';
import type { Catalog } from '@mfb/catalog';
import type { Config, DatabaseConfig } from '@mfb/config';
import type { JobName, Payloads, Queues } from '@mfb/jobs';
import type { Logger, Metrics } from '@mfb/observability';
import type { StorageDriver } from '@mfb/storage';

/** Everything a handler may use. Built per job by the runner; handlers never touch Redis locks. */
export interface HandlerContext<N extends JobName = JobName> {
  readonly job: Job;
  readonly payload: Payloads[N];
  /** The configured database the job is about (unknown ids fail before the handler runs). */
  readonly database: DatabaseConfig;
  readonly config: Config;
  readonly catalog: Catalog;
  /** Primary storage (`config.storageUrl`), target name `local`. */
  readonly primary: StorageDriver;
  /** Storage of a target by name (`local` = primary). Throws a permanent error for unknown names. */
  storageFor(target: string): StorageDriver;
  readonly queues: Queues;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Aborted on shutdown past the grace period, on BullMQ cancellation, or when the lock is lost. */
  readonly signal: AbortSignal;
  /** Report progress; throttled before it reaches Redis. */
  progress(p: Progress): void;
  /**
   * Chain a job (validated now) that is enqueued once this job has succeeded and released
   * its database lock, so a chained job of the same database does not find it still locked.
   * Returns the id the job will have. If the process dies before the enqueue, this job has
   * not completed either and runs again (at-least-once, as for every chained job).
   */
  followUp<M extends JobName>(name: M, payload: Payloads[M]): string;
}

/** One handler per job name. The result is stored as the job's return value. */
export type Handler<N extends JobName> = (ctx: HandlerContext<N>) => Promise<unknown>;

/** The compiler checks that every job name has exactly one handler. */
export type Handlers = { [N in JobName]: Handler<N> };

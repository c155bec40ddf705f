import type { Job } from 'bullmq';
import type { KeyRing, Progress } from '@mfb/backup';
import type { Catalog } from '@mfb/catalog';
import type { DatabaseConfig, TargetConfig } from '@mfb/config';
import type { JobName, Payloads } from '@mfb/jobs';
import type { Logger, Metrics } from '@mfb/observability';
import type { StorageDriver } from '@mfb/storage';

/** What every handler gets: its own job's payload, database, log, abort signal and progress. */
export interface JobScope<N extends JobName = JobName> {
  readonly payload: Payloads[N];
  /** The configured database the job is about (unknown ids fail before the handler runs). */
  readonly database: DatabaseConfig;
  readonly log: Logger;
  /** Aborted on shutdown past the grace period, on BullMQ cancellation, or when the lock is lost. */
  readonly signal: AbortSignal;
  /**
   * Call right before every durable step (store, manifest, catalog write, delete): throws
   * (JOBS_LOCK_LOST) once the database lock could not be renewed before its deadline, even if
   * the abort has not reached `signal` yet, and when `signal` is aborted.
   */
  fence(): void;
  /** Report progress; throttled before it reaches Redis. */
  progress(p: Progress): void;
}

/**
 * Everything beyond its own job that a handler may reach. Each handler names the part it
 * uses in its type (`Handler<'prune', 'catalog' | 'storageFor' | ...>`), so its signature
 * shows its reach and the compiler refuses anything else. Handlers never touch Redis locks
 * or the queues (chained jobs go through `followUp`).
 */
export interface Resources {
  /** The BullMQ job (its stored progress, `updateProgress`). */
  readonly job: Job;
  readonly catalog: Catalog;
  /** Primary storage (`config.storageUrl`), target name `local`. */
  readonly primary: StorageDriver;
  /** Storage of a target by name (`local` = primary). Throws TARGET_NOT_FOUND (permanent) for unknown names. */
  storageFor(target: string): StorageDriver;
  /** Encryption keys by id (`config.keys`). */
  readonly keys: KeyRing;
  /** Scratch directory of the engine (`config.tmpDir`). */
  readonly tmpDir: string;
  /** Configured storage targets (`config.targets`). */
  readonly targets: readonly TargetConfig[];
  readonly metrics: Metrics;
  /**
   * Chain a job (validated now) that is enqueued once this job has succeeded and released
   * its database lock, so a chained job of the same database does not find it still locked.
   * Returns the id the job will have: deterministic (`followUpJobId` of @mfb/jobs:
   * `upload.<backupId>.<target>`, `prune.<db>.<target>.<this job's id>`), so a retry of this
   * job that chains again does not enqueue a second copy. If the process dies before the
   * enqueue, this job has not completed either and runs again (at-least-once).
   */
  followUp<M extends JobName>(name: M, payload: Payloads[M]): string;
}

/** What a handler of job `N` that reaches `R` receives. Built per job by the runner. */
export type HandlerContext<N extends JobName = JobName, R extends keyof Resources = keyof Resources> = JobScope<N> & Pick<Resources, R>;

/** One handler per job name, reaching only `R`. The result is stored as the job's return value. */
export type Handler<N extends JobName, R extends keyof Resources = never> = (ctx: HandlerContext<N, R>) => Promise<unknown>;

/**
 * The compiler checks that every job name has exactly one handler. The runner hands every
 * handler all resources; a handler typed with fewer is assignable (it just cannot see more).
 */
export type Handlers = { [N in JobName]: (ctx: HandlerContext<N>) => Promise<unknown> };

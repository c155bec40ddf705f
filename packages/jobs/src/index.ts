/**
 * @mfb/jobs: the queue contract shared by the API, the worker and the CLI.
 *
 * - `contract`: job names, payload schemas (TypeBox) and their static types.
 * - `createQueues` / `enqueue` / `enqueueBackupNow`: validated, typed producers.
 * - `reconcileSchedules`: desired schedules (catalog) -> BullMQ job schedulers.
 * - `getJobStatus`: what the API shows about a job.
 * - `createRedis` / `checkRedis`: connections from config, start-up eviction check.
 * - `DatabaseLocks`: the per-database lock (invariant 5) the worker and the API both take.
 * - host-bound jobs (`hosts`): backups and restore `replace` of a database with a `host` go to
 *   that host's queues; workers announce the host they serve (`startHostHeartbeat`).
 */
export * from './contract.js';
export { InvalidPayloadError, UnknownJobError, InvalidEnqueueOptionsError, RedisUnavailableError, LockLostError, LockNotReplicatedError } from './errors.js';
export { validatePayload, isJobName } from './validate.js';
export { defaultJobOptions, workerJobSettings, DEFAULT_ATTEMPTS, DEFAULT_BACKOFF_MS, BACKOFF_JITTER, type RetrySettings } from './options.js';
export { createQueues, closeQueues, queueName, type Queues, type JobQueue, type QueueRouting } from './queues.js';
export {
  HOST_BOUND_JOBS,
  HEARTBEAT_TTL_MS,
  boundHost,
  hostQueueName,
  parseQueueName,
  startHostHeartbeat,
  liveWorkersByHost,
  type HostBoundJobName,
  type HostHeartbeat,
  type HostOf,
} from './hosts.js';
export { enqueue, enqueueBackupNow, newJobId, followUpJobId, JOB_ID_SEPARATOR, backupNowDedupId, type EnqueueOptions } from './enqueue.js';
export { reconcileSchedules, syncSchedules, schedulerId, scheduledPayload, jobPayload, type DesiredSchedule, type ReconcileResult, type ScheduledJobName, type ScheduleSource } from './schedules.js';
export { getJobStatus, type JobStatus } from './status.js';
export {
  createRedis,
  checkRedis,
  effectivePrefix,
  parseRedisUrl,
  REDIS_URL_PATTERN,
  type RedisConnection,
  type RedisSettings,
  type RedisCheck,
  type RedisTopology,
} from './redis.js';
export { DatabaseLocks, type HeldLock, type LockOptions, type LockReplicationEvent } from './lock.js';

import { randomUUID } from 'node:crypto';
import type { Job } from 'bullmq';
import type { JobName, Payloads } from './contract.js';
import { InvalidEnqueueOptionsError } from './errors.js';
import type { Queues } from './queues.js';
import { validatePayload } from './validate.js';

/** When a job should run: `at` an instant, after `delayMs`, or (neither) now. */
export interface EnqueueOptions {
  /** Run at this instant (a one-off schedule). Past instants run now. */
  at?: Date;
  /** Run after this many milliseconds. */
  delayMs?: number;
  /** Override the generated job id (must not contain `:`). Mostly for tests and dedup. */
  jobId?: string;
}

/** Job ids are `<jobName>-<uuid>`, so the queue of an id is known without a lookup. */
export function newJobId(name: JobName): string {
  return `${name}-${randomUUID()}`;
}

/**
 * Separator of the parts of a deterministic job id. Not `:`: BullMQ builds its Redis keys
 * with `:` and refuses custom ids that contain it. `.` is safe and unambiguous: database ids,
 * backup ids and target names never contain it (`ID_RE`, `BACKUP_ID_RE`), and BullMQ ids
 * with it are plain strings. Random ids (`<name>-<uuid>`) use `-`; `getJobStatus` reads the
 * queue from the part before the first `.` or `-`.
 */
export const JOB_ID_SEPARATOR = '.';

/**
 * Id of a job chained by the job `parentId` (the runner's `followUp`). The same parent
 * (a retried job) always chains the same ids, and BullMQ ignores the add of an id it already
 * holds, so a job retried after it enqueued its follow-ups does not enqueue them twice:
 * - upload: `upload.<backupId>.<target>`: one upload of a backup per target, whoever asks;
 * - prune: `prune.<databaseId>.<target>.<parentId>`: one prune per target per chaining job.
 *   Not `prune.<db>.<target>` alone: BullMQ keeps a completed job (and so its id) for 7 days
 *   (`removeOnComplete`), and a fixed id would make every later prune of that target a no-op.
 * - any other job: a random id (`newJobId`).
 */
export function followUpJobId<N extends JobName>(name: N, payload: Payloads[N], parentId: string): string {
  const sep = JOB_ID_SEPARATOR;
  if (name === 'upload') {
    const p = payload as Payloads['upload'];
    return ['upload', p.backupId, p.target].join(sep);
  }
  if (name === 'prune') {
    const p = payload as Payloads['prune'];
    // Scheduled jobs have BullMQ ids `repeat:<scheduler>:<ms>`: keep the id free of `:`.
    return ['prune', p.databaseId, p.target, parentId.replace(/[^A-Za-z0-9_.-]/g, '_')].join(sep);
  }
  return newJobId(name);
}

function delayOf(opts: EnqueueOptions): number {
  if (opts.at !== undefined && opts.delayMs !== undefined) throw new InvalidEnqueueOptionsError('give either `at` or `delayMs`, not both');
  if (opts.at !== undefined) {
    const t = opts.at.getTime();
    if (!Number.isFinite(t)) throw new InvalidEnqueueOptionsError('`at` is not a valid date');
    return Math.max(0, t - Date.now());
  }
  if (opts.delayMs !== undefined) {
    if (!Number.isFinite(opts.delayMs) || opts.delayMs < 0) throw new InvalidEnqueueOptionsError('`delayMs` must be a number >= 0');
    return Math.floor(opts.delayMs);
  }
  return 0;
}

/**
 * Validate `payload` against the schema of `name` and add it to that job's queue.
 * @throws InvalidPayloadError (JOBS_INVALID_PAYLOAD) naming the field; nothing is enqueued.
 */
export async function enqueue<N extends JobName>(
  queues: Queues,
  name: N,
  payload: Payloads[N],
  opts: EnqueueOptions = {},
): Promise<Job<Payloads[N], unknown, N>> {
  const data = validatePayload(name, payload);
  const delay = delayOf(opts);
  const queue = queues.route(name, data) as unknown as Queues['backup'];
  const job = await queue.add(name as 'backup', data as Payloads['backup'], {
    jobId: opts.jobId ?? newJobId(name),
    ...(delay > 0 ? { delay } : {}),
  });
  return job as unknown as Job<Payloads[N], unknown, N>;
}

/** Deduplication id of the "backup now" of a database. */
export function backupNowDedupId(databaseId: string): string {
  return `backup-now.${databaseId}`;
}

/**
 * "Back up this database now". While a backup of the same database queued by this helper
 * has not started yet (waiting, delayed by lock contention or retry), a second call returns
 * that job instead of queueing another: `{ job, deduplicated: true }`. Once the worker
 * starts the backup (holding the database lock) the dedup key is released, so a request made
 * during a running backup queues a fresh one (the data may have changed since it started).
 */
export async function enqueueBackupNow(
  queues: Queues,
  payload: Omit<Payloads['backup'], 'trigger'> & { trigger?: Payloads['backup']['trigger'] },
  opts: {
    /**
     * When deduplicated, read the waiting job from Redis (default true). `false` saves that
     * round trip for callers that only need the id (the API's trigger route): `job.id` is
     * then the waiting job's id, its other fields those of this call.
     */
    fetchExisting?: boolean;
  } = {},
): Promise<{ job: Job<Payloads['backup'], unknown, 'backup'>; deduplicated: boolean }> {
  const data = validatePayload('backup', { trigger: 'manual', ...payload });
  const jobId = newJobId('backup');
  const queue = queues.route('backup', data);
  const job = await queue.add('backup', data, {
    jobId,
    deduplication: { id: backupNowDedupId(data.databaseId) },
  });
  if (job.id === jobId) return { job, deduplicated: false };
  if (opts.fetchExisting === false) return { job, deduplicated: true };
  const existing = job.id === undefined ? undefined : await queue.getJob(job.id);
  return { job: (existing as Job<Payloads['backup'], unknown, 'backup'> | undefined) ?? job, deduplicated: true };
}

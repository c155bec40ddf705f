import type { Job, JobState } from 'bullmq';
import { JOB_NAMES, type JobName } from './contract.js';
import type { Queues } from './queues.js';
import { jobPayload } from './schedules.js';
import { isJobName } from './validate.js';

/** What the API shows about one job. */
export interface JobStatus {
  id: string;
  name: JobName;
  queue: string;
  state: JobState | 'unknown';
  /** `{ stage, bytesDone, bytesTotal }` for long jobs, else 0. */
  progress: unknown;
  /** Attempts that ended (failed or completed). */
  attemptsMade: number;
  /** Maximum attempts allowed. */
  maxAttempts: number;
  failedReason: string | null;
  result: unknown;
  data: unknown;
  /** ISO-8601 instants. */
  createdAt: string;
  processedAt: string | null;
  finishedAt: string | null;
  /** Delayed jobs: when they become due. */
  runAt: string | null;
}

function iso(ms: number | undefined | null): string | null {
  return typeof ms === 'number' && ms > 0 ? new Date(ms).toISOString() : null;
}

async function toStatus(job: Job, name: JobName, stateBefore: JobState | 'unknown'): Promise<JobStatus> {
  // The state was read before the job hash: a job that finished in between has its final
  // fields but an older state; read the state again so both agree.
  const state = job.finishedOn && stateBefore !== 'completed' && stateBefore !== 'failed' ? await job.getState() : stateBefore;
  return {
    id: String(job.id),
    name,
    queue: job.queueName,
    state,
    progress: job.progress ?? 0,
    attemptsMade: job.attemptsMade,
    maxAttempts: job.opts.attempts ?? 1,
    failedReason: job.failedReason ? job.failedReason : null,
    result: job.returnvalue ?? null,
    data: jobPayload(name, job),
    createdAt: new Date(job.timestamp).toISOString(),
    processedAt: iso(job.processedOn),
    finishedAt: iso(job.finishedOn),
    runAt: state === 'delayed' ? iso(job.timestamp + (job.delay ?? 0)) : null,
  };
}

/**
 * Status of a job by id, or `null` when no queue knows it (never existed, or removed by the
 * history limits; the catalog keeps the long-term job history).
 */
export async function getJobStatus(queues: Queues, id: string): Promise<JobStatus | null> {
  // `<name>-<uuid>` (random) or `<name>.<...>` (deterministic follow-up ids).
  const hinted = /^[a-z]+(?=[-.])/.exec(id)?.[0] ?? '';
  const order: JobName[] = isJobName(hinted) ? [hinted, ...JOB_NAMES.filter((n) => n !== hinted)] : [...JOB_NAMES];
  for (const name of order) {
    // Host queues first: a job moved from the shared queue to its host's keeps its id there.
    for (const queue of queues.allOf(name)) {
      const state = await queue.getJobState(id);
      if (state === 'unknown') continue;
      const job = await queue.getJob(id);
      if (job) return toStatus(job as Job, name, state);
    }
  }
  return null;
}

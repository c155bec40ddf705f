import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { JobHistoryRecord } from '@mfb/catalog';
import type { Config } from '@mfb/config';
import { JobParams, JobSchema, type JobState, type JobView } from '@mfb/client';
import { getJobStatus } from '@mfb/jobs';
import { JobNotFoundError } from '../../../errors.js';
import { problemResponses } from '../../common.js';
import { isRedisUnavailable } from '../../../plugins/problem.js';

const KNOWN: ReadonlySet<string> = new Set<JobState>(['waiting', 'delayed', 'prioritized', 'waiting-children', 'active', 'completed', 'failed']);

/**
 * A finished job as the catalog's history keeps it (the worker records every final outcome),
 * for when BullMQ has removed the job (`removeOnComplete`/`removeOnFail` limits). The history
 * does not keep the payload, the enqueue time or the progress.
 */
function fromHistory(h: JobHistoryRecord, attempts: Config['worker']['attempts']): JobView {
  const configured = (attempts as Record<string, number | undefined>)[h.queue] ?? h.attempts;
  return {
    id: h.jobId,
    queue: h.queue,
    name: h.name,
    state: h.state,
    progress: null,
    attemptsMade: h.attempts,
    maxAttempts: Math.max(configured, h.attempts),
    failedReason: h.state === 'failed' ? (h.error ?? 'unknown reason') : null,
    data: { databaseId: h.databaseId },
    result: h.result ?? null,
    createdAt: null,
    processedAt: h.startedAt,
    finishedAt: h.finishedAt,
    runAt: null,
    ...lockOf(h),
  };
}

/** When the recorded run held its database lock (null: recorded before the history kept it). */
function lockOf(h: JobHistoryRecord): Pick<JobView, 'lock'> {
  return { lock: { acquiredAt: h.lockAcquiredAt ?? null, releasedAt: h.lockReleasedAt ?? null } };
}

/** `/v1/jobs/:jobId`: what the statusUrl of a 202 points at. */
const jobs: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/:jobId',
    {
      config: { auth: 'read' },
      schema: {
        tags: ['jobs'],
        operationId: 'getJob',
        summary: 'State, progress, attempts and failure reason of a job',
        description:
          'From the queue while BullMQ keeps the job; after it removed a finished job, from the catalog\'s job history ' +
          '(`progress`, `createdAt` null; `data` has only `databaseId`). `404 JOB_NOT_FOUND` when neither knows it.',
        params: JobParams,
        response: { 200: JobSchema, ...problemResponses },
      },
    },
    async (req) => {
      const { jobId } = req.params;
      const history = async (): Promise<JobView | null> => {
        const h = await app.catalog.getJob(jobId);
        return h ? fromHistory(h, app.config.worker.attempts) : null;
      };
      let s;
      try {
        s = await getJobStatus(app.queues, jobId);
        // The job hash and its state are two reads: a job finishing in between shows as
        // completed/failed without its result or reason. Read again once; it is settled then.
        if (s && ((s.state === 'failed' && s.failedReason === null) || (s.state === 'completed' && s.finishedAt === null))) {
          s = await getJobStatus(app.queues, jobId);
        }
      } catch (err) {
        // Redis down: a finished job is still known to the catalog.
        if (isRedisUnavailable(err)) return (await history()) ?? Promise.reject(err);
        throw err;
      }
      if (s) {
        const view: JobView = { ...s, state: (KNOWN.has(s.state) ? s.state : 'unknown') as JobState };
        if (s.state !== 'completed' && s.state !== 'failed') return view;
        // Finished: the history knows when the run held the database lock (one catalog read).
        const h = await app.catalog.getJob(jobId).catch(() => null);
        return h && h.queue === s.queue ? { ...view, ...lockOf(h) } : view;
      }
      const h = await history();
      if (h) return h;
      throw new JobNotFoundError(jobId);
    },
  );
};

export default jobs;

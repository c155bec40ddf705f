import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { JobParams, JobSchema, type JobState } from '@mfb/client';
import { getJobStatus } from '@mfb/jobs';
import { JobNotFoundError } from '../../../errors.js';
import { problemResponses } from '../../common.js';

const KNOWN: ReadonlySet<string> = new Set<JobState>(['waiting', 'delayed', 'prioritized', 'waiting-children', 'active', 'completed', 'failed']);

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
        params: JobParams,
        response: { 200: JobSchema, ...problemResponses },
      },
    },
    async (req) => {
      let s = await getJobStatus(app.queues, req.params.jobId);
      // The job hash and its state are two reads: a job finishing in between shows as
      // completed/failed without its result or reason. Read again once; it is settled then.
      if (s && ((s.state === 'failed' && s.failedReason === null) || (s.state === 'completed' && s.finishedAt === null))) {
        s = await getJobStatus(app.queues, req.params.jobId);
      }
      if (!s) throw new JobNotFoundError(req.params.jobId);
      return { ...s, state: (KNOWN.has(s.state) ? s.state : 'unknown') as JobState };
    },
  );
};

export default jobs;

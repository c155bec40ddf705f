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
        summary: 'State, progress, attempts and failure reason of a job',
        params: JobParams,
        response: { 200: JobSchema, ...problemResponses },
      },
    },
    async (req) => {
      const s = await getJobStatus(app.queues, req.params.jobId);
      if (!s) throw new JobNotFoundError(req.params.jobId);
      return { ...s, state: (KNOWN.has(s.state) ? s.state : 'unknown') as JobState };
    },
  );
};

export default jobs;

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { LivenessSchema, ReadinessSchema } from '@mfb/client';
import { HEADERS, jsonResponse, problemResponse, problemResponses, publicProblemResponses } from '../common.js';
import { httpProblem, sendProblem } from '../../plugins/problem.js';

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error('timeout')), ms)))]);
  } finally {
    clearTimeout(t);
  }
}

/** `/health/live` (no key: the process answers) and `/health/ready` (Redis and catalog answer). */
const health: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/live',
    {
      config: { auth: 'public' },
      schema: {
        tags: ['ops'],
        operationId: 'live',
        summary: 'Liveness (no key needed)',
        security: [],
        response: { 200: LivenessSchema, ...publicProblemResponses },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/ready',
    {
      config: { auth: 'read' },
      schema: {
        tags: ['ops'],
        operationId: 'ready',
        summary: 'Readiness: Redis and the catalog answer (503 problem+json otherwise)',
        response: {
          200: jsonResponse(ReadinessSchema, 'Redis and the catalog answer'),
          ...problemResponses,
          503: problemResponse('`NOT_READY`: Redis or the catalog does not answer (or `OVERLOADED`)', { 'retry-after': HEADERS.retryAfter }),
        },
      },
    },
    async (req, reply) => {
      const checks: Record<string, 'ok' | 'fail'> = {};
      await Promise.all([
        withTimeout(app.queues.backup.getJobCounts('active'), 2000).then(
          () => (checks.redis = 'ok'),
          () => (checks.redis = 'fail'),
        ),
        withTimeout(app.catalog.listJobs({ limit: 1 }), 2000).then(
          () => (checks.catalog = 'ok'),
          () => (checks.catalog = 'fail'),
        ),
      ]);
      const failed = Object.entries(checks).filter(([, v]) => v === 'fail').map(([k]) => k);
      if (failed.length) {
        reply.header('retry-after', '5');
        return sendProblem(reply, httpProblem(req, 'NOT_READY', `not ready: ${failed.join(', ')} unreachable`));
      }
      return { status: 'ok' as const, checks };
    },
  );
};

export default health;

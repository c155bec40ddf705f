import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { jsonResponse, problemResponses } from '../common.js';
import type { HealthService } from '../../services/health.js';
import { PROBLEM_JSON } from '../../plugins/problem.js';
import { HealthReportSchema } from './schema.js';

/** `/v1/health`: each database ok/warning/critical with reasons (thresholds: config `health`). */
const healthV1: FastifyPluginAsyncTypebox<{ service: HealthService }> = async (app, opts) => {
  app.get(
    '',
    {
      config: { auth: 'read' },
      schema: {
        tags: ['ops'],
        operationId: 'health',
        summary: 'Backup health of every database (ok / warning / critical, with reasons); 503 when anything is critical',
        response: {
          200: jsonResponse(HealthReportSchema, 'Nothing is critical'),
          ...problemResponses,
          503: {
            description: 'Something is critical (the same report), or `OVERLOADED` / `REDIS_UNAVAILABLE` (problem+json)',
            content: { 'application/json': { schema: HealthReportSchema }, [PROBLEM_JSON]: { schema: { $ref: 'Problem#' } } },
          },
        },
      },
    },
    async (_req, reply) => {
      const report = await opts.service.report();
      if (report.status === 'critical') reply.code(503);
      return report;
    },
  );
};

export default healthV1;

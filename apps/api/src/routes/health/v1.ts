import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { jsonResponse, problemResponses } from '../common.js';
import type { HealthService } from '../../services/health.js';
import { PROBLEM_JSON } from '../../plugins/problem.js';
import { HealthReportSchema } from './schema.js';

/** `/v1/health`: each database ok/warning/critical with reasons (thresholds: config `health`). */
const healthV1: FastifyPluginAsyncTypebox<{ service: HealthService }> = async (app, opts) => {
  const serialized = new WeakMap<object, string>();
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
      // A report is reused for `health.cacheSeconds`: so is its JSON (~300 bytes per database).
      let body = serialized.get(report);
      if (body === undefined) serialized.set(report, (body = JSON.stringify(report)));
      return reply.type('application/json; charset=utf-8').send(body);
    },
  );
};

export default healthV1;

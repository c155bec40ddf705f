import type { FastifyPluginAsync } from 'fastify';
import { problemResponses } from '../common.js';

/** `/metrics`: Prometheus text. Needs a `read` key unless `api.metricsPublic`. */
const metrics: FastifyPluginAsync = async (app) => {
  app.get(
    '',
    {
      config: { auth: app.config.api.metricsPublic ? 'public' : 'read' },
      schema: {
        tags: ['ops'],
        operationId: 'getMetrics',
        summary: 'Prometheus metrics',
        description: 'Prometheus text exposition format 0.0.4 (`text/plain; version=0.0.4; charset=utf-8`).',
        response: {
          200: { description: 'The metrics', content: { 'text/plain': { schema: { type: 'string' } } } },
          ...problemResponses,
        },
      },
    },
    async (_req, reply) => {
      reply.type(app.metrics.contentType);
      return app.metrics.render();
    },
  );
};

export default metrics;

import type { FastifyPluginAsync } from 'fastify';

/** `/metrics`: Prometheus text. Needs a `read` key unless `api.metricsPublic`. */
const metrics: FastifyPluginAsync = async (app) => {
  app.get(
    '',
    {
      config: { auth: app.config.api.metricsPublic ? 'public' : 'read' },
      schema: { tags: ['ops'], summary: 'Prometheus metrics', produces: ['text/plain'] },
    },
    async (_req, reply) => {
      const registry = app.metrics.registry;
      reply.type(registry.contentType);
      return registry.metrics();
    },
  );
};

export default metrics;

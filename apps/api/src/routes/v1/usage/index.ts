import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { UsageQuery, UsageSchema } from '@mfb/client';
import { storageUsageFor } from '@mfb/runtime';
import { databaseOr404, problemResponses } from '../../common.js';

/** `/v1/usage`: bytes and counts of live copies per database and target, from the catalog. */
const usage: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '',
    {
      config: { auth: 'read' },
      schema: {
        tags: ['retention'],
        operationId: 'getUsage',
        summary: 'Storage used per database and target (live copies and their bytes)',
        description: 'A row per configured database and target (zero when empty) and per other target still holding copies. `databaseId` limits it to one database.',
        querystring: UsageQuery,
        response: { 200: UsageSchema, ...problemResponses },
      },
    },
    async (req) => {
      if (req.query.databaseId !== undefined) databaseOr404(app, req.query.databaseId);
      return storageUsageFor(app.config, app.catalog, req.query.databaseId);
    },
  );
};

export default usage;

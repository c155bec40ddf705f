import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { DatabaseParams, RetentionPlanSchema, RetentionQuery } from '@mfb/client';
import { planTargetRetention } from '@mfb/runtime';
import { databaseOr404, problemResponses } from '../../../common.js';

/** `/v1/databases/:databaseId/retention`: the plan a prune would carry out now (a dry run). */
const retention: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '',
    {
      config: { auth: 'read' },
      schema: {
        tags: ['retention'],
        operationId: 'getRetentionPlan',
        summary: 'Dry run: what a prune of a target would keep and delete now, and why',
        description:
          'The same plan the prune job carries out (docs/retention.md): every live copy on `target` (default `local`, the primary storage), ' +
          'newest first, with KEEP/DELETE and the rules behind it. Changes nothing. An unknown target is `404 TARGET_NOT_FOUND`.',
        params: DatabaseParams,
        querystring: RetentionQuery,
        response: { 200: RetentionPlanSchema, ...problemResponses },
      },
    },
    async (req) => {
      const db = databaseOr404(app, req.params.databaseId);
      const plan = await planTargetRetention({ config: app.config, catalog: app.catalog }, db, req.query.target ?? 'local', app.now());
      return plan.view;
    },
  );
};

export default retention;

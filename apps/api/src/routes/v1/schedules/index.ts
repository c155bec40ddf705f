import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ScheduleListQuery, ScheduleListSchema } from '@mfb/client';
import { databaseOr404, problemResponses } from '../../common.js';
import { scheduleView } from '../../../services/views.js';

/** `/v1/schedules`: every schedule, optionally of one database. */
const allSchedules: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '',
    {
      config: { auth: 'read' },
      schema: {
        tags: ['schedules'],
        operationId: 'listSchedules',
        summary: 'List schedules (all databases, or `databaseId`)',
        description: 'An unknown `databaseId` is `404 DATABASE_NOT_FOUND`, as on `/v1/databases/{databaseId}/schedules`.',
        querystring: ScheduleListQuery,
        response: { 200: ScheduleListSchema, ...problemResponses },
      },
    },
    async (req) => {
      // Same answer as the nested route: an unknown database is 404, not an empty list.
      if (req.query.databaseId !== undefined) databaseOr404(app, req.query.databaseId);
      const now = app.now();
      return { items: (await app.catalog.listSchedules(req.query.databaseId)).map((s) => scheduleView(s, now)) };
    },
  );
};

export default allSchedules;

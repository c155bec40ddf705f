import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ScheduleListQuery, ScheduleListSchema } from '@mfb/client';
import { problemResponses } from '../../common.js';
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
        querystring: ScheduleListQuery,
        response: { 200: ScheduleListSchema, ...problemResponses },
      },
    },
    async (req) => {
      const now = app.now();
      return { items: (await app.catalog.listSchedules(req.query.databaseId)).map((s) => scheduleView(s, now)) };
    },
  );
};

export default allSchedules;

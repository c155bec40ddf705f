import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import {
  CreateScheduleBody,
  DatabaseParams,
  ScheduleListSchema,
  ScheduleParams,
  ScheduleSchema,
  UpdateScheduleBody,
} from '@mfb/client';
import type { ScheduleRecord } from '@mfb/catalog';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { ScheduleExistsError, ScheduleFromConfigError, ScheduleNotFoundError } from '../../../../errors.js';
import { HEADERS, databaseOr404, jsonResponse, problemResponses } from '../../../common.js';
import { checkSchedule } from '../../../../services/cron.js';
import { reconcileNow } from '../../../../services/reconcile.js';
import { scheduleView } from '../../../../services/views.js';

async function scheduleOr404(app: FastifyInstance, databaseId: string, scheduleId: string): Promise<ScheduleRecord> {
  databaseOr404(app, databaseId);
  const s = await app.catalog.getSchedule(databaseId, scheduleId);
  if (!s) throw new ScheduleNotFoundError(databaseId, scheduleId);
  return s;
}

/**
 * Store, then reconcile. The catalog is the desired state: if Redis is unreachable right
 * now, the change is kept and the worker's periodic reconcile applies it (invariant 7).
 */
async function store(app: FastifyInstance, log: FastifyBaseLogger, s: Omit<ScheduleRecord, 'updatedAt'>): Promise<ScheduleRecord> {
  const saved = await app.catalog.upsertSchedule(s);
  await reconcileNow(app).catch((err: unknown) => log.warn({ err }, 'schedule stored; reconcile into BullMQ deferred'));
  return saved;
}

/** `/v1/databases/:databaseId/schedules` */
const schedules: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '',
    {
      config: { auth: 'read' },
      schema: {
        tags: ['schedules'],
        operationId: 'listDatabaseSchedules',
        summary: 'Schedules of one database',
        params: DatabaseParams,
        response: { 200: ScheduleListSchema, ...problemResponses },
      },
    },
    async (req) => {
      databaseOr404(app, req.params.databaseId);
      const now = app.now();
      return { items: (await app.catalog.listSchedules(req.params.databaseId)).map((s) => scheduleView(s, now)) };
    },
  );

  app.post(
    '',
    {
      config: { auth: 'write' },
      schema: {
        tags: ['schedules'],
        operationId: 'createSchedule',
        summary: 'Create a schedule (cron + IANA time zone)',
        params: DatabaseParams,
        body: CreateScheduleBody,
        response: { 201: jsonResponse(ScheduleSchema, 'Created; `Location` is its URL', { location: HEADERS.location }), ...problemResponses },
      },
    },
    async (req, reply) => {
      const { databaseId } = req.params;
      databaseOr404(app, databaseId);
      const b = req.body;
      const timezone = b.timezone ?? 'UTC';
      checkSchedule(b.cron, timezone, app.now());
      if (await app.catalog.getSchedule(databaseId, b.scheduleId)) throw new ScheduleExistsError(databaseId, b.scheduleId);
      const saved = await store(app, req.log, {
        databaseId,
        scheduleId: b.scheduleId,
        job: b.job ?? 'backup',
        cron: b.cron.trim(),
        timezone,
        paused: b.paused ?? false,
        origin: 'api',
      });
      reply.header('location', `/v1/databases/${databaseId}/schedules/${saved.scheduleId}`);
      return reply.code(201).send(scheduleView(saved, app.now()));
    },
  );

  app.get(
    '/:scheduleId',
    {
      config: { auth: 'read' },
      schema: {
        tags: ['schedules'],
        operationId: 'getSchedule',
        summary: 'One schedule with its next run',
        params: ScheduleParams,
        response: { 200: ScheduleSchema, ...problemResponses },
      },
    },
    async (req) => scheduleView(await scheduleOr404(app, req.params.databaseId, req.params.scheduleId), app.now()),
  );

  app.patch(
    '/:scheduleId',
    {
      config: { auth: 'write' },
      schema: {
        tags: ['schedules'],
        operationId: 'updateSchedule',
        summary: 'Change a schedule (cron, time zone, job, paused)',
        params: ScheduleParams,
        body: UpdateScheduleBody,
        response: { 200: ScheduleSchema, ...problemResponses },
      },
    },
    async (req) => {
      const cur = await scheduleOr404(app, req.params.databaseId, req.params.scheduleId);
      const b = req.body;
      const changesDefinition = b.cron !== undefined || b.timezone !== undefined || b.job !== undefined;
      if (cur.origin === 'config' && changesDefinition) throw new ScheduleFromConfigError(cur.scheduleId);
      const next = {
        databaseId: cur.databaseId,
        scheduleId: cur.scheduleId,
        job: b.job ?? cur.job,
        cron: b.cron?.trim() ?? cur.cron,
        timezone: b.timezone ?? cur.timezone,
        paused: b.paused ?? cur.paused,
        origin: cur.origin,
      };
      checkSchedule(next.cron, next.timezone, app.now());
      return scheduleView(await store(app, req.log, next), app.now());
    },
  );

  for (const [action, paused] of [['pause', true], ['resume', false]] as const) {
    app.post(
      `/:scheduleId/${action}`,
      {
        config: { auth: 'write' },
        schema: {
          tags: ['schedules'],
          operationId: paused ? 'pauseSchedule' : 'resumeSchedule',
          summary: paused ? 'Pause a schedule (kept, but no longer runs)' : 'Resume a paused schedule',
          params: ScheduleParams,
          body: Type.Optional(Type.Object({}, { additionalProperties: false })),
          response: { 200: ScheduleSchema, ...problemResponses },
        },
      },
      async (req) => {
        const cur = await scheduleOr404(app, req.params.databaseId, req.params.scheduleId);
        const { updatedAt: _u, ...rest } = cur;
        return scheduleView(await store(app, req.log, { ...rest, paused }), app.now());
      },
    );
  }

  app.delete(
    '/:scheduleId',
    {
      config: { auth: 'write' },
      schema: {
        tags: ['schedules'],
        operationId: 'deleteSchedule',
        summary: 'Delete a schedule created through the API',
        params: ScheduleParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...problemResponses },
      },
    },
    async (req, reply) => {
      const cur = await scheduleOr404(app, req.params.databaseId, req.params.scheduleId);
      if (cur.origin === 'config') throw new ScheduleFromConfigError(cur.scheduleId);
      await app.catalog.deleteSchedule(cur.databaseId, cur.scheduleId);
      await reconcileNow(app).catch((err: unknown) => req.log.warn({ err }, 'schedule deleted; reconcile into BullMQ deferred'));
      return reply.code(204).send(null);
    },
  );
};

export default schedules;

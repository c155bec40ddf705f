import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { DatabaseDetailSchema, DatabaseListSchema, DatabaseParams, type DatabaseHealth } from '@mfb/client';
import { databaseOr404, problemResponses } from '../../common.js';
import { backupSummary, databaseSummary } from '../../../services/views.js';
import { describeSchedule } from '../../../services/cron.js';

/** `/v1/databases`: the configured databases, each with its last backup and backup health. */
const databases: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '',
    {
      config: { auth: 'read' },
      schema: {
        tags: ['databases'],
        operationId: 'listDatabases',
        summary: 'List the configured databases',
        response: { 200: DatabaseListSchema, ...problemResponses },
      },
    },
    async () => ({ items: app.config.databases.map(databaseSummary) }),
  );

  app.get(
    '/:databaseId',
    {
      config: { auth: 'read' },
      schema: {
        tags: ['databases'],
        operationId: 'getDatabase',
        summary: 'One database with its last backup and health (age of the last backup vs its schedule)',
        params: DatabaseParams,
        response: { 200: DatabaseDetailSchema, ...problemResponses },
      },
    },
    async (req) => {
      const db = databaseOr404(app, req.params.databaseId);
      const now = app.now();
      const [last, schedules, drills] = await Promise.all([app.catalog.latestBackup(db.id), app.catalog.listSchedules(db.id), app.catalog.listDrills(db.id)]);
      const intervals = schedules
        .filter((s) => s.job === 'backup' && !s.paused)
        .map((s) => describeSchedule(s.cron, s.timezone, now)?.intervalSeconds)
        .filter((x): x is number => typeof x === 'number');
      const expected = intervals.length ? Math.min(...intervals) : null;
      const age = last ? Math.max(0, (now.getTime() - Date.parse(last.createdAt)) / 1000) : null;
      const health: DatabaseHealth = {
        status: age === null ? 'never' : expected === null ? 'unscheduled' : age <= 2 * expected ? 'ok' : 'stale',
        lastBackupAt: last?.createdAt ?? null,
        ageSeconds: age === null ? null : Math.round(age),
        expectedIntervalSeconds: expected,
      };
      // Drills of configured targets only: the database's own first, in its order.
      const order = [...new Set(['local', ...db.targets, ...app.config.targets.map((t) => t.name)])];
      const restoreDrills = drills
        .filter((d) => order.includes(d.target))
        .sort((a, b) => order.indexOf(a.target) - order.indexOf(b.target))
        .map(({ databaseId: _db, ...d }) => d);
      return { ...databaseSummary(db), lastBackup: last ? backupSummary(last) : null, health, restoreDrills };
    },
  );
};

export default databases;

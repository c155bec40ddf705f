import { basename } from 'node:path';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import {
  AcceptedSchema,
  BackupDetailSchema,
  BackupPageSchema,
  BackupParams,
  BackupSummarySchema,
  DatabaseParams,
  DownloadQuery,
  ListBackupsQuery,
  TriggerBackupBody,
  type Accepted,
} from '@mfb/client';
import type { BackupRecord } from '@mfb/catalog';
import { enqueue, enqueueBackupNow } from '@mfb/jobs';
import type { FastifyInstance } from 'fastify';
import { BackupNotFoundError, BackupNotOnTargetError, BackupPinnedError, InvalidRequestError } from '../../../../errors.js';
import { databaseOr404, problemResponses } from '../../../common.js';
import { backupDetail, backupSummary, jobUrl } from '../../../../services/views.js';

/** `at` may be at most this far ahead (a delayed job is not a schedule). */
const MAX_AT_AHEAD_MS = 30 * 24 * 3600 * 1000;

/** The backup `backupId` of database `databaseId`. @throws BackupNotFoundError */
export async function backupOr404(app: FastifyInstance, databaseId: string, backupId: string): Promise<BackupRecord> {
  databaseOr404(app, databaseId);
  const rec = await app.catalog.getBackup(backupId);
  if (!rec || rec.databaseId !== databaseId) throw new BackupNotFoundError(databaseId, backupId);
  return rec;
}

/** `/v1/databases/:databaseId/backups` */
const backups: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '',
    {
      config: { auth: 'write' },
      schema: {
        tags: ['backups'],
        summary: 'Back up now, or at an instant `at`',
        description:
          'Answers 202 with the job id. While a "now" backup of the database is still waiting, another trigger returns that job (`deduplicated: true`).',
        params: DatabaseParams,
        body: TriggerBackupBody,
        response: { 202: AcceptedSchema, ...problemResponses },
      },
    },
    async (req, reply) => {
      const db = databaseOr404(app, req.params.databaseId);
      let accepted: Accepted;
      if (req.body.at !== undefined) {
        const at = new Date(req.body.at);
        if (!Number.isFinite(at.getTime())) throw new InvalidRequestError('INVALID_AT', '`at` is not a valid instant');
        if (at.getTime() - Date.now() > MAX_AT_AHEAD_MS) {
          throw new InvalidRequestError('AT_TOO_FAR', '`at` must be at most 30 days ahead; create a schedule instead');
        }
        const job = await enqueue(app.queues, 'backup', { databaseId: db.id, trigger: 'api' }, { at });
        const id = String(job.id);
        accepted = { jobId: id, queue: 'backup', statusUrl: jobUrl(id), deduplicated: false, runAt: new Date(Math.max(at.getTime(), Date.now())).toISOString() };
      } else {
        // Only the id is answered: skip reading the waiting job back from Redis.
        const { job, deduplicated } = await enqueueBackupNow(app.queues, { databaseId: db.id, trigger: 'api' }, { fetchExisting: false });
        const id = String(job.id);
        accepted = { jobId: id, queue: 'backup', statusUrl: jobUrl(id), deduplicated };
      }
      reply.header('location', accepted.statusUrl);
      return reply.code(202).send(accepted);
    },
  );

  app.get(
    '',
    {
      config: { auth: 'read' },
      schema: {
        tags: ['backups'],
        summary: 'List backups, newest first, with cursor pagination',
        params: DatabaseParams,
        querystring: ListBackupsQuery,
        response: { 200: BackupPageSchema, ...problemResponses },
      },
    },
    async (req) => {
      const db = databaseOr404(app, req.params.databaseId);
      const q = req.query;
      if (q.createdAfter && q.createdBefore && Date.parse(q.createdAfter) > Date.parse(q.createdBefore)) {
        throw new InvalidRequestError('INVALID_RANGE', '`createdAfter` is later than `createdBefore`');
      }
      const page = await app.catalog.listBackups({
        databaseId: db.id,
        ...(q.status ? { status: q.status } : {}),
        ...(q.target ? { target: q.target } : {}),
        ...(q.createdAfter ? { createdAfter: new Date(q.createdAfter).toISOString() } : {}),
        ...(q.createdBefore ? { createdBefore: new Date(q.createdBefore).toISOString() } : {}),
        ...(q.cursor ? { cursor: q.cursor } : {}),
        limit: q.limit ?? 50,
      });
      return { items: page.items.map(backupSummary), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/:backupId',
    {
      config: { auth: 'read' },
      schema: {
        tags: ['backups'],
        summary: 'One backup with its manifest and locations',
        params: BackupParams,
        response: { 200: BackupDetailSchema, ...problemResponses },
      },
    },
    async (req) => backupDetail(await backupOr404(app, req.params.databaseId, req.params.backupId)),
  );

  app.get(
    '/:backupId/artifact',
    {
      config: { auth: 'read' },
      schema: {
        tags: ['backups'],
        summary: 'Download the stored artifact (as stored: compressed and possibly encrypted)',
        description: 'Streams from the primary storage unless `target` names another copy.',
        params: BackupParams,
        querystring: DownloadQuery,
        produces: ['application/octet-stream'],
        response: {
          200: Type.Unknown({ description: 'The artifact bytes (`application/octet-stream`)' }),
          ...problemResponses,
        },
      },
    },
    async (req, reply) => {
      const rec = await backupOr404(app, req.params.databaseId, req.params.backupId);
      const live = rec.locations.filter((l) => l.deletedAt === null);
      const wanted = req.query.target;
      const loc = wanted ? live.find((l) => l.target === wanted) : (live.find((l) => l.target === 'local') ?? live[0]);
      if (!loc) throw new BackupNotOnTargetError(rec.backupId, wanted ?? 'any');
      const storage = app.storageFor(loc.target);
      const stream = await storage.get(loc.artifactKey, { signal: AbortSignal.timeout(24 * 3600 * 1000) });
      reply
        .header('content-type', 'application/octet-stream')
        .header('content-length', String(rec.manifest.artifact.sizeBytes))
        .header('content-disposition', `attachment; filename="${basename(loc.artifactKey).replace(/[^A-Za-z0-9._-]/g, '_')}"`)
        .header('x-checksum-sha256', rec.manifest.artifact.sha256);
      return reply.send(stream);
    },
  );

  app.delete(
    '/:backupId',
    {
      config: { auth: 'write' },
      schema: {
        tags: ['backups'],
        summary: 'Delete every stored copy (manifest first, then artifact). Pinned backups are refused (409).',
        params: BackupParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...problemResponses },
      },
    },
    async (req, reply) => {
      const rec = await backupOr404(app, req.params.databaseId, req.params.backupId);
      if (rec.pinned) throw new BackupPinnedError(rec.backupId);
      for (const loc of rec.locations.filter((l) => l.deletedAt === null)) {
        const storage = app.storageFor(loc.target);
        // Manifest first: a crash in between leaves an orphan artifact (garbage), never a
        // manifest pointing at nothing (which a catalog rebuild would resurrect).
        await storage.delete(`${loc.artifactKey}.manifest.json`);
        await storage.delete(loc.artifactKey);
        await app.catalog.markLocationDeleted(rec.backupId, loc.target);
      }
      req.log.info({ databaseId: rec.databaseId, backupId: rec.backupId, by: req.principal?.id }, 'backup deleted');
      return reply.code(204).send(null);
    },
  );

  for (const [method, pinned] of [['PUT', true], ['DELETE', false]] as const) {
    app.route({
      method,
      url: '/:backupId/pin',
      config: { auth: 'write' },
      schema: {
        tags: ['backups'],
        summary: pinned ? 'Pin: retention always keeps this backup' : 'Unpin',
        params: BackupParams,
        response: { 200: BackupSummarySchema, ...problemResponses },
      },
      handler: async (req) => {
        const { databaseId, backupId } = req.params;
        await backupOr404(app, databaseId, backupId);
        await app.catalog.setPinned(backupId, pinned);
        return backupSummary(await backupOr404(app, databaseId, backupId));
      },
    });
  }
};

export default backups;

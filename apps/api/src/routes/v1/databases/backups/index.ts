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
  DeleteBackupQuery,
  DownloadQuery,
  ListBackupsQuery,
  TriggerBackupBody,
  type Accepted,
} from '@mfb/client';
import type { BackupRecord } from '@mfb/catalog';
import { deletePinMarker, writePinMarker } from '@mfb/backup';
import { CatalogBackupDeletingError } from '@mfb/catalog';
import { deleteCopies } from '@mfb/runtime';
import { enqueue, enqueueBackupNow } from '@mfb/jobs';
import type { FastifyInstance } from 'fastify';
import { BackupNotFoundError, BackupNotOnTargetError, BackupPinnedError, DatabaseBusyError, InvalidRequestError } from '../../../../errors.js';
import { HEADERS, acceptedResponse, databaseOr404, problemResponse, problemResponses } from '../../../common.js';
import { backupDetail, backupSummary, jobUrl } from '../../../../services/views.js';

/** `at` may be at most this far ahead (a delayed job is not a schedule). */
const MAX_AT_AHEAD_MS = 30 * 24 * 3600 * 1000;

/**
 * `retry-after` (seconds) of `409 DATABASE_BUSY`. A hint only: how long the job holding the
 * database lock still runs is unknown (the lock is renewed while it runs).
 */
export const BUSY_RETRY_AFTER_S = 5;

/** The backup `backupId` of database `databaseId`. @throws BackupNotFoundError */
export async function backupOr404(app: FastifyInstance, databaseId: string, backupId: string): Promise<BackupRecord> {
  databaseOr404(app, databaseId);
  const rec = await app.catalog.getBackup(backupId);
  if (!rec || rec.databaseId !== databaseId) throw new BackupNotFoundError(backupId, { databaseId });
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
        operationId: 'triggerBackup',
        summary: 'Back up now, or at an instant `at`',
        description:
          'Answers 202 with the job id. While a "now" backup of the database is still waiting, another trigger returns that job (`deduplicated: true`).',
        params: DatabaseParams,
        body: TriggerBackupBody,
        response: { 202: acceptedResponse(AcceptedSchema), ...problemResponses },
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
        accepted = { jobId: id, queue: job.queueName, statusUrl: jobUrl(id), deduplicated: false, runAt: new Date(Math.max(at.getTime(), Date.now())).toISOString() };
      } else {
        // Only the id is answered: skip reading the waiting job back from Redis.
        const { job, deduplicated } = await enqueueBackupNow(app.queues, { databaseId: db.id, trigger: 'api' }, { fetchExisting: false });
        const id = String(job.id);
        accepted = { jobId: id, queue: job.queueName, statusUrl: jobUrl(id), deduplicated };
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
        operationId: 'listBackups',
        summary: 'List backups, newest first, with cursor pagination',
        description: 'A `cursor` that was not returned by this API (or is damaged) is `400 CATALOG_INVALID_QUERY`.',
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
        operationId: 'getBackup',
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
        operationId: 'downloadBackup',
        summary: 'Download the stored artifact (as stored: compressed and possibly encrypted)',
        description: 'Streams from the primary storage unless `target` names another copy.',
        params: BackupParams,
        querystring: DownloadQuery,
        response: {
          200: {
            description: 'The artifact bytes, exactly as stored',
            headers: {
              'content-disposition': { type: 'string', description: '`attachment; filename="<artifact file name>"`' },
              'content-length': { type: 'integer', description: 'Artifact size in bytes' },
              'x-checksum-sha256': { type: 'string', description: 'SHA-256 (hex) of the artifact, from its manifest' },
            },
            content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
          },
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
        operationId: 'deleteBackup',
        summary: 'Delete every stored copy, or the copies on the targets named. Pinned backups are refused (409).',
        description:
          'Each copy goes the way prune deletes one (manifest, artifact, pin marker, then the catalog mark). ' +
          '`?target=a&target=b` deletes only those copies; a target that is not configured is `404 TARGET_NOT_FOUND`, one without a live copy `404 BACKUP_NOT_ON_TARGET` (nothing is deleted then). ' +
          'Takes the per-database lock the worker holds for every job, so it never races a backup, upload, prune, restore or verify of the same database. ' +
          'While a job holds it: `409 DATABASE_BUSY` with `retry-after`; nothing is deleted.',
        params: BackupParams,
        querystring: DeleteBackupQuery,
        response: {
          204: Type.Null({ description: 'Deleted' }),
          ...problemResponses,
          409: problemResponse('`BACKUP_PINNED` (unpin first), or `DATABASE_BUSY`: a job holds the database; retry after `retry-after` seconds', {
            'retry-after': { ...HEADERS.retryAfter, description: 'Seconds to wait before retrying (`DATABASE_BUSY` only)' },
          }),
        },
      },
    },
    async (req, reply) => {
      const { databaseId, backupId } = req.params;
      const found = await backupOr404(app, databaseId, backupId);
      const only = req.query.target;
      // Unknown target names fail before anything is touched.
      for (const t of only ?? []) app.storageFor(t);
      if (found.pinned) throw new BackupPinnedError(found.backupId);
      // Invariant 5: at most one actor touches a database's backups at a time. Never wait
      // here (a backup may run for minutes): answer 409 and let the caller retry.
      const held = await app.locks.tryAcquire(found.databaseId);
      if (!held) throw new DatabaseBusyError(found.databaseId, BUSY_RETRY_AFTER_S);
      try {
        // Read again under the lock: the job that held it may have pruned, uploaded or
        // pinned in the meantime.
        const rec = await backupOr404(app, databaseId, backupId);
        if (rec.pinned) throw new BackupPinnedError(rec.backupId);
        const live = rec.locations.filter((l) => l.deletedAt === null);
        const missing = only?.find((t) => !live.some((l) => l.target === t));
        if (missing !== undefined) throw new BackupNotOnTargetError(rec.backupId, missing);
        const copies = only ? live.filter((l) => only.includes(l.target)) : live;
        for (const loc of copies) {
          // The lock expired (process paused past the TTL) and a job may own it now: stop.
          if (held.lost) throw new DatabaseBusyError(rec.databaseId, BUSY_RETRY_AFTER_S);
          // The one deletion protocol (shared with prune): the catalog marks the copy
          // `deleting` unless pinned (a pin that landed since the read above wins), then
          // manifest, artifact, pin marker, then the catalog mark.
          const r = await deleteCopies(app.catalog, app.storageFor(loc.target), [{ backupId: rec.backupId, target: loc.target }]);
          if (r.pinned.length) throw new BackupPinnedError(rec.backupId);
        }
        req.log.info({ databaseId: rec.databaseId, backupId: rec.backupId, targets: copies.map((l) => l.target), by: req.principal?.id }, 'backup deleted');
      } finally {
        // A failed release (Redis gone) must not turn a done delete into an error: the lock
        // expires after its TTL.
        await held.release().catch((err: unknown) => req.log.warn({ err, databaseId: found.databaseId }, 'database lock release failed'));
      }
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
        operationId: pinned ? 'pinBackup' : 'unpinBackup',
        summary: pinned ? 'Pin: retention always keeps this backup' : 'Unpin',
        description: pinned
          ? 'Writes a pin marker beside every live copy, then pins in the catalog. A pin the API answered 200 to is never deleted by a prune or `DELETE`. ' +
            'While a copy of the backup is being deleted (or none is left): `409 BACKUP_DELETING`, nothing pinned.'
          : 'Unpins in the catalog, then deletes the pin markers.',
        params: BackupParams,
        response: {
          200: BackupSummarySchema,
          ...problemResponses,
          ...(pinned ? { 409: problemResponse('`BACKUP_DELETING`: a prune or delete is deleting a copy of this backup (or no copy is left); nothing was pinned') } : {}),
        },
      },
      handler: async (req) => {
        const { databaseId, backupId } = req.params;
        const rec = await backupOr404(app, databaseId, backupId);
        // A pin marker `<artifactKey>.pin.json` beside EVERY live copy (primary and each
        // target) lets a catalog rebuilt from any one of them get the pin back (invariant 6).
        // Order (see `writePinMarker`): pin writes the markers before the catalog, unpin clears
        // the catalog before deleting them, so a crash in between leaves at worst stale markers
        // (kept longer), never a pin that storage does not know. Unpin deletes the marker of
        // every copy ever recorded (deleting a missing key is a no-op). An upload of a pinned
        // backup copies the marker with it.
        // Copies on a target since removed from the config cannot be reached: skipped.
        const reachable = rec.locations.filter((l) => l.target === 'local' || app.config.targets.some((t) => t.name === l.target));
        if (pinned) {
          const written = reachable.filter((l) => l.deletedAt === null);
          for (const loc of written) await writePinMarker(app.storageFor(loc.target), loc.artifactKey, rec.backupId);
          try {
            // Refused (BACKUP_DELETING) when a prune or delete committed to a copy first: the
            // catalog decides who wins, in one transaction each (see `beginCopyDeletes`).
            await app.catalog.setPinned(backupId, true);
          } catch (err) {
            if (err instanceof CatalogBackupDeletingError && !(await app.catalog.getBackup(backupId))?.pinned) {
              // Markers of a pin that did not happen would pin the backup again on a rebuild.
              for (const loc of written) await deletePinMarker(app.storageFor(loc.target), loc.artifactKey).catch(() => undefined);
            }
            throw err;
          }
        } else {
          await app.catalog.setPinned(backupId, false);
          for (const loc of reachable) await deletePinMarker(app.storageFor(loc.target), loc.artifactKey);
        }
        return backupSummary(await backupOr404(app, databaseId, backupId));
      },
    });
  }
};

export default backups;

import { isAbsolute, normalize } from 'node:path';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AcceptedSchema, DatabaseParams, RestoreBody } from '@mfb/client';
import { enqueue } from '@mfb/jobs';
import { BackupNotOnTargetError, InvalidRequestError } from '../../../../errors.js';
import { acceptedResponse, problemResponses } from '../../../common.js';
import { jobUrl } from '../../../../services/views.js';
import { backupOr404 } from '../backups/index.js';

/**
 * `/v1/databases/:databaseId/restores`. Needs `admin`: a restore writes files on the
 * worker's host (a new path) or replaces the live database.
 */
const restores: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['restores'],
        operationId: 'restore',
        summary: 'Restore a backup to a new path or in place',
        description:
          '`mode: new` restores into `targetPath` (absolute, must not exist). `mode: replace` restores over the configured database (or `targetPath`) after a safety copy. Answers 202 with the job id.',
        params: DatabaseParams,
        body: RestoreBody,
        response: { 202: acceptedResponse(AcceptedSchema), ...problemResponses },
      },
    },
    async (req, reply) => {
      const { databaseId } = req.params;
      const body = req.body;
      const rec = await backupOr404(app, databaseId, body.backupId);
      if (body.mode === 'new' && body.targetPath === undefined) {
        throw new InvalidRequestError('RESTORE_TARGET_REQUIRED', '`targetPath` is required when `mode` is `new`');
      }
      if (body.targetPath !== undefined) {
        if (body.targetPath.includes('\0') || !isAbsolute(body.targetPath) || normalize(body.targetPath) !== body.targetPath) {
          throw new InvalidRequestError('RESTORE_INVALID_TARGET_PATH', '`targetPath` must be an absolute, normalized path');
        }
      }
      if (body.from !== undefined) {
        app.storageFor(body.from);
        if (!rec.locations.some((l) => l.target === body.from && l.deletedAt === null)) {
          throw new BackupNotOnTargetError(rec.backupId, body.from);
        }
      }
      const job = await enqueue(app.queues, 'restore', {
        databaseId,
        backupId: body.backupId,
        mode: body.mode,
        ...(body.targetPath !== undefined ? { targetPath: body.targetPath } : {}),
        ...(body.from !== undefined ? { from: body.from } : {}),
      });
      const id = String(job.id);
      req.log.info({ databaseId, backupId: body.backupId, mode: body.mode, jobId: id, by: req.principal?.id }, 'restore requested');
      reply.header('location', jobUrl(id));
      return reply.code(202).send({ jobId: id, queue: job.queueName, statusUrl: jobUrl(id), deduplicated: false });
    },
  );
};

export default restores;

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AcceptedSchema, DatabaseParams, VerifyBody } from '@mfb/client';
import { enqueue } from '@mfb/jobs';
import { BackupNotOnTargetError, InvalidRequestError } from '../../../../errors.js';
import { acceptedResponse, databaseOr404, problemResponses } from '../../../common.js';
import { jobUrl } from '../../../../services/views.js';
import { backupOr404 } from '../backups/index.js';

/** `/v1/databases/:databaseId/verifies`: fetch, decrypt, decompress and integrity-check a backup. */
const verifies: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '',
    {
      config: { auth: 'write' },
      schema: {
        tags: ['restores'],
        operationId: 'verify',
        summary: 'Verify a backup (default: the newest) without restoring it, or run a restore drill of every target (`drill: true`)',
        params: DatabaseParams,
        body: VerifyBody,
        response: { 202: acceptedResponse(AcceptedSchema), ...problemResponses },
      },
    },
    async (req, reply) => {
      const { databaseId } = req.params;
      databaseOr404(app, databaseId);
      const { backupId, from, drill } = req.body;
      if (drill && (backupId !== undefined || from !== undefined)) throw new InvalidRequestError('VALIDATION_FAILED', 'drill verifies the newest backup of every target: give no backupId or from with it');
      if (from !== undefined) app.storageFor(from);
      if (backupId !== undefined) {
        const rec = await backupOr404(app, databaseId, backupId);
        if (from !== undefined && !rec.locations.some((l) => l.target === from && l.deletedAt === null)) {
          throw new BackupNotOnTargetError(backupId, from);
        }
      }
      const job = await enqueue(app.queues, 'verify', {
        databaseId,
        ...(backupId !== undefined ? { backupId } : {}),
        ...(from !== undefined ? { from } : {}),
        ...(drill ? { drill: true } : {}),
      });
      const id = String(job.id);
      reply.header('location', jobUrl(id));
      return reply.code(202).send({ jobId: id, queue: 'verify', statusUrl: jobUrl(id), deduplicated: false });
    },
  );
};

export default verifies;

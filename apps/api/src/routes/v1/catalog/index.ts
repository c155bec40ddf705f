import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { CatalogRebuildBody, CatalogRebuildReportSchema } from '@mfb/client';
import { rebuildFromStorage } from '@mfb/catalog';
import { problemResponses } from '../../common.js';

/** `/v1/catalog`: catalog maintenance (admin). */
const catalogRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/rebuild',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['catalog'],
        operationId: 'rebuildCatalog',
        summary: 'Recreate catalog records from the manifests on a target (storage is the source of truth)',
        description:
          'Synchronous: lists every manifest on `from` (default `local`, the primary storage), records each backup with a live copy there, ' +
          'and pins again the backups a pin marker sits beside. Idempotent. A target that is not configured is `404 TARGET_NOT_FOUND`; ' +
          'a missing bucket, refused credentials or a denied policy are `502 STORAGE_BUCKET_NOT_FOUND` / `STORAGE_AUTH_FAILED` / ' +
          '`STORAGE_ACCESS_DENIED`, and nothing is recorded. Same as `backupctl catalog rebuild --from <target>`.',
        body: CatalogRebuildBody,
        response: { 200: CatalogRebuildReportSchema, ...problemResponses },
      },
    },
    async (req) => {
      const target = req.body.from ?? 'local';
      const storage = app.storageFor(target);
      const report = await rebuildFromStorage(app.catalog, storage, target, { markMissing: req.body.markMissing === true });
      req.log.info({ target, added: report.added, updated: report.updated, pinsRestored: report.pinsRestored, by: req.principal?.id }, 'catalog rebuilt');
      return { storage: storage.url, ...report };
    },
  );
};

export default catalogRoutes;

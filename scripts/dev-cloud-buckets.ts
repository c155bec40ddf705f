/**
 * docker-compose helper (service `cloud-buckets`): create the `backups` container in Azurite
 * and the `backups` bucket in fake-gcs-server, which the example targets in
 * docs/storage-azure.md and docs/storage-gcs.md use. The storage drivers never create
 * buckets or containers themselves. Idempotent.
 *
 *   AZURITE_CONNECTION_STRING  Azurite's development connection string (public well-known key)
 *   GCS_ENDPOINT               fake-gcs-server JSON API origin, e.g. http://fake-gcs:4443
 *   BUCKET                     name to create in both (default: backups)
 */
import { createRequire } from 'node:module';

// @azure/storage-blob is a dependency of @mfb/storage, not of the workspace root.
const requireFromStorage = createRequire(new URL('../packages/storage/package.json', import.meta.url));
const { BlobServiceClient } = requireFromStorage('@azure/storage-blob') as typeof import('@azure/storage-blob');

const bucket = process.env.BUCKET ?? 'backups';

async function retry<T>(what: string, fn: () => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= 30) throw err;
      console.log(`${what}: not ready (${(err as Error).message}), retrying`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

if (process.env.AZURITE_CONNECTION_STRING) {
  const conn = process.env.AZURITE_CONNECTION_STRING;
  await retry('azurite', () => BlobServiceClient.fromConnectionString(conn).getContainerClient(bucket).createIfNotExists());
  console.log(`azurite: container ${bucket} ready`);
}

if (process.env.GCS_ENDPOINT) {
  const endpoint = process.env.GCS_ENDPOINT.replace(/\/$/, '');
  await retry('fake-gcs', async () => {
    const res = await fetch(`${endpoint}/storage/v1/b?project=dev`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: bucket }),
    });
    // 409: the bucket already exists.
    if (!res.ok && res.status !== 409) throw new Error(`HTTP ${res.status}`);
  });
  console.log(`fake-gcs: bucket ${bucket} ready`);
}

/**
 * The OpenAPI document without a running deployment: `openApiDocument()` builds the app with
 * the default configuration, a throw-away catalog and a Redis client that never connects, and
 * returns what `/docs/json` serves.
 *
 * `tsx apps/api/src/openapi.ts <file>` writes it to a file (`pnpm --filter @mfb/api
 * lint:openapi` lints that file with Redocly).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { openCatalog } from '@mfb/catalog';
import { loadConfig } from '@mfb/config';
import { closeQueues, createQueues } from '@mfb/jobs';
import { createLogger } from '@mfb/observability';
import { buildApp } from './app.js';

export async function openApiDocument(): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), 'mfb-openapi-'));
  const catalog = await openCatalog(join(dir, 'catalog.db'));
  // Never connects: building the document touches no queue.
  const redis = new Redis({ lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  const queues = createQueues(redis, 'openapi');
  try {
    const config = await loadConfig({ env: {}, cwd: dir });
    const app = await buildApp({ config, catalog, queues, redis, logger: createLogger('api', { level: 'silent' }) });
    await app.ready();
    const doc = app.swagger() as Record<string, unknown>;
    await app.close();
    return doc;
  } finally {
    await closeQueues(queues);
    redis.disconnect();
    await catalog.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const out = process.argv[2];
  if (!out) {
    process.stderr.write('usage: openapi.ts <output.json>\n');
    process.exit(2);
  }
  await writeFile(out, JSON.stringify(await openApiDocument(), null, 2) + '\n');
}

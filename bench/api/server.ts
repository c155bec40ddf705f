/**
 * The API in its own process for the benchmarks (so the load generator does not share its
 * event loop). Builds the app exactly like main.ts, from a config file written here:
 *
 *   tsx bench/api/server.ts --prefix P --dbs 1000 --catalog /tmp/x/catalog.db
 *
 * Prints one JSON line `{"url": ...}` on stdout when listening; exits on SIGTERM.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { buildApp } from '@mfb/api';
import type { Config } from '@mfb/config';
import { closeQueues } from '@mfb/jobs';
import { createLogger, createMetrics } from '@mfb/observability';
import { openMigratedCatalog, queuesFor } from '@mfb/runtime';
import { testConfig } from '@mfb/testkit';

export const BENCH_KEY = 'bench-key-0123456789abcdef0123456789';

export function dbIds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `db-${String(i).padStart(4, '0')}`);
}

/** The benchmark's config, built like a user's (a file read by `loadConfig`) under the catalog's directory. */
export async function benchConfig(dir: string, prefix: string, dbs: number, catalogPath = join(dir, 'catalog.db'), catalogUrl?: string): Promise<Config> {
  const { config } = await testConfig({
    dir,
    redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    redisPrefix: prefix,
    settings: {
      dataDir: '.',
      catalogPath,
      ...(catalogUrl ? { catalogUrl } : {}),
      databases: dbIds(dbs).map((id) => ({ id, path: `${id}.db` })),
      api: { keys: [{ id: 'bench', key: BENCH_KEY, scopes: ['admin'] }], rateLimitPerMinute: 1_000_000, bodyLimitBytes: 64 * 1024 },
    },
  });
  return config;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { prefix: { type: 'string' }, dbs: { type: 'string', default: '1000' }, catalog: { type: 'string' }, 'catalog-url': { type: 'string' } },
    strict: true,
  });
  if (!values.prefix || !values.catalog) throw new Error('--prefix and --catalog are required');
  const dir = dirname(values.catalog);
  mkdirSync(join(dir, 'backups'), { recursive: true });
  const config = await benchConfig(dir, values.prefix, Number(values.dbs), values.catalog, values['catalog-url']);
  const catalog = await openMigratedCatalog(config);
  const redis = new Redis(config.redis.url, { maxRetriesPerRequest: 3 });
  const queues = queuesFor(config, redis);
  const app = await buildApp({
    config,
    catalog,
    queues,
    redis,
    metrics: createMetrics(),
    logger: createLogger('api', { level: 'silent' }),
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  process.stdout.write(JSON.stringify({ url }) + '\n');
  process.on('SIGTERM', () => {
    void app
      .close()
      .then(() => closeQueues(queues))
      .then(() => redis.quit())
      .then(() => catalog.close())
      .then(() => process.exit(0));
  });
}

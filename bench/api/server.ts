/**
 * The API in its own process for the benchmarks (so the load generator does not share its
 * event loop). Builds the app exactly like main.ts, from a config assembled here:
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
import { openCatalog } from '@mfb/catalog';
import type { Config } from '@mfb/config';
import { closeQueues, createQueues } from '@mfb/jobs';
import { createLogger, createMetrics } from '@mfb/observability';
import { openStorage } from '@mfb/storage';

export const BENCH_KEY = 'bench-key-0123456789abcdef0123456789';

export function dbIds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `db-${String(i).padStart(4, '0')}`);
}

export function benchConfig(dir: string, prefix: string, dbs: number): Config {
  return {
    source: 'bench',
    dataDir: dir,
    catalogPath: join(dir, 'catalog.db'),
    tmpDir: join(dir, 'tmp'),
    storageUrl: 'file://' + join(dir, 'backups'),
    localRetention: { keepLast: 7 },
    databases: dbIds(dbs).map((id) => ({
      id,
      path: join(dir, `${id}.db`),
      compression: { algorithm: 'gzip' as const, level: 6 },
      targets: [],
      retention: { keepLast: 7 },
      schedules: [],
    })),
    targets: [],
    keys: new Map(),
    redis: { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', prefix, tls: false },
    worker: {
      concurrency: 1,
      lockTtlMs: 30_000,
      shutdownGraceMs: 5_000,
      metricsPort: 0,
      metricsHost: '127.0.0.1',
      attempts: { backup: 5, upload: 8, prune: 3, restore: 1, verify: 3 },
      backoffMs: 5000,
    },
    api: {
      host: '127.0.0.1',
      port: 0,
      keys: [{ id: 'bench', key: BENCH_KEY, scopes: ['admin'] }],
      metricsPublic: false,
      rateLimitPerMinute: 100_000_000,
      bodyLimitBytes: 64 * 1024,
      corsOrigins: [],
      requestTimeoutMs: 30_000,
      headersTimeoutMs: 10_000,
      idleTimeoutMs: 300_000,
    },
    log: { level: 'silent' },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { prefix: { type: 'string' }, dbs: { type: 'string', default: '1000' }, catalog: { type: 'string' } },
    strict: true,
  });
  if (!values.prefix || !values.catalog) throw new Error('--prefix and --catalog are required');
  const dir = dirname(values.catalog);
  mkdirSync(join(dir, 'backups'), { recursive: true });
  const config = benchConfig(dir, values.prefix, Number(values.dbs));
  const catalog = await openCatalog(values.catalog);
  await catalog.migrate();
  const redis = new Redis(config.redis.url, { maxRetriesPerRequest: 3 });
  const queues = createQueues(redis, config.redis.prefix);
  const app = await buildApp({
    config,
    catalog,
    queues,
    redis,
    openStorage: (u) => openStorage(u),
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

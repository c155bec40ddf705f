/**
 * The API for the health benchmark in its own process, like bench/api/server.ts, with the
 * health report cache set by `--cache-seconds` and load shedding off (other processes on this
 * shared machine would otherwise trip it and turn the measurement into 503s).
 *
 *   tsx bench/observability/health-server.ts --prefix P --dbs 1000 --catalog /tmp/x/catalog.db --cache-seconds 5
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { buildApp } from '@mfb/api';
import { closeQueues } from '@mfb/jobs';
import { createLogger, createMetrics } from '@mfb/observability';
import { openMigratedCatalog, queuesFor } from '@mfb/runtime';
import { testConfig } from '@mfb/testkit';
import { BENCH_KEY, dbIds } from '../api/server.js';

const { values } = parseArgs({
  options: { prefix: { type: 'string' }, dbs: { type: 'string', default: '1000' }, catalog: { type: 'string' }, 'cache-seconds': { type: 'string', default: '5' } },
  strict: true,
});
if (!values.prefix || !values.catalog) throw new Error('--prefix and --catalog are required');
const dir = dirname(values.catalog);
mkdirSync(join(dir, 'backups'), { recursive: true });
const { config } = await testConfig({
  dir,
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  redisPrefix: values.prefix,
  settings: {
    dataDir: '.',
    catalogPath: values.catalog,
    databases: dbIds(Number(values.dbs)).map((id) => ({ id, path: `${id}.db` })),
    health: { cacheSeconds: Number(values['cache-seconds']) },
    api: { keys: [{ id: 'bench', key: BENCH_KEY, scopes: ['admin'] }], rateLimitPerMinute: 1_000_000, bodyLimitBytes: 64 * 1024 },
  },
});
const catalog = await openMigratedCatalog(config);
const redis = new Redis(config.redis.url, { maxRetriesPerRequest: 3 });
const queues = queuesFor(config, redis);
const app = await buildApp({ config, catalog, queues, redis, metrics: createMetrics(), logger: createLogger('api', { level: 'silent' }) }, { maxEventLoopDelayMs: 0 });
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

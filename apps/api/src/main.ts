/**
 * API process entry: `node apps/api/dist/main.js [--config file.yaml]` (from source:
 * `tsx --conditions=@mfb/source apps/api/src/main.ts`).
 *
 * Reads the config, checks Redis, opens the catalog, builds the app and listens on
 * `api.host:api.port`. SIGTERM/SIGINT: stop accepting, finish in-flight requests, close
 * queues and catalog, exit 0.
 */
import { parseArgs } from 'node:util';
import { openCatalog } from '@mfb/catalog';
import { loadConfig, type Config } from '@mfb/config';
import { checkRedis, closeQueues, createQueues, createRedis, redactRedisUrl } from '@mfb/jobs';
import { createLogger, createMetrics } from '@mfb/observability';
import { openStorage } from '@mfb/storage';
import { buildApp } from './app.js';

const { values: args } = parseArgs({ options: { config: { type: 'string' } }, strict: true });

async function main(): Promise<void> {
  let config: Config;
  try {
    config = await loadConfig(args.config !== undefined ? { file: args.config } : {});
  } catch (err) {
    process.stderr.write(`api: invalid configuration: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  }
  const log = createLogger('api', { level: config.log.level });
  if (config.api.keys.length === 0) log.warn('no API keys configured: every route except /health/live will answer 401');

  try {
    const check = await checkRedis(config.redis);
    if (!check.evictionSafe) log.warn({ maxmemoryPolicy: check.maxmemoryPolicy }, 'Redis maxmemory-policy is not noeviction: jobs may be evicted');
  } catch (err) {
    process.stderr.write(`api: ${err instanceof Error ? err.message : String(err)}\n`);
    log.fatal({ redis: redactRedisUrl(config.redis.url) }, 'redis unreachable at start-up');
    process.exit(1);
  }

  const catalog = await openCatalog(config.catalogPath);
  await catalog.migrate();
  const redis = createRedis(config.redis, 'producer');
  redis.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  const queues = createQueues(redis, config.redis.prefix, { attempts: config.worker.attempts, backoffMs: config.worker.backoffMs });

  const app = await buildApp({
    config,
    catalog,
    queues,
    redis,
    openStorage: (url) => openStorage(url),
    metrics: createMetrics(undefined, { defaults: true }),
    logger: log,
  });
  await app.listen({ host: config.api.host, port: config.api.port });

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) process.exit(130);
    stopping = true;
    log.info({ signal }, 'shutting down');
    // In-flight requests get 10 s; keep-alive connections that were busy when close() began
    // would otherwise hold the process until Fastify's keepAliveTimeout (72 s).
    const cut = setTimeout(() => app.server.closeAllConnections(), 10_000);
    cut.unref();
    app
      .close()
      .then(() => closeQueues(queues))
      .then(() => redis.quit())
      .then(() => catalog.close())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`api: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

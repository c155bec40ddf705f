/**
 * API process entry: `node apps/api/dist/main.js [--config file.yaml]` (from source:
 * `tsx --conditions=@mfb/source apps/api/src/main.ts`).
 *
 * Starts like every process (`startService`: config, Redis check, catalog), builds the app
 * and listens on `api.host:api.port`. SIGTERM/SIGINT: stop accepting, finish in-flight
 * requests, close queues and catalog, exit 0.
 */
import { parseArgs } from 'node:util';
import { closeQueues, createRedis } from '@mfb/jobs';
import { createMetrics } from '@mfb/observability';
import { queuesFor, runService, startService } from '@mfb/runtime';
import { buildApp } from './app.js';

const { values: args } = parseArgs({ options: { config: { type: 'string' } }, strict: true });

runService('api', async () => {
  const { config, log, catalog } = await startService('api', { configFile: args.config });
  if (config.api.keys.length === 0) log.warn('no API keys configured: every route except /health/live will answer 401');

  const redis = createRedis(config.redis, 'producer');
  redis.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  const queues = queuesFor(config, redis);

  const app = await buildApp({ config, catalog, queues, redis, metrics: createMetrics(undefined, { defaults: true }), logger: log });
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
});

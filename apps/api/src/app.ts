import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { createLogger } from '@mfb/observability';
import { liveWorkersByHost } from '@mfb/jobs';
import { authPlugin, Authenticator } from './plugins/auth.js';
import { corsPlugin } from './plugins/cors.js';
import { depsPlugin } from './plugins/deps.js';
import { browserPages, openApiPlugin } from './plugins/docs.js';
import { hardeningPlugin } from './plugins/hardening.js';
import { clientErrorHandler, frameworkErrors, problemPlugin } from './plugins/problem.js';
import healthRoutes from './routes/health/index.js';
import healthV1Routes from './routes/health/v1.js';
import statusPage from './routes/status/index.js';
import { HealthService } from './services/health.js';
import metricsRoutes from './routes/metrics/index.js';
import databaseRoutes from './routes/v1/databases/index.js';
import backupRoutes from './routes/v1/databases/backups/index.js';
import restoreRoutes from './routes/v1/databases/restores/index.js';
import verifyRoutes from './routes/v1/databases/verifies/index.js';
import databaseScheduleRoutes from './routes/v1/databases/schedules/index.js';
import retentionRoutes from './routes/v1/databases/retention/index.js';
import usageRoutes from './routes/v1/usage/index.js';
import scheduleRoutes from './routes/v1/schedules/index.js';
import jobRoutes from './routes/v1/jobs/index.js';
import catalogRoutes from './routes/v1/catalog/index.js';
import type { ApiDeps } from './types.js';
import { requestValidatorCompiler } from './validation.js';

export const API_VERSION = '0.1.0';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

export interface BuildOptions {
  /** Event-loop delay (ms) above which the API sheds load with 503 (0 = never). @defaultValue 1000 */
  maxEventLoopDelayMs?: number;
}

/**
 * The API as a Fastify instance (not listening). Everything it talks to is injected, so tests
 * give it a real Redis under a unique prefix and a catalog in a temp directory.
 */
export async function buildApp(deps: ApiDeps, opts: BuildOptions = {}): Promise<FastifyInstance> {
  const { config } = deps;
  const app = Fastify({
    loggerInstance: deps.logger ?? createLogger('api', { level: config.log.level }),
    // Honour a caller's x-request-id when it is sane; otherwise make one. Fastify puts it on
    // every log line of the request (`reqId`).
    genReqId: (req) => {
      const h = req.headers['x-request-id'];
      return typeof h === 'string' && REQUEST_ID.test(h) ? h : randomUUID();
    },
    bodyLimit: config.api.bodyLimitBytes,
    return503OnClosing: true,
    // Node's defaults leave a request that never finishes (half a body, headers dribbled in)
    // holding its socket forever: bound the request, its headers and silent connections.
    requestTimeout: config.api.requestTimeoutMs,
    connectionTimeout: config.api.idleTimeoutMs,
    http: {
      requestTimeout: config.api.requestTimeoutMs,
      headersTimeout: config.api.headersTimeoutMs,
      // How often Node checks those two timeouts (its default, 30 s, would let a short timeout
      // run up to 30 s late).
      connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(config.api.headersTimeoutMs / 4))),
    },
    clientErrorHandler,
    routerOptions: { maxParamLength: 256, ignoreTrailingSlash: true },
    frameworkErrors,
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(requestValidatorCompiler());

  // JSON only: anything else is 415, not a string the schemas then reject.
  app.removeContentTypeParser('text/plain');

  // Callback-style hooks: no promise per request on the hot path.
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    done();
  });
  // `curl -X POST` without a body means "no options", not "invalid body".
  app.addHook('preValidation', (req, _reply, done) => {
    if (req.body === undefined && (req.method === 'POST' || req.method === 'PUT')) req.body = {};
    done();
  });

  const authenticator = new Authenticator(config.api);
  await app.register(problemPlugin);
  await app.register(depsPlugin, deps);
  // Before rate limiting and auth: preflights carry no credentials.
  await app.register(corsPlugin, { origins: config.api.corsOrigins });
  await app.register(hardeningPlugin, {
    authenticator,
    rateLimitPerMinute: config.api.rateLimitPerMinute,
    // Shared by every API process of the deployment, beside its queues.
    redis: deps.redis,
    rateLimitKeyPrefix: `${deps.queues.prefix}:mfb:ratelimit:`,
    ...(opts.maxEventLoopDelayMs !== undefined ? { maxEventLoopDelayMs: opts.maxEventLoopDelayMs } : {}),
  });
  await app.register(authPlugin, { authenticator });
  await app.register(openApiPlugin, { version: API_VERSION });
  await app.register(browserPages);

  await app.register(healthRoutes, { prefix: '/health' });
  await app.register(metricsRoutes, { prefix: '/metrics' });
  const health = new HealthService({
    config: app.config,
    catalog: app.catalog,
    storageFor: (target) => app.storageFor(target),
    now: () => app.now(),
    liveWorkers: () => liveWorkersByHost(deps.redis, deps.queues.prefix),
  });
  await app.register(healthV1Routes, { prefix: '/v1/health', service: health });
  await app.register(statusPage, { service: health, version: API_VERSION });
  await app.register(databaseRoutes, { prefix: '/v1/databases' });
  await app.register(backupRoutes, { prefix: '/v1/databases/:databaseId/backups' });
  await app.register(restoreRoutes, { prefix: '/v1/databases/:databaseId/restores' });
  await app.register(verifyRoutes, { prefix: '/v1/databases/:databaseId/verifies' });
  await app.register(databaseScheduleRoutes, { prefix: '/v1/databases/:databaseId/schedules' });
  await app.register(retentionRoutes, { prefix: '/v1/databases/:databaseId/retention' });
  await app.register(scheduleRoutes, { prefix: '/v1/schedules' });
  await app.register(usageRoutes, { prefix: '/v1/usage' });
  await app.register(jobRoutes, { prefix: '/v1/jobs' });
  await app.register(catalogRoutes, { prefix: '/v1/catalog' });
  // The type provider only refines route typings; callers get a plain instance.
  return app as unknown as FastifyInstance;
}

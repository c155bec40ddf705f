import fp from 'fastify-plugin';
import { createMetrics } from '@mfb/observability';
import { createStorages, locksFor } from '@mfb/runtime';
import type { ApiDeps } from '../types.js';

/** Decorates the instance with the injected dependencies (typed in types.ts). */
export const depsPlugin = fp(
  async (app, deps: ApiDeps) => {
    app.decorate('config', deps.config);
    app.decorate('catalog', deps.catalog);
    app.decorate('queues', deps.queues);
    app.decorate('locks', locksFor(deps.config, deps.redis, app.log));
    const metrics = deps.metrics ?? createMetrics(undefined, { defaults: true });
    app.decorate('metrics', metrics);
    // Route pattern, not URL (ids would explode the label set); unmatched URLs share one label.
    app.addHook('onResponse', (req, reply, done) => {
      metrics.httpRequestDuration.observe(
        { method: req.method, route: req.routeOptions.url ?? 'unmatched', status: `${Math.floor(reply.statusCode / 100)}xx` },
        reply.elapsedTime / 1000,
      );
      done();
    });
    app.decorate('now', deps.now ?? (() => new Date()));
    // Queue connection errors (Redis down) surface per request as 503; log them here at most
    // every 10 s instead of letting BullMQ print each reconnect attempt.
    let lastLogged = 0;
    const onQueueError = (err: Error): void => {
      if (Date.now() - lastLogged < 10_000) return;
      lastLogged = Date.now();
      app.log.warn({ err: err.message }, 'job queue connection error');
    };
    for (const q of deps.queues.all()) q.on('error', onQueueError);
    app.addHook('onClose', async () => {
      for (const q of deps.queues.all()) q.off('error', onQueueError);
    });
    // Every target opened now: a bad target URL or option fails the boot, naming the target.
    const storages = deps.storages ?? createStorages(deps.config);
    storages.openAll();
    app.decorate('storageFor', storages.storageFor);
  },
  { name: 'mfb-deps', fastify: '5.x' },
);

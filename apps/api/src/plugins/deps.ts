import fp from 'fastify-plugin';
import { openTarget, type StorageDriver } from '@mfb/storage';
import { createMetrics } from '@mfb/observability';
import { DatabaseLocks, JOB_NAMES } from '@mfb/jobs';
import { TargetNotFoundError } from '../errors.js';
import type { ApiDeps } from '../types.js';

/** Decorates the instance with the injected dependencies (typed in types.ts). */
export const depsPlugin = fp(
  async (app, deps: ApiDeps) => {
    app.decorate('config', deps.config);
    app.decorate('catalog', deps.catalog);
    app.decorate('queues', deps.queues);
    // Same key space as the worker (`<prefix>:mfb:lock:db:<id>`) and the same TTL.
    app.decorate('locks', new DatabaseLocks(deps.redis, deps.queues.prefix, deps.config.worker.lockTtlMs));
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
    for (const name of JOB_NAMES) deps.queues[name].on('error', onQueueError);
    app.addHook('onClose', async () => {
      for (const name of JOB_NAMES) deps.queues[name].off('error', onQueueError);
    });
    // One driver per target for the life of the app, all opened now: a bad target URL or
    // option fails the boot, naming the target.
    const drivers = new Map<string, StorageDriver>([['local', deps.openStorage(deps.config.storageUrl)]]);
    for (const t of deps.config.targets) drivers.set(t.name, openTarget(t, {}, deps.openStorage));
    app.decorate('storageFor', (target: string): StorageDriver => {
      const d = drivers.get(target);
      if (!d) throw new TargetNotFoundError(target);
      return d;
    });
  },
  { name: 'mfb-deps', fastify: '5.x' },
);

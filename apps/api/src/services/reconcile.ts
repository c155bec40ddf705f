import type { FastifyInstance } from 'fastify';
import { syncSchedules, type ReconcileResult } from '@mfb/jobs';

const chains = new WeakMap<FastifyInstance, Promise<unknown>>();

/**
 * Reconcile the catalog's schedules (desired state) into BullMQ job schedulers.
 * Serialized per app, and each run reads the catalog afresh, so the last run always sees
 * every change made before it was requested (two concurrent edits cannot leave BullMQ with
 * the older one). Only schedules of configured databases are reconciled.
 */
export function reconcileNow(app: FastifyInstance): Promise<ReconcileResult> {
  const prev = chains.get(app) ?? Promise.resolve();
  const run = prev.catch(() => undefined).then(async () => {
    const known = new Set(app.config.databases.map((d) => d.id));
    return syncSchedules(app.queues, {
      listSchedules: async () => (await app.catalog.listSchedules()).filter((s) => known.has(s.databaseId)),
    });
  });
  chains.set(app, run);
  return run;
}

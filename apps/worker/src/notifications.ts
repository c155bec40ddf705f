import type { Cluster, Redis } from 'ioredis';
import type { Config } from '@mfb/config';
import type { Logger } from '@mfb/observability';
import { Notifier, redisIncidentStore, type JobOutcome, type NotifyRoute } from '@mfb/notify';
import { effectivePrefix } from '@mfb/jobs';

/** Jobs whose final outcomes open and close incidents (a restore is an operator's one-off). */
const NOTIFIED_JOBS = new Set(['backup', 'upload', 'verify', 'prune']);

/**
 * The worker's notifier (config `notifications` plus each database's own), or undefined when
 * nothing is configured. Incidents live in Redis under the queue prefix, shared by all workers.
 */
export function createNotifications(config: Config, redis: Redis | Cluster, log: Logger): { report(o: JobOutcome): void; close(): Promise<void> } | undefined {
  const routes = new Map<string, NotifyRoute>();
  for (const db of config.databases) {
    const webhooks = [...config.notifications.webhooks, ...(db.notifications?.webhooks ?? [])];
    const heartbeatUrl = db.notifications?.heartbeatUrl ?? config.notifications.heartbeatUrl;
    if (webhooks.length > 0 || heartbeatUrl) routes.set(db.id, { webhooks, heartbeatUrl });
  }
  if (routes.size === 0) return undefined;
  const n = config.notifications;
  const notifier = new Notifier({
    routeFor: (id) => routes.get(id),
    store: redisIncidentStore(redis, effectivePrefix(config.redis)),
    timeoutMs: n.timeoutMs,
    attempts: n.attempts,
    backoffMs: n.backoffMs,
    queueSize: n.queueSize,
    log,
  });
  return {
    report(o) {
      if (NOTIFIED_JOBS.has(o.job)) notifier.report(o);
    },
    close: () => notifier.close(),
  };
}

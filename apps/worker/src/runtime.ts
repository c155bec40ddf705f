import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Worker } from 'bullmq';
import type { Catalog } from '@mfb/catalog';
import type { Config } from '@mfb/config';
import {
  HOST_BOUND_JOBS,
  JOB_NAMES,
  closeQueues,
  createRedis,
  effectivePrefix,
  hostQueueName,
  liveWorkersByHost,
  reconcileSchedules,
  startHostHeartbeat,
  workerJobSettings,
  type Queues,
  type ReconcileResult,
} from '@mfb/jobs';
import { createMetrics, type DiskVolume, type Logger, type Metrics } from '@mfb/observability';
import { createStorages, locksFor, queuesFor, runHousekeeping } from '@mfb/runtime';
import type { StorageDriver } from '@mfb/storage';
import type { Handlers } from './context.js';
import { JobAbortedError } from './errors.js';
import { handlers as realHandlers } from './handlers/index.js';
import { loadDrillMetrics } from './handlers/verify.handler.js';
import { createNotifications } from './notifications.js';
import { createProcessor, type RunnerHooks } from './runner.js';
import { seedConfigSchedules } from './schedules.js';
import { refreshStorageMetrics, seedBackupMetrics } from './storage-metrics.js';

export interface WorkerRuntimeOptions {
  config: Config;
  catalog: Catalog;
  log: Logger;
  /** Default: a fresh registry. */
  metrics?: Metrics;
  /** Test-only replacement of the handlers. */
  handlers?: Handlers;
  hooks?: RunnerHooks;
  /** Test-only wrapper around the catalog (e.g. a kill after a step of a prune). */
  wrapCatalog?: (catalog: Catalog) => Catalog;
  /** Test-only wrapper around every storage driver (e.g. throttling). */
  wrapStorage?: (driver: StorageDriver, target: string) => StorageDriver;
  /** Serve /metrics and /health on config.worker.metricsPort. @defaultValue true */
  http?: boolean;
  /**
   * false: no /metrics server and no catalog reads for the storage and backup gauges (the
   * worker's `--disable-metrics`; the "metrics off" side of bench/observability). @defaultValue true
   */
  metricsEnabled?: boolean;
  /** How often schedules are reconciled into Redis. @defaultValue 60000 */
  reconcileIntervalMs?: number;
  /** How often the catalog is trimmed (`config.housekeeping`; also once at start). @defaultValue 3600000 */
  housekeepingIntervalMs?: number;
}

export interface WorkerRuntime {
  readonly queues: Queues;
  readonly metrics: Metrics;
  /** Port of the metrics server (0 when not serving). */
  readonly httpPort: number;
  /** Reconcile the catalog's schedules into BullMQ now. */
  reconcile(): Promise<ReconcileResult>;
  /**
   * Stop taking jobs, let running ones finish within `graceMs`, then abort them (they go
   * back to the queue), and close every connection.
   */
  close(graceMs?: number): Promise<void>;
}

/**
 * BullMQ lock / stall settings derived from the per-database lock TTL, so one number in the
 * config decides how fast work of a killed worker is picked up again.
 */
export function stallSettings(lockTtlMs: number): { lockDuration: number; stalledInterval: number; maxStalledCount: number } {
  return {
    lockDuration: lockTtlMs,
    stalledInterval: Math.max(1000, Math.floor(lockTtlMs / 2)),
    // BullMQ's default (1) fails a job permanently the second time its worker dies. A crash
    // is not the job's fault; crash loops are bounded by this count instead.
    maxStalledCount: 20,
  };
}

/** Volumes whose free space `mfb_disk_free_bytes` reports: the scratch directory, and primary storage when it is a directory. */
export function diskVolumes(config: Pick<Config, 'tmpDir' | 'storageUrl'>): DiskVolume[] {
  const out: DiskVolume[] = [{ volume: 'scratch', path: config.tmpDir }];
  if (config.storageUrl.startsWith('file:')) out.push({ volume: 'local', path: fileURLToPath(config.storageUrl) });
  return out;
}

/** Start one BullMQ worker per queue in this process. */
export async function startWorker(opts: WorkerRuntimeOptions): Promise<WorkerRuntime> {
  const { config, log } = opts;
  const catalog = opts.wrapCatalog ? opts.wrapCatalog(opts.catalog) : opts.catalog;
  const metrics = opts.metrics ?? createMetrics(undefined, { defaults: true });
  const connection = createRedis(config.redis, 'worker');
  connection.on('error', (err) => log.warn({ err: err.message }, 'redis connection error (reconnecting)'));
  const queues = queuesFor(config, connection);
  const locks = locksFor(config, connection, log);
  const storages = createStorages(config, opts.wrapStorage ? { wrap: opts.wrapStorage } : {});
  // Open every storage now: an unusable URL or driver option fails the start (naming the
  // target), not every job.
  storages.openAll();

  const shutdown = new AbortController();
  const notifications = createNotifications(config, connection, log);
  const processor = createProcessor({
    config,
    catalog,
    queues,
    locks,
    metrics,
    log,
    handlers: opts.handlers ?? realHandlers,
    storages,
    shutdownSignal: shutdown.signal,
    ...(opts.metricsEnabled === false ? { refreshUsage: false } : {}),
    ...(opts.hooks ? { hooks: opts.hooks } : {}),
    ...(notifications ? { onOutcome: (o) => notifications.report(o) } : {}),
  });

  const stall = stallSettings(config.worker.lockTtlMs);
  const prefix = effectivePrefix(config.redis);
  // The shared queues (every worker), and this host's queues of host-bound jobs (backups and
  // restore `replace` of the databases whose `host` is `worker.host`).
  const queueNames = [...JOB_NAMES, ...HOST_BOUND_JOBS.map((n) => hostQueueName(n, config.worker.host))];
  const workers = queueNames.map((name) => {
    const w = new Worker(name, processor, {
      connection,
      prefix,
      concurrency: config.worker.concurrency,
      ...stall,
      // History bounds and backoff of scheduled jobs, which carry no options of their own.
      ...workerJobSettings(),
    });
    w.on('error', (err) => log.warn({ queue: name, err: err.message }, 'worker error'));
    w.on('stalled', (jobId) => log.warn({ queue: name, jobId }, 'job stalled (its worker died or hung); it will run again'));
    return w;
  });

  metrics.setDiskVolumes(diskVolumes(config));
  metrics.setQueueDepthCollector(async () => {
    // All queues at once: one round trip's latency per scrape, not one per queue. The host
    // queues of a job name count with its shared queue (the label stays the job name).
    const all = await Promise.all(
      JOB_NAMES.flatMap((name) => queues.allOf(name).map(async (q) => ({ name, counts: await q.getJobCounts('waiting', 'delayed', 'active', 'completed', 'failed', 'prioritized') }))),
    );
    const sums = new Map<string, { queue: string; state: string; count: number }>();
    for (const { name, counts } of all) {
      for (const [state, count] of Object.entries(counts)) {
        const row = sums.get(`${name}\u0000${state}`) ?? { queue: name, state, count: 0 };
        row.count += count;
        sums.set(`${name}\u0000${state}`, row);
      }
    }
    return [...sums.values()];
  });
  metrics.setHostWorkersCollector(async () => {
    const live = await liveWorkersByHost(connection, prefix);
    const hosts = new Set([...queues.hosts, ...live.keys()]);
    return [...hosts].sort().map((host) => ({ host, workers: live.get(host) ?? 0 }));
  });
  // Announce the host this worker serves (`/v1/health`, `mfb_host_workers`).
  const heartbeat = await startHostHeartbeat(connection, prefix, config.worker.host, {
    onError: (err) => log.warn({ err: err instanceof Error ? err.message : String(err) }, 'worker heartbeat failed (retrying)'),
  });

  let reconciling: Promise<ReconcileResult> | null = null;
  const reconcile = (): Promise<ReconcileResult> => {
    // One reconcile at a time; callers arriving meanwhile share its result.
    reconciling ??= (async () => {
      try {
        const r = await reconcileSchedules(queues, await catalog.listSchedules());
        if (r.upserted.length + r.removed.length > 0) log.info({ upserted: r.upserted, removed: r.removed }, 'schedules reconciled');
        return r;
      } finally {
        reconciling = null;
      }
    })();
    return reconciling;
  };

  await seedConfigSchedules(catalog, config);
  // Storage usage from the catalog at start, so the gauges exist before the first job.
  const metricsEnabled = opts.metricsEnabled !== false;
  if (metricsEnabled) {
    await refreshStorageMetrics({ config, catalog, metrics, log });
    await seedBackupMetrics({ config, catalog, metrics, log });
    await loadDrillMetrics(catalog, metrics);
  }
  await reconcile();
  const timer = setInterval(() => {
    reconcile().catch((err: unknown) => log.warn({ err: err instanceof Error ? err.message : String(err) }, 'schedule reconcile failed'));
  }, opts.reconcileIntervalMs ?? 60_000);
  timer.unref();
  // Catalog housekeeping: at start, then on a timer (several workers may run it: each trim
  // is its own short transaction, and running it twice removes nothing more).
  const housekeep = (): void => {
    runHousekeeping(config, catalog).then(
      (r) => {
        if (r.jobs + r.backups > 0) log.info({ jobHistoryRows: r.jobs, deletedBackupRows: r.backups }, 'catalog housekeeping trimmed rows');
      },
      (err: unknown) => log.warn({ err: err instanceof Error ? err.message : String(err) }, 'catalog housekeeping failed'),
    );
  };
  housekeep();
  const housekeepingTimer = setInterval(housekeep, opts.housekeepingIntervalMs ?? 3_600_000);
  housekeepingTimer.unref();
  let lostConnection = false;
  connection.on('close', () => {
    lostConnection = true;
  });
  connection.on('ready', () => {
    // After a reconnect Redis may be a fresh (flushed or restored) instance.
    if (!lostConnection) return;
    lostConnection = false;
    log.info('redis reconnected; reconciling schedules');
    reconcile().catch(() => undefined);
  });

  let server: Server | undefined;
  let httpPort = 0;
  if (opts.http !== false && opts.metricsEnabled !== false) {
    server = createServer((req, res) => {
      if (req.url === '/metrics') {
        metrics.renderBuffer().then(
          (body) => {
            res.writeHead(200, { 'content-type': metrics.contentType });
            res.end(body);
          },
          (err: unknown) => {
            res.writeHead(500, { 'content-type': 'text/plain' });
            res.end(err instanceof Error ? err.message : 'error');
          },
        );
      } else if (req.url === '/health') {
        const ok = connection.status === 'ready';
        res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: ok ? 'ok' : 'degraded', redis: connection.status }));
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(config.worker.metricsPort, config.worker.metricsHost, () => resolve());
    });
    httpPort = (server.address() as AddressInfo).port;
  }

  let closed: Promise<void> | null = null;
  return {
    queues,
    metrics,
    httpPort,
    reconcile,
    close(graceMs = config.worker.shutdownGraceMs) {
      closed ??= (async () => {
        clearInterval(timer);
        clearInterval(housekeepingTimer);
        const grace = setTimeout(() => shutdown.abort(new JobAbortedError(`shutdown grace period of ${graceMs} ms exceeded`)), graceMs);
        grace.unref();
        // close() without force: stop fetching, wait for running jobs (aborted after the grace).
        await Promise.all(workers.map((w) => w.close()));
        clearTimeout(grace);
        await heartbeat.stop().catch(() => undefined);
        await closeQueues(queues);
        if (server) await new Promise<void>((r) => server!.close(() => r()));
        // Pending notifications get a moment (their incidents are already recorded in Redis).
        await notifications?.close();
        await connection.quit().catch(() => connection.disconnect());
      })();
      return closed;
    },
  };
}

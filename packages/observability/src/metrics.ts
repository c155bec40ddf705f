import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every Prometheus metric of the project, in one place. Prefix `mfb_`; labels are
 * low-cardinality only (`database`, `queue`, `outcome`, `target`, `state`), never job ids.
 */
export interface Metrics {
  readonly registry: Registry;
  /** Jobs finished, by queue and outcome (`completed`, `failed`, `retried`, `delayed`, `aborted`). */
  readonly jobsTotal: Counter<'queue' | 'outcome'>;
  /** Wall time of one job attempt (excluding lock waits), by queue. */
  readonly jobDuration: Histogram<'queue'>;
  /** Unix time (seconds) of the last successful backup, per database. */
  readonly lastBackupSuccess: Gauge<'database'>;
  /** Size in bytes of the last stored backup artifact, per database. */
  readonly backupSizeBytes: Gauge<'database'>;
  /** Times a job found its database locked by another job and was delayed. */
  readonly lockWaitsTotal: Counter<'queue'>;
  /** Jobs failed because a disk was full (never retried), by queue and code (`BACKUP_DISK_FULL`, `STORAGE_DISK_FULL`). */
  readonly diskFullTotal: Counter<'queue' | 'code'>;
  /** Jobs per queue and state; refreshed on each scrape by `setQueueDepthCollector`. */
  readonly queueDepth: Gauge<'queue' | 'state'>;
  /** Upload copies finished, by target and outcome. */
  readonly uploadsTotal: Counter<'target' | 'outcome'>;
  /** Backup copies deleted by retention, by target. */
  readonly prunedTotal: Counter<'target'>;
  /** Bytes of live backup copies per database and target (`local` = primary storage), from the catalog; set after each backup, upload and prune. */
  readonly storageBytes: Gauge<'database' | 'target'>;
  /** Live backup copies per database and target, from the catalog; set with `storageBytes`. */
  readonly storageBackups: Gauge<'database' | 'target'>;
  /** Restore drills: Unix time of the last verified restore per database and target; drills run by outcome (`ok`, `failed`). */
  readonly lastVerifiedRestore: Gauge<'database' | 'target'>;
  readonly restoreDrillsTotal: Counter<'database' | 'target' | 'outcome'>;
  /** API requests by method, route pattern (never the raw URL) and status class (`2xx`...). */
  readonly httpRequestDuration: Histogram<'method' | 'route' | 'status'>;
  /**
   * Install the function that reads queue depths; it runs on every scrape of `queueDepth`.
   * Returns rows of `{ queue, state, count }`.
   */
  setQueueDepthCollector(fn: () => Promise<Array<{ queue: string; state: string; count: number }>>): void;
}

/**
 * Create the metrics on `registry` (a fresh one by default, so tests and several workers in
 * one process never collide). Pass `defaults: true` to add prom-client's process metrics.
 */
export function createMetrics(registry: Registry = new Registry(), opts: { defaults?: boolean } = {}): Metrics {
  if (opts.defaults) collectDefaultMetrics({ register: registry, prefix: 'mfb_' });
  let depthCollector: (() => Promise<Array<{ queue: string; state: string; count: number }>>) | undefined;

  const queueDepth = new Gauge({
    name: 'mfb_queue_depth',
    help: 'Jobs per queue and state (waiting, delayed, active, failed, ...), read from Redis on scrape',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      if (!depthCollector) return;
      try {
        const rows = await depthCollector();
        this.reset();
        for (const r of rows) this.set({ queue: r.queue, state: r.state }, r.count);
      } catch {
        // Redis down: keep the last values rather than failing the whole scrape.
      }
    },
  });

  return {
    registry,
    jobsTotal: new Counter({
      name: 'mfb_jobs_total',
      help: 'Jobs finished by queue and outcome',
      labelNames: ['queue', 'outcome'] as const,
      registers: [registry],
    }),
    jobDuration: new Histogram({
      name: 'mfb_job_duration_seconds',
      help: 'Duration of one job attempt by queue',
      labelNames: ['queue'] as const,
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
      registers: [registry],
    }),
    lastBackupSuccess: new Gauge({
      name: 'mfb_last_backup_success_timestamp_seconds',
      help: 'Unix time of the last successful backup per database',
      labelNames: ['database'] as const,
      registers: [registry],
    }),
    backupSizeBytes: new Gauge({
      name: 'mfb_backup_size_bytes',
      help: 'Size of the last stored backup artifact per database',
      labelNames: ['database'] as const,
      registers: [registry],
    }),
    lockWaitsTotal: new Counter({
      name: 'mfb_lock_waits_total',
      help: 'Jobs delayed because their database was locked by another job',
      labelNames: ['queue'] as const,
      registers: [registry],
    }),
    diskFullTotal: new Counter({
      name: 'mfb_disk_full_total',
      help: 'Jobs failed at once because a disk was full (scratch or restore target: BACKUP_DISK_FULL; storage: STORAGE_DISK_FULL)',
      labelNames: ['queue', 'code'] as const,
      registers: [registry],
    }),
    queueDepth,
    uploadsTotal: new Counter({
      name: 'mfb_uploads_total',
      help: 'Backup copies uploaded to a target by outcome',
      labelNames: ['target', 'outcome'] as const,
      registers: [registry],
    }),
    prunedTotal: new Counter({
      name: 'mfb_pruned_total',
      help: 'Backup copies deleted by retention per target',
      labelNames: ['target'] as const,
      registers: [registry],
    }),
    storageBytes: new Gauge({
      name: 'mfb_storage_bytes',
      help: 'Bytes of live backup copies per database and target (local = primary storage)',
      labelNames: ['database', 'target'] as const,
      registers: [registry],
    }),
    storageBackups: new Gauge({
      name: 'mfb_storage_backups',
      help: 'Live backup copies per database and target (local = primary storage)',
      labelNames: ['database', 'target'] as const,
      registers: [registry],
    }),
    lastVerifiedRestore: new Gauge({ name: 'mfb_last_verified_restore_timestamp_seconds', help: 'Unix time of the last successful restore drill per database and target', labelNames: ['database', 'target'] as const, registers: [registry] }),
    restoreDrillsTotal: new Counter({ name: 'mfb_restore_drills_total', help: 'Restore drills by database, target and outcome (ok, failed)', labelNames: ['database', 'target', 'outcome'] as const, registers: [registry] }),
    httpRequestDuration: new Histogram({
      name: 'mfb_http_request_duration_seconds',
      help: 'API request duration by method, route pattern and status class',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    }),
    setQueueDepthCollector(fn) {
      depthCollector = fn;
    },
  };
}

export { Registry };

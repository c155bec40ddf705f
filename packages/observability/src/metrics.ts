import { statfs } from 'node:fs/promises';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Stages of the engine timed by `mfb_stage_duration_seconds` (label `stage`). */
export const STAGES = ['snapshot', 'compress_encrypt', 'store', 'upload', 'download', 'restore_check'] as const;
export type Stage = (typeof STAGES)[number];

/** A directory whose file system's free space is exported as `mfb_disk_free_bytes{volume}`. */
export interface DiskVolume {
  /** `scratch` (the engine's tmpDir) or `local` (primary storage on a file system). */
  volume: string;
  path: string;
}

type DepthRow = { queue: string; state: string; count: number };

/** How long a scrape waits for values from Redis (queue depths, live workers) before serving the last ones read. */
const DEPTH_WAIT_MS = 250;

/**
 * Every Prometheus metric of the project, in one place (the list with meanings is in
 * docs/operations.md#metrics; a test holds the two equal). Prefix `mfb_`; labels are
 * low-cardinality only (`database`, `target`, `queue`, `stage`, `outcome`, `code`, `state`,
 * `volume`, `host`, and the API's `method`/`route`/`status`), never job or backup ids.
 */
export interface Metrics {
  readonly registry: Registry;
  /** Content type of {@link Metrics.render}. */
  readonly contentType: string;
  /** The exposition text: every family that has at least one sample (empty families are left out). */
  render(): Promise<string>;
  /** {@link Metrics.render} as UTF-8 bytes, built from per-family bytes kept between scrapes (what the worker serves). */
  renderBuffer(): Promise<Buffer>;

  /** Job attempts by queue and how they ended (`completed`, `failed`, `retried`, `aborted`). */
  readonly jobsTotal: Counter<'queue' | 'outcome'>;
  /** Failed job attempts (retried or final) by queue and error code (`UNKNOWN` without one). */
  readonly jobFailuresTotal: Counter<'queue' | 'code'>;
  /** Wall time of one job attempt (excluding lock waits), by queue. */
  readonly jobDuration: Histogram<'queue'>;
  /** Wall time of one engine stage (see {@link STAGES}). */
  readonly stageDuration: Histogram<'stage'>;
  /** Unix time (seconds) of the last successful backup (`target="local"`) or upload (`target=<name>`) per database. */
  readonly lastBackupSuccess: Gauge<'database' | 'target'>;
  /** Unix time (seconds) of the end of the last backup or upload attempt, successful or not. */
  readonly lastBackupAttempt: Gauge<'database' | 'target'>;
  /** Attempts failed in a row since the last success, per queue, database and target (0 after a success). */
  readonly consecutiveFailures: Gauge<'queue' | 'database' | 'target'>;
  /** Unix time (seconds) of the last failed attempt per queue, database and target (with `consecutiveFailures`: is the newest attempt fleet-wide a failure?). */
  readonly lastFailure: Gauge<'queue' | 'database' | 'target'>;
  /** Unix time (seconds) of the last verified restore (download, checks, integrity_check) per database and target. */
  readonly lastVerifiedRestore: Gauge<'database' | 'target'>;
  /** Size in bytes of the last stored backup artifact, per database. */
  readonly backupSizeBytes: Gauge<'database'>;
  /** Size in bytes of the last backup's plaintext snapshot, per database. */
  readonly snapshotSizeBytes: Gauge<'database'>;
  /** Snapshot bytes / artifact bytes of the last backup, per database. */
  readonly compressionRatio: Gauge<'database'>;
  /** Stored artifact bytes of the newest backup's chain per database, by kind (`full`: its base; `delta`: its deltas together). */
  readonly chainBytes: Gauge<'database' | 'kind'>;
  /** Deltas between the newest backup and its full base (0: the newest is a full), per database. */
  readonly chainLength: Gauge<'database'>;
  /** Changed pages / pages of the newest backup (1 for a full), per database. */
  readonly changedPageRatio: Gauge<'database'>;
  /** Bytes read by jobs, by queue (backup: snapshot; upload, verify, restore: artifact). */
  readonly bytesReadTotal: Counter<'queue'>;
  /** Bytes written by jobs, by queue (backup, upload: artifact; restore: database). */
  readonly bytesWrittenTotal: Counter<'queue'>;
  /** Times a job found its database locked by another job and was delayed. */
  readonly lockWaitsTotal: Counter<'queue'>;
  /** Jobs failed because a disk was full (never retried), by queue and code (`BACKUP_DISK_FULL`, `STORAGE_DISK_FULL`). */
  readonly diskFullTotal: Counter<'queue' | 'code'>;
  /** Jobs per queue and state; refreshed on each scrape by `setQueueDepthCollector`. */
  readonly queueDepth: Gauge<'queue' | 'state'>;
  /** Upload attempts finished, by target and outcome (`completed`, `failed`). */
  readonly uploadsTotal: Counter<'target' | 'outcome'>;
  /** Backup copies deleted by retention, by target. */
  readonly prunedTotal: Counter<'target'>;
  /** Bytes of live backup copies per database and target (`local` = primary storage), from the catalog; set after each backup, upload and prune. */
  readonly storageBytes: Gauge<'database' | 'target'>;
  /** Live backup copies per database and target, from the catalog; set with `storageBytes`. */
  readonly storageBackups: Gauge<'database' | 'target'>;
  /** Free bytes (for unprivileged users) of the file system holding each volume; read on scrape. */
  readonly diskFreeBytes: Gauge<'volume'>;
  /** Size in bytes of the file system holding each volume; read on scrape. */
  readonly diskSizeBytes: Gauge<'volume'>;
  /** Restore drills by database, target and outcome (`ok`, `failed`); the drill's success also sets `lastVerifiedRestore`. */
  readonly restoreDrillsTotal: Counter<'database' | 'target' | 'outcome'>;
  /** API requests by method, route pattern (never the raw URL) and status class (`2xx`...). */
  readonly httpRequestDuration: Histogram<'method' | 'route' | 'status'>;
  /**
   * Install the function that reads queue depths; it runs on every scrape of `queueDepth`.
   * Returns rows of `{ queue, state, count }`.
   */
  setQueueDepthCollector(fn: () => Promise<DepthRow[]>): void;
  /** Live worker processes per host (`worker.host`); refreshed on each scrape by `setHostWorkersCollector`. */
  readonly hostWorkers: Gauge<'host'>;
  /** Install the function that reads live workers per host (rows of `{ host, workers }`, 0 for a host without one). */
  setHostWorkersCollector(fn: () => Promise<Array<{ host: string; workers: number }>>): void;
  /** Directories whose file systems' free space `mfb_disk_free_bytes` reports (read on scrape). */
  setDiskVolumes(volumes: readonly DiskVolume[]): void;
}

/**
 * prom-client's default `nodejs_active_{handles,requests,resources}_total` are gauges, and a
 * `_total` suffix means a counter to Prometheus (`promtool check metrics` flags them). Each is
 * the sum of its labelled sibling without `_total` (`nodejs_active_handles{type}`), so it is
 * dropped (`sum(mfb_nodejs_active_handles)` gives it); one without a sibling would be renamed.
 */
function renameTotalGauges(registry: Registry): void {
  for (const { name } of registry.getMetricsAsArray()) {
    const original = registry.getSingleMetric(name);
    if (!name.endsWith('_total') || !(original instanceof Gauge)) continue;
    registry.removeSingleMetric(name);
    const plain = name.slice(0, -'_total'.length);
    if (registry.getSingleMetric(plain)) continue;
    const { help, labelNames } = original as unknown as { help: string; labelNames?: string[] };
    new Gauge({
      name: plain,
      help,
      labelNames: labelNames ?? [],
      registers: [registry],
      async collect() {
        const data = await original.get();
        this.reset();
        for (const v of data.values) this.set(v.labels as Record<string, string>, v.value);
      },
    });
  }
}

/** A family's text has a sample: something after its `# HELP` and `# TYPE` lines. */
function hasSamples(text: string): boolean {
  const afterType = text.indexOf('\n', text.indexOf('\n') + 1);
  return afterType !== -1 && afterType < text.length - 1;
}

/**
 * Change counters of the metrics whose values only change through their own methods (every
 * metric of this module but the read-on-scrape gauges). `render` re-serializes a family only
 * when its counter moved: with 1,000 databases most families are unchanged between scrapes.
 * (Use `set/inc/observe(labels, v)`: prom-client's `labels(...)` children bypass the count.)
 */
const versions = new WeakMap<object, number>();
const MUTATORS = ['inc', 'dec', 'set', 'observe', 'reset', 'remove', 'zero'] as const;
function tracked<M extends object>(metric: M): M {
  versions.set(metric, 0);
  const methods = metric as unknown as Record<string, unknown>;
  for (const name of MUTATORS) {
    const original = methods[name];
    if (typeof original !== 'function') continue;
    methods[name] = (...args: unknown[]): unknown => {
      versions.set(metric, (versions.get(metric) ?? 0) + 1);
      return (original as (...a: unknown[]) => unknown).apply(metric, args);
    };
  }
  return metric;
}

type Row<L extends string> = { labels: Record<L, string>; value: number };

/**
 * A gauge read from Redis on scrape. A scrape waits for the values at most DEPTH_WAIT_MS, then
 * serves the last ones read (the read goes on and the next scrape gets it): a slow or hung
 * Redis must not make the scrape time out (the worker would look down, not Redis). Until
 * `collect` is set the family has no samples.
 */
function redisGauge<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): { gauge: Gauge<L>; collect?: () => Promise<Array<Row<L>>> } {
  const out: { gauge: Gauge<L>; collect?: () => Promise<Array<Row<L>>> } = {} as never;
  let rows: Array<Row<L>> | null = null;
  let reading: Promise<void> | null = null;
  const read = (): Promise<void> =>
    (reading ??= out.collect!()
      .then(
        (r) => void (rows = r),
        () => undefined, // Redis down: keep the last values rather than failing the whole scrape.
      )
      .finally(() => (reading = null)));
  out.gauge = new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    async collect() {
      if (!out.collect) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([read(), new Promise<void>((r) => (timer = setTimeout(r, DEPTH_WAIT_MS)))]);
      clearTimeout(timer);
      if (!rows) return;
      this.reset();
      for (const r of rows) this.set(r.labels as never, r.value);
    },
  });
  return out;
}

/**
 * Create the metrics on `registry` (a fresh one by default, so tests and several workers in
 * one process never collide). Pass `defaults: true` to add prom-client's process metrics.
 */
export function createMetrics(registry: Registry = new Registry(), opts: { defaults?: boolean } = {}): Metrics {
  if (opts.defaults) {
    collectDefaultMetrics({ register: registry, prefix: 'mfb_' });
    renameTotalGauges(registry);
  }
  let volumes: readonly DiskVolume[] = [];
  let disk: Promise<Array<{ volume: string; free: number; size: number }>> | null = null;
  // Both disk gauges read the same statfs results within one scrape.
  const readDisks = (): Promise<Array<{ volume: string; free: number; size: number }>> => {
    disk ??= Promise.all(
      volumes.map(async (v) => {
        try {
          const s = await statfs(v.path);
          return { volume: v.volume, free: s.bavail * s.bsize, size: s.blocks * s.bsize };
        } catch {
          return null;
        }
      }),
    )
      .then((rows) => rows.filter((r): r is { volume: string; free: number; size: number } => r !== null))
      .finally(() => setTimeout(() => (disk = null), 100).unref());
    return disk;
  };

  const depth = redisGauge<'queue' | 'state'>(registry, 'mfb_queue_depth', 'Jobs per job name (shared and host queues together) and state (waiting, delayed, active, failed, ...), read from Redis on scrape', ['queue', 'state']);
  const queueDepth = depth.gauge;
  const hosts = redisGauge<'host'>(registry, 'mfb_host_workers', 'Live worker processes per host (databases[].host and every host a live worker serves), read from Redis on scrape', ['host']);
  const diskFreeBytes = new Gauge({
    name: 'mfb_disk_free_bytes',
    help: 'Free bytes of the file system holding each volume (scratch = tmpDir, local = primary storage), read on scrape',
    labelNames: ['volume'] as const,
    registers: [registry],
    async collect() {
      if (!volumes.length) return;
      this.reset();
      for (const r of await readDisks()) this.set({ volume: r.volume }, r.free);
    },
  });
  const diskSizeBytes = new Gauge({
    name: 'mfb_disk_size_bytes',
    help: 'Size of the file system holding each volume (scratch = tmpDir, local = primary storage), read on scrape',
    labelNames: ['volume'] as const,
    registers: [registry],
    async collect() {
      if (!volumes.length) return;
      this.reset();
      for (const r of await readDisks()) this.set({ volume: r.volume }, r.size);
    },
  });

  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> => tracked(new Gauge({ name, help, labelNames, registers: [registry] }));
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> => tracked(new Counter({ name, help, labelNames, registers: [registry] }));
  // Each family's text, with its UTF-8 bytes, kept until one of its values changes.
  const cache = new Map<string, { version: number; bytes: Buffer }>();
  const familyBytes = async (metric: object, name: string): Promise<Buffer | null> => {
    const version = versions.get(metric);
    const hit = version === undefined ? undefined : cache.get(name);
    if (hit && hit.version === version) return hit.bytes.length ? hit.bytes : null;
    const text = await registry.getSingleMetricAsString(name);
    const bytes = hasSamples(text) ? Buffer.from(text + '\n') : Buffer.alloc(0);
    if (version !== undefined) cache.set(name, { version, bytes });
    return bytes.length ? bytes : null;
  };
  const renderBuffer = async (): Promise<Buffer> => {
    const parts = await Promise.all(registry.getMetricsAsArray().map((m) => familyBytes(m, m.name)));
    return Buffer.concat(parts.filter((b): b is Buffer => b !== null));
  };

  return {
    registry,
    contentType: registry.contentType,
    async render() {
      return (await renderBuffer()).toString('utf8');
    },
    renderBuffer,
    jobsTotal: counter('mfb_jobs_total', 'Job attempts by queue and how they ended (completed, failed, retried, aborted)', ['queue', 'outcome']),
    jobFailuresTotal: counter('mfb_job_failures_total', 'Failed job attempts (retried or final) by queue and error code', ['queue', 'code']),
    jobDuration: tracked(new Histogram({
      name: 'mfb_job_duration_seconds',
      help: 'Duration of one job attempt by queue',
      labelNames: ['queue'] as const,
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
      registers: [registry],
    })),
    stageDuration: tracked(new Histogram({
      name: 'mfb_stage_duration_seconds',
      help: 'Duration of one engine stage (snapshot, compress_encrypt, store, upload, download, restore_check)',
      labelNames: ['stage'] as const,
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
      registers: [registry],
    })),
    lastBackupSuccess: gauge('mfb_last_backup_success_timestamp_seconds', 'Unix time of the last successful backup (target local) or upload (other targets) per database and target', ['database', 'target']),
    lastBackupAttempt: gauge('mfb_last_backup_attempt_timestamp_seconds', 'Unix time of the end of the last backup (target local) or upload attempt per database and target, successful or not', ['database', 'target']),
    consecutiveFailures: gauge('mfb_consecutive_failures', 'Job attempts failed in a row since the last success, per queue, database and target', ['queue', 'database', 'target']),
    lastFailure: gauge('mfb_last_failure_timestamp_seconds', 'Unix time of the last failed job attempt per queue, database and target', ['queue', 'database', 'target']),
    lastVerifiedRestore: gauge('mfb_last_verified_restore_timestamp_seconds', 'Unix time of the last verified restore (downloaded, checked, integrity_check ok) per database and target', ['database', 'target']),
    backupSizeBytes: gauge('mfb_backup_size_bytes', 'Size of the last stored backup artifact per database', ['database']),
    snapshotSizeBytes: gauge('mfb_backup_snapshot_bytes', 'Size of the plaintext snapshot of the last backup per database', ['database']),
    compressionRatio: gauge('mfb_backup_compression_ratio', 'Snapshot bytes divided by artifact bytes of the last backup per database', ['database']),
    chainBytes: gauge('mfb_backup_chain_bytes', "Stored artifact bytes of the newest backup's incremental chain per database and kind (full: the base, delta: its deltas together)", ['database', 'kind']),
    chainLength: gauge('mfb_backup_chain_length', 'Deltas between the newest backup and its full base per database (0: a full)', ['database']),
    changedPageRatio: gauge('mfb_backup_changed_page_ratio', 'Changed pages divided by the page count of the newest backup per database (1 for a full)', ['database']),
    bytesReadTotal: counter('mfb_read_bytes_total', 'Bytes read by jobs by queue (backup: snapshot; upload, verify, restore: artifact)', ['queue']),
    bytesWrittenTotal: counter('mfb_written_bytes_total', 'Bytes written by jobs by queue (backup, upload: artifact; restore: database)', ['queue']),
    lockWaitsTotal: counter('mfb_lock_waits_total', 'Jobs delayed because their database was locked by another job', ['queue']),
    diskFullTotal: counter('mfb_disk_full_total', 'Jobs failed at once because a disk was full (scratch or restore target: BACKUP_DISK_FULL; storage: STORAGE_DISK_FULL)', ['queue', 'code']),
    queueDepth,
    uploadsTotal: counter('mfb_uploads_total', 'Upload attempts to a target by outcome (completed, failed)', ['target', 'outcome']),
    prunedTotal: counter('mfb_pruned_total', 'Backup copies deleted by retention per target', ['target']),
    storageBytes: gauge('mfb_storage_bytes', 'Bytes of live backup copies per database and target (local = primary storage)', ['database', 'target']),
    storageBackups: gauge('mfb_storage_backups', 'Live backup copies per database and target (local = primary storage)', ['database', 'target']),
    diskFreeBytes,
    diskSizeBytes,
    restoreDrillsTotal: counter('mfb_restore_drills_total', 'Restore drills by database, target and outcome (ok, failed)', ['database', 'target', 'outcome']),
    httpRequestDuration: tracked(new Histogram({
      name: 'mfb_http_request_duration_seconds',
      help: 'API request duration by method, route pattern and status class',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    })),
    hostWorkers: hosts.gauge,
    setQueueDepthCollector(fn) {
      depth.collect = async () => (await fn()).map((r) => ({ labels: { queue: r.queue, state: r.state }, value: r.count }));
    },
    setHostWorkersCollector(fn) {
      hosts.collect = async () => (await fn()).map((r) => ({ labels: { host: r.host }, value: r.workers }));
    },
    setDiskVolumes(v) {
      volumes = [...v];
    },
  };
}

export { Registry };

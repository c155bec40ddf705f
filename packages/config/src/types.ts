/**
 * The validated, frozen configuration. Only `@mfb/config` reads process.env or files;
 * every other package receives the parts it needs as typed options.
 */
import type { Scope } from '@mfb/client';
import type { RetentionPolicy } from '@mfb/retention';

export type CompressionAlgorithm = 'gzip' | 'zstd' | 'none';

export interface CompressionConfig {
  algorithm: CompressionAlgorithm;
  /** gzip 1-9 (default 6), zstd 1-19 (default 3); ignored for none. */
  level: number;
}

/**
 * A retention policy (docs/retention.md): `keepLast`, `keepHourly`..`keepYearly`, `keepWithin`,
 * `maxAge`, `maxTotalBytes` (in bytes once loaded), `minKeep`, `timezone`. Validated at boot by
 * `validateRetentionPolicy` of @mfb/retention; pinned backups and the newest are always kept.
 */
export type RetentionConfig = RetentionPolicy;

export interface ScheduleConfig {
  /** Stable id, unique per database (e.g. `nightly`). */
  id: string;
  /** Cron pattern (5 or 6 fields). */
  cron: string;
  /** IANA time zone, e.g. `Europe/Berlin`. Default `UTC`. */
  timezone: string;
  /** Job name the schedule enqueues; default `backup`. */
  job: 'backup' | 'verify' | 'prune';
  paused: boolean;
}

export interface RestoreDrillConfig {
  enabled: boolean;
  /** Cron pattern (5 or 6 fields). */
  cron: string;
  /** IANA time zone. */
  timezone: string;
}

export interface IncrementalConfig {
  enabled?: boolean;
  /** A full after this many deltas (1-1000). */
  fullEvery?: number;
  /** A full once the chain's deltas store more than this fraction of the full's bytes (0-100). */
  maxChainRatio?: number;
  /** Smaller databases get plain full backups (bytes). */
  minSizeBytes?: number;
  /**
   * A prune of the primary storage first compacts (into a full) each delta that retention keeps
   * by a rule while every link of its chain is kept only for it, so the chain goes (default false).
   */
  compactOnPrune?: boolean;
}

export interface SnapshotConfig {
  /** `stream` (default): no scratch copy; `vacuum-into` / `backup-api`: a scratch copy in `tmpDir` first. */
  method?: 'stream' | 'vacuum-into' | 'backup-api';
  /** Source corruption check during the backup: `quick` (default below `incremental.minSizeBytes`) or `none` (default above: the restore drill checks). */
  sourceCheck?: 'quick' | 'none';
}

export interface DatabaseConfig {
  /** Stable id used in storage keys, metrics labels and URLs: `ID_PATTERN` of @mfb/client. */
  id: string;
  /** Absolute path of the SQLite file. */
  path: string;
  /**
   * The host whose disk holds the file (`HOST_PATTERN` of @mfb/client): its snapshot jobs
   * (backup, restore `replace`) run only on workers whose `worker.host` is this
   * (docs/scaling.md). Absent: not bound, any worker takes them (one host, the default).
   */
  host?: string;
  compression: CompressionConfig;
  /** Key id from `keys` to encrypt with; absent = not encrypted. */
  encryptionKeyId?: string;
  /** Names of `targets` each finished backup is uploaded to. */
  targets: string[];
  retention: RetentionConfig;
  schedules: ScheduleConfig[];
  /** Overrides of the global `health` thresholds for this database. */
  health?: DatabaseHealthConfig;
  /** Extra webhooks, and a heartbeat URL replacing the global one, for this database. */
  notifications?: DatabaseNotificationsConfig;
  /**
   * Restore drill (docs/operations.md "Restore drills"): a scheduled verify job (schedule id
   * `restore-drill`) that restores the newest backup of every target to scratch and checks it.
   * Default weekly (`30 4 * * 0`, UTC); `restoreDrill: false` turns it off.
   */
  restoreDrill: RestoreDrillConfig;
  /**
   * Page-level incremental backups (issue 12; engine defaults when absent: enabled, a full
   * every 7 deltas or when the deltas store more than 0.5 of the full, databases >= 64 MiB).
   */
  incremental?: IncrementalConfig;
  /** How the snapshot is taken and checked (engine defaults when absent; docs/architecture.md "Snapshot method"). */
  snapshot?: SnapshotConfig;
  /**
   * True only for the embedded-default `demo` entry (added when no database is configured);
   * the CLI generates the demo finance database at `path` when it is missing.
   */
  demo?: boolean;
}

export interface TargetConfig {
  /** Name used in API, catalog and metrics (`nas`, `offsite`). `local` is reserved. */
  name: string;
  /** Storage URL: file:///mnt/nas/backups, s3://bucket/prefix (gs://, azblob://). */
  url: string;
  /**
   * Driver options (`region`, `endpoint`, `storageClass`, `credentialsFile`, ...): scalar
   * values only, checked here for shape; their names and values are checked by the driver
   * when the target is opened at boot (unknown keys rejected). Never credentials.
   */
  options?: Readonly<Record<string, string | number | boolean>>;
  retention: RetentionConfig;
}

export interface ApiKeyConfig {
  /** Public identifier, logged instead of the key. */
  id: string;
  /** The secret itself (never logged). */
  key: string;
  scopes: Scope[];
}

export interface Config {
  /** Where the config came from (file path or `defaults`), for messages. */
  source: string;
  /** Root for embedded defaults (`./data`). Created 0700. */
  dataDir: string;
  /** SQLite catalog file. Default `${dataDir}/catalog.db`. Unused when `catalogUrl` is set. */
  catalogPath: string;
  /**
   * `postgres://user:pass@host/db[?schema=name]`: a PostgreSQL catalog that API and worker
   * processes on several hosts share (docs/scaling.md). Absent: the SQLite file at `catalogPath`.
   */
  catalogUrl?: string;
  /** Scratch space for snapshots and restores. Default `${dataDir}/tmp`. */
  tmpDir: string;
  /** Primary storage every backup is written to first. Default `file://${dataDir}/backups`. */
  storageUrl: string;
  /**
   * The default policy: the primary storage's for databases without their own `retention`, and
   * every target's without its own. Default `{ keepLast: 7 }`.
   */
  localRetention: RetentionConfig;
  databases: DatabaseConfig[];
  targets: TargetConfig[];
  /** Encryption keys by key id (32 bytes each). Several may exist so old backups stay readable. */
  keys: ReadonlyMap<string, Buffer>;
  redis: {
    url: string;
    /** BullMQ key prefix; lets several deployments (or tests) share one Redis. */
    prefix: string;
    tls: boolean;
  };
  worker: {
    /**
     * The host this process runs on (env `MFB_HOST`, else `worker.host`, else the machine's
     * name, lower-cased, as a `HOST_PATTERN` id). A worker takes the snapshot jobs of the
     * databases whose `host` is this; `backupctl backup` refuses a database of another host.
     */
    host: string;
    /** Jobs at once per queue per worker process (default 1: a backup already uses every core). */
    concurrency: number;
    /** Per-database lock TTL; renewed while a job runs. */
    lockTtlMs: number;
    /**
     * Redis Sentinel: each lock write (acquisition, renewal) waits this long for a replica to
     * acknowledge it (`WAIT 1 <ms>`), so a failover does not lose an acknowledged lock; 0 = no
     * wait. Ignored on one server and on a Cluster.
     */
    lockReplicaTimeoutMs: number;
    /** Sentinel: a lock no replica acknowledged in time is given back (the job is retried) instead of a warning. */
    lockReplicaRequired: boolean;
    /**
     * An artifact without its manifest (a writer killed between the two) older than this is
     * deleted under the database lock: by backup jobs in primary storage, by upload jobs on
     * their target.
     */
    orphanArtifactAgeMs: number;
    /** How long SIGTERM waits for the running job before aborting it. */
    shutdownGraceMs: number;
    metricsPort: number;
    metricsHost: string;
    attempts: Record<'backup' | 'upload' | 'prune' | 'restore' | 'verify', number>;
    backoffMs: number;
  };
  api: {
    host: string;
    port: number;
    keys: ApiKeyConfig[];
    /** `/metrics` requires a key with `read` scope unless this is true. */
    metricsPublic: boolean;
    /** Basic-auth credentials for Bull Board (`/admin/queues`); absent = admin API keys only. */
    adminUser?: string;
    adminPassword?: string;
    rateLimitPerMinute: number;
    bodyLimitBytes: number;
    /**
     * Browser origins (`scheme://host[:port]`) allowed to call the API cross-origin (CORS).
     * Empty (the default) = no cross-origin access. Never `*`.
     */
    corsOrigins: string[];
    /** The whole request (headers and body) must arrive within this time, else 408. */
    requestTimeoutMs: number;
    /** The request headers must arrive within this time, else 408 (at most `requestTimeoutMs`). */
    headersTimeoutMs: number;
    /** A connection with no traffic in either direction for this long is closed. */
    idleTimeoutMs: number;
  };
  /** Thresholds of `/v1/health` (docs/operations.md). */
  health: HealthConfig;
  /** Failure/recovery webhooks and heartbeat pings sent by the worker (docs/operations.md). */
  notifications: NotificationsConfig;
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' };
  /** Catalog trimming, run by the worker (docs/retention.md#catalog-housekeeping). 0 = never trim that way. */
  housekeeping: {
    /** Job history rows older than this many days are deleted. @defaultValue 90 */
    jobHistoryDays: number;
    /** At most this many job history rows are kept (the newest). @defaultValue 100000 */
    jobHistoryMax: number;
    /** Backups with no copy left, deleted more than this many days ago, are removed from the catalog. @defaultValue 90 */
    deletedBackupDays: number;
  };
}

/** Health thresholds a database may override (`databases[].health`). */
export interface DatabaseHealthConfig {
  /** Critical when the last successful backup is older than N x the shortest active backup schedule interval (warning past 75% of it). */
  readonly maxAgeIntervals?: number;
  /** A fixed age (seconds) instead; also the only age check for databases without an active backup schedule. */
  readonly maxAgeSeconds?: number;
  /** Critical when the last K finished backup jobs all failed; warning when the last one did. */
  readonly failedBackups?: number;
  /** Warning when no verify succeeded for this many days, critical past twice that; 0 = not checked. */
  readonly verifyMaxAgeDays?: number;
}

export interface HealthConfig {
  /** @defaultValue 2 */
  maxAgeIntervals: number;
  maxAgeSeconds?: number;
  /** @defaultValue 3 */
  failedBackups: number;
  /** @defaultValue 0 (not checked) */
  verifyMaxAgeDays: number;
  /** Critical when the scratch or local storage volume has less free space (%), warning below twice that; 0 = not checked. @defaultValue 10 */
  diskFreePercent: number;
  /** Probe each target (a cheap list with a timeout) and report unreachable ones. @defaultValue true */
  targetProbe: boolean;
  /** @defaultValue 2000 */
  targetProbeTimeoutMs: number;
  /** A probe result is reused this long. @defaultValue 60 */
  targetProbeCacheSeconds: number;
  /** A computed report is reused this long (`0` = computed for every request). @defaultValue 5 */
  cacheSeconds: number;
}

export interface WebhookConfig {
  /** http(s) URL; a secret (never logged or echoed). */
  url: string;
  /** Body shape. @defaultValue json */
  format: 'json' | 'slack' | 'discord';
  /** @defaultValue both */
  events?: Array<'failure' | 'recovery'>;
}

export interface DatabaseNotificationsConfig {
  webhooks: WebhookConfig[];
  heartbeatUrl?: string;
}

export interface NotificationsConfig {
  /** Every database's failures and recoveries go here (plus the database's own webhooks). */
  webhooks: WebhookConfig[];
  /** Pinged after each successful backup of any database without its own heartbeat URL; `<url>/fail` after a failed one. */
  heartbeatUrl?: string;
  /** Per HTTP attempt. @defaultValue 5000 */
  timeoutMs: number;
  /** @defaultValue 4 */
  attempts: number;
  /** First retry delay, doubled each attempt. @defaultValue 1000 */
  backoffMs: number;
  /** Pending notifications at most per worker (more are dropped and logged). @defaultValue 1000 */
  queueSize: number;
}

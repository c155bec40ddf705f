/** Documented defaults (paths are relative to the data directory unless absolute). */
export const DEFAULTS = Object.freeze({
  dataDir: './data',
  keepLast: 7,
  compression: { gzip: 6, zstd: 3 },
  redisUrl: 'redis://127.0.0.1:6379',
  redisPrefix: 'mfb',
  concurrency: 1,
  lockTtlMs: 30_000,
  lockReplicaTimeoutMs: 1000,
  orphanArtifactAgeMs: 3_600_000,
  shutdownGraceMs: 30_000,
  metricsPort: 9464,
  metricsHost: '127.0.0.1',
  attempts: Object.freeze({ backup: 5, upload: 8, prune: 3, restore: 1, verify: 3 }),
  backoffMs: 2000,
  apiHost: '127.0.0.1',
  apiPort: 8080,
  rateLimitPerMinute: 600,
  bodyLimitBytes: 1024 * 1024,
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  idleTimeoutMs: 300_000,
  logLevel: 'info',
  demoDatabaseId: 'demo',
  housekeeping: Object.freeze({ jobHistoryDays: 90, jobHistoryMax: 100_000, deletedBackupDays: 90 }),
  /** `databases[].restoreDrill`: weekly, Sunday 04:30 UTC. */
  restoreDrill: Object.freeze({ enabled: true, cron: '30 4 * * 0', timezone: 'UTC' }),
});

/** Schedule id of the restore drill (`databases[].restoreDrill`); reserved in `schedules`. */
export const RESTORE_DRILL_SCHEDULE_ID = 'restore-drill';

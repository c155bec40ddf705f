import type { Manifest } from '@mfb/backup';

/** Where a copy of a backup lives. `local` is the primary storage; others are target names. */
export interface BackupLocation {
  target: string;
  artifactKey: string;
  storedAt: string;
  /** Provider storage class the copy was stored with (`STANDARD_IA`, `Cool`, ...); null where the provider has none. */
  storageClass: string | null;
  /** Set when retention (or an operator) deleted this copy. */
  deletedAt: string | null;
}

/** A copy to record: where it is, when it was stored (default now), its storage class. */
export interface NewLocation {
  target: string;
  artifactKey: string;
  storedAt?: string;
  storageClass?: string | null;
}

export interface BackupRecord {
  backupId: string;
  databaseId: string;
  createdAt: string;
  sizeBytes: number;
  pinned: boolean;
  manifest: Manifest;
  locations: BackupLocation[];
}

export interface BackupQuery {
  databaseId?: string;
  /** Only backups with a live (not deleted) copy on this target. */
  target?: string;
  /** `available`: at least one live copy; `deleted`: none left. */
  status?: 'available' | 'deleted';
  createdAfter?: string;
  createdBefore?: string;
  /** Opaque cursor from a previous page. */
  cursor?: string;
  /** 1..500, default 50. Newest first. */
  limit?: number;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** What one database keeps on one target: live copies only (what storage holds now). */
export interface StorageUsage {
  databaseId: string;
  /** `local` = primary storage. */
  target: string;
  /** Live (not deleted) copies on the target. */
  backups: number;
  /** Sum of their artifact sizes. */
  bytes: number;
  /**
   * `createdAt` of the oldest backup that ever had a copy on this target, deleted copies
   * included; `null` when it never had one. The prune of the primary storage tells a backup
   * whose upload is pending from one made before the target was configured with it.
   */
  firstCopyAt: string | null;
}

/** Desired state of a schedule; reconciled into BullMQ job schedulers by the worker/API. */
export interface ScheduleRecord {
  /** `<databaseId>:<scheduleId>` is unique. */
  databaseId: string;
  scheduleId: string;
  job: 'backup' | 'verify' | 'prune';
  cron: string;
  timezone: string;
  paused: boolean;
  /** `config` = seeded from the config file; `api` = created at run time. */
  origin: 'config' | 'api';
  updatedAt: string;
}

export interface JobHistoryRecord {
  jobId: string;
  queue: string;
  name: string;
  databaseId: string;
  state: 'completed' | 'failed';
  attempts: number;
  startedAt: string;
  finishedAt: string;
  error: string | null;
  result: unknown;
}

/** Outcome of one restore drill of one database on one target (`recordDrill`). */
export interface DrillOutcome {
  databaseId: string;
  /** `local` = primary storage. */
  target: string;
  /** When the drill finished (ISO-8601). */
  at: string;
  outcome: 'ok' | 'failed';
  /** The backup drilled; null when the target had none to drill. */
  backupId: string | null;
  /** Failed drills: the error code and message (no secrets). */
  errorCode?: string | null;
  error?: string | null;
}

/** "Last verified restore" of one database on one target. */
export interface DrillRecord {
  databaseId: string;
  target: string;
  lastRunAt: string;
  lastOutcome: 'ok' | 'failed';
  lastBackupId: string | null;
  lastErrorCode: string | null;
  lastError: string | null;
  /** The last drill that succeeded: the last verified restore. Null: never verified. */
  lastVerifiedAt: string | null;
  lastVerifiedBackupId: string | null;
}

/** Live backups encrypted with one key id (`keyUsage`). */
export interface KeyUsage {
  keyId: string;
  backups: number;
  /** Up to 20 of them, newest first. */
  examples: Array<{ databaseId: string; backupId: string }>;
}

/**
 * The catalog. Async on purpose: the embedded default is SQLite, a PostgreSQL
 * implementation can serve multi-host deployments without touching callers.
 * Storage is the source of truth: `rebuildFromStorage` recreates the records from manifests.
 */
export interface Catalog {
  /** Apply pending migrations (idempotent; called at start-up). */
  migrate(): Promise<void>;
  close(): Promise<void>;

  recordBackup(manifest: Manifest, location: NewLocation): Promise<void>;
  /** Record a live copy (again): a deleted copy comes back, the storage class is replaced. */
  addLocation(backupId: string, location: NewLocation): Promise<void>;
  markLocationDeleted(backupId: string, target: string, at?: string): Promise<void>;
  getBackup(backupId: string): Promise<BackupRecord | null>;
  listBackups(query: BackupQuery): Promise<Page<BackupRecord>>;
  setPinned(backupId: string, pinned: boolean): Promise<void>;
  latestBackup(databaseId: string): Promise<BackupRecord | null>;
  /**
   * Bytes and counts of live copies per database and target (one row per pair that ever had a
   * copy, sorted by database then target), for one database or all.
   */
  storageUsage(query?: { databaseId?: string }): Promise<StorageUsage[]>;

  upsertSchedule(s: Omit<ScheduleRecord, 'updatedAt'>): Promise<ScheduleRecord>;
  listSchedules(databaseId?: string): Promise<ScheduleRecord[]>;
  getSchedule(databaseId: string, scheduleId: string): Promise<ScheduleRecord | null>;
  deleteSchedule(databaseId: string, scheduleId: string): Promise<boolean>;

  recordJob(job: JobHistoryRecord): Promise<void>;
  listJobs(query: { databaseId?: string; limit?: number }): Promise<JobHistoryRecord[]>;
  /** The finished job `jobId` (of any queue; the newest if two queues used the id), or `null`. */
  getJob(jobId: string): Promise<JobHistoryRecord | null>;

  /** Record the outcome of a restore drill (keeps the last success when this one failed). */
  recordDrill(d: DrillOutcome): Promise<DrillRecord>;
  /** Last drills, per database and target (sorted by database then target). */
  listDrills(databaseId?: string): Promise<DrillRecord[]>;
  /** Key ids that protect live (not deleted) backups, with how many each. Unencrypted backups are not listed. */
  keyUsage(): Promise<KeyUsage[]>;
  /** Key ids the config had at the last start that passed the key check (`setConfigKeyIds`). */
  configKeyIds(): Promise<string[]>;
  /** Replace the remembered key ids of the config. */
  setConfigKeyIds(keyIds: readonly string[]): Promise<void>;
  /**
   * What `/v1/health` needs of many databases in one call (indexed reads, no manifests): the
   * newest backup with a live copy, the last `backupJobs` finished backup jobs (newest first)
   * and, when `verify` is set, the last successful verify.
   */
  healthSummary(databaseIds: readonly string[], opts: { backupJobs: number; verify: boolean }): Promise<Map<string, HealthSummary>>;
}

/** One database's part of `healthSummary`. */
export interface HealthSummary {
  /** `createdAt` of the newest backup with a live copy. */
  lastBackupAt: string | null;
  /** Newest first. */
  backupJobs: Array<Pick<JobHistoryRecord, 'state' | 'finishedAt' | 'error'>>;
  /** `finishedAt` of the last completed verify job; null when none, or not asked. */
  lastVerifiedAt: string | null;
}

import type { StorageDriver } from '@mfb/storage';

export type CompressionAlgorithm = 'gzip' | 'zstd' | 'none';

/** The JSON document stored beside every artifact as `<artifactKey>.manifest.json`. */
export interface Manifest {
  /**
   * 1: full backup, no page map (still read and restored). 2: page-identical full or delta,
   * with a page map (still read and restored). 3: as 2, with fingerprint + SHA-256 page maps
   * (sparse for deltas) and `snapshot.sha256` the page-list digest (docs/backup-format.md 7).
   */
  formatVersion: 1 | 2 | 3;
  /** Sortable, unique: `20261126T124800123Z-<8 hex>`. */
  backupId: string;
  databaseId: string;
  /** ISO-8601 UTC. */
  createdAt: string;
  /** Key of the artifact, relative to the storage root: `<databaseId>/<backupId>.sqlite[.gz|.zst][.enc]`. */
  artifactKey: string;
  artifact: { sizeBytes: number; sha256: string };
  snapshot: {
    sizeBytes: number;
    /** formatVersion 1 and 2: SHA-256 of the image file; 3: its page-list digest (docs/backup-format.md 7.3). */
    sha256: string;
    method: 'vacuum-into' | 'backup-api';
    sqlite: { pageSize: number; pageCount: number; userVersion: number; journalMode: string };
    /**
     * Rows per table of the snapshot (`sqlite_*` tables excluded), counted at backup time;
     * a verify or restore drill compares them with the restored database. Absent in
     * manifests written before it existed (then nothing is compared).
     */
    tables?: Record<string, number>;
  };
  compression: { algorithm: CompressionAlgorithm; level: number | null };
  encryption: { algorithm: 'aes-256-gcm-chunked-v1'; keyId: string; chunkSize: number } | null;
  tool: { name: 'myfinance-backup'; version: string };
  /**
   * Set by `rekeyBackup`: the backup this one re-encrypts (same snapshot, same `createdAt`,
   * another key). Absent otherwise.
   */
  rekeyedFrom?: string;
  /**
   * Set by `compactBackup` on a formatVersion 2/3 full: the delta whose chain it merges (same
   * snapshot, same `createdAt`). Retention treats that delta as replaced. Absent otherwise.
   */
  compactedFrom?: string;
  /** formatVersion 2 and 3: `full` (artifact = the snapshot) or `delta` (artifact = changed pages against `parentId`). */
  kind?: 'full' | 'delta';
  /** formatVersion 2 and 3: the backup this delta applies to (null for a full). */
  parentId?: string | null;
  /** formatVersion 2 and 3: deltas between this backup and its full base (0 for a full). */
  chainLength?: number;
  /** formatVersion 2 and 3, delta: the parent it was computed against. */
  parent?: { backupId: string; artifactKey: string; snapshotSha256: string; pageCount: number };
  /** formatVersion 2 and 3, delta: the delta payload (decrypted, decompressed artifact bytes) and its changed pages. */
  delta?: { sizeBytes: number; sha256: string; changedPages: number };
  /** formatVersion 2 and 3: the full base of the chain and the stored bytes of its deltas up to and including this one. */
  chain?: { baseId: string; baseArtifactBytes: number; deltaArtifactBytes: number };
  /** formatVersion 2 and 3: the page map of the snapshot (`<databaseId>/<backupId>.pagemap`). */
  pageMap?: { key: string; sizeBytes: number; sha256: string };
}

/** Incremental (page-level) backups: see docs/backup-format.md, "Incremental backups". */
export interface IncrementalOptions {
  /** Default true: databases of at least `minSizeBytes` get formatVersion 2 full/delta backups. */
  enabled?: boolean;
  /** A full after this many deltas (default 7). */
  fullEvery?: number;
  /** A full once the chain's deltas together store more than this fraction of the full (default 0.5). */
  maxChainRatio?: number;
  /** Smaller databases keep formatVersion 1 full backups (default 64 MiB). */
  minSizeBytes?: number;
  /** This backup is a full whatever the policy says (`--full`). */
  forceFull?: boolean;
}

export interface Progress {
  stage: 'snapshot' | 'compress' | 'store' | 'fetch' | 'verify' | 'restore';
  bytesDone: number;
  /** 0 when unknown. */
  bytesTotal: number;
}

/** Key material for decryption, by key id. Several keys allow rotation. */
export type KeyRing = ReadonlyMap<string, Buffer>;

export interface BackupOptions {
  databaseId: string;
  /** Path of the live SQLite database. */
  sourcePath: string;
  storage: StorageDriver;
  compression: { algorithm: CompressionAlgorithm; level?: number };
  /** Absent = unencrypted. `chunkSize`: plaintext bytes per GCM chunk (default 1 MiB). */
  encryption?: { keyId: string; key: Buffer; chunkSize?: number };
  /**
   * Page-level incremental backups (default: on for databases of 64 MiB and more). When they
   * apply, the snapshot is the page-identical `backup-api` one whatever `snapshotMethod` says.
   */
  incremental?: IncrementalOptions;
  /**
   * Default `stream`: a page-identical snapshot read inside one read transaction and compressed
   * while it is read, no scratch copy (needs better-sqlite3 built with `sqlite_dbpage`; without
   * it, or with `vacuum-into` / `backup-api`, a scratch copy in `tmpDir` first). Incremental
   * (formatVersion 2) backups never use `vacuum-into` (it renumbers pages). See "Snapshot
   * method" in docs/architecture.md.
   */
  snapshotMethod?: 'stream' | 'vacuum-into' | 'backup-api';
  /**
   * Corruption check of the source while it is snapshotted: `quick` = `PRAGMA quick_check` in the
   * snapshot's read transaction (BACKUP_SOURCE_CORRUPT), `none` = rely on the scheduled verify /
   * restore drill (`integrity_check` of the restored result). Default: `none` for formatVersion 2
   * backups (databases of at least `incremental.minSizeBytes`: at 1 GiB the check costs more than
   * the streamed backup itself), `quick` for smaller ones. Damaged b-tree pages met by the row
   * counts fail the backup either way; `vacuum-into` detects corruption by itself.
   */
  sourceCheck?: 'quick' | 'none';
  /** How long to wait for a writer's lock on the source (default 30 s): BACKUP_SOURCE_BUSY after. */
  busyTimeoutMs?: number;
  /** Scratch directory for the snapshot (same filesystem as nothing in particular). */
  tmpDir: string;
  signal?: AbortSignal;
  /**
   * Called synchronously right before every durable step (each block handed to the storage,
   * the manifest, a write to the restore target); throws to stop the run (the worker's lock
   * fence: JOBS_LOCK_LOST once its per-database lock could not be renewed in time).
   */
  fence?: () => void;
  onProgress?: (p: Progress) => void;
  /** Injected clock for tests. */
  now?: () => Date;
}

/**
 * Wall time (seconds) the engine spent in each stage of one run, for the worker's metrics
 * (the engine itself records nothing). Compression, encryption and the write to storage run
 * as one stream: `compressEncrypt` is the time the stream's producer worked (read, compress,
 * encrypt, hash), `store` the rest of the write plus the manifest (time waiting on storage).
 */
export interface StageTimings {
  snapshot?: number;
  compressEncrypt?: number;
  store?: number;
  /** Fetch of the artifact to scratch, with its SHA-256. */
  download?: number;
  /** Decrypt, decompress, snapshot SHA-256 and `PRAGMA integrity_check`. */
  restoreCheck?: number;
}

export interface BackupResult {
  manifest: Manifest;
  manifestKey: string;
  timings: StageTimings;
  /** Why this backup is a full or a formatVersion 1 one, or `delta`. */
  incrementalReason?: string;
  /**
   * How the snapshot was taken: `stream` (no scratch copy), or `scratch copy (<method>)` with,
   * when the stream was wanted but cannot run here, the reason (callers log it).
   */
  snapshot?: string;
}

export interface VerifyOptions {
  storage: StorageDriver;
  /** Key of the artifact (its manifest is `<artifactKey>.manifest.json`). */
  artifactKey: string;
  keys: KeyRing;
  tmpDir: string;
  signal?: AbortSignal;
  /**
   * Called synchronously right before every durable step (each block handed to the storage,
   * the manifest, a write to the restore target); throws to stop the run (the worker's lock
   * fence: JOBS_LOCK_LOST once its per-database lock could not be renewed in time).
   */
  fence?: () => void;
  onProgress?: (p: Progress) => void;
}

export interface VerifyResult {
  manifest: Manifest;
  /** `PRAGMA integrity_check` said ok. */
  integrity: 'ok';
  /** Rows per table, for operators and tests. */
  tables: Record<string, number>;
  timings: StageTimings;
}

export interface RestoreOptions extends VerifyOptions {
  /** Where to restore. */
  targetPath: string;
  /**
   * `new`: targetPath must not exist.
   * `replace`: targetPath is an existing (possibly live) database, replaced through SQLite's
   * backup API after a safety copy of it is written to `safetyCopyDir`.
   */
  mode: 'new' | 'replace';
  /** Default: `<dirname(targetPath)>/.pre-restore`. */
  safetyCopyDir?: string;
  /** Replace mode: how long to wait for other connections' locks (default 10 s): RESTORE_TARGET_BUSY after. */
  busyTimeoutMs?: number;
}

export interface RestoreResult extends VerifyResult {
  targetPath: string;
  /** Path of the pre-restore copy (replace mode). */
  safetyCopyPath?: string;
}

import type { StorageDriver } from '@mfb/storage';

export type CompressionAlgorithm = 'gzip' | 'zstd' | 'none';

/** The JSON document stored beside every artifact as `<artifactKey>.manifest.json`. */
export interface Manifest {
  formatVersion: 1;
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
    sha256: string;
    method: 'vacuum-into' | 'backup-api';
    sqlite: { pageSize: number; pageCount: number; userVersion: number; journalMode: string };
  };
  compression: { algorithm: CompressionAlgorithm; level: number | null };
  encryption: { algorithm: 'aes-256-gcm-chunked-v1'; keyId: string; chunkSize: number } | null;
  tool: { name: 'myfinance-backup'; version: string };
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
  /** Default `vacuum-into` (see "Snapshot method" in docs/architecture.md). */
  snapshotMethod?: 'vacuum-into' | 'backup-api';
  /** How long to wait for a writer's lock on the source (default 30 s): BACKUP_SOURCE_BUSY after. */
  busyTimeoutMs?: number;
  /** Scratch directory for the snapshot (same filesystem as nothing in particular). */
  tmpDir: string;
  signal?: AbortSignal;
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
}

export interface VerifyOptions {
  storage: StorageDriver;
  /** Key of the artifact (its manifest is `<artifactKey>.manifest.json`). */
  artifactKey: string;
  keys: KeyRing;
  tmpDir: string;
  signal?: AbortSignal;
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

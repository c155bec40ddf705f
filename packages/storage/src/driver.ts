import type { Readable } from 'node:stream';

/** Metadata of one stored object. */
export interface ObjectInfo {
  /** Key relative to the driver's root, `/`-separated, never starting with `/`. */
  key: string;
  size: number;
  lastModified: Date;
  /** Provider storage class, where the provider has one (`STANDARD_IA`, `Cool`, ...). */
  storageClass?: string;
}

/**
 * What a driver can do beyond the common contract; the conformance suite skips the tests of
 * capabilities a driver lacks (e.g. `file://` has no storage classes).
 */
export interface StorageCapabilities {
  /** Storage classes this driver accepts in `PutOptions.storageClass` (empty: none). */
  storageClasses: readonly string[];
}

export interface ListPage {
  items: ObjectInfo[];
  /** Opaque cursor for the next page; absent on the last page. */
  cursor?: string;
}

export interface PutOptions {
  contentType?: string;
  /**
   * Provider storage class for this object (S3 `STANDARD_IA`, GCS `NEARLINE`, Azure tier
   * `Cool`); overrides the driver's `storageClass` option. Ignored by `file://`.
   */
  storageClass?: string;
  /**
   * Lowercase hex SHA-256 of the whole body, when the caller knows it (the manifest's
   * artifact hash). The driver hashes the bytes it reads from `body` while sending; on a
   * mismatch it aborts the upload, leaves nothing under `key` (an existing object stays as
   * it was) and rejects with `StorageChecksumMismatchError` (STORAGE_CHECKSUM_MISMATCH).
   */
  sha256?: string;
  /** Expected size when known (lets cloud drivers choose single vs multipart). */
  size?: number;
  signal?: AbortSignal;
  onProgress?: (bytesDone: number) => void;
}

/**
 * Where artifacts and manifests live. Every driver (file, s3, gs, azblob) implements this
 * and passes the same conformance suite (`packages/storage/test/conformance.ts`).
 *
 * Contract:
 * - `put` is atomic: the object is visible to `get`/`head`/`list` only once every byte is
 *   durable; a failed or aborted `put` leaves nothing behind under `key`.
 * - `get` of a missing key rejects with `StorageNotFoundError` (code STORAGE_NOT_FOUND).
 * - `head` of a missing key resolves `null`.
 * - `list(prefix)` returns objects whose key starts with `prefix`, sorted by key, in pages.
 * - `delete` of a missing key is not an error (idempotent).
 * - Keys are validated: no `..` segments, no absolute paths, no NUL (STORAGE_INVALID_KEY).
 * - `put` with `sha256` is proven: the bytes read from `body` hash to it, and the provider's
 *   transport integrity (S3 per-part checksums, GCS crc32c/md5, Azure per-block MD5) covers
 *   every request body, so a body corrupted in transit is rejected and retried, never stored.
 * - `put` resolves the `storageClass` actually applied where the provider has classes.
 * - Drivers are opened with `static fromUrl(url, opts: OpenStorageOptions)` (registry.ts):
 *   options come from URL query parameters and/or `opts.options`; an unknown key or the same
 *   key in both is STORAGE_INVALID_OPTIONS, thrown by `fromUrl` (i.e. at boot). Credentials
 *   come only from the provider's standard chain or option `credentialsFile`, never the URL.
 *   Cloud SDKs are loaded lazily (dynamic `import()`) on first use.
 * - Provider errors map to: STORAGE_NOT_FOUND, STORAGE_BUCKET_NOT_FOUND, STORAGE_ACCESS_DENIED,
 *   STORAGE_AUTH_FAILED (permanent) and STORAGE_UNAVAILABLE (transient: throttling, 5xx,
 *   resets, timeouts after the SDK's own retries). Messages name the target by its redacted
 *   URL; the provider error stays in `cause`.
 */
export interface StorageDriver {
  /** The location with any credentials removed; safe for logs and the API. */
  readonly url: string;
  /** Optional extras (absent: none of them). */
  readonly capabilities?: StorageCapabilities;
  put(key: string, body: Readable, opts?: PutOptions): Promise<ObjectInfo>;
  get(key: string, opts?: { signal?: AbortSignal }): Promise<Readable>;
  head(key: string): Promise<ObjectInfo | null>;
  list(prefix: string, opts?: { cursor?: string; limit?: number }): Promise<ListPage>;
  delete(key: string): Promise<void>;
  /**
   * Remove partial writes under `prefix` left by a writer that was killed (temp files,
   * unfinished multipart uploads) older than `olderThanMs` (default 0). Callers hold the
   * database lock for that prefix, so nothing live is writing there. Returns the count.
   */
  cleanupIncomplete(prefix: string, olderThanMs?: number): Promise<number>;
}

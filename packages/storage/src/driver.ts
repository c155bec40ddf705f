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

export interface ListPage {
  items: ObjectInfo[];
  /** Opaque cursor for the next page; absent on the last page. */
  cursor?: string;
}

export interface PutOptions {
  contentType?: string;
  storageClass?: string;
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
 */
export interface StorageDriver {
  /** The location with any credentials removed; safe for logs and the API. */
  readonly url: string;
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

import { randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { StorageDriver } from '@mfb/storage';
import { copyBackup, deleteCopy } from './copies.js';
import { DecryptStream, ENCRYPTION_ALGORITHM, Encryptor, validateKey } from './crypto.js';
import { AbortedError, ChecksumMismatchError, InvalidBackupOptionsError, ManifestMismatchError, UnknownKeyIdError } from './errors.js';
import { Meter } from './hash.js';
import { MANIFEST_SUFFIX, artifactKeyFor } from './ids.js';
import { readManifest, writeManifest } from './manifest.js';
import { writePinMarker } from './pin.js';
import type { KeyRing, Manifest, Progress } from './types.js';
import { TOOL_NAME, TOOL_VERSION } from './version.js';
import { verifyBackup } from './verify.js';

/** One live copy of the backup to re-encrypt. */
export interface RekeyCopy {
  /** Target name (`local` = primary storage). */
  target: string;
  storage: StorageDriver;
  artifactKey: string;
  /** Storage class for the new copy (default: the target's own). */
  storageClass?: string;
}

/** A copy of the new backup, written and proven. */
export interface RekeyedCopy {
  target: string;
  artifactKey: string;
  storageClass: string | null;
}

/** Steps of a rekey, in order (for progress output and for tests that stop a run at one). */
export type RekeyStep = 'encrypted' | 'verified' | 'copied' | 'recorded' | 'old-deleted';

export interface RekeyOptions {
  /**
   * Every live copy of the backup. The first is read and re-encrypted; the others get the new
   * backup by a proven copy; all old copies are deleted at the end.
   */
  copies: readonly RekeyCopy[];
  /** Must hold the backup's current key and `toKeyId`. */
  keys: KeyRing;
  toKeyId: string;
  /** Write pin markers beside the new copies (the backup is pinned). */
  pinned?: boolean;
  /** Scratch for the verification restore. */
  tmpDir: string;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  /**
   * Record the new backup (catalog) once every new copy is written and proven, before any old
   * copy is deleted. A failure here leaves the old backup untouched (the new copies stay,
   * visible to a catalog rebuild).
   */
  onNewBackup?: (manifest: Manifest, copies: RekeyedCopy[]) => Promise<void>;
  /** Called after the old copy on `target` is gone from storage (catalog mark). */
  onOldCopyDeleted?: (target: string) => Promise<void>;
  /** Called after each step (tests, progress). */
  onStep?: (step: RekeyStep) => void | Promise<void>;
}

export interface RekeyResult {
  /** The backup that was re-encrypted (its copies are deleted). */
  from: string;
  /** The new backup (same snapshot and `createdAt`, new key); equal to `from` when nothing was done. */
  backupId: string;
  manifest: Manifest;
  copies: RekeyedCopy[];
  /** The backup was already encrypted with `toKeyId`: nothing done. */
  unchanged: boolean;
}

class EncryptStream extends Transform {
  constructor(private readonly enc: Encryptor) {
    super();
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    for (const b of this.enc.update(chunk)) this.push(b);
    cb();
  }
  override _flush(cb: TransformCallback): void {
    for (const b of this.enc.final()) this.push(b);
    cb();
  }
}

/**
 * Delete the copies of earlier, unfinished rekeys of `old` on `storage`: backups with the same
 * time stamp whose manifest names `old` in `rekeyedFrom`. One `list` of that time stamp.
 */
async function removeUnrecordedSuccessors(storage: StorageDriver, old: Manifest): Promise<void> {
  const stamp = `${old.databaseId}/${old.backupId.slice(0, old.backupId.lastIndexOf('-') + 1)}`;
  let cursor: string | undefined;
  do {
    const page = await storage.list(stamp, cursor ? { cursor } : {});
    for (const o of page.items) {
      if (!o.key.endsWith(MANIFEST_SUFFIX)) continue;
      const artifactKey = o.key.slice(0, -MANIFEST_SUFFIX.length);
      if (artifactKey === old.artifactKey) continue;
      const m = await readManifest(storage, artifactKey).catch(() => null);
      if (m?.rekeyedFrom === old.backupId) await deleteCopy(storage, artifactKey);
    }
    cursor = page.cursor;
  } while (cursor);
}

/** Same time stamp as `backupId` (retention sees the same age), a new random tail. */
export function rekeyedBackupId(backupId: string): string {
  return `${backupId.slice(0, backupId.lastIndexOf('-'))}-${randomBytes(4).toString('hex')}`;
}

/**
 * Re-encrypt a stored backup with another key, as a NEW backup (new id, same time stamp,
 * `rekeyedFrom` in its manifest), because the artifact key of a backup does not depend on
 * its key and an old copy must never be overwritten before its successor is proven:
 *
 * 1. stream the first copy: fetch (SHA-256 against the old manifest) -> decrypt (each chunk
 *    authenticated) -> encrypt with `toKeyId` -> put under the new artifact key; the
 *    compressed bytes in between are never written anywhere, memory stays at a few chunks;
 * 2. manifest of the new backup, then a full verify of it (checksums, authentication,
 *    decompression, snapshot SHA-256, integrity_check, row counts);
 * 3. a proven copy (`copyBackup`) to every other storage that held the old backup;
 * 4. `onNewBackup` (catalog);
 * 5. only then every old copy is deleted (`deleteCopy`: manifest, artifact, pin marker),
 *    each followed by `onOldCopyDeleted`.
 *
 * A failure or a kill before step 5 leaves every old copy intact; new copies written so far
 * are removed on a failure, and what a killed run left is removed by the next run (its
 * caller must not start one for a backup whose successor it already recorded).
 */
export async function rekeyBackup(opts: RekeyOptions): Promise<RekeyResult> {
  const first = opts.copies[0];
  if (!first) throw new InvalidBackupOptionsError('rekey needs at least one copy of the backup');
  const newKey = opts.keys.get(opts.toKeyId);
  if (!newKey) throw new UnknownKeyIdError(opts.toKeyId);
  validateKey(newKey);
  const signal = opts.signal;
  if (signal?.aborted) throw new AbortedError();

  const old = await readManifest(first.storage, first.artifactKey);
  if (old.formatVersion !== 1) {
    // Deltas name their parent by id and a new id would break the chain: rotate those with a
    // new full backup (`backup --full`) under the new key and let retention remove the chain.
    throw new InvalidBackupOptionsError(
      `backup ${old.backupId} is part of an incremental chain (formatVersion ${old.formatVersion}); rekey re-encrypts formatVersion 1 backups only: ` +
        'take a full backup with the new key (backupctl backup <db> --full) and let retention remove the old chain',
    );
  }
  if (old.encryption?.keyId === opts.toKeyId) return { from: old.backupId, backupId: old.backupId, manifest: old, copies: [], unchanged: true };
  if (old.encryption && !opts.keys.has(old.encryption.keyId)) throw new UnknownKeyIdError(old.encryption.keyId);

  // What a killed earlier run left (never recorded: the caller checks its catalog first).
  for (const c of opts.copies) await removeUnrecordedSuccessors(c.storage, old);

  const backupId = rekeyedBackupId(old.backupId);
  const artifactKey = artifactKeyFor(old.databaseId, backupId, old.compression.algorithm, true);
  const total = old.artifact.sizeBytes;
  const fetched = new Meter((n) => opts.onProgress?.({ stage: 'fetch', bytesDone: n, bytesTotal: total }));
  const written = new Meter();
  const decrypt = old.encryption ? new DecryptStream(opts.keys) : null;
  const encryptor = new Encryptor({ keyId: opts.toKeyId, key: newKey, ...(old.encryption ? { chunkSize: old.encryption.chunkSize } : {}) });
  const created: RekeyedCopy[] = [];
  let committed = false;
  const put = (s: StorageDriver, key: string): Promise<unknown> =>
    s.put(key, written, { contentType: 'application/octet-stream', ...(first.storageClass !== undefined ? { storageClass: first.storageClass } : {}), ...(signal ? { signal } : {}) });

  try {
    // 1. re-encrypt (the put consumes `written`; the pipeline feeds it)
    const source = await first.storage.get(first.artifactKey, signal ? { signal } : {});
    const stored = put(first.storage, artifactKey);
    await Promise.all([pipeline([source, fetched, ...(decrypt ? [decrypt] : []), new EncryptStream(encryptor), written], ...(signal ? [{ signal }] : [])), stored]);
    created.push({ target: first.target, artifactKey, storageClass: null });
    if (fetched.bytes !== total || fetched.hash.digest('hex') !== old.artifact.sha256) throw new ChecksumMismatchError('artifact', first.artifactKey);
    if (decrypt && old.encryption && decrypt.decryptor.header?.keyId !== old.encryption.keyId) {
      throw new ManifestMismatchError(first.artifactKey, 'encryption header differs from the manifest');
    }
    const head = await first.storage.head(artifactKey);
    if (!head || head.size !== written.bytes) throw new ManifestMismatchError(artifactKey, `stored ${head?.size ?? 'nothing'}, wrote ${written.bytes} bytes`);
    created[0] = { ...created[0]!, storageClass: head.storageClass ?? null };

    const manifest: Manifest = {
      ...old,
      backupId,
      artifactKey,
      artifact: { sizeBytes: written.bytes, sha256: written.hash.digest('hex') },
      encryption: { algorithm: ENCRYPTION_ALGORITHM, keyId: opts.toKeyId, chunkSize: encryptor.chunkSize },
      tool: { name: TOOL_NAME, version: TOOL_VERSION },
      rekeyedFrom: old.backupId,
    };
    if (opts.pinned) await writePinMarker(first.storage, artifactKey, backupId);
    await writeManifest(first.storage, manifest, signal);
    await opts.onStep?.('encrypted');

    // 2. prove it: everything a restore checks
    await verifyBackup({
      storage: first.storage,
      artifactKey,
      keys: opts.keys,
      tmpDir: opts.tmpDir,
      ...(signal ? { signal } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
    await opts.onStep?.('verified');

    // 3. every other storage that held the old backup
    for (const c of opts.copies.slice(1)) {
      const r = await copyBackup(first.storage, c.storage, manifest, {
        ...(opts.pinned ? { pinned: true } : {}),
        ...(c.storageClass !== undefined ? { storageClass: c.storageClass } : {}),
        ...(signal ? { signal } : {}),
      });
      created.push({ target: c.target, artifactKey, storageClass: r.storageClass });
    }
    await opts.onStep?.('copied');

    // 4. record
    await opts.onNewBackup?.(manifest, created);
    committed = true;
    await opts.onStep?.('recorded');

    // 5. the old copies, now that the new ones are proven and recorded
    for (const c of opts.copies) {
      await deleteCopy(c.storage, c.artifactKey, opts.onOldCopyDeleted ? () => opts.onOldCopyDeleted!(c.target) : undefined);
    }
    await opts.onStep?.('old-deleted');
    return { from: old.backupId, backupId, manifest, copies: created, unchanged: false };
  } catch (err) {
    // The new backup is proven and recorded: it stays. Old copies not deleted yet stay live
    // (a second run deletes them: the backup is then found already re-encrypted).
    if (committed) throw err;
    // Nothing of the old backup was touched; take back what was written of the new one.
    const byTarget = new Map(opts.copies.map((c) => [c.target, c.storage]));
    await Promise.all(
      [{ target: first.target }, ...created].map((c) => deleteCopy(byTarget.get(c.target)!, artifactKey).catch(() => undefined)),
    );
    if (signal?.aborted && !(err instanceof AbortedError) && (err as Error).name === 'AbortError') throw new AbortedError({ cause: err });
    throw err;
  }
}

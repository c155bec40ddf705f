import { createHash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import type { StorageDriver } from '@mfb/storage';
import { manifestKeyFor, pinKeyFor } from './ids.js';
import { pageMapKeyFor } from './pagemap.js';
import { writePinMarker } from './pin.js';
import type { Manifest } from './types.js';

/**
 * The storage side of one copy of a backup on one target: how a copy is written
 * ({@link copyBackup}) and deleted ({@link deleteCopy}). Every caller (the worker's upload
 * and prune, the API's DELETE) goes through these two, for every target, so the order of the
 * writes and deletes that keeps a copy either whole-and-visible or invisible lives here only.
 */

export interface CopyOptions {
  /** Write the pin marker beside the copy (the backup is pinned in the catalog). */
  pinned?: boolean;
  /** Storage class of the artifact; default: the target's own (`storageClass` option). */
  storageClass?: string;
  signal?: AbortSignal;
  /** Called synchronously before every durable step (each chunk, the pin marker, the manifest); throws to stop. */
  fence?: () => void;
  onProgress?: (bytesDone: number) => void;
}

export interface CopyResult {
  artifactKey: string;
  sizeBytes: number;
  /** Storage class the artifact was stored with (null where the provider has none). */
  storageClass: string | null;
  /** A complete artifact of the right size was already there and was kept. */
  reused: boolean;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

/**
 * Copy the backup `manifest` describes from `src` to `dst`: artifact, pin marker (when
 * `pinned`), manifest LAST (a copy without manifest is invisible to a catalog rebuild).
 * Every put is proven: the artifact against the manifest's SHA-256, the manifest against the
 * hash of the bytes read from `src` (STORAGE_CHECKSUM_MISMATCH, nothing stored under the key).
 * A source artifact that does not match its manifest is therefore never copied.
 *
 * When the artifact's class is not the target's first (standard) class, the manifest and pin
 * marker go to that standard class: a catalog rebuild must be able to read them at once even
 * when the artifacts sit in an archive tier.
 *
 * Idempotent: an artifact of the right size already on `dst` is kept (a retried upload).
 */
export async function copyBackup(src: StorageDriver, dst: StorageDriver, manifest: Manifest, opts: CopyOptions = {}): Promise<CopyResult> {
  const key = manifest.artifactKey;
  const size = manifest.artifact.sizeBytes;
  const signal = opts.signal;
  const fence = (): void => {
    opts.fence?.();
    signal?.throwIfAborted();
  };
  fence();
  const there = await dst.head(key);
  let storageClass: string | null;
  let reused = false;
  if (there && there.size === size) {
    reused = true;
    storageClass = there.storageClass ?? null;
  } else {
    const body = await src.get(key, signal ? { signal } : {});
    const fenced = opts.fence
      ? body.pipe(
          new Transform({
            transform(chunk: Buffer, _enc, cb) {
              try {
                fence();
                cb(null, chunk);
              } catch (err) {
                cb(err as Error);
              }
            },
          }),
        )
      : body;
    if (fenced !== body) {
      body.once('error', (err) => fenced.destroy(err));
      fenced.once('error', () => body.destroy());
    }
    const info = await dst.put(key, fenced, {
      size,
      sha256: manifest.artifact.sha256,
      ...(opts.storageClass !== undefined ? { storageClass: opts.storageClass } : {}),
      ...(signal ? { signal } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
    storageClass = info.storageClass ?? null;
  }
  const standard = dst.capabilities?.storageClasses[0];
  const small = storageClass !== null && standard !== undefined && storageClass !== standard ? { storageClass: standard } : {};
  if (manifest.pageMap) {
    // formatVersion 2 and 3: the page map goes with the copy (the next delta and a chain restore read it).
    const pm = manifest.pageMap;
    fence();
    await dst.put(pm.key, await src.get(pm.key, signal ? { signal } : {}), {
      size: pm.sizeBytes,
      sha256: pm.sha256,
      ...small,
      ...(signal ? { signal } : {}),
    });
  }
  fence();
  if (opts.pinned) await writePinMarker(dst, key, manifest.backupId, new Date(), small);
  const mkey = manifestKeyFor(key);
  const body = await readAll(await src.get(mkey, signal ? { signal } : {}));
  fence();
  await dst.put(mkey, Readable.from([body]), {
    contentType: 'application/json',
    size: body.length,
    sha256: createHash('sha256').update(body).digest('hex'),
    ...small,
    ...(signal ? { signal } : {}),
  });
  return { artifactKey: key, sizeBytes: size, storageClass, reused };
}

/**
 * Delete one copy of a backup from `storage`: manifest first (the copy becomes invisible to
 * a catalog rebuild), then the artifact, then the pin marker and page map; then `onDeleted` (the caller's
 * catalog mark). A crash in between leaves an orphan artifact or marker (garbage a later
 * delete removes), never a manifest pointing at nothing, and the catalog is marked only once
 * storage no longer has the copy. Missing objects are not errors (idempotent).
 */
export async function deleteCopy(storage: StorageDriver, artifactKey: string, onDeleted?: () => Promise<void>): Promise<void> {
  await storage.delete(manifestKeyFor(artifactKey));
  await storage.delete(artifactKey);
  await storage.delete(pinKeyFor(artifactKey));
  // formatVersion 2/3 page map (`<databaseId>/<backupId>.pagemap`); absent for v1: a no-op.
  const slash = artifactKey.lastIndexOf('/');
  const backupId = artifactKey.slice(slash + 1).split('.')[0]!;
  const pm = pageMapKeyFor(artifactKey.slice(0, slash), backupId);
  if (await storage.head(pm)) await storage.delete(pm);
  if (onDeleted) await onDeleted();
}

import { Readable } from 'node:stream';
import { AppError } from '@mfb/errors';
import { createCodec, BLOCK_SIZE, compressBlocks, defaultWindow, resolveLevel } from './compress.js';
import { ENCRYPTION_ALGORITHM, Encryptor, validateKey, validateKeyId } from './crypto.js';
import { AbortedError, DiskFullError, InvalidBackupOptionsError, isDiskFull } from './errors.js';
import { BlockPool, readBlocks, sha256 } from './hash.js';
import { DATABASE_ID_RE, artifactKeyFor, newBackupId } from './ids.js';
import { writeManifest } from './manifest.js';
import { takeSnapshot } from './snapshot.js';
import { ensurePrivateDir, removeWithSidecars, tempPath } from './tempfiles.js';
import type { BackupOptions, BackupResult, Manifest, Progress } from './types.js';
import { TOOL_NAME, TOOL_VERSION } from './version.js';

/**
 * Back up a live SQLite database: consistent snapshot -> parallel block compression ->
 * optional AES-256-GCM chunked encryption -> SHA-256 -> `storage.put(artifactKey)`, then the
 * manifest (which is what makes the backup visible). Scratch files live in `opts.tmpDir`
 * and are removed whatever happens.
 */
export async function createBackup(opts: BackupOptions): Promise<BackupResult> {
  if (!DATABASE_ID_RE.test(opts.databaseId)) throw new InvalidBackupOptionsError(`invalid database id "${opts.databaseId}"`);
  const algorithm = opts.compression.algorithm;
  const level = resolveLevel(algorithm, opts.compression.level);
  if (opts.encryption) {
    validateKeyId(opts.encryption.keyId);
    validateKey(opts.encryption.key);
  }
  const signal = opts.signal;
  if (signal?.aborted) throw new AbortedError();
  const progress = (stage: Progress['stage'], bytesDone: number, bytesTotal: number): void => opts.onProgress?.({ stage, bytesDone, bytesTotal });

  const createdAt = (opts.now ?? (() => new Date()))();
  const backupId = newBackupId(createdAt);
  const artifactKey = artifactKeyFor(opts.databaseId, backupId, algorithm, !!opts.encryption);
  await ensurePrivateDir(opts.tmpDir);
  const snapPath = tempPath(opts.tmpDir, opts.databaseId, backupId, 'snapshot.sqlite');
  let artifactStored = false;

  const since = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e9;
  try {
    progress('snapshot', 0, 0);
    const snapStarted = process.hrtime.bigint();
    const snap = await takeSnapshot({
      sourcePath: opts.sourcePath,
      destPath: snapPath,
      method: opts.snapshotMethod ?? 'vacuum-into',
      ...(opts.busyTimeoutMs !== undefined ? { busyTimeoutMs: opts.busyTimeoutMs } : {}),
      ...(signal ? { signal } : {}),
    });
    progress('snapshot', snap.sizeBytes, snap.sizeBytes);
    const snapshotSeconds = since(snapStarted);
    // Time the producer works between being resumed and yielding (see StageTimings).
    let producerNs = 0n;

    const encryptor = opts.encryption ? new Encryptor(opts.encryption) : null;
    const plainHash = sha256();
    const artifactHash = sha256();
    let artifactSize = 0;
    const codec = createCodec(algorithm, level);
    let producerError: unknown;
    // Set when the error reached the generator from downstream (the storage's write failed and
    // Readable.from threw it in at a yield): then the storage's own, mapped error is the one
    // to report (STORAGE_DISK_FULL, not a raw ENOSPC that looks like the scratch dir's).
    let failedDownstream = false;

    async function* artifactBytes(): AsyncGenerator<Buffer> {
      let resumed = process.hrtime.bigint();
      try {
        const window = defaultWindow();
        // 'none' passes the read blocks downstream as they are: they cannot be recycled.
        const pool = algorithm === 'none' ? undefined : new BlockPool(BLOCK_SIZE[algorithm], window + 2);
        const blocks = readBlocks(snapPath, BLOCK_SIZE[algorithm], plainHash, (n) => progress('compress', n, snap.sizeBytes), signal, pool);
        const emit = function* (pieces: Buffer[]): Generator<Buffer> {
          for (const p of pieces) {
            artifactHash.update(p);
            artifactSize += p.length;
            try {
              producerNs += process.hrtime.bigint() - resumed;
              yield p;
              resumed = process.hrtime.bigint();
            } catch (err) {
              failedDownstream = true;
              throw err;
            }
          }
        };
        for await (const block of compressBlocks(blocks, codec, window, pool && ((ab) => pool.put(ab)))) {
          yield* emit(encryptor ? encryptor.update(block) : [block]);
        }
        if (encryptor) yield* emit(encryptor.final());
        producerNs += process.hrtime.bigint() - resumed;
      } catch (err) {
        if (!failedDownstream) producerError = err;
        throw err;
      }
    }

    const writeStarted = process.hrtime.bigint();
    try {
      const info = await opts.storage.put(artifactKey, Readable.from(artifactBytes(), { objectMode: false, highWaterMark: 1 }), {
        contentType: 'application/octet-stream',
        ...(signal ? { signal } : {}),
        onProgress: (n) => progress('store', n, 0),
      });
      artifactStored = true;
      if (info.size !== artifactSize) throw new Error(`stored artifact is ${info.size} bytes, wrote ${artifactSize}`);
    } catch (err) {
      throw producerError ?? err;
    } finally {
      await codec.close();
    }
    signal?.throwIfAborted();

    const manifest: Manifest = {
      formatVersion: 1,
      backupId,
      databaseId: opts.databaseId,
      createdAt: createdAt.toISOString(),
      artifactKey,
      artifact: { sizeBytes: artifactSize, sha256: artifactHash.digest('hex') },
      snapshot: {
        sizeBytes: snap.sizeBytes,
        sha256: plainHash.digest('hex'),
        method: snap.method,
        sqlite: { pageSize: snap.pageSize, pageCount: snap.pageCount, userVersion: snap.userVersion, journalMode: snap.journalMode },
      },
      compression: { algorithm, level },
      encryption: encryptor && opts.encryption ? { algorithm: ENCRYPTION_ALGORITHM, keyId: opts.encryption.keyId, chunkSize: encryptor.chunkSize } : null,
      tool: { name: TOOL_NAME, version: TOOL_VERSION },
    };
    const manifestKey = await writeManifest(opts.storage, manifest, signal);
    progress('store', artifactSize, artifactSize);
    const compressEncrypt = Number(producerNs) / 1e9;
    const timings = { snapshot: snapshotSeconds, compressEncrypt, store: Math.max(0, since(writeStarted) - compressEncrypt) };
    return { manifest, manifestKey, timings };
  } catch (err) {
    // Without its manifest an artifact is invisible, but do not leave it behind either.
    if (artifactStored) await opts.storage.delete(artifactKey).catch(() => undefined);
    throw classify(err, signal, opts.tmpDir);
  } finally {
    await removeWithSidecars(snapPath);
  }
}

function classify(err: unknown, signal: AbortSignal | undefined, tmpDir: string): unknown {
  if (err instanceof AbortedError) return err;
  if (signal?.aborted && !(err instanceof AppError && err.code !== 'STORAGE_ABORTED')) return new AbortedError({ cause: err });
  // A full storage device stays STORAGE_DISK_FULL (it says which device); a raw ENOSPC here
  // comes from the scratch files.
  if (err instanceof AppError) return err;
  if (isDiskFull(err)) return new DiskFullError(`scratch files in ${tmpDir}`, { cause: err });
  return err;
}

import type { Hash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { AppError } from '@mfb/errors';
import { createCodec, BLOCK_SIZE, compressBlocks, defaultWindow, resolveLevel } from './compress.js';
import { ENCRYPTION_ALGORITHM, Encryptor, validateKey, validateKeyId } from './crypto.js';
import { planIncremental } from './chain.js';
import { deltaBlocks, type DeltaStats } from './delta.js';
import { AbortedError, DiskFullError, InvalidBackupOptionsError, isDiskFull, SourceCorruptError } from './errors.js';
import { runSqliteTask, SqliteTaskError } from './sqlite-worker.js';
import { BlockPool, readBlocks, sha256 } from './hash.js';
import { DATABASE_ID_RE, artifactKeyFor, newBackupId } from './ids.js';
import { writeManifest } from './manifest.js';
import { PageMapBuilder, pageMapKeyFor, putPageMap, sealPageMap } from './pagemap.js';
import { takeSnapshot } from './snapshot.js';
import { ensurePrivateDir, removeWithSidecars, tempPath } from './tempfiles.js';
import type { BackupOptions, BackupResult, KeyRing, Manifest, Progress } from './types.js';
import { TOOL_NAME, TOOL_VERSION } from './version.js';

const MAX_MANIFEST_TABLES = 1000;

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
  // Before every durable step: the caller's fence (a lost lock) and the signal.
  const fence = (): void => {
    opts.fence?.();
    signal?.throwIfAborted();
  };
  const progress = (stage: Progress['stage'], bytesDone: number, bytesTotal: number): void => opts.onProgress?.({ stage, bytesDone, bytesTotal });

  const createdAt = (opts.now ?? (() => new Date()))();
  const backupId = newBackupId(createdAt);
  // Incremental: formatVersion 2 (page-identical snapshot + page map), a delta when a usable parent exists.
  const sourceBytes = (await stat(opts.sourcePath).catch(() => null))?.size ?? 0;
  const keyRing: KeyRing = new Map(opts.encryption ? [[opts.encryption.keyId, opts.encryption.key]] : []);
  const plan = await planIncremental(opts, sourceBytes, keyRing);
  let artifactKey = artifactKeyFor(opts.databaseId, backupId, algorithm, !!opts.encryption);
  await ensurePrivateDir(opts.tmpDir);
  const snapPath = tempPath(opts.tmpDir, opts.databaseId, backupId, 'snapshot.sqlite');
  const pageMapKey = pageMapKeyFor(opts.databaseId, backupId);
  let artifactStored = false;
  let pageMapStored = false;
  let quickCheck: Promise<void> | null = null;

  const since = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e9;
  try {
    progress('snapshot', 0, 0);
    const snapStarted = process.hrtime.bigint();
    const snap = await takeSnapshot({
      sourcePath: opts.sourcePath,
      destPath: snapPath,
      // A delta needs page N of the snapshot to be page N of the database: the backup API copy.
      method: plan.v2 ? 'backup-api' : (opts.snapshotMethod ?? 'vacuum-into'),
      // formatVersion 2: the quick_check runs below, while the snapshot is compressed.
      ...(plan.v2 ? { check: 'none' as const } : {}),
      ...(opts.busyTimeoutMs !== undefined ? { busyTimeoutMs: opts.busyTimeoutMs } : {}),
      ...(signal ? { signal } : {}),
    });
    progress('snapshot', snap.sizeBytes, snap.sizeBytes);
    fence();
    const snapshotSeconds = since(snapStarted);
    // Time the producer works between being resumed and yielding (see StageTimings).
    let producerNs = 0n;
    if (plan.v2) {
      // The corruption detection VACUUM INTO gives for free (docs/backup-format.md 6.1), in a
      // worker thread alongside the page hashing and compression; awaited before the manifest.
      quickCheck = runSqliteTask('quickCheck', { path: snapPath }, signal).then(
        () => undefined,
        (err: unknown) => {
          const code = err instanceof SqliteTaskError ? err.failure.code : '';
          if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB')
            throw new SourceCorruptError(opts.sourcePath, (err as SqliteTaskError).failure.message, { cause: err });
          throw err;
        },
      );
      quickCheck.catch(() => undefined);
    }
    let parent = plan.parent;
    let reason = plan.reason;
    if (parent && parent.map.pageSize !== snap.pageSize) {
      parent = null;
      reason = 'the page size changed';
    }
    if (parent) artifactKey = artifactKeyFor(opts.databaseId, backupId, algorithm, !!opts.encryption, true);
    const pageMaps = plan.v2 ? new PageMapBuilder(snap.pageSize) : null;
    const delta: DeltaStats = { changedPages: 0, map: null, snapshotSha256: null };
    const snapHash = sha256();
    const plainBytes = { n: 0 };

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
        const onRead = (n: number): void => progress('compress', n, snap.sizeBytes);
        const blocks = parent
          ? tapHash(
              deltaBlocks(
                snapPath,
                { pageSize: snap.pageSize, parentPageCount: parent.map.pageCount, pageCount: snap.pageCount, parentSha256: parent.manifest.snapshot.sha256 },
                parent.map,
                snapHash,
                () => snapHash.digest('hex'),
                delta,
                BLOCK_SIZE[algorithm],
                onRead,
                signal,
              ),
              plainHash,
              plainBytes,
            )
          : tapPages(readBlocks(snapPath, BLOCK_SIZE[algorithm], plainHash, onRead, signal, pool), pageMaps);
        const emit = function* (pieces: Buffer[]): Generator<Buffer> {
          for (const p of pieces) {
            fence();
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
    fence();
    await quickCheck;

    const payloadSha256 = plainHash.digest('hex');
    const snapshotSha256 = parent ? delta.snapshotSha256! : payloadSha256;
    let v2: Partial<Manifest> = {};
    if (plan.v2) {
      const map = parent ? delta.map! : pageMaps!.finish();
      if (map.pageCount !== snap.pageCount) throw new Error(`page map has ${map.pageCount} pages, the snapshot ${snap.pageCount}`);
      const sealed = sealPageMap(map, opts.encryption);
      pageMapStored = true;
      fence();
      const stored = await putPageMap(opts.storage, pageMapKey, sealed, signal);
      const pm = parent?.manifest;
      v2 = {
        kind: pm ? 'delta' : 'full',
        parentId: pm ? pm.backupId : null,
        chainLength: pm ? pm.chainLength! + 1 : 0,
        ...(pm
          ? {
              parent: { backupId: pm.backupId, artifactKey: pm.artifactKey, snapshotSha256: pm.snapshot.sha256, pageCount: pm.snapshot.sqlite.pageCount },
              delta: { sizeBytes: plainBytes.n, sha256: payloadSha256, changedPages: delta.changedPages },
            }
          : {}),
        chain: pm
          ? { baseId: pm.chain!.baseId, baseArtifactBytes: pm.chain!.baseArtifactBytes, deltaArtifactBytes: pm.chain!.deltaArtifactBytes + artifactSize }
          : { baseId: backupId, baseArtifactBytes: artifactSize, deltaArtifactBytes: 0 },
        pageMap: { key: pageMapKey, ...stored },
      };
    }
    fence();

    const manifest: Manifest = {
      formatVersion: plan.v2 ? 2 : 1,
      backupId,
      databaseId: opts.databaseId,
      createdAt: createdAt.toISOString(),
      artifactKey,
      artifact: { sizeBytes: artifactSize, sha256: artifactHash.digest('hex') },
      snapshot: {
        sizeBytes: snap.sizeBytes,
        sha256: snapshotSha256,
        method: snap.method,
        sqlite: { pageSize: snap.pageSize, pageCount: snap.pageCount, userVersion: snap.userVersion, journalMode: snap.journalMode },
        // A manifest must stay small (it is read whole): very wide schemas record no counts.
        ...(Object.keys(snap.tables).length <= MAX_MANIFEST_TABLES ? { tables: snap.tables } : {}),
      },
      compression: { algorithm, level },
      encryption: encryptor && opts.encryption ? { algorithm: ENCRYPTION_ALGORITHM, keyId: opts.encryption.keyId, chunkSize: encryptor.chunkSize } : null,
      tool: { name: TOOL_NAME, version: TOOL_VERSION },
      ...v2,
    };
    const manifestKey = await writeManifest(opts.storage, manifest, signal);
    progress('store', artifactSize, artifactSize);
    const compressEncrypt = Number(producerNs) / 1e9;
    const timings = { snapshot: snapshotSeconds, compressEncrypt, store: Math.max(0, since(writeStarted) - compressEncrypt) };
    return { manifest, manifestKey, timings, incrementalReason: parent ? 'delta' : reason };
  } catch (err) {
    // Without its manifest an artifact is invisible, but do not leave it behind either.
    if (artifactStored) await opts.storage.delete(artifactKey).catch(() => undefined);
    if (pageMapStored) await opts.storage.delete(pageMapKey).catch(() => undefined);
    // A failed check explains a failed compression of a damaged snapshot better than its own error.
    const checked = await quickCheck?.then(() => null, (e: unknown) => e);
    throw classify(checked instanceof SourceCorruptError ? checked : err, signal, opts.tmpDir);
  } finally {
    await quickCheck?.catch(() => undefined);
    await removeWithSidecars(snapPath);
  }
}

/** Feed every block to the page map (before it is handed to the compressor). */
async function* tapPages(blocks: AsyncIterable<Buffer>, builder: PageMapBuilder | null): AsyncGenerator<Buffer> {
  for await (const b of blocks) {
    builder?.add(b);
    yield b;
  }
}

/** Hash and count the delta payload as it passes. */
async function* tapHash(blocks: AsyncIterable<Buffer>, hash: Hash, count: { n: number }): AsyncGenerator<Buffer> {
  for await (const b of blocks) {
    hash.update(b);
    count.n += b.length;
    yield b;
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

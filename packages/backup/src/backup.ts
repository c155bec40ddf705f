import type { Hash } from 'node:crypto';
import { FP_BYTES, SHA_BYTES, hashPages, type ParentHashes } from '@mfb/pagehash';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { AppError } from '@mfb/errors';
import { createCodec, BLOCK_SIZE, compressBlocks, defaultWindow, resolveLevel } from './compress.js';
import { ENCRYPTION_ALGORITHM, Encryptor, validateKey, validateKeyId } from './crypto.js';
import { PAGED_FORMAT_VERSION, planIncremental } from './chain.js';
import { deltaBlocks, type DeltaStats } from './delta.js';
import { AbortedError, DiskFullError, InvalidBackupOptionsError, isDiskFull, SourceCorruptError } from './errors.js';
import { runSqliteTask, SqliteTaskError } from './sqlite-worker.js';
import { BlockPool, readBlocks, sha256 } from './hash.js';
import { DATABASE_ID_RE, artifactKeyFor, newBackupId } from './ids.js';
import { writeManifest } from './manifest.js';
import { PageListDigest, PageMapWriter, newChainSeed, pageMapKeyFor, putPageMap, sealPageMap } from './pagemap.js';
import { openPageStream, pageStreamUnavailable, takeSnapshot, type PageBlock, type PageStream, type SnapshotInfo, type SnapshotMethod } from './snapshot.js';
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
  // Incremental: formatVersion 3 (page-identical snapshot + page map), a delta when a usable parent exists.
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
  let stream: PageStream | null = null;
  // The streaming snapshot (no scratch copy) unless a scratch method was asked for or this
  // SQLite build cannot read pages through sqlite_dbpage (then the scratch path, with the reason).
  const asked = opts.snapshotMethod ?? 'stream';
  const unavailable = asked === 'stream' || (plan.v2 && asked === 'vacuum-into') ? pageStreamUnavailable() : null;
  const streaming = (asked === 'stream' || (plan.v2 && asked === 'vacuum-into')) && unavailable === null;
  // A delta needs page N of the snapshot to be page N of the database: never VACUUM INTO.
  const scratchMethod: SnapshotMethod = plan.v2 || asked === 'backup-api' ? 'backup-api' : 'vacuum-into';
  const snapshotNote = unavailable ? `scratch copy (${scratchMethod}): ${unavailable}` : streaming ? 'stream' : `scratch copy (${scratchMethod})`;

  // Corruption detection (VACUUM INTO's for free) is an explicit choice: `PRAGMA quick_check`
  // in the snapshot's read transaction costs more than the whole streamed backup at 1 GiB, so
  // formatVersion 2 backups (>= incremental.minSizeBytes) leave it to the scheduled verify /
  // restore drill (`integrity_check` of the restored chain) unless `sourceCheck: 'quick'`;
  // small databases keep it (docs/architecture.md "Snapshot method").
  const sourceCheck = opts.sourceCheck ?? (plan.v2 ? 'none' : 'quick');
  // The chain's fingerprint seed: a full draws a new one, a delta keeps its parent's.
  const seed = plan.parent?.map.seed ?? newChainSeed();
  const since = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e9;
  try {
    progress('snapshot', 0, 0);
    const snapStarted = process.hrtime.bigint();
    let snap: { pageSize: number; pageCount: number; sizeBytes: number };
    let scratchInfo: SnapshotInfo | null = null;
    if (streaming) {
      stream = await openPageStream({
        sourcePath: opts.sourcePath,
        pageHashes: plan.v2 ? { seed, parent: plan.parent?.map.asParent() ?? null, parentPageSize: plan.parent?.map.pageSize ?? 0 } : null,
        check: sourceCheck,
        ...(opts.busyTimeoutMs !== undefined ? { busyTimeoutMs: opts.busyTimeoutMs } : {}),
        ...(signal ? { signal } : {}),
      });
      snap = { pageSize: stream.pageSize, pageCount: stream.pageCount, sizeBytes: stream.pageSize * stream.pageCount };
    } else {
      scratchInfo = await takeSnapshot({
        sourcePath: opts.sourcePath,
        destPath: snapPath,
        method: scratchMethod,
        // formatVersion 2: the quick_check (if any) runs below, while the snapshot is compressed.
        check: plan.v2 ? 'none' : sourceCheck,
        ...(opts.busyTimeoutMs !== undefined ? { busyTimeoutMs: opts.busyTimeoutMs } : {}),
        ...(signal ? { signal } : {}),
      });
      snap = scratchInfo;
      progress('snapshot', snap.sizeBytes, snap.sizeBytes);
    }
    fence();
    const snapshotSeconds = since(snapStarted);
    // Time the producer works between being resumed and yielding (see StageTimings).
    let producerNs = 0n;
    if (plan.v2 && !streaming && sourceCheck === 'quick') {
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
    const pageMaps = plan.v2 ? new PageMapWriter(snap.pageSize, seed, parent?.map.asParent() ?? null) : null;
    const delta: DeltaStats = { changedPages: 0, snapshotSha256: null };
    // formatVersion 1: SHA-256 of the image; 3: the page-list digest of the pages' SHA-256s.
    const snapHash = plan.v2 ? null : sha256();
    const pageDigest = plan.v2 ? new PageListDigest(snap.pageSize) : null;
    const snapshotDigest = (): string => (pageDigest ? pageDigest.digest() : snapHash!.digest('hex'));
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
        const pool = algorithm === 'none' || stream ? undefined : new BlockPool(BLOCK_SIZE[algorithm], window + 2);
        // Where a block's memory goes once compressed (or diffed): back to the reader for reuse.
        const recycle = stream ? (ab: ArrayBufferLike) => stream!.recycle(ab) : pool && ((ab: ArrayBufferLike) => pool.put(ab));
        const onRead = (n: number): void => progress('compress', n, snap.sizeBytes);
        const pages: AsyncIterable<PageBlock> = stream
          ? stream.blocks
          : filePages(snapPath, snap.pageSize, BLOCK_SIZE[algorithm], plan.v2 ? { seed, parent: parent?.map.asParent() ?? null } : null, signal, pool);
        // Every page passes here once, in order: snapshot digest, page map, progress.
        const tapped = tapSnapshot(pages, snapHash, pageDigest, pageMaps, onRead);
        const blocks = parent
          ? tapHash(
              deltaBlocks(
                recycleAfter(tapped, recycle),
                { pageSize: snap.pageSize, parentPageCount: parent.map.pageCount, pageCount: snap.pageCount, parentSha256: parent.manifest.snapshot.sha256 },
                parent.map.asParent(),
                snapshotDigest,
                delta,
                BLOCK_SIZE[algorithm],
              ),
              plainHash,
              plainBytes,
            )
          : passData(tapped);
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
        for await (const block of compressBlocks(blocks, codec, window, algorithm === 'none' || parent ? undefined : recycle)) {
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
    // Streamed: the read transaction's row counts and the source check (a corrupt source fails here).
    const info: SnapshotInfo = stream ? await stream.done : scratchInfo!;
    if (info.pageCount !== snap.pageCount || info.pageSize !== snap.pageSize) throw new Error('the snapshot changed its page size or count while it was read');

    const snapshotSha256 = parent ? delta.snapshotSha256! : snapshotDigest();
    const payloadSha256 = parent ? plainHash.digest('hex') : snapshotSha256;
    let v2: Partial<Manifest> = {};
    if (plan.v2) {
      const map = pageMaps!.finish();
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
      formatVersion: plan.v2 ? PAGED_FORMAT_VERSION : 1,
      backupId,
      databaseId: opts.databaseId,
      createdAt: createdAt.toISOString(),
      artifactKey,
      artifact: { sizeBytes: artifactSize, sha256: artifactHash.digest('hex') },
      snapshot: {
        sizeBytes: snap.sizeBytes,
        sha256: snapshotSha256,
        method: info.method,
        sqlite: { pageSize: info.pageSize, pageCount: info.pageCount, userVersion: info.userVersion, journalMode: info.journalMode },
        // A manifest must stay small (it is read whole): very wide schemas record no counts.
        ...(Object.keys(info.tables).length <= MAX_MANIFEST_TABLES ? { tables: info.tables } : {}),
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
    return { manifest, manifestKey, timings, incrementalReason: parent ? 'delta' : reason, snapshot: snapshotNote };
  } catch (err) {
    // Without its manifest an artifact is invisible, but do not leave it behind either.
    if (artifactStored) await opts.storage.delete(artifactKey).catch(() => undefined);
    if (pageMapStored) await opts.storage.delete(pageMapKey).catch(() => undefined);
    // A failed check explains a failed compression of a damaged snapshot better than its own error.
    const checked = await (quickCheck ?? stream?.done)?.then(() => null, (e: unknown) => e);
    throw classify(checked instanceof SourceCorruptError ? checked : err, signal, opts.tmpDir);
  } finally {
    await stream?.close();
    await quickCheck?.catch(() => undefined);
    if (!streaming) await removeWithSidecars(snapPath);
  }
}

/** Feed every page to the snapshot digest and the page map (before it is compressed or diffed). */
async function* tapSnapshot(
  blocks: AsyncIterable<PageBlock>,
  hash: Hash | null,
  digest: PageListDigest | null,
  builder: PageMapWriter | null,
  onRead: (bytes: number) => void,
): AsyncGenerator<PageBlock> {
  let bytes = 0;
  for await (const b of blocks) {
    hash?.update(b.data);
    if (digest || builder) {
      if (!b.fps || !b.shas) throw new Error('page map: a block came without its page hashes');
      digest?.addShas(b.shas);
      builder?.add(b.firstPage, b.fps, b.shas);
    }
    bytes += b.data.length;
    onRead(bytes);
    yield b;
  }
}

/** Hand each block's memory to `recycle` once the consumer has finished with it (asked for the next). */
async function* recycleAfter(blocks: AsyncIterable<PageBlock>, recycle: ((ab: ArrayBufferLike) => void) | undefined): AsyncGenerator<PageBlock> {
  for await (const b of blocks) {
    yield b;
    recycle?.(b.data.buffer);
  }
}

async function* passData(blocks: AsyncIterable<PageBlock>): AsyncGenerator<Buffer> {
  for await (const b of blocks) yield b.data;
}

/** A snapshot file as page blocks (the scratch path), with page hashes when `hashes` (as the page stream computes them). */
async function* filePages(
  path: string,
  pageSize: number,
  blockSize: number,
  hashes: { seed: bigint; parent: ParentHashes | null } | null,
  signal: AbortSignal | undefined,
  pool: BlockPool | undefined,
): AsyncGenerator<PageBlock> {
  let next = 1;
  for await (const data of readBlocks(path, blockSize, null, undefined, signal, pool)) {
    if (data.length % pageSize !== 0) throw new Error(`snapshot size is not a multiple of the page size ${pageSize}`);
    const pages = data.length / pageSize;
    let fps: Buffer | null = null;
    let shas: Buffer | null = null;
    if (hashes) {
      fps = Buffer.allocUnsafe(pages * FP_BYTES);
      shas = Buffer.allocUnsafe(pages * SHA_BYTES);
      hashPages(data, pageSize, next, hashes.seed, fps, shas, hashes.parent);
    }
    yield { firstPage: next, pages, data, fps, shas };
    next += pages;
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

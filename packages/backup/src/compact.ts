import { randomInt } from 'node:crypto';
import { Readable } from 'node:stream';
import { FP_BYTES, SHA_BYTES, hashPages } from '@mfb/pagehash';
import type { StorageDriver } from '@mfb/storage';
import { BLOCK_SIZE, compressBlocks, createCodec, defaultWindow, resolveLevel } from './compress.js';
import { ENCRYPTION_ALGORITHM, Encryptor, validateKey, validateKeyId } from './crypto.js';
import { AbortedError, InvalidBackupOptionsError } from './errors.js';
import { fetchAndCheck } from './fetch-check.js';
import { readBlocks, sha256 } from './hash.js';
import { artifactKeyFor, manifestKeyFor, newBackupId } from './ids.js';
import { PAGED_FORMAT_VERSION } from './chain.js';
import { isPaged, readManifest, writeManifest } from './manifest.js';
import { PageListDigest, PageMapWriter, newChainSeed, pageMapKeyFor, putPageMap, sealPageMap } from './pagemap.js';
import type { CompressionAlgorithm, KeyRing, Manifest, Progress } from './types.js';
import { TOOL_NAME, TOOL_VERSION } from './version.js';
import { verifyBackup } from './verify.js';

export interface CompactOptions {
  /** The storage holding the delta and its whole chain; the new full is written there too. */
  storage: StorageDriver;
  /** Artifact key of the delta to compact. */
  artifactKey: string;
  /** Keys to read the chain (every link's key id). */
  keys: KeyRing;
  /** Compression of the new full (the database's configured one). */
  compression: { algorithm: CompressionAlgorithm; level?: number };
  /** Encryption of the new full (the database's configured key); absent = unencrypted. */
  encryption?: { keyId: string; key: Buffer; chunkSize?: number };
  /** Scratch directory (the reconstructed snapshot: the database's size). */
  tmpDir: string;
  signal?: AbortSignal;
  /** Called synchronously before every durable step; throws to stop (a lost lock). */
  fence?: () => void;
  onProgress?: (p: Progress) => void;
}

export interface CompactResult {
  /** The delta that was compacted. */
  from: Manifest;
  /** The new full backup (same snapshot and `createdAt`, `compactedFrom` = the delta's id). */
  manifest: Manifest;
  manifestKey: string;
}

/**
 * Id of the full that replaces `backupId`: the same time stamp (retention sees the same age)
 * and a random tail that sorts AFTER the delta's, so the compacted full is the newest backup
 * of that instant: the next backup chains on it, and retention's "newest" is it.
 */
export function compactedBackupId(backupId: string, createdAt: string): string {
  const dash = backupId.lastIndexOf('-');
  const tail = Number.parseInt(backupId.slice(dash + 1), 16);
  const max = 0xffffffff;
  // No room after ffffffff (one in 4 billion): one millisecond later.
  if (!(tail < max)) return newBackupId(new Date(Date.parse(createdAt) + 1));
  const next = tail + 1 + randomInt(0, max - tail);
  return `${backupId.slice(0, dash)}-${next.toString(16).padStart(8, '0')}`;
}

/**
 * Compact the chain of a delta into a new FULL formatVersion 3 backup, without reading the
 * live database (issue 12, item 5): the delta's snapshot is rebuilt in scratch from its chain
 * exactly as a restore does it (every link proven, every page against the page map, SHA-256,
 * `integrity_check`, row counts), then stored as a full with its page map and manifest
 * (`compactedFrom`), in `compression`/`encryption`, and verified like any backup. The new
 * full's snapshot digest is the delta's (a formatVersion 2 delta's image gets the version 3
 * page-list digest of the same bytes). Nothing of the old chain is changed or deleted:
 * retention then treats the delta as replaced (docs/retention.md, "Compaction") and deletes
 * the links nothing else needs. On failure everything written is removed again.
 */
export async function compactBackup(opts: CompactOptions): Promise<CompactResult> {
  const { storage, signal } = opts;
  const algorithm = opts.compression.algorithm;
  const level = resolveLevel(algorithm, opts.compression.level);
  if (opts.encryption) {
    validateKeyId(opts.encryption.keyId);
    validateKey(opts.encryption.key);
  }
  if (signal?.aborted) throw new AbortedError();
  const fence = (): void => {
    opts.fence?.();
    signal?.throwIfAborted();
  };
  const d = await readManifest(storage, opts.artifactKey);
  if (!isPaged(d) || d.kind !== 'delta') {
    throw new InvalidBackupOptionsError(`backup ${d.backupId} is a full backup already: only a delta (an incremental backup) can be compacted`);
  }

  const checked = await fetchAndCheck({
    storage,
    artifactKey: d.artifactKey,
    keys: opts.keys,
    tmpDir: opts.tmpDir,
    ...(signal ? { signal } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
  const backupId = compactedBackupId(d.backupId, d.createdAt);
  const artifactKey = artifactKeyFor(d.databaseId, backupId, algorithm, !!opts.encryption);
  const pageMapKey = pageMapKeyFor(d.databaseId, backupId);
  const written: string[] = [];
  try {
    const pageSize = d.snapshot.sqlite.pageSize;
    const total = d.snapshot.sizeBytes;
    // The bytes stored are proven to be the delta's image by its own digest kind (v2: file SHA-256).
    const plainHash = d.formatVersion < PAGED_FORMAT_VERSION ? sha256() : null;
    const artifactHash = sha256();
    const pages = new PageMapWriter(pageSize, newChainSeed(), null);
    const digest = new PageListDigest(pageSize);
    let next = 1;
    const encryptor = opts.encryption ? new Encryptor(opts.encryption) : null;
    const codec = createCodec(algorithm, level);
    let artifactSize = 0;
    // BLOCK_SIZE is a multiple of every page size: each block is whole pages.
    async function* plainBlocks(): AsyncGenerator<Buffer> {
      for await (const b of readBlocks(checked.path, BLOCK_SIZE[algorithm], plainHash, (n) => opts.onProgress?.({ stage: 'compress', bytesDone: n, bytesTotal: total }), signal)) {
        const n = b.length / pageSize;
        const fps = Buffer.allocUnsafe(n * FP_BYTES);
        const shas = Buffer.allocUnsafe(n * SHA_BYTES);
        hashPages(b, pageSize, next, pages.seed, fps, shas);
        pages.add(next, fps, shas);
        digest.addShas(shas);
        next += n;
        yield b;
      }
    }
    async function* artifactBytes(): AsyncGenerator<Buffer> {
      for await (const block of compressBlocks(plainBlocks(), codec, defaultWindow())) {
        for (const piece of encryptor ? encryptor.update(block) : [block]) {
          fence();
          artifactHash.update(piece);
          artifactSize += piece.length;
          yield piece;
        }
      }
      for (const piece of encryptor ? encryptor.final() : []) {
        fence();
        artifactHash.update(piece);
        artifactSize += piece.length;
        yield piece;
      }
    }
    written.push(artifactKey);
    try {
      await storage.put(artifactKey, Readable.from(artifactBytes(), { objectMode: false, highWaterMark: 1 }), {
        contentType: 'application/octet-stream',
        ...(signal ? { signal } : {}),
        onProgress: (n) => opts.onProgress?.({ stage: 'store', bytesDone: n, bytesTotal: 0 }),
      });
    } finally {
      await codec.close();
    }
    // The rebuilt image was proven against the delta's manifest; this is the bytes just stored.
    const sha = digest.digest();
    if ((plainHash ? plainHash.digest('hex') : sha) !== d.snapshot.sha256) throw new Error(`compaction of ${d.backupId}: the stored image is not the delta's snapshot`);
    const map = pages.finish();
    if (map.pageCount !== d.snapshot.sqlite.pageCount) throw new Error(`compaction of ${d.backupId}: page map has ${map.pageCount} pages, the snapshot ${d.snapshot.sqlite.pageCount}`);
    fence();
    written.push(pageMapKey);
    const pm = await putPageMap(storage, pageMapKey, sealPageMap(map, opts.encryption), signal);
    const manifest: Manifest = {
      formatVersion: PAGED_FORMAT_VERSION,
      backupId,
      databaseId: d.databaseId,
      createdAt: d.createdAt,
      artifactKey,
      artifact: { sizeBytes: artifactSize, sha256: artifactHash.digest('hex') },
      snapshot: { ...d.snapshot, sha256: sha },
      compression: { algorithm, level },
      encryption: encryptor && opts.encryption ? { algorithm: ENCRYPTION_ALGORITHM, keyId: opts.encryption.keyId, chunkSize: encryptor.chunkSize } : null,
      tool: { name: TOOL_NAME, version: TOOL_VERSION },
      kind: 'full',
      parentId: null,
      chainLength: 0,
      chain: { baseId: backupId, baseArtifactBytes: artifactSize, deltaArtifactBytes: 0 },
      pageMap: { key: pageMapKey, ...pm },
      compactedFrom: d.backupId,
    };
    fence();
    written.push(manifestKeyFor(artifactKey));
    const manifestKey = await writeManifest(storage, manifest, signal);
    // Proven like any backup before anyone relies on it (and retention lets the chain go).
    const keys = new Map(opts.keys);
    if (opts.encryption) keys.set(opts.encryption.keyId, opts.encryption.key);
    await verifyBackup({ storage, artifactKey, keys, tmpDir: opts.tmpDir, ...(signal ? { signal } : {}) });
    return { from: d, manifest, manifestKey };
  } catch (err) {
    // Manifest first: a half-removed new backup is never visible.
    for (const key of written.reverse()) await storage.delete(key).catch(() => undefined);
    if (signal?.aborted && !(err instanceof AbortedError) && (err as Error).name === 'AbortError') throw new AbortedError({ cause: err });
    throw err;
  } finally {
    await checked.cleanup();
  }
}

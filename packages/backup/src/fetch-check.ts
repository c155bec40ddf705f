import { randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import { AppError } from '@mfb/errors';
import { fsyncFile } from '@mfb/storage';
import { DecryptStream } from './crypto.js';
import { AbortedError, ArtifactNotFoundError, ChecksumMismatchError, DiskFullError, isDiskFull, ManifestMismatchError, UnknownKeyIdError } from './errors.js';
import { reconstructChain } from './chain.js';
import { isPaged, readManifest } from './manifest.js';
import { snapshotHasher } from './pagemap.js';
import { artifactDiffers, checkDatabase, decompressorFor, mapStreamError } from './restore-io.js';
import { BlockPool, Meter, readBlocks } from './hash.js';
import { ensurePrivateDir, removeWithSidecars, tempPath } from './tempfiles.js';
import type { Manifest, Progress, StageTimings, VerifyOptions } from './types.js';

export interface CheckedSnapshot {
  manifest: Manifest;
  /** Plaintext snapshot in tmpDir: checksummed, authenticated, integrity-checked. */
  path: string;
  tables: Record<string, number>;
  /** Remove every scratch file of this run. */
  cleanup(): Promise<void>;
  /**
   * Seconds until the scratch database was built and its checksums proven (`download`: fetch,
   * decrypt, decompress and SHA-256 in one stream, for a chain every link) and for the checks
   * of the result (`restoreCheck`: integrity_check and row counts, for a chain the page-map
   * check alongside).
   */
  timings: StageTimings;
}

/**
 * A new private scratch file, open before it is handed to a pipeline: a pipeline that fails
 * early would otherwise let the asynchronous open create the file after `cleanup` ran,
 * leaking it (seen under load with a wrong key).
 */
async function newScratchFile(path: string): Promise<WriteStream> {
  const out = createWriteStream(path, { flags: 'wx', mode: 0o600 });
  await once(out, 'ready');
  return out;
}

/**
 * Compare the rows per table the manifest recorded at backup time with the restored
 * database's; a description of the first differences, or null when equal (or when the
 * manifest predates row counts).
 */
export function rowCountProblems(expected: Record<string, number> | undefined, actual: Record<string, number>): string | null {
  if (expected === undefined) return null;
  const diffs: string[] = [];
  for (const name of new Set([...Object.keys(expected), ...Object.keys(actual)])) {
    const e = Object.hasOwn(expected, name) ? expected[name] : undefined;
    const a = Object.hasOwn(actual, name) ? actual[name] : undefined;
    if (e !== a) diffs.push(`${JSON.stringify(name)}: manifest ${e ?? 'none'}, restored ${a ?? 'none'}`);
  }
  if (diffs.length === 0) return null;
  return diffs.slice(0, 5).join('; ') + (diffs.length > 5 ? `; and ${diffs.length - 5} more` : '');
}

/**
 * Everything verify and restore have in common, and all of it happens before any target is
 * touched: manifest -> key lookup -> one stream from storage: artifact SHA-256, decrypt (each
 * chunk authenticated before its plaintext moves on), decompress, plaintext SHA-256, into a
 * private scratch file -> both checksums against the manifest -> `PRAGMA integrity_check`
 * and row counts. On failure every scratch file is already removed. `durable`: the scratch
 * file will become the restore target, flush it to disk during the check.
 */
export async function fetchAndCheck(opts: VerifyOptions, how: { durable?: boolean } = {}): Promise<CheckedSnapshot> {
  const { storage, artifactKey, signal } = opts;
  const progress = (stage: Progress['stage'], bytesDone: number, bytesTotal: number): void => opts.onProgress?.({ stage, bytesDone, bytesTotal });
  if (signal?.aborted) throw new AbortedError();
  const manifest = await readManifest(storage, artifactKey);
  if (manifest.encryption && !opts.keys.has(manifest.encryption.keyId)) throw new UnknownKeyIdError(manifest.encryption.keyId);
  const head = await storage.head(artifactKey);
  if (!head) throw new ArtifactNotFoundError(artifactKey);
  if (head.size !== manifest.artifact.sizeBytes) {
    throw new ManifestMismatchError(artifactKey, `stored size ${head.size} != manifest ${manifest.artifact.sizeBytes}`);
  }

  await ensurePrivateDir(opts.tmpDir);
  const run = randomBytes(4).toString('hex');
  const plainPath = tempPath(opts.tmpDir, manifest.databaseId, manifest.backupId, `restore-${run}.sqlite`);
  const cleanup = (): Promise<void> => removeWithSidecars(plainPath);

  const started = process.hrtime.bigint();
  let built = started;
  // 3. the database itself: integrity_check and row counts; for a restore the scratch file
  // is flushed to disk meanwhile (it becomes the target), so placing it costs no second wait.
  const checkDb = async (): Promise<Record<string, number>> => {
    built = process.hrtime.bigint();
    const [tables] = await Promise.all([checkDatabase(plainPath, signal), how.durable ? fsyncFile(plainPath) : undefined]);
    return tables;
  };
  try {
    let tables: Record<string, number>;
    if (isPaged(manifest) && manifest.kind === 'delta') {
      // A delta: its full base into plainPath, then every delta of the chain applied in order;
      // the result's page-map and SHA-256 check runs alongside the database check.
      tables = (await reconstructChain(opts, manifest, plainPath, (base) => fetchImage(opts, base, plainPath, progress), undefined, checkDb))!;
    } else {
      // The snapshot digest of the written file runs alongside the database check (on the core
      // integrity_check's longest table leaves idle) instead of inside the download stream; the
      // artifact's SHA-256 and every chunk's authentication were proven before either starts.
      // A digest failure is reported first.
      await fetchImage(opts, manifest, plainPath, progress, true);
      const [digest, db] = await Promise.allSettled([checkFileDigest(plainPath, manifest, signal), checkDb()]);
      if (digest.status === 'rejected') throw digest.reason;
      if (db.status === 'rejected') throw db.reason;
      tables = db.value;
    }
    const rowCounts = rowCountProblems(manifest.snapshot.tables, tables);
    if (rowCounts) throw new ManifestMismatchError(artifactKey, `row counts differ from the manifest: ${rowCounts}`);
    progress('verify', manifest.snapshot.sizeBytes, manifest.snapshot.sizeBytes);
    const timings = { download: Number(built - started) / 1e9, restoreCheck: Number(process.hrtime.bigint() - built) / 1e9 };
    return { manifest, path: plainPath, tables, cleanup, timings };
  } catch (err) {
    await cleanup();
    if (signal?.aborted && !(err instanceof AppError)) throw new AbortedError({ cause: err });
    if (isDiskFull(err) && !(err instanceof AppError)) throw new DiskFullError(`scratch files in ${opts.tmpDir}`, { cause: err });
    throw err;
  }
}

/**
 * Stream the artifact of the full backup `manifest` from storage through its SHA-256,
 * decryption (each chunk authenticated before its plaintext moves on) and decompression into
 * the scratch file `plainPath`, then check the artifact's and the snapshot's size and SHA-256
 * against the manifest. One pass, no fetched copy: nothing reads the scratch file before
 * every check passed.
 */
async function fetchImage(
  opts: VerifyOptions,
  manifest: Manifest,
  plainPath: string,
  progress: (stage: Progress['stage'], bytesDone: number, bytesTotal: number) => void,
  /** The caller checks the snapshot digest of the written file itself (checkFileDigest). */
  digestLater = false,
): Promise<void> {
  const { storage, signal } = opts;
  const artifactKey = manifest.artifactKey;
  if (manifest.encryption && !opts.keys.has(manifest.encryption.keyId)) throw new UnknownKeyIdError(manifest.encryption.keyId);
  const head = await storage.head(artifactKey);
  if (!head) throw new ArtifactNotFoundError(artifactKey);
  if (head.size !== manifest.artifact.sizeBytes) {
    throw new ManifestMismatchError(artifactKey, `stored size ${head.size} != manifest ${manifest.artifact.sizeBytes}`);
  }
  const total = manifest.artifact.sizeBytes;
  const fetched = new Meter((n) => progress('fetch', n, total));
  const plain = new Meter((n) => progress('verify', n, manifest.snapshot.sizeBytes), digestLater ? NO_DIGEST : snapshotHasher(manifest));
  const decrypt = manifest.encryption ? new DecryptStream(opts.keys) : null;
  const decompress = decompressorFor(opts, manifest.compression.algorithm);
  try {
    const source = await storage.get(artifactKey, signal ? { signal } : {});
    await pipeline([source, fetched, ...(decrypt ? [decrypt] : []), decompress, plain, await newScratchFile(plainPath)], ...(signal ? [{ signal }] : []));
  } catch (err) {
    // An artifact that is not the one its manifest describes fails as it did when its
    // checksum was compared before decrypting.
    if (!signal?.aborted && !(err instanceof ArtifactNotFoundError) && (await artifactDiffers(storage, manifest, signal))) throw new ChecksumMismatchError('artifact', artifactKey, { cause: err });
    throw mapStreamError(err, signal);
  }
  if (fetched.bytes !== total) throw new ManifestMismatchError(artifactKey, `fetched ${fetched.bytes} bytes, manifest says ${total}`);
  if (fetched.hash.digest('hex') !== manifest.artifact.sha256) throw new ChecksumMismatchError('artifact', artifactKey);
  if (decrypt && manifest.encryption) {
    const h = decrypt.decryptor.header!;
    if (h.keyId !== manifest.encryption.keyId || h.chunkSize !== manifest.encryption.chunkSize) {
      throw new ManifestMismatchError(artifactKey, 'encryption header differs from the manifest');
    }
  }
  if (plain.bytes !== manifest.snapshot.sizeBytes || (!digestLater && plain.hash.digest('hex') !== manifest.snapshot.sha256)) {
    throw new ChecksumMismatchError('snapshot', artifactKey);
  }
}

const NO_DIGEST = { update: (): void => undefined, digest: (): string => '' };

/** The snapshot digest of the image written at `path` against the manifest's (CHECKSUM_MISMATCH otherwise). */
async function checkFileDigest(path: string, manifest: Manifest, signal?: AbortSignal): Promise<void> {
  const digest = snapshotHasher(manifest);
  const size = 2 * 1024 * 1024;
  const pool = new BlockPool(size, 4);
  for await (const block of readBlocks(path, size, null, undefined, signal, pool)) {
    digest.update(block);
    pool.put(block.buffer);
  }
  if (digest.digest('hex') !== manifest.snapshot.sha256) throw new ChecksumMismatchError('snapshot', manifest.artifactKey);
}

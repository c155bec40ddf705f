import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError } from '@mfb/errors';
import { createDecompressStream } from './compress.js';
import { DecryptStream } from './crypto.js';
import {
  AbortedError,
  ArtifactNotFoundError,
  ChecksumMismatchError,
  DecompressError,
  DiskFullError,
  isDiskFull,
  IntegrityCheckError,
  ManifestMismatchError,
  UnknownKeyIdError,
} from './errors.js';
import { reconstructChain } from './chain.js';
import { sha256 } from './hash.js';
import { readManifest } from './manifest.js';
import { runSqliteTask, SqliteTaskError } from './sqlite-worker.js';
import { ensurePrivateDir, removeWithSidecars, tempPath } from './tempfiles.js';
import type { Manifest, Progress, StageTimings, VerifyOptions } from './types.js';

/** Counts and hashes bytes as they pass. */
class Meter extends Transform {
  readonly hash = sha256();
  bytes = 0;
  constructor(private readonly onBytes?: (n: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.onBytes?.(this.bytes);
    cb(null, chunk);
  }
}

export interface CheckedSnapshot {
  manifest: Manifest;
  /** Plaintext snapshot in tmpDir: checksummed, authenticated, integrity-checked. */
  path: string;
  tables: Record<string, number>;
  /** Remove every scratch file of this run. */
  cleanup(): Promise<void>;
  /** Seconds spent fetching full artifacts (`download`) and on everything else: deltas, decrypt, decompress, checksums, integrity_check (`restoreCheck`). */
  timings: StageTimings;
}

/**
 * Everything verify and restore have in common, and all of it happens before any target is
 * touched: manifest -> key lookup -> fetch to a temp file while hashing -> artifact SHA-256 ->
 * decrypt (each chunk authenticated before its plaintext moves on) -> decompress -> plaintext
 * SHA-256 -> `PRAGMA integrity_check`. On failure every scratch file is already removed.
 */
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

export async function fetchAndCheck(opts: VerifyOptions): Promise<CheckedSnapshot> {
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
  const fetchPath = tempPath(opts.tmpDir, manifest.databaseId, manifest.backupId, `fetch-${run}`);
  const plainPath = tempPath(opts.tmpDir, manifest.databaseId, manifest.backupId, `restore-${run}.sqlite`);
  const cleanup = async (): Promise<void> => {
    await Promise.all([removeWithSidecars(fetchPath), removeWithSidecars(plainPath)]);
  };

  const started = process.hrtime.bigint();
  const fetching = { ns: 0n };
  try {
    if (manifest.formatVersion === 2 && manifest.kind === 'delta') {
      // A delta: its full base into plainPath, then every delta of the chain applied in order.
      await reconstructChain(opts, manifest, plainPath, (base) => fetchImage(opts, base, fetchPath, plainPath, progress, fetching));
    } else {
      await fetchImage(opts, manifest, fetchPath, plainPath, progress, fetching);
    }

    // 3. the database itself
    let tables: Record<string, number>;
    try {
      ({ tables } = await runSqliteTask<{ tables: Record<string, number> }>('check', { path: plainPath }, signal));
    } catch (err) {
      if (err instanceof SqliteTaskError) throw new IntegrityCheckError(err.failure.message, { cause: err });
      throw err;
    }
    const rowCounts = rowCountProblems(manifest.snapshot.tables, tables);
    if (rowCounts) throw new ManifestMismatchError(artifactKey, `row counts differ from the manifest: ${rowCounts}`);
    progress('verify', manifest.snapshot.sizeBytes, manifest.snapshot.sizeBytes);
    const timings = { download: Number(fetching.ns) / 1e9, restoreCheck: Number(process.hrtime.bigint() - started - fetching.ns) / 1e9 };
    return { manifest, path: plainPath, tables, cleanup, timings };
  } catch (err) {
    await cleanup();
    if (signal?.aborted && !(err instanceof AppError)) throw new AbortedError({ cause: err });
    if (isDiskFull(err) && !(err instanceof AppError)) throw new DiskFullError(`scratch files in ${opts.tmpDir}`, { cause: err });
    throw err;
  }
}

/**
 * Fetch the artifact of the full backup `manifest` to `fetchPath` while hashing, then
 * decrypt (authenticated) and decompress it into `plainPath`, checking the artifact's and the
 * snapshot's size and SHA-256 against the manifest.
 */
async function fetchImage(
  opts: VerifyOptions,
  manifest: Manifest,
  fetchPath: string,
  plainPath: string,
  progress: (stage: Progress['stage'], bytesDone: number, bytesTotal: number) => void,
  fetching: { ns: bigint },
): Promise<void> {
  const { storage, signal } = opts;
  const artifactKey = manifest.artifactKey;
  if (manifest.encryption && !opts.keys.has(manifest.encryption.keyId)) throw new UnknownKeyIdError(manifest.encryption.keyId);
  const head = await storage.head(artifactKey);
  if (!head) throw new ArtifactNotFoundError(artifactKey);
  if (head.size !== manifest.artifact.sizeBytes) {
    throw new ManifestMismatchError(artifactKey, `stored size ${head.size} != manifest ${manifest.artifact.sizeBytes}`);
  }
  // 1. fetch + artifact checksum
  const fetchStarted = process.hrtime.bigint();
  const total = manifest.artifact.sizeBytes;
  const fetched = new Meter((n) => progress('fetch', n, total));
  await pipeline(await storage.get(artifactKey, signal ? { signal } : {}), fetched, await newScratchFile(fetchPath), {
    ...(signal ? { signal } : {}),
  });
  if (fetched.bytes !== total) throw new ManifestMismatchError(artifactKey, `fetched ${fetched.bytes} bytes, manifest says ${total}`);
  if (fetched.hash.digest('hex') !== manifest.artifact.sha256) throw new ChecksumMismatchError('artifact', artifactKey);
  fetching.ns += process.hrtime.bigint() - fetchStarted;

  // 2. decrypt (authenticated) + decompress into the plaintext temp file
  const plain = new Meter((n) => progress('verify', n, manifest.snapshot.sizeBytes));
  const decrypt = manifest.encryption ? new DecryptStream(opts.keys) : null;
  const decompress = createDecompressStream(manifest.compression.algorithm);
  const stages = [createReadStream(fetchPath), ...(decrypt ? [decrypt] : []), decompress, plain, await newScratchFile(plainPath)];
  try {
    await pipeline(stages, ...(signal ? [{ signal }] : []));
  } catch (err) {
    if (err instanceof AppError) throw err;
    if (signal?.aborted) throw new AbortedError({ cause: err });
    const code = (err as { code?: string }).code ?? '';
    if (code.startsWith('Z_') || code.startsWith('ERR_ZLIB') || /zstd|Zstd|frame|Unknown frame/i.test(String((err as Error).message)))
      throw new DecompressError((err as Error).message, { cause: err });
    throw err;
  }
  if (decrypt && manifest.encryption) {
    const h = decrypt.decryptor.header!;
    if (h.keyId !== manifest.encryption.keyId || h.chunkSize !== manifest.encryption.chunkSize) {
      throw new ManifestMismatchError(artifactKey, 'encryption header differs from the manifest');
    }
  }
  if (plain.bytes !== manifest.snapshot.sizeBytes || plain.hash.digest('hex') !== manifest.snapshot.sha256) {
    throw new ChecksumMismatchError('snapshot', artifactKey);
  }
  await removeWithSidecars(fetchPath);
}

import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import type { StorageDriver } from '@mfb/storage';
import { AppError } from '@mfb/errors';
import { createDecompressStream } from './compress.js';
import { AbortedError, ChainBrokenError, DecompressError, IntegrityCheckError } from './errors.js';
import { sha256 } from './hash.js';
import { runSqliteTask, SqliteTaskError } from './sqlite-worker.js';
import type { CompressionAlgorithm, Manifest, VerifyOptions } from './types.js';

type ZstdBinding = typeof import('zstd-napi/binding.js');
const zstd = createRequire(import.meta.url)('zstd-napi/binding.js') as ZstdBinding;
type DCtx = InstanceType<ZstdBinding['DCtx']>;

/** Shared by the restore side (fetch-check.ts, chain.ts): streams from storage into scratch, and the database check. */

/**
 * An error of a fetch -> decrypt -> decompress stream as the engine's error: app errors as
 * they are, an abort as ABORTED, the decompressors' errors as BACKUP_DECOMPRESS_FAILED;
 * `other` maps anything else (or returns it unchanged).
 */
export function mapStreamError(err: unknown, signal: AbortSignal | undefined, other: (err: unknown) => unknown = (e) => e): unknown {
  if (err instanceof AppError) return err;
  if (signal?.aborted) return new AbortedError({ cause: err });
  const code = (err as { code?: string }).code ?? '';
  if (code.startsWith('Z_') || code.startsWith('ERR_ZLIB') || /zstd|Zstd|frame|Unknown frame/i.test(String((err as Error).message)))
    return new DecompressError((err as Error).message, { cause: err });
  return other(err);
}

/**
 * Whether the stored artifact of `m` is not the one its manifest describes (size or SHA-256),
 * read once more from storage. Restore streams an artifact straight into decryption and
 * checks its SHA-256 at the end; when that stream fails, this names the cause the way a
 * check before decrypting would have: BACKUP_CHECKSUM_MISMATCH for an artifact that changed.
 * False when it cannot be read (the stream's own error then stands).
 */
export async function artifactDiffers(storage: StorageDriver, m: Manifest, signal?: AbortSignal): Promise<boolean> {
  try {
    const h = sha256();
    let bytes = 0;
    for await (const chunk of await storage.get(m.artifactKey, signal ? { signal } : {})) {
      h.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
    return bytes !== m.artifact.sizeBytes || h.digest('hex') !== m.artifact.sha256;
  } catch {
    return false;
  }
}

/** At most this many SQLite worker threads check one restored database together. */
const CHECK_THREADS = 2;
/**
 * Smaller databases are checked by one thread: their integrity_check takes well under a
 * second, less than starting a second worker thread saves.
 */
export const SPLIT_CHECK_MIN_BYTES = 64 * 1024 * 1024;

/**
 * `PRAGMA integrity_check` of the restored scratch database at `path`, spread over up to two
 * worker threads from `splitFromBytes` on (sqlite-task.ts `check`: the same findings as one
 * integrity_check), and the rows per table. BACKUP_INTEGRITY_CHECK_FAILED when it finds a problem.
 */
export async function checkDatabase(path: string, signal?: AbortSignal, splitFromBytes = SPLIT_CHECK_MIN_BYTES): Promise<Record<string, number>> {
  const workers = (await stat(path)).size < splitFromBytes ? 1 : Math.max(1, Math.min(CHECK_THREADS, availableParallelism()));
  const next = new Int32Array(new SharedArrayBuffer(4));
  const parts = await Promise.allSettled(
    Array.from({ length: workers }, (_, i) => runSqliteTask<{ tables?: Record<string, number> }>('check', { path, next, split: workers > 1, counts: i === 0 }, signal)),
  );
  const failed = parts.find((p): p is PromiseRejectedResult => p.status === 'rejected');
  if (failed) {
    const err: unknown = failed.reason;
    if (err instanceof SqliteTaskError) throw new IntegrityCheckError(err.failure.message, { cause: err });
    throw err;
  }
  return (parts[0] as PromiseFulfilledResult<{ tables?: Record<string, number> }>).value.tables!;
}

/** A chain step's stream error: an unexplained plain Error (the delta applier's) is a broken link. */
export function chainStreamError(key: string): (err: unknown) => unknown {
  return (err) => (err instanceof Error && !(err as { code?: string }).code ? new ChainBrokenError(key, err.message, { cause: err }) : err);
}

/** zstd frames -> bytes on a given decompression context (reset for this stream). */
class ZstdFrames extends Transform {
  private inFrame = false;
  constructor(private readonly dctx: DCtx) {
    super();
    dctx.reset(zstd.ResetDirective.sessionOnly);
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    try {
      let src = chunk;
      for (;;) {
        const dst = Buffer.allocUnsafe(ZSTD_OUT);
        const [ret, produced, consumed] = this.dctx.decompressStream(dst, src);
        if (produced > 0) this.push(dst.subarray(0, produced));
        src = src.subarray(consumed);
        if (src.length === 0 && (produced < dst.length || ret === 0)) {
          this.inFrame = ret !== 0;
          break;
        }
      }
    } catch (err) {
      cb(err as Error);
      return;
    }
    cb();
  }
  override _flush(cb: TransformCallback): void {
    cb(this.inFrame ? new Error('zstd: the stream ended in the middle of a frame') : null);
  }
}
const ZSTD_OUT = zstd.dStreamOutSize();
const contexts = new WeakMap<VerifyOptions, DCtx>();

/**
 * Streaming decompressor for one artifact of the restore or verify `opts`. Every zstd link of
 * a chain shares one decompression context: each new context holds its window (native memory)
 * until garbage collection, which for a base and seven deltas showed as peak RSS.
 */
export function decompressorFor(opts: VerifyOptions, algorithm: CompressionAlgorithm): Transform {
  if (algorithm !== 'zstd') return createDecompressStream(algorithm);
  let dctx = contexts.get(opts);
  if (!dctx) contexts.set(opts, (dctx = new zstd.DCtx()));
  return new ZstdFrames(dctx);
}

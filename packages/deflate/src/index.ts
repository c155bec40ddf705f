/**
 * gzip compression with libdeflate (Debian `libdeflate-dev`, linked as the system library)
 * through a small Node-API addon built by node-gyp at install time (`build/Release`).
 *
 * Why not `node:zlib`: Node 20 bundles Chromium's zlib fork, whose deflate never emits
 * 3-byte matches; on our SQLite snapshots its output is ~7% larger than `gzip -6`.
 * libdeflate is a whole-buffer compressor: the input block and a worst-case output buffer
 * are in memory at once, so callers compress bounded blocks (the engine's gzip blocks).
 */
import { createRequire } from 'node:module';
import { DeflateFailedError, DeflateOutOfMemoryError } from './errors.js';

export { DeflateFailedError, DeflateOutOfMemoryError } from './errors.js';

interface Binding {
  gzipCompress(input: Uint8Array, level: number): Promise<Buffer>;
  gzipCompressSync(input: Uint8Array, level: number): Buffer;
  libdeflateVersion: string;
}

const require = createRequire(import.meta.url);
const binding = require('../build/Release/mfb_deflate.node') as Binding;

/** Version of the libdeflate headers the addon was compiled against (e.g. `1.14`). */
export const libdeflateVersion: string = binding.libdeflateVersion;

/** Lowest and highest accepted level: 0 = stored blocks only, 6 = default, 10-12 = slow near-optimal parsing. */
export const MIN_LEVEL = 0;
export const MAX_LEVEL = 12;

function mapError(err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'DEFLATE_OUT_OF_MEMORY') return new DeflateOutOfMemoryError(err);
  if (code === 'DEFLATE_FAILED') return new DeflateFailedError(err);
  return err;
}

/**
 * Compress `input` into ONE complete gzip member (RFC 1952: header, deflate stream, CRC-32,
 * size). Concatenated members form a valid multi-member gzip file (`gunzip`, `createGunzip`).
 *
 * Runs on the libuv threadpool, so concurrent calls compress on several cores. `input` is
 * read from the pool thread: do not modify, transfer or reuse it until the promise settles.
 *
 * `level`: integer 0..12 on libdeflate's scale (1 fastest, 6 default, 9 slow, 10-12 near
 * optimal and much slower; 0 stores). The backup engine uses 1..9 (its gzip levels).
 * Levels are libdeflate's, not zlib's: at equal level libdeflate is usually faster and a
 * little smaller than zlib.
 *
 * Throws (synchronously) TypeError `ERR_INVALID_ARG_TYPE` for a non-Uint8Array input or a
 * non-number level, RangeError `ERR_OUT_OF_RANGE` for a level outside 0..12; rejects with
 * {@link DeflateOutOfMemoryError} when memory runs out.
 */
export function gzipCompress(input: Uint8Array, level = 6): Promise<Buffer> {
  return binding.gzipCompress(input, level).catch((err: unknown) => {
    throw mapError(err);
  });
}

/** Same as {@link gzipCompress} on the calling thread (blocks it). For tests and small inputs. */
export function gzipCompressSync(input: Uint8Array, level = 6): Buffer {
  try {
    return binding.gzipCompressSync(input, level);
  } catch (err) {
    throw mapError(err);
  }
}

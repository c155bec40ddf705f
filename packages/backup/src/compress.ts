import { availableParallelism } from 'node:os';
import { PassThrough, type Transform } from 'node:stream';
import type { Worker } from 'node:worker_threads';
import { createGunzip } from 'node:zlib';
import { gzipCompress } from '@mfb/deflate';
import { DecompressStream } from 'zstd-napi';
import { InvalidBackupOptionsError } from './errors.js';
import { startModuleWorker } from './worker-thread.js';
import type { ZstdAnswer, ZstdTaskData } from './zstd-task.js';
import type { CompressionAlgorithm } from './types.js';

export const DEFAULT_LEVEL: Record<CompressionAlgorithm, number | null> = { gzip: 6, zstd: 3, none: null };
const LEVELS: Record<CompressionAlgorithm, [number, number] | null> = { gzip: [1, 9], zstd: [1, 19], none: null };
/**
 * Independent block size. gzip (libdeflate, whole block in memory): 2 MiB blocks are 0.1-0.3%
 * smaller than 1 MiB and cost ~10 MiB more peak RSS at the default window; 4 MiB gain another
 * 0.1-0.2% for ~20 MiB more (1 GiB database: peak 125 / 135 / 156 MiB at 1 / 2 / 4 MiB).
 * zstd level 3 has a 2 MiB window, so 2 MiB blocks lose little while keeping memory small.
 */
export const BLOCK_SIZE: Record<CompressionAlgorithm, number> = { gzip: 2 * 1024 * 1024, zstd: 2 * 1024 * 1024, none: 1024 * 1024 };

/** Validate and default the level; `none` has level null. */
export function resolveLevel(algorithm: CompressionAlgorithm, level: number | undefined): number | null {
  const range = LEVELS[algorithm];
  if (range === undefined) throw new InvalidBackupOptionsError(`unknown compression algorithm ${String(algorithm)}`);
  if (range === null) {
    // 0 too: the config's documented "absent (or 0)" for none.
    if (level !== undefined && level !== null && level !== 0) throw new InvalidBackupOptionsError('compression "none" takes no level');
    return null;
  }
  const l = level ?? DEFAULT_LEVEL[algorithm]!;
  if (!Number.isInteger(l) || l < range[0] || l > range[1]) {
    throw new InvalidBackupOptionsError(`${algorithm} level must be an integer in ${range[0]}..${range[1]}`);
  }
  return l;
}

/** Compresses one independent block; the outputs concatenate into one valid stream. */
export interface BlockCodec {
  /** `recycle` receives the block's ArrayBuffer once the codec no longer needs it. */
  compress(block: Buffer, recycle?: (ab: ArrayBufferLike) => void): Promise<Buffer>;
  close(): Promise<void>;
}

class GzipCodec implements BlockCodec {
  constructor(private readonly level: number) {}
  // libdeflate (@mfb/deflate), not node:zlib: Node 20's bundled zlib (Chromium's fork) never
  // emits 3-byte matches and writes ~1-10% larger members than `gzip -6`. One call is one
  // gzip member, run on the libuv threadpool, so blocks compress on every core.
  async compress(block: Buffer, recycle?: (ab: ArrayBufferLike) => void): Promise<Buffer> {
    const out = await gzipCompress(block, this.level);
    recycle?.(block.buffer);
    return out;
  }
  async close(): Promise<void> {}
}

class NoneCodec implements BlockCodec {
  async compress(block: Buffer): Promise<Buffer> {
    return block;
  }
  async close(): Promise<void> {}
}

interface Job {
  id: number;
  data: Buffer;
  recycle: ((ab: ArrayBufferLike) => void) | undefined;
  resolve: (b: Buffer) => void;
  reject: (e: Error) => void;
}

/** zstd-napi is synchronous: a small pool of worker threads gives the parallelism. */
class ZstdCodec implements BlockCodec {
  private readonly idle: Worker[] = [];
  private readonly all: Worker[] = [];
  private readonly queue: Job[] = [];
  private readonly running = new Map<Worker, Job>();
  private nextId = 0;
  private broken: Error | null = null;
  private closing = false;
  private drained: (() => void) | null = null;

  constructor(level: number, threads: number) {
    const workerData: ZstdTaskData = { level };
    for (let i = 0; i < threads; i++) {
      const w = startModuleWorker(import.meta.url, 'zstd-task', { workerData });
      w.on('message', (m: ZstdAnswer) => {
        const job = this.running.get(w);
        this.running.delete(w);
        this.idle.push(w);
        if (job) {
          if (m.input) job.recycle?.(m.input.buffer);
          if (m.data) job.resolve(Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength));
          else job.reject(new Error(`zstd compression failed: ${m.error ?? 'unknown'}`));
        }
        if (this.closing) {
          if (this.running.size === 0) this.drained?.();
          return;
        }
        this.pump();
      });
      w.on('error', (err) => this.fail(err));
      this.all.push(w);
      this.idle.push(w);
    }
  }

  private fail(err: Error): void {
    this.broken = err;
    for (const job of [...this.running.values(), ...this.queue.splice(0)]) job.reject(err);
    this.running.clear();
  }

  private pump(): void {
    while (this.idle.length && this.queue.length) {
      const w = this.idle.pop()!;
      const job = this.queue.shift()!;
      this.running.set(w, job);
      // Transfer (no copy) when the block owns its whole ArrayBuffer (readBlocks allocates it so);
      // otherwise copy first: a pooled ArrayBuffer must never be detached.
      const d = job.data;
      const owned = d.byteOffset === 0 && d.buffer.byteLength === d.length && !(d.buffer instanceof SharedArrayBuffer);
      const data = owned ? d : Uint8Array.prototype.slice.call(d);
      w.postMessage({ id: job.id, data }, [data.buffer as ArrayBuffer]);
    }
  }

  compress(block: Buffer, recycle?: (ab: ArrayBufferLike) => void): Promise<Buffer> {
    if (this.broken) return Promise.reject(this.broken);
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, data: block, recycle, resolve, reject });
      this.pump();
    });
  }

  /**
   * Drop queued blocks, let the blocks being compressed finish (a worker is never terminated
   * inside a native call), then stop the workers.
   */
  async close(): Promise<void> {
    this.closing = true;
    for (const job of this.queue.splice(0)) job.reject(new Error('compressor closed'));
    if (this.running.size > 0 && !this.broken) await new Promise<void>((resolve) => (this.drained = resolve));
    await Promise.all(this.all.map((w) => w.terminate()));
  }
}

export function createCodec(algorithm: CompressionAlgorithm, level: number | null, threads = availableParallelism()): BlockCodec {
  if (algorithm === 'gzip') return new GzipCodec(level ?? 6);
  if (algorithm === 'zstd') return new ZstdCodec(level ?? 3, Math.max(1, threads));
  return new NoneCodec();
}

/**
 * Compress `blocks` in parallel and yield the compressed blocks IN INPUT ORDER. At most
 * `window` blocks are in flight, and the generator only pulls a new block when its consumer
 * asks for output, so memory is bounded by `window * (block + compressed block)` whatever
 * the input size.
 */
export async function* compressBlocks(
  blocks: AsyncIterable<Buffer>,
  codec: BlockCodec,
  window: number,
  recycle?: (ab: ArrayBufferLike) => void,
): AsyncGenerator<Buffer> {
  const inFlight: Promise<Buffer>[] = [];
  for await (const block of blocks) {
    const p = codec.compress(block, recycle);
    p.catch(() => undefined); // awaited below in order; avoid an unhandled-rejection warning meanwhile
    inFlight.push(p);
    if (inFlight.length >= window) yield await inFlight.shift()!;
  }
  while (inFlight.length) yield await inFlight.shift()!;
}

/** Streaming decompressor for restore: multi-member gzip, concatenated zstd frames, or none. */
export function createDecompressStream(algorithm: CompressionAlgorithm): Transform {
  if (algorithm === 'gzip') return createGunzip();
  if (algorithm === 'zstd') return new DecompressStream();
  return new PassThrough();
}

export function defaultWindow(): number {
  return Math.max(4, 2 * availableParallelism());
}

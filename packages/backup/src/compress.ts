import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { PassThrough, type Transform } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { createGunzip, gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { DecompressStream } from 'zstd-napi';
import { InvalidBackupOptionsError } from './errors.js';
import type { CompressionAlgorithm } from './types.js';

const require = createRequire(import.meta.url);
const gzipAsync = promisify(gzip);

export const DEFAULT_LEVEL: Record<CompressionAlgorithm, number | null> = { gzip: 6, zstd: 3, none: null };
const LEVELS: Record<CompressionAlgorithm, [number, number] | null> = { gzip: [1, 9], zstd: [1, 19], none: null };
/** Independent block size: gzip's 32 KiB window loses ~nothing at 1 MiB; zstd-3 wants more. */
export const BLOCK_SIZE: Record<CompressionAlgorithm, number> = { gzip: 1024 * 1024, zstd: 4 * 1024 * 1024, none: 1024 * 1024 };

/** Validate and default the level; `none` has level null. */
export function resolveLevel(algorithm: CompressionAlgorithm, level: number | undefined): number | null {
  const range = LEVELS[algorithm];
  if (range === undefined) throw new InvalidBackupOptionsError(`unknown compression algorithm ${String(algorithm)}`);
  if (range === null) {
    if (level !== undefined && level !== null) throw new InvalidBackupOptionsError('compression "none" takes no level');
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
  compress(block: Buffer): Promise<Buffer>;
  close(): Promise<void>;
}

class GzipCodec implements BlockCodec {
  constructor(private readonly level: number) {}
  // zlib's async API runs on the libuv threadpool: blocks compress on every core.
  compress(block: Buffer): Promise<Buffer> {
    return gzipAsync(block, { level: this.level });
  }
  async close(): Promise<void> {}
}

class NoneCodec implements BlockCodec {
  async compress(block: Buffer): Promise<Buffer> {
    return block;
  }
  async close(): Promise<void> {}
}

const ZSTD_WORKER = String.raw`
const { parentPort, workerData } = require('node:worker_threads');
const { Compressor } = require(workerData.zstd);
const c = new Compressor();
c.setParameters({ compressionLevel: workerData.level, contentSizeFlag: true });
parentPort.on('message', ({ id, data }) => {
  try {
    const out = c.compress(data);
    const copy = new Uint8Array(out.length);
    copy.set(out);
    parentPort.postMessage({ id, data: copy }, [copy.buffer]);
  } catch (err) {
    parentPort.postMessage({ id, error: String(err && err.message) });
  }
});
`;

interface Job {
  id: number;
  data: Buffer;
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

  constructor(level: number, threads: number) {
    const zstd = require.resolve('zstd-napi');
    for (let i = 0; i < threads; i++) {
      const w = new Worker(ZSTD_WORKER, { eval: true, workerData: { zstd, level } });
      w.on('message', (m: { id: number; data?: Uint8Array; error?: string }) => {
        const job = this.running.get(w);
        this.running.delete(w);
        this.idle.push(w);
        if (job) {
          if (m.data) job.resolve(Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength));
          else job.reject(new Error(`zstd compression failed: ${m.error ?? 'unknown'}`));
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
      // Copy into a transferable buffer: the caller's block may share a pooled ArrayBuffer.
      const copy = new Uint8Array(job.data.length);
      copy.set(job.data);
      w.postMessage({ id: job.id, data: copy }, [copy.buffer]);
    }
  }

  compress(block: Buffer): Promise<Buffer> {
    if (this.broken) return Promise.reject(this.broken);
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, data: block, resolve, reject });
      this.pump();
    });
  }

  async close(): Promise<void> {
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
export async function* compressBlocks(blocks: AsyncIterable<Buffer>, codec: BlockCodec, window: number): AsyncGenerator<Buffer> {
  const inFlight: Promise<Buffer>[] = [];
  for await (const block of blocks) {
    const p = codec.compress(block);
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

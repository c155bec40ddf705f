import { createHash, type Hash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';

export function sha256(): Hash {
  return createHash('sha256');
}

/** What a {@link Meter} hashes with: a SHA-256, or a snapshot digest (`snapshotHasher`). */
export interface Digester {
  update(b: Buffer): unknown;
  digest(enc: 'hex'): string;
}

/** Counts and hashes bytes as they pass (SHA-256 unless another digest is given). */
export class Meter extends Transform {
  bytes = 0;
  constructor(
    private readonly onBytes?: (n: number) => void,
    readonly hash: Digester = sha256(),
  ) {
    super();
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.onBytes?.(this.bytes);
    cb(null, chunk);
  }
}

/**
 * Recycles fixed-size block buffers: reading 1 GiB as fresh 1-2 MiB buffers leaves tens of
 * MiB of garbage ArrayBuffers between GCs, which shows as peak RSS.
 */
export class BlockPool {
  private readonly free: ArrayBuffer[] = [];
  constructor(
    readonly size: number,
    private readonly max: number,
  ) {}
  get(): Buffer {
    const ab = this.free.pop();
    return ab ? Buffer.from(ab) : Buffer.allocUnsafeSlow(this.size);
  }
  /** Give back a buffer this pool handed out (after nobody uses its bytes any more). */
  put(ab: ArrayBufferLike): void {
    if (ab instanceof ArrayBuffer && ab.byteLength === this.size && this.free.length < this.max) this.free.push(ab);
  }
}

/**
 * Read a file as fixed-size blocks, each in its own (transferable) buffer, feeding `hash`
 * in file order. `onBlock` reports progress.
 */
export async function* readBlocks(
  path: string,
  blockSize: number,
  hash: Hash | null,
  onBlock?: (bytesDone: number) => void,
  signal?: AbortSignal,
  pool?: BlockPool,
): AsyncGenerator<Buffer> {
  const fh = await open(path, 'r');
  try {
    let pos = 0;
    for (;;) {
      signal?.throwIfAborted();
      const buf = pool && pool.size === blockSize ? pool.get() : Buffer.allocUnsafeSlow(blockSize);
      let filled = 0;
      while (filled < blockSize) {
        const { bytesRead } = await fh.read(buf, filled, blockSize - filled, pos + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      if (filled === 0) return;
      const block = filled === blockSize ? buf : buf.subarray(0, filled);
      hash?.update(block);
      pos += filled;
      onBlock?.(pos);
      yield block;
      if (filled < blockSize) return;
    }
  } finally {
    await fh.close();
  }
}

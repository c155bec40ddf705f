import { createHash, type Hash } from 'node:crypto';
import { open } from 'node:fs/promises';

export function sha256(): Hash {
  return createHash('sha256');
}

/**
 * Read a file as fixed-size blocks, each in its own (transferable) buffer, feeding `hash`
 * in file order. `onBlock` reports progress.
 */
export async function* readBlocks(
  path: string,
  blockSize: number,
  hash: Hash,
  onBlock?: (bytesDone: number) => void,
  signal?: AbortSignal,
): AsyncGenerator<Buffer> {
  const fh = await open(path, 'r');
  try {
    let pos = 0;
    for (;;) {
      signal?.throwIfAborted();
      const buf = Buffer.allocUnsafeSlow(blockSize);
      let filled = 0;
      while (filled < blockSize) {
        const { bytesRead } = await fh.read(buf, filled, blockSize - filled, pos + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      if (filled === 0) return;
      const block = filled === blockSize ? buf : buf.subarray(0, filled);
      hash.update(block);
      pos += filled;
      onBlock?.(pos);
      yield block;
      if (filled < blockSize) return;
    }
  } finally {
    await fh.close();
  }
}

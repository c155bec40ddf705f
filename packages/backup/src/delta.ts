import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import type { ParentHashes } from '@mfb/pagehash';
import { pageChanged } from './pagemap.js';

/**
 * Delta payload (the plaintext of a `kind: 'delta'` artifact, before compression and
 * encryption; normative description in docs/backup-format.md, "Delta payload"):
 *
 *   header  "MFBDELT1" | u32 page size | u32 parent page count | u32 page count | parent SHA-256 (32)
 *   records (u32 page number >= 1 | page bytes) ... strictly ascending page numbers
 *   end     u32 0 | u32 number of records | final snapshot SHA-256 (32)
 *
 * All integers big-endian. Applying it to the parent's snapshot (page-identical image) and
 * truncating to `page count` pages gives the new snapshot, whose SHA-256 is the end's.
 */
export const DELTA_MAGIC = Buffer.from('MFBDELT1', 'latin1');
export const DELTA_HEADER_BYTES = 8 + 4 + 4 + 4 + 32;
export const DELTA_END_BYTES = 4 + 4 + 32;
export const MAX_PAGE_SIZE = 65536;

export interface DeltaHeader {
  pageSize: number;
  parentPageCount: number;
  pageCount: number;
  parentSha256: string;
}

export function encodeDeltaHeader(h: DeltaHeader): Buffer {
  const b = Buffer.alloc(DELTA_HEADER_BYTES);
  DELTA_MAGIC.copy(b, 0);
  b.writeUInt32BE(h.pageSize, 8);
  b.writeUInt32BE(h.parentPageCount, 12);
  b.writeUInt32BE(h.pageCount, 16);
  Buffer.from(h.parentSha256, 'hex').copy(b, 20);
  return b;
}

export function decodeDeltaHeader(b: Buffer): DeltaHeader {
  if (b.length < DELTA_HEADER_BYTES || !b.subarray(0, 8).equals(DELTA_MAGIC)) throw new Error('not a delta payload (bad magic)');
  const pageSize = b.readUInt32BE(8);
  if (pageSize < 512 || pageSize > MAX_PAGE_SIZE || (pageSize & (pageSize - 1)) !== 0) throw new Error(`invalid page size ${pageSize}`);
  return { pageSize, parentPageCount: b.readUInt32BE(12), pageCount: b.readUInt32BE(16), parentSha256: b.subarray(20, 52).toString('hex') };
}

export function encodeDeltaEnd(records: number, finalSha256: string): Buffer {
  const b = Buffer.alloc(DELTA_END_BYTES);
  b.writeUInt32BE(0, 0);
  b.writeUInt32BE(records, 4);
  Buffer.from(finalSha256, 'hex').copy(b, 8);
  return b;
}

export interface DeltaStats {
  changedPages: number;
  /** SHA-256 of the new snapshot (hex), once finished. */
  snapshotSha256: string | null;
}

/**
 * The delta payload of the new snapshot, whose pages arrive in order as `pages` (with their
 * fingerprints), against the `parent` page hashes (a page is carried when its fingerprint
 * differs or it is beyond the parent's page count), in blocks of about `outBlock` bytes (each
 * in its own ArrayBuffer). `snapshotSha256` is asked for after the last page (the caller
 * digests every page as it passes); `stats` is filled in as it goes.
 */
export async function* deltaBlocks(
  pages: AsyncIterable<{ data: Buffer; fps: Buffer | null }>,
  header: DeltaHeader,
  parent: ParentHashes,
  snapshotSha256: () => string,
  stats: DeltaStats,
  outBlock: number,
): AsyncGenerator<Buffer> {
  const ps = header.pageSize;
  const recBytes = 4 + ps;
  let out = Buffer.allocUnsafeSlow(Math.max(outBlock, DELTA_HEADER_BYTES + recBytes));
  let used = encodeDeltaHeader(header).copy(out, 0);
  const flush = (): Buffer => {
    const full = used === out.length ? out : out.subarray(0, used);
    out = Buffer.allocUnsafeSlow(out.length);
    used = 0;
    return full;
  };
  let pgno = 0;
  for await (const block of pages) {
    if (block.data.length % ps !== 0) throw new Error(`snapshot size is not a multiple of the page size ${ps}`);
    const fps = block.fps;
    if (!fps) throw new Error('delta: a block came without its page fingerprints');
    for (let i = 0; i < block.data.length / ps; i++) {
      pgno++;
      if (!pageChanged(parent, pgno, fps, i)) continue;
      if (used + recBytes > out.length) yield flush();
      out.writeUInt32BE(pgno, used);
      block.data.copy(out, used + 4, i * ps, (i + 1) * ps);
      used += recBytes;
      stats.changedPages++;
    }
  }
  if (pgno !== header.pageCount) throw new Error(`snapshot has ${pgno} pages, expected ${header.pageCount}`);
  stats.snapshotSha256 = snapshotSha256();
  if (used + DELTA_END_BYTES > out.length) yield flush();
  used += encodeDeltaEnd(stats.changedPages, stats.snapshotSha256).copy(out, used);
  yield flush();
}

/**
 * Writable that applies a delta payload to the image open as `fh` (the parent's snapshot):
 * checks the header against what the caller expects, writes each page at its offset, and
 * after the end record truncates to the new page count. Anything malformed fails the stream.
 */
export class DeltaApplier extends Writable {
  header: DeltaHeader | null = null;
  records = 0;
  endSha256: string | null = null;
  private buf: Buffer = Buffer.alloc(0);
  private lastPgno = 0;
  private ended = false;

  constructor(
    private readonly fh: FileHandle,
    private readonly expect: (h: DeltaHeader) => void,
  ) {
    super();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    this.drain().then(() => cb(), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.drain()
      .then(async () => {
        if (!this.ended || this.buf.length !== 0) throw new Error(this.ended ? 'data after the end record' : 'delta payload is truncated');
        await this.fh.truncate(this.header!.pageCount * this.header!.pageSize);
      })
      .then(() => cb(), cb);
  }

  private async drain(): Promise<void> {
    if (!this.header) {
      if (this.buf.length < DELTA_HEADER_BYTES) return;
      this.header = decodeDeltaHeader(this.buf);
      this.expect(this.header);
      this.buf = this.buf.subarray(DELTA_HEADER_BYTES);
    }
    const ps = this.header.pageSize;
    while (!this.ended && this.buf.length >= 4) {
      const pgno = this.buf.readUInt32BE(0);
      if (pgno === 0) {
        if (this.buf.length < DELTA_END_BYTES) return;
        const n = this.buf.readUInt32BE(4);
        if (n !== this.records) throw new Error(`end record says ${n} pages, found ${this.records}`);
        this.endSha256 = this.buf.subarray(8, 40).toString('hex');
        this.buf = this.buf.subarray(DELTA_END_BYTES);
        this.ended = true;
        break;
      }
      if (pgno <= this.lastPgno || pgno > this.header.pageCount) throw new Error(`page number ${pgno} out of order or range`);
      if (this.buf.length < 4 + ps) return;
      await this.fh.write(this.buf, 4, ps, (pgno - 1) * ps);
      this.lastPgno = pgno;
      this.records++;
      this.buf = this.buf.subarray(4 + ps);
    }
    if (this.ended && this.buf.length) throw new Error('data after the end record');
    // Keep the remainder in its own small buffer so the large chunk it came from can be freed.
    if (this.buf.length && this.buf.length < 4 + ps) this.buf = Buffer.from(this.buf);
  }
}

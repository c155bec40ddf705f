import { createHash, hash, randomBytes, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import { FP_BYTES, SHA_BYTES, hashPages, type ParentHashes } from '@mfb/pagehash';
import type { StorageDriver } from '@mfb/storage';
import { decryptBuffer, Encryptor } from './crypto.js';
import { ChainBrokenError } from './errors.js';
import type { KeyRing, Manifest } from './types.js';

/**
 * formatVersion 2 page map (read only: new backups write formatVersion 3's, below): one
 * 128-bit hash per database page (the first 16 bytes of the page's SHA-256),
 * stored beside every formatVersion 2 backup as `<databaseId>/<backupId>.pagemap`, encrypted
 * with the backup's key when the backup is. Layout (docs/backup-format.md, "Page map"):
 *
 *   "MFBPMAP1" | u32 BE page size | u32 BE page count | page count x 16-byte hashes
 */
export const PAGEMAP_MAGIC = Buffer.from('MFBPMAP1', 'latin1');
export const PAGE_HASH_BYTES = 16;
const HEADER_BYTES = PAGEMAP_MAGIC.length + 8;

export function pageHashInto(page: Buffer, out: Buffer, offset: number): void {
  // One-shot crypto.hash: ~20% less CPU per 4 KiB page than createHash().update().digest().
  hash('sha256', page, 'buffer').copy(out, offset, 0, PAGE_HASH_BYTES);
}

/** The 16-byte hashes of the whole pages in `block` (page-aligned, a multiple of `pageSize`). */
export function pageHashes(block: Buffer, pageSize: number): Buffer {
  const n = Math.floor(block.length / pageSize);
  if (n * pageSize !== block.length) throw new Error('page map: block is not a whole number of pages');
  const out = Buffer.allocUnsafe(n * PAGE_HASH_BYTES);
  for (let i = 0; i < n; i++) pageHashInto(block.subarray(i * pageSize, (i + 1) * pageSize), out, i * PAGE_HASH_BYTES);
  return out;
}

export class PageMap {
  constructor(
    readonly pageSize: number,
    readonly pageCount: number,
    /** pageCount x 16 bytes; page N (1-based) at (N - 1) * 16. */
    readonly hashes: Buffer,
  ) {
    if (hashes.length !== pageCount * PAGE_HASH_BYTES) throw new Error('page map: hashes length does not match the page count');
  }

  hashOf(pgno: number): Buffer {
    return this.hashes.subarray((pgno - 1) * PAGE_HASH_BYTES, pgno * PAGE_HASH_BYTES);
  }

  encode(): Buffer {
    const h = Buffer.alloc(HEADER_BYTES);
    PAGEMAP_MAGIC.copy(h, 0);
    h.writeUInt32BE(this.pageSize, 8);
    h.writeUInt32BE(this.pageCount, 12);
    return Buffer.concat([h, this.hashes]);
  }

  static decode(buf: Buffer): PageMap {
    if (buf.length < HEADER_BYTES || !buf.subarray(0, 8).equals(PAGEMAP_MAGIC)) throw new Error('not a page map (bad magic)');
    const pageSize = buf.readUInt32BE(8);
    const pageCount = buf.readUInt32BE(12);
    if (buf.length !== HEADER_BYTES + pageCount * PAGE_HASH_BYTES) throw new Error('page map length does not match its page count');
    return new PageMap(pageSize, pageCount, Buffer.from(buf.subarray(HEADER_BYTES)));
  }
}

/** Builds a page map while a database image streams past in page-aligned blocks. */
export class PageMapBuilder {
  private readonly parts: Buffer[] = [];
  private pages = 0;
  constructor(readonly pageSize: number) {}

  /** `block` starts on a page boundary; its length is a multiple of the page size. */
  add(block: Buffer): void {
    this.addHashes(pageHashes(block, this.pageSize));
  }

  /** Hashes computed elsewhere (16 bytes per page, in page order). */
  addHashes(hashes: Buffer): void {
    if (hashes.length % PAGE_HASH_BYTES !== 0) throw new Error('page map: hashes are not whole');
    this.parts.push(hashes);
    this.pages += hashes.length / PAGE_HASH_BYTES;
  }

  /** Hashes of the block given to the last `add`. */
  lastHashes(): Buffer {
    return this.parts[this.parts.length - 1] ?? Buffer.alloc(0);
  }

  finish(): PageMap {
    return new PageMap(this.pageSize, this.pages, Buffer.concat(this.parts));
  }
}

export function pageMapKeyFor(databaseId: string, backupId: string): string {
  return `${databaseId}/${backupId}.pagemap`;
}

/**
 * Stored bytes of a page map, in pieces: plain, or sealed with the backup's key. Never one
 * concatenated copy: a 1 GiB database's map is 10 MiB, and the plain, sealed and joined copies
 * at once showed as +20 MiB of peak RSS at the end of a backup.
 */
export function sealPageMap(map: StoredPageMap, encryption: { keyId: string; key: Buffer; chunkSize?: number } | undefined): Buffer[] {
  const parts = map.encodeParts();
  if (!encryption) return parts;
  const e = new Encryptor(encryption);
  const out: Buffer[] = [];
  for (const p of parts) out.push(...e.update(p));
  out.push(...e.final());
  return out;
}

export async function putPageMap(storage: StorageDriver, key: string, body: Buffer[], signal?: AbortSignal): Promise<{ sizeBytes: number; sha256: string }> {
  const h = createHash('sha256');
  let size = 0;
  for (const b of body) {
    h.update(b);
    size += b.length;
  }
  const sha256 = h.digest('hex');
  await storage.put(key, Readable.from(body), { contentType: 'application/octet-stream', size, sha256, ...(signal ? { signal } : {}) });
  return { sizeBytes: size, sha256 };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array));
  return Buffer.concat(parts);
}

/** The stored, checked and (when encrypted) authenticated plaintext of a backup's page map. */
async function pageMapPlain(storage: StorageDriver, m: Manifest, keys: KeyRing): Promise<Buffer> {
  const pm = m.pageMap;
  if (!pm) throw new ChainBrokenError(m.artifactKey, 'the backup has no page map');
  let raw: Buffer;
  try {
    raw = await readAll(await storage.get(pm.key));
  } catch (err) {
    throw new ChainBrokenError(m.artifactKey, `page map ${pm.key} cannot be read`, { cause: err });
  }
  if (raw.length !== pm.sizeBytes || createHash('sha256').update(raw).digest('hex') !== pm.sha256) {
    throw new ChainBrokenError(m.artifactKey, `page map ${pm.key} does not match the manifest`);
  }
  try {
    return m.encryption ? decryptBuffer(raw, keys) : raw;
  } catch (err) {
    throw new ChainBrokenError(m.artifactKey, `page map ${pm.key}: ${(err as Error).message}`, { cause: err });
  }
}

function decodeOr<T>(m: Manifest, decode: () => T): T {
  try {
    return decode();
  } catch (err) {
    throw new ChainBrokenError(m.artifactKey, `page map ${m.pageMap!.key}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Fetch and prove the page map of a formatVersion 2 backup: its stored bytes hash to the
 * manifest's SHA-256, decrypt (authenticated) when the backup is encrypted, and describe the
 * manifest's final page size and count. BACKUP_CHAIN_BROKEN otherwise.
 */
export async function loadPageMap(storage: StorageDriver, m: Manifest, keys: KeyRing): Promise<PageMap> {
  const plain = await pageMapPlain(storage, m, keys);
  const map = decodeOr(m, () => PageMap.decode(plain));
  if (map.pageSize !== m.snapshot.sqlite.pageSize || map.pageCount !== m.snapshot.sqlite.pageCount) {
    throw new ChainBrokenError(m.artifactKey, `page map ${m.pageMap!.key} describes another database image`);
  }
  return map;
}

// ---------------------------------------------------------------------------------------------
// formatVersion 3 (docs/backup-format.md, section 7)

/**
 * formatVersion 3 page map, stored as `<databaseId>/<backupId>.pagemap` like version 2's and
 * sealed the same way. Plain layout (big-endian):
 *
 *   "MFBPMAP2" | u32 page size | u32 page count | u64 seed | u32 entries | u32 kind (0 full, 1 sparse)
 *   full:   fingerprints[page count] (8 bytes) | SHA-256[page count] (32 bytes)
 *   sparse: page numbers[entries] (u32, ascending) | fingerprints[entries] | SHA-256[entries]
 *
 * A full backup stores the full map; a delta stores the entries of the pages it carries (its
 * parent's resolved map gives the others). Fingerprint = XXH3-64 of the page with the chain's
 * seed (random per full, kept by its deltas).
 */
export const PAGEMAP2_MAGIC = Buffer.from('MFBPMAP2', 'latin1');
const HEADER2_BYTES = 8 + 4 + 4 + 8 + 4 + 4;
/** Prefix of the formatVersion 3 snapshot digest. */
export const SNAPSHOT_DIGEST_MAGIC = Buffer.from('MFBSNAP3', 'latin1');

/** A random chain seed (the fingerprints' XXH3 seed), drawn when a full starts a chain. */
export function newChainSeed(): bigint {
  return randomBytes(8).readBigUInt64BE(0);
}

/** The hashes of every page of one snapshot: a full map, or a sparse one resolved against its parents. */
export class PageHashes {
  constructor(
    readonly pageSize: number,
    readonly pageCount: number,
    readonly seed: bigint,
    /** pageCount x 8 bytes, page N at (N - 1) * 8. */
    readonly fps: Buffer,
    /** pageCount x 32 bytes, page N at (N - 1) * 32. */
    readonly shas: Buffer,
  ) {
    if (fps.length !== pageCount * FP_BYTES || shas.length !== pageCount * SHA_BYTES) throw new Error('page map: hashes do not match the page count');
  }

  asParent(): ParentHashes {
    return { fps: this.fps, shas: this.shas, count: this.pageCount };
  }

  /** The snapshot digest of the image these hashes describe (equal to {@link PageListDigest} over its bytes). */
  digest(): string {
    const d = new PageListDigest(this.pageSize);
    d.addShas(this.shas);
    return d.digest();
  }

  /** This map with `sparse` (a child's stored map) applied (a new map; this one is unchanged). */
  apply(sparse: StoredPageMap): PageHashes {
    return this.applyInto(sparse, Buffer.allocUnsafeSlow(sparse.pageCount * FP_BYTES), Buffer.allocUnsafeSlow(sparse.pageCount * SHA_BYTES));
  }

  /**
   * `sparse` applied into `fps`/`shas` (at least its page count long; they may be this map's
   * own buffers: entries are only copied forward to the same place). The result views them.
   */
  applyInto(sparse: StoredPageMap, fps: Buffer, shas: Buffer): PageHashes {
    if (sparse.kind !== 'sparse') throw new Error('a full page map does not apply to a parent');
    if (sparse.pageSize !== this.pageSize || sparse.seed !== this.seed) throw new Error('the page map belongs to another chain');
    const n = sparse.pageCount;
    const keep = Math.min(n, this.pageCount);
    if (fps.buffer !== this.fps.buffer || fps.byteOffset !== this.fps.byteOffset) this.fps.copy(fps, 0, 0, keep * FP_BYTES);
    if (shas.buffer !== this.shas.buffer || shas.byteOffset !== this.shas.byteOffset) this.shas.copy(shas, 0, 0, keep * SHA_BYTES);
    let last = 0;
    let beyond = 0;
    for (let i = 0; i < sparse.entries; i++) {
      const pgno = sparse.pgnos!.readUInt32BE(i * 4);
      if (pgno <= last || pgno > n) throw new Error(`page number ${pgno} out of order or range`);
      last = pgno;
      if (pgno > keep) beyond++;
      sparse.fps.copy(fps, (pgno - 1) * FP_BYTES, i * FP_BYTES, (i + 1) * FP_BYTES);
      sparse.shas.copy(shas, (pgno - 1) * SHA_BYTES, i * SHA_BYTES, (i + 1) * SHA_BYTES);
    }
    if (beyond !== n - keep) throw new Error('the page map does not cover the pages beyond its parent');
    return new PageHashes(this.pageSize, n, this.seed, fps.subarray(0, n * FP_BYTES), shas.subarray(0, n * SHA_BYTES));
  }
}

/** A formatVersion 3 page map as stored (full, or sparse against the parent's). */
export class StoredPageMap {
  constructor(
    readonly kind: 'full' | 'sparse',
    readonly pageSize: number,
    readonly pageCount: number,
    readonly seed: bigint,
    readonly entries: number,
    /** Sparse only: entries x u32 BE page numbers. */
    readonly pgnos: Buffer | null,
    readonly fps: Buffer,
    readonly shas: Buffer,
  ) {
    if (fps.length !== entries * FP_BYTES || shas.length !== entries * SHA_BYTES || (kind === 'full' ? entries !== pageCount : pgnos?.length !== entries * 4))
      throw new Error('page map: entries do not match');
  }

  /** The plain layout in pieces (header, page numbers, fingerprints, SHA-256s), not joined. */
  encodeParts(): Buffer[] {
    const h = Buffer.alloc(HEADER2_BYTES);
    PAGEMAP2_MAGIC.copy(h, 0);
    h.writeUInt32BE(this.pageSize, 8);
    h.writeUInt32BE(this.pageCount, 12);
    h.writeBigUInt64BE(this.seed, 16);
    h.writeUInt32BE(this.entries, 24);
    h.writeUInt32BE(this.kind === 'full' ? 0 : 1, 28);
    return [h, ...(this.pgnos ? [this.pgnos] : []), this.fps, this.shas];
  }

  encode(): Buffer {
    return Buffer.concat(this.encodeParts());
  }

  static decode(buf: Buffer): StoredPageMap {
    if (buf.length < HEADER2_BYTES || !buf.subarray(0, 8).equals(PAGEMAP2_MAGIC)) throw new Error('not a formatVersion 3 page map (bad magic)');
    const pageSize = buf.readUInt32BE(8);
    const pageCount = buf.readUInt32BE(12);
    const seed = buf.readBigUInt64BE(16);
    const entries = buf.readUInt32BE(24);
    const k = buf.readUInt32BE(28);
    if (k > 1) throw new Error(`unknown page map kind ${k}`);
    const kind = k === 0 ? 'full' : 'sparse';
    const pn = kind === 'sparse' ? entries * 4 : 0;
    if (buf.length !== HEADER2_BYTES + pn + entries * (FP_BYTES + SHA_BYTES)) throw new Error('page map length does not match its entries');
    let o = HEADER2_BYTES;
    // Views on `buf`, not copies: a full map is 10 MiB per GiB of database.
    const take = (n: number): Buffer => buf.subarray(o, (o += n));
    const pgnos = kind === 'sparse' ? take(pn) : null;
    return new StoredPageMap(kind, pageSize, pageCount, seed, entries, pgnos, take(entries * FP_BYTES), take(entries * SHA_BYTES));
  }

  /** The full map as {@link PageHashes} (a sparse map needs its parent: {@link PageHashes.apply}). */
  hashes(): PageHashes {
    if (this.kind !== 'full') throw new Error('a sparse page map needs its parent');
    return new PageHashes(this.pageSize, this.pageCount, this.seed, this.fps, this.shas);
  }
}

/** Whether page `pgno` (at index `i` of a block's fingerprints `fps`) differs from `parent`'s. */
export function pageChanged(parent: ParentHashes, pgno: number, fps: Buffer, i: number): boolean {
  return pgno > parent.count || fps.compare(parent.fps as Buffer, (pgno - 1) * FP_BYTES, pgno * FP_BYTES, i * FP_BYTES, (i + 1) * FP_BYTES) !== 0;
}

/**
 * Builds the page map of a formatVersion 3 backup from the hashes of its pages as they stream
 * past: every entry for a full, the changed and new pages' entries for a delta of `parent`.
 */
export class PageMapWriter {
  private readonly pgnos: Buffer[] = [];
  private readonly fps: Buffer[] = [];
  private readonly shas: Buffer[] = [];
  private entries = 0;
  private pages = 0;
  constructor(
    readonly pageSize: number,
    readonly seed: bigint,
    private readonly parent: ParentHashes | null,
  ) {}

  /** Hashes of the block's pages (first page `firstPage`), 8 and 32 bytes per page. */
  add(firstPage: number, fps: Buffer, shas: Buffer): void {
    const n = fps.length / FP_BYTES;
    if (firstPage !== this.pages + 1 || shas.length !== n * SHA_BYTES) throw new Error('page map: blocks out of order');
    this.pages += n;
    if (!this.parent) {
      this.fps.push(fps);
      this.shas.push(shas);
      this.entries += n;
      return;
    }
    for (let i = 0; i < n; i++) {
      const pgno = firstPage + i;
      if (!pageChanged(this.parent, pgno, fps, i)) continue;
      const p = Buffer.allocUnsafe(4);
      p.writeUInt32BE(pgno, 0);
      this.pgnos.push(p);
      this.fps.push(fps.subarray(i * FP_BYTES, (i + 1) * FP_BYTES));
      this.shas.push(shas.subarray(i * SHA_BYTES, (i + 1) * SHA_BYTES));
      this.entries++;
    }
  }

  /** The map; the writer lets go of its pieces (only the joined copy stays in memory). */
  finish(): StoredPageMap {
    const cat = (b: Buffer[]): Buffer => {
      const out = Buffer.concat(b);
      b.length = 0;
      return out;
    };
    return new StoredPageMap(this.parent ? 'sparse' : 'full', this.pageSize, this.pages, this.seed, this.entries, this.parent ? cat(this.pgnos) : null, cat(this.fps), cat(this.shas));
  }
}

/**
 * The formatVersion 3 snapshot digest (`snapshot.sha256` of its manifests):
 * SHA-256("MFBSNAP3" | u32 page size | SHA-256 of page 1 | ... | SHA-256 of page N | u32 N).
 * A delta's is computed from the SHA-256 of its changed pages and its parent's of the others.
 */
export class PageListDigest {
  private readonly h: Hash = createHash('sha256');
  private pages = 0;
  constructor(readonly pageSize: number) {
    const head = Buffer.alloc(12);
    SNAPSHOT_DIGEST_MAGIC.copy(head, 0);
    head.writeUInt32BE(pageSize, 8);
    this.h.update(head);
  }
  addShas(shas: Buffer): void {
    this.h.update(shas);
    this.pages += shas.length / SHA_BYTES;
  }
  digest(): string {
    const tail = Buffer.alloc(4);
    tail.writeUInt32BE(this.pages, 0);
    return this.h.update(tail).digest('hex');
  }
}

/** The snapshot digest of a byte stream (a restored image), in `update`/`digest` form like a Hash. */
export class PageStreamDigest {
  private readonly list: PageListDigest;
  private rest: Buffer = Buffer.alloc(0);
  private shas = Buffer.allocUnsafeSlow(0);
  constructor(readonly pageSize: number) {
    this.list = new PageListDigest(pageSize);
  }
  update(chunk: Buffer): this {
    let b = chunk;
    if (this.rest.length) {
      // Complete the partial page from the chunk's head (no copy of the whole chunk).
      const need = this.pageSize - this.rest.length;
      if (b.length < need) {
        this.rest = Buffer.concat([this.rest, b]);
        return this;
      }
      this.addPages(Buffer.concat([this.rest, b.subarray(0, need)]));
      this.rest = Buffer.alloc(0);
      b = b.subarray(need);
    }
    const whole = b.length - (b.length % this.pageSize);
    if (whole) this.addPages(b.subarray(0, whole));
    if (whole < b.length) this.rest = Buffer.from(b.subarray(whole));
    return this;
  }
  /**
   * Digest the whole pages of `block` (page-aligned, nothing partial pending) and return their
   * SHA-256s: a view on a reused buffer, valid until the next call.
   */
  addPages(block: Buffer): Buffer {
    const need = (block.length / this.pageSize) * SHA_BYTES;
    if (this.shas.length < need) this.shas = Buffer.allocUnsafeSlow(need);
    const out = this.shas.subarray(0, need);
    hashPages(block, this.pageSize, 1, 0n, null, out);
    this.list.addShas(out);
    return out;
  }
  /** Hex digest; a stream that did not end on a page boundary gives a digest no manifest has. */
  digest(_enc?: 'hex'): string {
    return this.rest.length ? 'partial-page' : this.list.digest();
  }
}

/** What hashes a snapshot's bytes the way its manifest's `snapshot.sha256` was computed. */
export function snapshotHasher(m: Pick<Manifest, 'formatVersion' | 'snapshot'>): { update(b: Buffer): unknown; digest(enc: 'hex'): string } {
  return m.formatVersion >= 3 ? new PageStreamDigest(m.snapshot.sqlite.pageSize) : createHash('sha256');
}

/**
 * The resolved page hashes of the formatVersion 3 backup that ends `links` (its chain, full
 * base first, as `resolveChain` returns it): the base's full map with every delta's sparse map
 * applied in order, each checked against its manifest. BACKUP_CHAIN_BROKEN otherwise.
 */
export async function loadPageHashes(storage: StorageDriver, links: Manifest[], keys: KeyRing): Promise<PageHashes> {
  let acc: PageHashes | null = null;
  // One pair of buffers for the whole chain, grown with headroom when a link adds pages: not a
  // new 10 MiB map per link (a chain of 7 left ~70 MiB of garbage in a restore's peak RSS).
  let cap: { fps: Buffer; shas: Buffer } | null = null;
  for (const m of links) {
    const plain = await pageMapPlain(storage, m, keys);
    const stored = decodeOr(m, () => StoredPageMap.decode(plain));
    acc = decodeOr(m, (): PageHashes => {
      if (!acc) return stored.hashes();
      const n = stored.pageCount;
      if (!cap || cap.fps.length < n * FP_BYTES) {
        const pages = Math.ceil(n * 1.25);
        const grown = { fps: Buffer.allocUnsafeSlow(pages * FP_BYTES), shas: Buffer.allocUnsafeSlow(pages * SHA_BYTES) };
        const keep = Math.min(n, acc.pageCount);
        acc.fps.copy(grown.fps, 0, 0, keep * FP_BYTES);
        acc.shas.copy(grown.shas, 0, 0, keep * SHA_BYTES);
        cap = grown;
        acc = new PageHashes(acc.pageSize, keep, acc.seed, grown.fps.subarray(0, keep * FP_BYTES), grown.shas.subarray(0, keep * SHA_BYTES));
      }
      return acc.applyInto(stored, cap.fps, cap.shas);
    });
    if (acc.pageSize !== m.snapshot.sqlite.pageSize || acc.pageCount !== m.snapshot.sqlite.pageCount) {
      throw new ChainBrokenError(m.artifactKey, `page map ${m.pageMap!.key} describes another database image`);
    }
  }
  if (!acc) throw new Error('loadPageHashes: no links');
  return acc;
}

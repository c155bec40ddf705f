import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';

/**
 * Direct page reads for the streaming snapshot (docs/architecture.md, "Snapshot method").
 *
 * Inside the snapshot's read transaction, a page whose newest version (as of that transaction)
 * is not in the WAL is the database file's page, and stays so until the transaction ends: a
 * rollback-journal writer needs an EXCLUSIVE lock that our SHARED lock holds off, and a WAL
 * checkpoint never copies a frame newer than the oldest reader's snapshot into the file (nor,
 * with a reader on the file alone, any frame). So such pages can be read with pread() from a
 * descriptor on the same file, at a fraction of the cost of `sqlite_dbpage` (which goes through
 * the pager and a SQL statement per run of pages); the pages that have a frame in the WAL, and
 * the lock-byte page, still come through SQLite.
 *
 * Only the page numbers are taken from the WAL: every frame whose salts equal the WAL header's
 * (the current WAL generation, valid or not: a superset is only slower), never frame contents.
 */

const WAL_HEADER_BYTES = 32;
const FRAME_HEADER_BYTES = 24;
const WAL_MAGIC = new Set([0x377f0682, 0x377f0683]);
/** SQLite's PENDING_BYTE: the page holding it is never written (the lock-byte page). */
const PENDING_BYTE = 0x40000000;

/**
 * Page numbers of the frames of the current generation of the WAL at `walPath`, or null when
 * the WAL cannot be read or is not one for `pageSize` (then every page goes through SQLite).
 * A missing or empty WAL has no frames.
 */
export function walFramePages(walPath: string, pageSize: number): Set<number> | null {
  let fd: number;
  try {
    fd = openSync(walPath, 'r');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? new Set() : null;
  }
  try {
    const size = fstatSync(fd).size;
    const pages = new Set<number>();
    if (size < WAL_HEADER_BYTES) return pages;
    const h = Buffer.alloc(WAL_HEADER_BYTES);
    if (readSync(fd, h, 0, WAL_HEADER_BYTES, 0) !== WAL_HEADER_BYTES) return null;
    if (!WAL_MAGIC.has(h.readUInt32BE(0)) || h.readUInt32BE(8) !== pageSize) return null;
    const salt1 = h.readUInt32BE(16);
    const salt2 = h.readUInt32BE(20);
    const frame = FRAME_HEADER_BYTES + pageSize;
    const fh = Buffer.alloc(FRAME_HEADER_BYTES);
    for (let off = WAL_HEADER_BYTES; off + frame <= size; off += frame) {
      if (readSync(fd, fh, 0, FRAME_HEADER_BYTES, off) !== FRAME_HEADER_BYTES) break;
      if (fh.readUInt32BE(8) !== salt1 || fh.readUInt32BE(12) !== salt2) continue;
      const pgno = fh.readUInt32BE(0);
      if (pgno > 0) pages.add(pgno);
    }
    return pages;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** An open descriptor on the database file and the pages that must still come through SQLite. */
export interface DirectReader {
  fd: number;
  viaSqlite: Set<number>;
}

/** Open the database file for direct reads before SQLite opens it (the inode is compared later). */
export function openDirect(path: string): number | null {
  try {
    return openSync(path, 'r');
  } catch {
    return null;
  }
}

/**
 * Once the read transaction has started: the direct reader, or null (the descriptor closed)
 * when the file at `path` is no longer the one opened, or the WAL cannot be read.
 */
export function directReader(fd: number | null, path: string, journalMode: string, pageSize: number): DirectReader | null {
  if (fd === null) return null;
  const fail = (): null => {
    closeSync(fd);
    return null;
  };
  try {
    const a = fstatSync(fd);
    const b = statSync(path);
    if (a.ino !== b.ino || a.dev !== b.dev) return fail();
  } catch {
    return fail();
  }
  const viaSqlite = journalMode.toLowerCase() === 'wal' ? walFramePages(path + '-wal', pageSize) : new Set<number>();
  if (!viaSqlite) return fail();
  viaSqlite.add(Math.floor(PENDING_BYTE / pageSize) + 1);
  return { fd, viaSqlite };
}

/**
 * Fill `data` with pages `first .. first + n - 1`: from the file where it has them and they are
 * not in `viaSqlite`, else through `readPage` (SQLite).
 */
export function readPagesDirect(d: DirectReader, data: Buffer, first: number, n: number, pageSize: number, readPage: (pgno: number) => Buffer): void {
  const want = n * pageSize;
  let got = 0;
  while (got < want) {
    const r = readSync(d.fd, data, got, want - got, (first - 1) * pageSize + got);
    if (r === 0) break;
    got += r;
  }
  const inFile = Math.floor(got / pageSize);
  for (let i = 0; i < n; i++) {
    const pgno = first + i;
    if (i >= inFile || d.viaSqlite.has(pgno)) {
      const page = readPage(pgno);
      if (page.length !== pageSize) throw Object.assign(new Error(`sqlite_dbpage gave ${page.length} bytes for page ${pgno}`), { code: 'SQLITE_CORRUPT' });
      page.copy(data, i * pageSize);
    }
  }
}

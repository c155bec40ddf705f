import { chown, lstat, open, rm, stat } from 'node:fs/promises';
import { MessageChannel } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { ParentHashes } from '@mfb/pagehash';
import type { StreamBlock, StreamMeta, StreamResult } from './sqlite-task.js';
import { runSqliteTask, SqliteTaskError, type WorkerFailure } from './sqlite-worker.js';
import {
  AbortedError,
  DiskFullError,
  NotSqliteError,
  SourceBusyError,
  SourceCorruptError,
  SourceNotFoundError,
  SourceUnreadableError,
} from './errors.js';
import { createPrivateFile, removeWithSidecars } from './tempfiles.js';


export type SnapshotMethod = 'vacuum-into' | 'backup-api';

export interface SnapshotInfo {
  method: SnapshotMethod;
  sizeBytes: number;
  pageSize: number;
  pageCount: number;
  userVersion: number;
  /** Journal mode of the source database (`wal`, `delete`, ...). */
  journalMode: string;
  /** Rows per table of the snapshot (`sqlite_*` tables excluded). */
  tables: Record<string, number>;
}

export interface SnapshotOptions {
  sourcePath: string;
  /** Must not exist; created 0600. */
  destPath: string;
  method?: SnapshotMethod;
  /** How long to wait for a writer's lock before failing with BACKUP_SOURCE_BUSY. Default 30 s. */
  busyTimeoutMs?: number;
  /** `quick`: `PRAGMA quick_check` on the snapshot (default for backup-api); `none`: skip. */
  check?: 'quick' | 'none';
  signal?: AbortSignal;
}

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

/**
 * Fail fast with a specific error before SQLite gets to say "unable to open database file":
 * missing, unreadable, or not SQLite at all (the 16-byte magic of the file format).
 */
export async function probeSource(path: string): Promise<void> {
  let fh;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new SourceUnreadableError(path, 'not a regular file');
    fh = await open(path, 'r');
  } catch (err) {
    if (err instanceof SourceUnreadableError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new SourceNotFoundError(path, { cause: err });
    throw new SourceUnreadableError(path, code ?? 'open failed', { cause: err });
  }
  try {
    const head = Buffer.alloc(100);
    let n: number;
    try {
      ({ bytesRead: n } = await fh.read(head, 0, 100, 0));
    } catch (err) {
      throw new SourceUnreadableError(path, (err as NodeJS.ErrnoException).code ?? 'read failed', { cause: err });
    }
    // An empty file is a valid empty database to SQLite, but never a real finance database:
    // treat it as a misconfiguration rather than backing up nothing.
    if (n < 100 || !head.subarray(0, 16).equals(SQLITE_MAGIC)) throw new NotSqliteError(path);
  } finally {
    await fh.close();
  }
}

/**
 * Take a transactionally consistent copy of a live SQLite database (WAL or rollback journal)
 * into `destPath`. On any failure `destPath` and its sidecars are removed.
 */
export async function takeSnapshot(opts: SnapshotOptions): Promise<SnapshotInfo> {
  const method = opts.method ?? 'vacuum-into';
  const check = opts.check ?? (method === 'backup-api' ? 'quick' : 'none');
  if (opts.signal?.aborted) throw new AbortedError();
  const busyTimeoutMs = opts.busyTimeoutMs ?? 30_000;
  await probeSource(opts.sourcePath);
  await createPrivateFile(opts.destPath);
  const sidecars = await sidecarsBefore(opts.sourcePath);
  try {
    let info: Omit<SnapshotInfo, 'method' | 'sizeBytes'>;
    try {
      info = await runSqliteTask(
        'snapshot',
        { sourcePath: opts.sourcePath, destPath: opts.destPath, method, busyTimeoutMs, check },
        opts.signal,
      );
    } catch (err) {
      throw err instanceof SqliteTaskError ? mapSnapshotError(opts.sourcePath, err.failure, opts.destPath, busyTimeoutMs) : err;
    }
    const st = await stat(opts.destPath);
    return { method, sizeBytes: st.size, ...info };
  } catch (err) {
    await removeWithSidecars(opts.destPath);
    throw err;
  } finally {
    await giveBackSidecars(opts.sourcePath, sidecars);
  }
}

let dbpage: string | null | undefined;

/**
 * Why the streaming snapshot cannot run in this process (null: it can): it reads pages through
 * the `sqlite_dbpage` virtual table, which better-sqlite3's SQLite has only when built with
 * `SQLITE_ENABLE_DBPAGE_VTAB` (the pnpm patch in `patches/`; a reinstall without it loses it).
 */
export function pageStreamUnavailable(): string | null {
  if (dbpage !== undefined) return dbpage;
  const db = new Database(':memory:');
  try {
    db.prepare('SELECT count(*) FROM sqlite_dbpage').get();
    dbpage = null;
  } catch (err) {
    dbpage = `this SQLite build has no sqlite_dbpage table (${(err as Error).message}; better-sqlite3 must be built with SQLITE_ENABLE_DBPAGE_VTAB, see patches/)`;
  } finally {
    db.close();
  }
  return dbpage;
}

/**
 * Whether a backup with this snapshot method writes a scratch copy of the whole database to
 * `tmpDir` first (so `tmpDir` needs the database's size free): only `vacuum-into`,
 * `backup-api`, or `stream` on a SQLite build without `sqlite_dbpage`.
 */
export function snapshotNeedsScratch(method: 'stream' | 'vacuum-into' | 'backup-api' = 'stream'): boolean {
  return method !== 'stream' || pageStreamUnavailable() !== null;
}

/** A run of whole pages of a snapshot, in order. */
export interface PageBlock {
  firstPage: number;
  pages: number;
  data: Buffer;
  /** Fingerprint (8 bytes) and SHA-256 (32 bytes) per page (formatVersion 3 page map) when asked for. */
  fps: Buffer | null;
  shas: Buffer | null;
}

export interface PageStreamOptions {
  sourcePath: string;
  busyTimeoutMs?: number;
  /** Block size in bytes (rounded down to whole pages). Default 2 MiB. */
  blockBytes?: number;
  /** Blocks read ahead of the consumer. Default 4. */
  maxInFlight?: number;
  /** Hash each page in the reader thread (formatVersion 3 page map; SHA-256 only where the fingerprint differs from `parent`'s). */
  pageHashes?: { seed: bigint; parent: ParentHashes | null; parentPageSize: number } | null;
  /** `quick`: `PRAGMA quick_check` in the same read transaction after the last page. */
  check?: 'quick' | 'none';
  /** Count rows per table in the same read transaction (manifest `tables`). Default true. */
  countRows?: boolean;
  /** Read pages that are not in the WAL with pread() instead of through `sqlite_dbpage` (direct-pages.ts). Default true. */
  directReads?: boolean;
  signal?: AbortSignal;
}

export interface PageStream {
  pageSize: number;
  pageCount: number;
  journalMode: string;
  /** Every page 1..pageCount exactly once, page 1 normalised (docs/backup-format.md 6.1). */
  blocks: AsyncGenerator<PageBlock>;
  /** After the last block: what the manifest records; rejects with the mapped snapshot error. */
  done: Promise<SnapshotInfo & { countSeconds: number; checkSeconds: number }>;
  /** Give a block's memory back for reuse once nothing reads its bytes any more. */
  recycle(buffer: ArrayBufferLike): void;
  /** Stop reading (if not finished) and wait until the reader has let go of the source. */
  close(): Promise<void>;
}

/**
 * Stream a transactionally consistent, page-identical snapshot of a live database without a
 * scratch copy: a worker thread holds one read transaction and reads every page through
 * `sqlite_dbpage`; blocks arrive here as they are read, at most `maxInFlight` ahead of the
 * consumer (memory stays bounded whatever the database size). Resolves once the read
 * transaction has started and the page size and count are known.
 */
export async function openPageStream(opts: PageStreamOptions): Promise<PageStream> {
  if (opts.signal?.aborted) throw new AbortedError();
  const busyTimeoutMs = opts.busyTimeoutMs ?? 30_000;
  await probeSource(opts.sourcePath);
  const sidecars = await sidecarsBefore(opts.sourcePath);
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const { port1, port2 } = new MessageChannel();
  const abortFlag = new Int32Array(new SharedArrayBuffer(8));
  const queue: StreamBlock[] = [];
  let wake: (() => void) | null = null;
  let ended = false;
  let meta: (m: StreamMeta) => void = () => undefined;
  const gotMeta = new Promise<StreamMeta>((resolve) => (meta = resolve));
  const task = runSqliteTask<StreamResult>(
    'streamPages',
    {
      sourcePath: opts.sourcePath,
      busyTimeoutMs,
      blockBytes: opts.blockBytes ?? 2 * 1024 * 1024,
      maxInFlight: opts.maxInFlight ?? 4,
      pageHashes: opts.pageHashes ?? null,
      check: opts.check ?? 'none',
      countRows: opts.countRows ?? true,
      direct: opts.directReads ?? true,
    },
    stop.signal,
    {
      returnPort: port2,
      abortFlag,
      onMessage: (m) => {
        if (m.kind === 'meta') meta(m);
        else {
          queue.push(m);
          wake?.();
        }
      },
    },
  );
  const done = task
    .then(
      (r): SnapshotInfo & { countSeconds: number; checkSeconds: number } => ({ method: 'backup-api', sizeBytes: r.pageCount * r.pageSize, ...r }),
      (err: unknown) => {
        if (opts.signal?.aborted) throw new AbortedError({ cause: err });
        throw err instanceof SqliteTaskError ? mapSnapshotError(opts.sourcePath, err.failure, 'the streamed snapshot', busyTimeoutMs) : err;
      },
    )
    .finally(async () => {
      ended = true;
      wake?.();
      port1.close();
      opts.signal?.removeEventListener('abort', onAbort);
      await giveBackSidecars(opts.sourcePath, sidecars);
    });
  done.catch(() => undefined);
  const first = await Promise.race([gotMeta, done.then(() => null)]);
  if (!first) throw new Error('the page stream ended before it started');

  async function* blocks(): AsyncGenerator<PageBlock> {
    let next = 1;
    for (;;) {
      while (queue.length === 0 && !ended) await new Promise<void>((r) => (wake = r));
      wake = null;
      const b = queue.shift();
      if (!b) break;
      // Consumed: the reader may read one more block ahead.
      port1.postMessage({ credit: true });
      Atomics.add(abortFlag, 1, 1);
      Atomics.notify(abortFlag, 1);
      if (b.firstPage !== next) throw new Error(`page stream: block starts at page ${b.firstPage}, expected ${next}`);
      next += b.pages;
      yield {
        firstPage: b.firstPage,
        pages: b.pages,
        data: Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength),
        fps: b.fps ? Buffer.from(b.fps.buffer, b.fps.byteOffset, b.fps.byteLength) : null,
        shas: b.shas ? Buffer.from(b.shas.buffer, b.shas.byteOffset, b.shas.byteLength) : null,
      };
    }
    await done;
    if (next !== first!.pageCount + 1) throw new Error(`page stream ended at page ${next - 1} of ${first!.pageCount}`);
  }

  return {
    pageSize: first.pageSize,
    pageCount: first.pageCount,
    journalMode: first.journalMode,
    blocks: blocks(),
    done,
    recycle(buffer) {
      if (ended || !(buffer instanceof ArrayBuffer) || buffer.byteLength < first!.pageSize) return;
      port1.postMessage({ buffer }, [buffer]);
    },
    async close() {
      if (!ended) stop.abort();
      await done.catch(() => undefined);
    },
  };
}

const SIDECARS = ['-wal', '-shm'] as const;

async function sidecarsBefore(sourcePath: string): Promise<Set<string>> {
  const there = new Set<string>();
  for (const s of SIDECARS) if (await lstat(sourcePath + s).then(() => true, () => false)) there.add(s);
  return there;
}

/**
 * Reading a WAL database, even read-only, makes SQLite create its `-wal`/`-shm` files beside it
 * when they are missing. On a source nobody can write (an immutable file, a read-only mount)
 * they stay behind after the read (SQLite cannot clean up there): with no writer possible and
 * an empty `-wal`, they hold nothing, and what this run created is removed. Otherwise a file
 * this run created as root goes to the source's owner and group (never deleted: another
 * connection may already use it).
 */
async function giveBackSidecars(sourcePath: string, before: Set<string>): Promise<void> {
  const created = [];
  for (const s of SIDECARS) if (!before.has(s) && (await lstat(sourcePath + s).then((st) => st.isFile(), () => false))) created.push(s);
  if (created.length === 0) return;
  const src = await stat(sourcePath).catch(() => null);
  if (!src) return;
  const wal = await lstat(sourcePath + '-wal').catch(() => null);
  if ((wal === null || wal.size === 0) && !(await writable(sourcePath))) {
    await Promise.all(created.map((s) => rm(sourcePath + s, { force: true }).catch(() => undefined)));
    return;
  }
  if (process.getuid?.() !== 0) return;
  for (const s of created) {
    const st = await lstat(sourcePath + s).catch(() => null);
    if (st && (st.uid !== src.uid || st.gid !== src.gid)) await chown(sourcePath + s, src.uid, src.gid).catch(() => undefined);
  }
}

/** Whether this process can open `path` for writing (root included: immutable files and read-only mounts say no). */
async function writable(path: string): Promise<boolean> {
  try {
    await (await open(path, 'r+')).close();
    return true;
  } catch {
    return false;
  }
}

function mapSnapshotError(path: string, reply: WorkerFailure, destPath: string, busyTimeoutMs: number): Error {
  const code = reply.code ?? '';
  const msg = reply.message ?? 'unknown error';
  const cause = new SqliteTaskError(reply);
  if (code === 'SQLITE_NOTADB') return new NotSqliteError(path, { cause });
  if (code.startsWith('SQLITE_CORRUPT')) return new SourceCorruptError(path, msg, { cause });
  if (code === 'SQLITE_FULL') return new DiskFullError(`the snapshot ${destPath}`, { cause });
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return new SourceBusyError(path, { cause, busyTimeoutMs });
  if (code.startsWith('SQLITE_READONLY'))
    // A WAL database read by a user who cannot write its directory (or its -shm): SQLite must
    // create or map the -wal/-shm files beside it even to read.
    return new SourceUnreadableError(
      path,
      `${msg}: a WAL database needs its -wal and -shm files beside it, even to be read; this user cannot create or write them ` +
        '(give it write access to the directory and those files, run the backup as the database owner, or switch the database to journal_mode=DELETE)',
      { cause },
    );
  if (code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_PERM') || code.startsWith('SQLITE_AUTH'))
    return new SourceUnreadableError(path, msg, { cause });
  if (code.startsWith('SQLITE_IOERR') && reply.stage !== 'check' && reply.stage !== 'snapshot')
    return new SourceUnreadableError(path, msg, { cause });
  return new Error(`snapshot of ${path} failed at ${reply.stage ?? '?'}: ${code} ${msg}`, { cause });
}

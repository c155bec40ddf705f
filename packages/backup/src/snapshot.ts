import { open, stat } from 'node:fs/promises';
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
  if (code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_PERM') || code.startsWith('SQLITE_AUTH'))
    return new SourceUnreadableError(path, msg, { cause });
  if (code.startsWith('SQLITE_IOERR') && reply.stage !== 'check' && reply.stage !== 'snapshot')
    return new SourceUnreadableError(path, msg, { cause });
  return new Error(`snapshot of ${path} failed at ${reply.stage ?? '?'}: ${code} ${msg}`, { cause });
}

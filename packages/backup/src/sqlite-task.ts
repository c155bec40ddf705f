/**
 * Worker-thread entry for long SQLite operations (VACUUM INTO, a one-step backup,
 * integrity_check): started by `runSqliteTask` (sqlite-worker.ts), one task per thread, so a
 * multi-second SQLite call never blocks the caller's event loop (BullMQ lock renewal,
 * progress, abort). Compiled to dist/ like the rest of the package; from source it is loaded
 * through tsx (worker-thread.ts).
 */
import { closeSync } from 'node:fs';
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { FP_BYTES, SHA_BYTES, hashPages, type ParentHashes } from '@mfb/pagehash';
import { directReader, openDirect, readPagesDirect, type DirectReader } from './direct-pages.js';

export type SqliteTaskName = 'snapshot' | 'check' | 'quickCheck' | 'setJournalMode' | 'copy' | 'streamPages';

export interface SqliteTaskData {
  task: SqliteTaskName;
  args: Record<string, unknown>;
  /**
   * Cooperative abort: the caller sets `abortFlag[0] = 1`. `abortFlag[1]` is bumped by the
   * caller whenever it hands a streamed block back (`streamPages`).
   */
  abortFlag: Int32Array;
  /** `streamPages`: the caller sends `{ credit: true }` (a block consumed) and `{ buffer }` (a block's memory to reuse) here. */
  returnPort?: MessagePort;
}

/** First message of `streamPages`, before any block. */
export interface StreamMeta {
  kind: 'meta';
  pageSize: number;
  pageCount: number;
  journalMode: string;
}

/** A run of whole pages of the snapshot, in page order; with its pages' hashes when asked for. */
export interface StreamBlock {
  kind: 'block';
  firstPage: number;
  pages: number;
  data: Uint8Array;
  /** Fingerprint (8 bytes) and SHA-256 (32 bytes) of each page (formatVersion 3 page map). */
  fps: Uint8Array | null;
  shas: Uint8Array | null;
}

/** Final answer of `streamPages`. */
export interface StreamResult {
  pageSize: number;
  pageCount: number;
  userVersion: number;
  journalMode: string;
  tables: Record<string, number>;
  /** Seconds spent on the row counts and the optional quick_check after the last page. */
  countSeconds: number;
  checkSeconds: number;
  /** Whether pages were read from the file directly (direct-pages.ts) rather than all through sqlite_dbpage. */
  direct: boolean;
}

export interface WorkerFailure {
  code: string;
  message: string;
  stage: string;
}

export type SqliteTaskAnswer = { ok: true; result: unknown } | ({ ok: false } & WorkerFailure);

interface Ctx {
  stage: string;
}

type Db = Database.Database;

const { task, args, abortFlag, returnPort } = workerData as SqliteTaskData;

const withCode = (message: string, code: string): Error => Object.assign(new Error(message), { code });

// A worker must never be terminated in the middle of a SQLite call (better-sqlite3 throwing
// into a terminating isolate is a fatal error for the whole process), so the task checks the
// flag between steps and the caller waits for its answer.
const sleep = (ms: number): void => void Atomics.wait(abortFlag, 0, 0, ms);
const checkAbort = (): void => {
  if (Atomics.load(abortFlag, 0) === 1) throw withCode('aborted', 'ABORTED');
};
const firstCol = (rows: unknown): unknown[] => (rows as Record<string, unknown>[]).map((r) => Object.values(r)[0]);
const isOk = (rows: unknown[]): boolean => rows.length === 1 && rows[0] === 'ok';

// One-step backup API copy. better-sqlite3 resolves with totalPages 0 when the very first
// step was SQLITE_BUSY (nothing copied): retry that until the deadline.
async function backupOneStep(src: Db, destPath: string, busyTimeoutMs: number): Promise<void> {
  const deadline = Date.now() + busyTimeoutMs;
  for (;;) {
    let calls = 0;
    const res = await src.backup(destPath, {
      progress: () => {
        checkAbort();
        if (++calls > 1) {
          if (Date.now() > deadline) throw withCode('database is locked', 'SQLITE_BUSY');
          sleep(20);
        }
        return 0x7fffffff;
      },
    });
    if (res.totalPages > 0) return;
    checkAbort();
    if (Date.now() > deadline) throw withCode('database is locked', 'SQLITE_BUSY');
    sleep(20);
  }
}

/**
 * Backpressure of `streamPages`: wait until fewer than `max` blocks are out (the caller gives
 * one back as `{ credit: true }` on the return port and bumps `abortFlag[1]`), checking the
 * abort flag meanwhile.
 */
interface Credits {
  out: number;
  free: ArrayBuffer[];
}

function waitForCredit(credits: Credits, max: number): void {
  const drain = (): void => {
    for (let m = receiveMessageOnPort(returnPort!); m; m = receiveMessageOnPort(returnPort!)) {
      const msg = m.message as { credit?: boolean; buffer?: ArrayBuffer };
      if (msg.credit) credits.out--;
      if (msg.buffer && credits.free.length < max + 2) credits.free.push(msg.buffer);
    }
  };
  drain();
  while (credits.out >= max) {
    const seen = Atomics.load(abortFlag, 1);
    drain();
    if (credits.out < max) return;
    checkAbort();
    Atomics.wait(abortFlag, 1, seen, 100);
  }
}

function tables(db: Db): Record<string, number> {
  const out: Record<string, number> = {};
  const names = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[];
  for (const { name } of names) {
    out[name] = (db.prepare(`SELECT count(*) AS n FROM ${quoteId(name)}`).get() as { n: number }).n;
  }
  return out;
}

/** Page cache of each connection of a split check (negative: KiB). */
const SPLIT_CACHE_KIB = -8000;

interface CheckArgs {
  path: string;
  /** Shared step counter of the workers checking `path` together (a SharedArrayBuffer). */
  next?: Int32Array;
  /** Split into `checkSteps` (several workers); otherwise one `integrity_check`. */
  split?: boolean;
  /** Return the rows per table. */
  counts?: boolean;
}

/**
 * `PRAGMA integrity_check` as steps that together find what it finds, so that two threads
 * can share it: `quick_check` (every b-tree's structure, the freelist, pages never used or
 * used twice, row formats, NOT NULL and CHECK constraints, index entry counts) plus, for every
 * table, `integrity_check(<table>)`, which adds what quick_check leaves out: that every index
 * entry matches its row (and uniqueness). The union of their findings is integrity_check's
 * (SQLite's pragma.c: a table-restricted check runs the same per-row and per-index code for
 * that table; only the whole-file page accounting is skipped, which quick_check does).
 * Ordered by a cost estimate, largest first (rows x (1 + indexes)); the table structures
 * are checked twice, which costs far less than the index lookups.
 */
function checkSteps(db: Db): string[] {
  const objects = db.prepare("SELECT type, name, tbl_name AS tbl FROM sqlite_schema WHERE type IN ('table', 'index')").all() as { type: string; name: string; tbl: string }[];
  const names = objects.filter((o) => o.type === 'table').map((o) => o.name);
  const cost = new Map<string, number>(names.map((n) => [n, 1]));
  let rowsTotal = 0;
  for (const name of names) {
    let rows = 0;
    try {
      rows = Number(db.prepare(`SELECT count(*) FROM ${quoteId(name)}`).pluck().get());
    } catch {
      // A virtual table whose module is not loaded: its own check step says what is wrong.
    }
    rowsTotal += rows;
    cost.set(name, (rows + 1) * (1 + objects.filter((o) => o.type === 'index' && o.tbl === name).length));
  }
  cost.set('', rowsTotal + 1);
  return [...cost.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([name]) => (name === '' ? 'quick_check' : `integrity_check(${quoteString(name)})`));
}

const quoteId = (name: string): string => `"${name.replace(/"/g, '""')}"`;
const quoteString = (name: string): string => `'${name.replace(/'/g, "''")}'`;

/**
 * Page 1 as a self-contained rollback-journal file has it (docs/backup-format.md 6.1): file
 * format bytes 18-19 = 1 (what `PRAGMA journal_mode=DELETE` writes for a WAL source), and the
 * in-header page count (offset 28) made valid for exactly the pages streamed: version-valid-for
 * (offset 92) = the file change counter (offset 24), which SQLite requires before it trusts
 * offset 28. The change counter itself is kept, so an unchanged database streams an unchanged
 * page 1 (and a delta does not carry it).
 */
export function normalisePage1(page: Buffer, pageCount: number): void {
  if (page[18] === 2) page[18] = 1;
  if (page[19] === 2) page[19] = 1;
  page.writeUInt32BE(pageCount, 28);
  page.copy(page, 92, 24, 28);
}

interface StreamArgs {
  sourcePath: string;
  busyTimeoutMs: number;
  /** Pages per block (the caller picks ~2 MiB worth). */
  blockBytes: number;
  /** Blocks handed out and not yet given back before the reader waits. */
  maxInFlight: number;
  /**
   * Hash every page here, beside the reads (formatVersion 3 page map): fingerprints with
   * `seed`; SHA-256 of the pages whose fingerprint differs from `parent`'s (all without one).
   */
  pageHashes: { seed: bigint; parent: ParentHashes | null; parentPageSize: number } | null;
  check: 'quick' | 'none';
  countRows: boolean;
  /** Read pages that are not in the WAL from the file directly (direct-pages.ts). */
  direct: boolean;
}

interface SnapshotArgs {
  sourcePath: string;
  destPath: string;
  method: 'vacuum-into' | 'backup-api';
  busyTimeoutMs: number;
  check: 'quick' | 'none';
}

const tasks: Record<SqliteTaskName, (a: never, ctx: Ctx) => Promise<unknown>> = {
  async snapshot({ sourcePath, destPath, method, busyTimeoutMs, check }: SnapshotArgs, ctx: Ctx) {
    ctx.stage = 'open';
    const src = new Database(sourcePath, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs });
    let journalMode: string;
    try {
      ctx.stage = 'read';
      journalMode = String(src.pragma('journal_mode', { simple: true }));
      ctx.stage = 'snapshot';
      checkAbort();
      if (method === 'vacuum-into') src.prepare('VACUUM INTO ?').run(destPath);
      else await backupOneStep(src, destPath, busyTimeoutMs);
    } finally {
      src.close();
    }
    checkAbort();
    ctx.stage = 'check';
    const snap = new Database(destPath, { fileMustExist: true });
    try {
      // A self-contained file: no -wal beside it, restorable with gunzip alone.
      snap.pragma('journal_mode = DELETE');
      checkAbort();
      if (check === 'quick') {
        const rows = firstCol(snap.pragma('quick_check'));
        if (!isOk(rows)) throw withCode(rows.slice(0, 3).join('; '), 'SQLITE_CORRUPT');
      }
      return {
        pageSize: Number(snap.pragma('page_size', { simple: true })),
        pageCount: Number(snap.pragma('page_count', { simple: true })),
        userVersion: Number(snap.pragma('user_version', { simple: true })),
        journalMode,
        tables: tables(snap),
      };
    } finally {
      snap.close();
    }
  },

  /**
   * The streaming page-identical snapshot: one read transaction on the source, every page read
   * as of the transaction's snapshot (from the file where that is the page's version, else
   * through `sqlite_dbpage`: direct-pages.ts) and posted to the caller in page-aligned blocks, at
   * most `maxInFlight` not yet given back. Row counts and the optional quick_check run in the
   * same transaction after the last page.
   */
  async streamPages(a: StreamArgs, ctx: Ctx) {
    ctx.stage = 'open';
    // Opened before SQLite opens the path: after BEGIN both must be the same file (inode).
    let fd = a.direct ? openDirect(a.sourcePath) : null;
    let direct: DirectReader | null = null;
    let src: Database.Database;
    try {
      src = new Database(a.sourcePath, { readonly: true, fileMustExist: true, timeout: a.busyTimeoutMs });
    } catch (err) {
      if (fd !== null) closeSync(fd);
      throw err;
    }
    try {
      ctx.stage = 'read';
      // Every page is read once: a large page cache would only hold memory (the row counts and
      // quick_check after it walk b-trees, which the OS page cache serves as well).
      src.pragma('cache_size = -2048');
      const journalMode = String(src.pragma('journal_mode', { simple: true }));
      // BEGIN alone takes no lock: the first read starts the snapshot every later read sees.
      src.exec('BEGIN');
      src.prepare('SELECT 1 FROM sqlite_schema LIMIT 1').get();
      const pageSize = Number(src.pragma('page_size', { simple: true }));
      const pageCount = Number(src.pragma('page_count', { simple: true }));
      const utf8 = String(src.pragma('encoding', { simple: true })).toUpperCase() === 'UTF-8';
      direct = directReader(fd, a.sourcePath, journalMode, pageSize);
      fd = null;
      parentPort!.postMessage({ kind: 'meta', pageSize, pageCount, journalMode } satisfies StreamMeta);
      ctx.stage = 'snapshot';
      const per = Math.max(1, Math.floor(a.blockBytes / pageSize));
      // One statement per block: group_concat of the block's pages (one copy out of SQLite instead
      // of one JS Buffer per page: ~30% less CPU). Its bytes pass through unchanged as UTF-8 text,
      // so other encodings read page by page.
      const batch = src.prepare(
        "WITH RECURSIVE s(p) AS (SELECT ? UNION ALL SELECT p + 1 FROM s WHERE p < ?) SELECT CAST(group_concat(data, '') AS BLOB) FROM s JOIN sqlite_dbpage ON pgno = p",
      ).pluck();
      const one = src.prepare('SELECT data FROM sqlite_dbpage WHERE pgno = ?').pluck();
      const credits: Credits = { out: 0, free: [] };
      const run = Math.max(1, Math.floor(65536 / pageSize));
      const blockBytes = per * pageSize;
      // A parent of another page size is no parent (the backup becomes a full).
      const parentHashes = a.pageHashes?.parentPageSize === pageSize ? a.pageHashes.parent : null;
      for (let first = 1; first <= pageCount; first += per) {
        checkAbort();
        waitForCredit(credits, a.maxInFlight);
        const n = Math.min(per, pageCount - first + 1);
        // A block buffer the caller gave back (it is done with its bytes), else a new one: the
        // same few buffers go round instead of a fresh 2 MiB per block piling up as garbage.
        const reuse = credits.free.pop();
        const data = reuse && reuse.byteLength === blockBytes ? Buffer.from(reuse, 0, n * pageSize) : Buffer.allocUnsafeSlow(n * pageSize);
        if (direct) {
          readPagesDirect(direct, data, first, n, pageSize, (p) => one.get(p) as Buffer);
        } else if (utf8) {
          // In runs of at most 64 KiB: larger transient allocations (SQLite's string builder, the
          // Buffer better-sqlite3 copies it into) land in glibc's heap once its mmap threshold has
          // risen and fragment it: +45 MiB peak RSS at 1 GiB with one 2 MiB statement per block.
          for (let i = 0; i < n; i += run) {
            const m = Math.min(run, n - i);
            const got = batch.get(first + i, first + i + m - 1) as Buffer | null;
            if (!Buffer.isBuffer(got) || got.length !== m * pageSize) throw withCode(`sqlite_dbpage gave ${got?.length} bytes for ${m} pages`, 'SQLITE_CORRUPT');
            got.copy(data, i * pageSize);
          }
        } else {
          for (let i = 0; i < n; i++) (one.get(first + i) as Buffer).copy(data, i * pageSize);
        }
        if (first === 1) normalisePage1(data, pageCount);
        let fps: Buffer | null = null;
        let shas: Buffer | null = null;
        if (a.pageHashes) {
          fps = Buffer.allocUnsafeSlow(n * FP_BYTES);
          shas = Buffer.allocUnsafeSlow(n * SHA_BYTES);
          hashPages(data, pageSize, first, a.pageHashes.seed, fps, shas, parentHashes);
        }
        const transfer: ArrayBuffer[] = [data.buffer as ArrayBuffer, ...(fps && shas ? [fps.buffer as ArrayBuffer, shas.buffer as ArrayBuffer] : [])];
        parentPort!.postMessage({ kind: 'block', firstPage: first, pages: n, data, fps, shas } satisfies StreamBlock, transfer);
        credits.out++;
      }
      ctx.stage = 'count';
      let t = performance.now();
      const counted = a.countRows ? tables(src) : {};
      const countSeconds = (performance.now() - t) / 1000;
      t = performance.now();
      if (a.check === 'quick') {
        checkAbort();
        ctx.stage = 'check';
        const rows = firstCol(src.pragma('quick_check'));
        if (!isOk(rows)) throw withCode(rows.slice(0, 3).join('; '), 'SQLITE_CORRUPT');
      }
      const checkSeconds = (performance.now() - t) / 1000;
      const userVersion = Number(src.pragma('user_version', { simple: true }));
      src.exec('COMMIT');
      return { pageSize, pageCount, userVersion, journalMode, tables: counted, countSeconds, checkSeconds, direct: direct !== null } satisfies StreamResult;
    } finally {
      src.close();
      if (direct) closeSync(direct.fd);
      if (fd !== null) closeSync(fd);
    }
  },

  // `PRAGMA integrity_check` of a restored database, alone or shared by several workers of
  // this task that claim the steps of `checkSteps` through the shared counter `next`.
  async check({ path, next, split = false, counts = true }: CheckArgs, ctx: Ctx) {
    ctx.stage = 'open';
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      ctx.stage = 'check';
      // Two connections share the work: each gets half of better-sqlite3's default page cache
      // (16 MB), so together they hold what one did. On the 1 GiB benchmark database the index
      // lookups of the largest table cost the same CPU with 8 MB as with 16 MB (16.5 vs 22.2 s
      // in one run) and more than twice as much with 2 MB.
      if (split) db.pragma(`cache_size = ${SPLIT_CACHE_KIB}`);
      const steps = split ? checkSteps(db) : ['integrity_check'];
      const problems: unknown[] = [];
      let mine = 0;
      for (;;) {
        checkAbort();
        const i = next ? Atomics.add(next, 0, 1) : mine++;
        if (i >= steps.length) break;
        const rows = firstCol(db.pragma(steps[i]!));
        if (!isOk(rows)) problems.push(...rows);
      }
      if (problems.length) throw withCode(problems.slice(0, 3).join('; '), 'INTEGRITY_CHECK');
      checkAbort();
      return counts ? { tables: tables(db) } : {};
    } finally {
      db.close();
    }
  },

  // `PRAGMA quick_check` of a snapshot (incremental backups run it while the snapshot is compressed).
  async quickCheck({ path }: { path: string }, ctx: Ctx) {
    ctx.stage = 'open';
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      ctx.stage = 'check';
      const rows = firstCol(db.pragma('quick_check'));
      if (!isOk(rows)) throw withCode(rows.slice(0, 3).join('; '), 'SQLITE_CORRUPT');
      return {};
    } finally {
      db.close();
    }
  },

  async setJournalMode({ path, mode }: { path: string; mode: 'wal' | 'delete' }, ctx: Ctx) {
    ctx.stage = 'journal';
    const db = new Database(path, { fileMustExist: true });
    try {
      db.pragma(`journal_mode = ${mode === 'wal' ? 'WAL' : 'DELETE'}`);
    } finally {
      db.close();
    }
    return {};
  },

  // Copy a (possibly live) database: one-step backup API from source to destPath.
  async copy({ sourcePath, destPath, busyTimeoutMs }: { sourcePath: string; destPath: string; busyTimeoutMs: number }, ctx: Ctx) {
    ctx.stage = 'open';
    const src = new Database(sourcePath, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs });
    try {
      ctx.stage = 'copy';
      await backupOneStep(src, destPath, busyTimeoutMs);
    } finally {
      src.close();
    }
    return {};
  },
};

const ctx: Ctx = { stage: 'start' };
let answer: SqliteTaskAnswer;
try {
  answer = { ok: true, result: await tasks[task](args as never, ctx) };
} catch (err) {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  answer = { ok: false, code: String(e?.code ?? ''), message: String(e?.message), stage: ctx.stage };
}
parentPort?.postMessage(answer);

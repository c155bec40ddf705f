/**
 * Worker-thread entry for long SQLite operations (VACUUM INTO, a one-step backup,
 * integrity_check): started by `runSqliteTask` (sqlite-worker.ts), one task per thread, so a
 * multi-second SQLite call never blocks the caller's event loop (BullMQ lock renewal,
 * progress, abort). Compiled to dist/ like the rest of the package; from source it is loaded
 * through tsx (worker-thread.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

export type SqliteTaskName = 'snapshot' | 'check' | 'quickCheck' | 'setJournalMode' | 'copy';

export interface SqliteTaskData {
  task: SqliteTaskName;
  args: Record<string, unknown>;
  /** Cooperative abort: the caller sets `abortFlag[0] = 1`. */
  abortFlag: Int32Array;
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

const { task, args, abortFlag } = workerData as SqliteTaskData;

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

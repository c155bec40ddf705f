import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { AbortedError } from './errors.js';

const require = createRequire(import.meta.url);
const BETTER_SQLITE3 = require.resolve('better-sqlite3');

/**
 * Long SQLite operations (VACUUM INTO, a one-step backup, integrity_check) run in a worker
 * thread so they never block the caller's event loop (BullMQ lock renewal, progress, abort).
 * Plain CommonJS evaluated in the worker, so it runs the same under tsx, vitest and node.
 */
const WORKER_SOURCE = String.raw`
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.betterSqlite3);
// Cooperative abort: the caller sets abortFlag[0] = 1. A worker must never be terminated in
// the middle of a SQLite call (better-sqlite3 throwing into a terminating isolate is a fatal
// error for the whole process), so the task checks the flag between steps and the caller
// waits for its answer.
const abortFlag = workerData.abortFlag;
const sleep = (ms) => Atomics.wait(abortFlag, 0, 0, ms);
const checkAbort = () => {
  if (Atomics.load(abortFlag, 0) === 1) throw Object.assign(new Error('aborted'), { code: 'ABORTED' });
};
const firstCol = (rows) => rows.map((r) => Object.values(r)[0]);

// One-step backup API copy. better-sqlite3 resolves with totalPages 0 when the very first
// step was SQLITE_BUSY (nothing copied): retry that until the deadline.
async function backupOneStep(src, destPath, busyTimeoutMs) {
  const deadline = Date.now() + busyTimeoutMs;
  for (;;) {
    let calls = 0;
    const res = await src.backup(destPath, {
      progress: () => {
        checkAbort();
        if (++calls > 1) {
          if (Date.now() > deadline) throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
          sleep(20);
        }
        return 0x7fffffff;
      },
    });
    if (res.totalPages > 0) return;
    checkAbort();
    if (Date.now() > deadline) throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    sleep(20);
  }
}

function tables(db) {
  const out = {};
  for (const { name } of db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all()) {
    out[name] = db.prepare('SELECT count(*) AS n FROM "' + name.replace(/"/g, '""') + '"').get().n;
  }
  return out;
}

const tasks = {
  async snapshot({ sourcePath, destPath, method, busyTimeoutMs, check }, ctx) {
    ctx.stage = 'open';
    const src = new Database(sourcePath, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs });
    let journalMode;
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
        if (!(rows.length === 1 && rows[0] === 'ok')) {
          throw Object.assign(new Error(rows.slice(0, 3).join('; ')), { code: 'SQLITE_CORRUPT' });
        }
      }
      return {
        pageSize: Number(snap.pragma('page_size', { simple: true })),
        pageCount: Number(snap.pragma('page_count', { simple: true })),
        userVersion: Number(snap.pragma('user_version', { simple: true })),
        journalMode,
      };
    } finally {
      snap.close();
    }
  },

  async check({ path }, ctx) {
    ctx.stage = 'open';
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      ctx.stage = 'check';
      const rows = firstCol(db.pragma('integrity_check'));
      if (!(rows.length === 1 && rows[0] === 'ok')) {
        throw Object.assign(new Error(rows.slice(0, 3).join('; ')), { code: 'INTEGRITY_CHECK' });
      }
      checkAbort();
      return { tables: tables(db) };
    } finally {
      db.close();
    }
  },

  async setJournalMode({ path, mode }, ctx) {
    ctx.stage = 'journal';
    const db = new Database(path, { fileMustExist: true });
    try {
      db.pragma('journal_mode = ' + (mode === 'wal' ? 'WAL' : 'DELETE'));
    } finally {
      db.close();
    }
    return {};
  },

  // Copy a (possibly live) database: one-step backup API from source to destPath.
  async copy({ sourcePath, destPath, busyTimeoutMs }, ctx) {
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

(async () => {
  const ctx = { stage: 'start' };
  try {
    const result = await tasks[workerData.task](workerData.args, ctx);
    parentPort.postMessage({ ok: true, result });
  } catch (err) {
    parentPort.postMessage({ ok: false, code: err && err.code, message: String(err && err.message), stage: ctx.stage });
  }
})();
`;

export interface WorkerFailure {
  code: string;
  message: string;
  stage: string;
}

/** Thrown by {@link runSqliteTask} for a failure inside the worker; callers map it. */
export class SqliteTaskError extends Error {
  constructor(readonly failure: WorkerFailure) {
    super(`${failure.stage}: ${failure.code} ${failure.message}`);
    (this as { code?: string }).code = failure.code;
  }
}

export function runSqliteTask<T>(task: 'snapshot' | 'check' | 'setJournalMode' | 'copy', args: Record<string, unknown>, signal?: AbortSignal): Promise<T> {
  if (signal?.aborted) return Promise.reject(new AbortedError());
  return new Promise((resolve, reject) => {
    const abortFlag = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { betterSqlite3: BETTER_SQLITE3, task, args, abortFlag } });
    let settled = false;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    // Ask the task to stop at its next step and wait for its answer (never terminate a worker
    // inside a SQLite call); the caller then removes its files.
    const onAbort = (): void => {
      Atomics.store(abortFlag, 0, 1);
      Atomics.notify(abortFlag, 0);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.once('message', (m: { ok: boolean; result?: T } & Partial<WorkerFailure>) =>
      finish(() =>
        // The worker is idle once it has answered: terminating it now is safe.
        void worker.terminate().finally(() => {
          if (signal?.aborted) reject(new AbortedError());
          else if (m.ok) resolve(m.result as T);
          else reject(new SqliteTaskError({ code: m.code ?? '', message: m.message ?? '', stage: m.stage ?? '' }));
        }),
      ),
    );
    worker.once('error', (err) => finish(() => reject(signal?.aborted ? new AbortedError({ cause: err }) : err)));
    worker.once('exit', (code) => finish(() => reject(new Error(`sqlite worker exited with code ${code}`))));
  });
}

import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, chmod, copyFile, link, lstat, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fsyncDir, fsyncFile } from '@mfb/storage';
import { isAppError } from '@mfb/errors';
import { AbortedError, DiskFullError, RestoreDiskFullError, RestoreTargetBusyError, RestoreTargetExistsError, RestoreTargetNotFoundError, RestoreTargetNotWritableError, isDiskFull } from './errors.js';
import { fetchAndCheck, type CheckedSnapshot } from './fetch-check.js';
import { newBackupId } from './ids.js';
import { runSqliteTask, SqliteTaskError } from './sqlite-worker.js';
import { createPrivateFile, ensurePrivateDir, removeWithSidecars } from './tempfiles.js';
import type { RestoreOptions, RestoreResult } from './types.js';

const NOT_WRITABLE = new Set(['EACCES', 'EPERM', 'EROFS']);

/**
 * Restore a stored backup. Nothing touches `targetPath` until the artifact has passed every
 * check (see `fetchAndCheck`).
 * - `new`: the verified snapshot is placed at `targetPath` atomically (temp in the target's
 *   directory, fsync, link - which never replaces an existing file -, fsync dir).
 * - `replace`: a safety copy of the current database is written to `safetyCopyDir` with the
 *   SQLite backup API, then the restored database is copied INTO the live file with the
 *   backup API in one step, so connections the application holds open see the new content
 *   through SQLite's own locking. A locked target gives RESTORE_TARGET_BUSY (retryable).
 */
export async function restoreBackup(opts: RestoreOptions): Promise<RestoreResult> {
  const target = resolve(opts.targetPath);
  const busyTimeoutMs = opts.busyTimeoutMs ?? 10_000;
  // Fail before downloading anything when the target cannot work out.
  if (opts.mode === 'new') await precheckNew(target);
  else await precheckReplace(target);

  let checked;
  try {
    checked = await fetchAndCheck(opts, { durable: true });
  } catch (err) {
    // The scratch space of the restore, not a backup's.
    if (err instanceof DiskFullError) throw new RestoreDiskFullError(`scratch files in ${opts.tmpDir}`, { cause: err });
    throw err;
  }
  try {
    opts.fence?.();
    opts.signal?.throwIfAborted();
    opts.onProgress?.({ stage: 'restore', bytesDone: 0, bytesTotal: checked.manifest.snapshot.sizeBytes });
    let safetyCopyPath: string | undefined;
    if (opts.mode === 'new') await placeNew(checked, target);
    else safetyCopyPath = await replaceLive(checked, target, opts.safetyCopyDir ?? join(dirname(target), '.pre-restore'), busyTimeoutMs, () => {
        opts.fence?.();
        opts.signal?.throwIfAborted();
      });
    opts.onProgress?.({ stage: 'restore', bytesDone: checked.manifest.snapshot.sizeBytes, bytesTotal: checked.manifest.snapshot.sizeBytes });
    return {
      manifest: checked.manifest,
      integrity: 'ok',
      tables: checked.tables,
      timings: checked.timings,
      targetPath: target,
      ...(safetyCopyPath ? { safetyCopyPath } : {}),
    };
  } catch (err) {
    if (opts.signal?.aborted && !(err instanceof AbortedError) && (err as Error).name === 'AbortError') throw new AbortedError({ cause: err });
    if (err instanceof DiskFullError) throw new RestoreDiskFullError(`scratch files in ${opts.tmpDir}`, { cause: err });
    if (isDiskFull(err) && !isAppError(err)) throw new RestoreDiskFullError(`the restore target ${target}`, { cause: err });
    throw err;
  } finally {
    await checked.cleanup();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

async function precheckNew(target: string): Promise<void> {
  if (await exists(target)) throw new RestoreTargetExistsError(target);
  const dir = dirname(target);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await access(dir, constants.W_OK);
    // access() says yes to root on a read-only mount: probe with a real file.
    const probe = join(dir, `.mfb-probe-${randomBytes(4).toString('hex')}`);
    await (await open(probe, 'wx', 0o600)).close();
    await rm(probe, { force: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (NOT_WRITABLE.has(code) || code === 'ENOTDIR') throw new RestoreTargetNotWritableError(target, code, { cause: err });
    throw err;
  }
}

async function precheckReplace(target: string): Promise<void> {
  try {
    const st = await stat(target);
    if (!st.isFile()) throw new RestoreTargetNotWritableError(target, 'not a regular file');
    await (await open(target, 'r+')).close();
  } catch (err) {
    if (err instanceof RestoreTargetNotWritableError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new RestoreTargetNotFoundError(target, { cause: err });
    if (NOT_WRITABLE.has(code)) throw new RestoreTargetNotWritableError(target, code, { cause: err });
    throw err;
  }
}

function mapTargetError(target: string, err: unknown, busyTimeoutMs?: number): unknown {
  if (!(err instanceof SqliteTaskError)) return err;
  const code = err.failure.code;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return new RestoreTargetBusyError(target, { cause: err, ...(busyTimeoutMs !== undefined ? { busyTimeoutMs } : {}) });
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_PERM'))
    return new RestoreTargetNotWritableError(target, err.failure.message, { cause: err });
  if (code === 'SQLITE_FULL') return new RestoreDiskFullError(`the restore target ${target}`, { cause: err });
  return err;
}

async function placeNew(checked: CheckedSnapshot, target: string): Promise<void> {
  const { manifest } = checked;
  if (manifest.snapshot.sqlite.journalMode.toLowerCase() === 'wal') {
    // The snapshot is stored self-contained (rollback journal); give back what the source had.
    await runSqliteTask('setJournalMode', { path: checked.path, mode: 'wal' });
  }
  const dir = dirname(target);
  const tmp = join(dir, `.${basename(target)}.mfb-restore-${randomBytes(4).toString('hex')}.tmp`);
  try {
    try {
      await rename(checked.path, tmp);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      await copyFile(checked.path, tmp, constants.COPYFILE_EXCL);
    }
    await chmod(tmp, 0o600);
    await fsyncFile(tmp);
    try {
      // link() never replaces: an application that created the target meanwhile keeps its file.
      await link(tmp, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new RestoreTargetExistsError(target);
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
      if (await exists(target)) throw new RestoreTargetExistsError(target);
      await rename(tmp, target);
    }
    await fsyncDir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (NOT_WRITABLE.has(code)) throw new RestoreTargetNotWritableError(target, code, { cause: err });
    throw err;
  } finally {
    await rm(tmp, { force: true });
  }
}

async function replaceLive(checked: CheckedSnapshot, target: string, safetyDir: string, busyTimeoutMs: number, fence: () => void): Promise<string> {
  try {
    await ensurePrivateDir(safetyDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (NOT_WRITABLE.has(code) || code === 'ENOTDIR') throw new RestoreTargetNotWritableError(target, `cannot create the safety copy directory ${safetyDir}: ${code}`, { cause: err });
    throw err;
  }
  const safetyPath = join(safetyDir, `${basename(target)}.${newBackupId(new Date())}.pre-restore.sqlite`);
  const safetyTmp = `${safetyPath}.tmp`;
  try {
    await createPrivateFile(safetyTmp);
    await runSqliteTask('copy', { sourcePath: target, destPath: safetyTmp, busyTimeoutMs });
    await fsyncFile(safetyTmp);
    await rename(safetyTmp, safetyPath);
    await fsyncDir(safetyDir);
  } catch (err) {
    await removeWithSidecars(safetyTmp);
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (NOT_WRITABLE.has(code)) throw new RestoreTargetNotWritableError(target, `cannot write the safety copy in ${safetyDir}: ${code}`, { cause: err });
    throw mapTargetError(target, err, busyTimeoutMs);
  }
  fence();
  try {
    // Into the live file through SQLite: one write transaction, other connections coordinate
    // through the file's locks and see either the old or the restored database.
    await runSqliteTask('copy', { sourcePath: checked.path, destPath: target, busyTimeoutMs });
  } catch (err) {
    throw mapTargetError(target, err, busyTimeoutMs);
  }
  return safetyPath;
}
